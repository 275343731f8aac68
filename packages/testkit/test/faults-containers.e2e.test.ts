// The fault API on containers (testcontainers on the Docker daemon scripts/test starts).
import { describe } from 'vitest';
import { dockerAvailability } from '../src/faults/containers/docker.ts';
import { faultApiTests } from './fault-api-suite.ts';

const docker = await dockerAvailability();
if (!docker.ok) process.stdout.write(`faults on containers: skipped, ${docker.reason}\n`);

describe.skipIf(!docker.ok)('the fault API on containers', () => {
  faultApiTests('containers');
});
