// Every chaos scenario on network namespaces (root only).
import { describe } from 'vitest';
import { reportRootSkip } from '../src/netns/index.ts';
import { chaosScenarioTests } from './chaos-scenarios.ts';

describe.skipIf(!reportRootSkip('chaos scenarios on network namespaces'))(
  'chaos on network namespaces',
  () => {
    chaosScenarioTests('netns');
  },
);
