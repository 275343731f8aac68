/**
 * Everything a test starts registers how to tear it down here; `cleanupAll` runs those in
 * reverse order. The vitest setup file calls it after every test file, pass or fail, and
 * a process 'exit' hook kills what is left if the file never got that far.
 */
type Cleanup = {
  readonly name: string;
  readonly run: () => Promise<void> | void;
  readonly onExit?: () => void;
};

const cleanups: Cleanup[] = [];
let exitHookInstalled = false;

export function registerCleanup(entry: Cleanup): () => void {
  cleanups.push(entry);
  if (!exitHookInstalled) {
    exitHookInstalled = true;
    process.on('exit', () => {
      for (const c of cleanups.splice(0).reverse()) {
        try {
          c.onExit?.();
        } catch {
          // best effort at exit
        }
      }
    });
  }
  return () => {
    const i = cleanups.indexOf(entry);
    if (i >= 0) cleanups.splice(i, 1);
  };
}

export async function cleanupAll(): Promise<void> {
  const errors: unknown[] = [];
  for (const c of cleanups.splice(0).reverse()) {
    try {
      await c.run();
    } catch (err) {
      errors.push(err);
    }
  }
  if (errors.length > 0) throw new AggregateError(errors, `${errors.length} cleanup step(s) failed`);
}
