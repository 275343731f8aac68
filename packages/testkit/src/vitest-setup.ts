import { afterAll } from 'vitest';
import { cleanupAll } from './cleanup.ts';

// Every process and directory a test file started is gone when the file ends.
afterAll(async () => {
  await cleanupAll();
});
