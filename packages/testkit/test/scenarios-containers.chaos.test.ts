// Every chaos scenario on containers (testcontainers on the Docker daemon scripts/test starts).
import { describe } from 'vitest';
import { dockerAvailability } from '../src/faults/containers/docker.ts';
import { chaosScenarioTests } from './chaos-scenarios.ts';

const docker = await dockerAvailability();
if (!docker.ok) process.stdout.write(`chaos scenarios on containers: skipped, ${docker.reason}\n`);

describe.skipIf(!docker.ok)('chaos on containers', () => {
  chaosScenarioTests('containers');
});
