// The fault API on network namespaces (root only).
import { describe } from 'vitest';
import { reportRootSkip } from '../src/netns/index.ts';
import { faultApiTests } from './fault-api-suite.ts';

describe.skipIf(!reportRootSkip('faults on network namespaces'))(
  'the fault API on network namespaces',
  () => {
    faultApiTests('netns');
  },
);
