import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { registerCleanup } from './cleanup.ts';

/**
 * A fresh directory removed when the test file ends. Set FLOTILLA_KEEP_TEST_DIRS=1 to
 * keep them (the logs of every process a test started are inside).
 */
export function tempDir(label: string): string {
  const dir = mkdtempSync(join(tmpdir(), `flotilla-${label}-`));
  if (!process.env.FLOTILLA_KEEP_TEST_DIRS) {
    registerCleanup({
      name: `rm ${dir}`,
      run: () => rmSync(dir, { recursive: true, force: true }),
      onExit: () => rmSync(dir, { recursive: true, force: true }),
    });
  }
  return dir;
}
