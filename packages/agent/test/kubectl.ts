// Helpers the multi-process suites share: the stock kubectl against a test cluster's
// kubeconfig, and a bounded poll.
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { sleep } from '@flotilla/actor';

const run = promisify(execFile);
const kubectlPath = '/usr/bin/kubectl';

/** kubectl bound to a kubeconfig that exists only once the cluster started (hence a getter). */
export function kubectlFor(kubeconfig: () => string) {
  async function kubectl(...args: string[]): Promise<string> {
    const { stdout } = await run(kubectlPath, ['--kubeconfig', kubeconfig(), ...args], {
      timeout: 30_000,
      maxBuffer: 16 * 1024 * 1024,
    });
    return stdout;
  }

  async function kubectlApply(manifest: unknown): Promise<void> {
    const child = execFile(kubectlPath, ['--kubeconfig', kubeconfig(), 'apply', '-f', '-'], {
      timeout: 30_000,
    });
    const done = new Promise<void>((resolve, reject) => {
      let err = '';
      child.stderr?.on('data', (d: Buffer) => {
        err += d.toString();
      });
      child.on('exit', (code) =>
        code === 0 ? resolve() : reject(new Error(`kubectl apply: ${code} ${err}`)),
      );
    });
    child.stdin?.end(JSON.stringify(manifest));
    await done;
  }

  async function getJson<T>(...args: string[]): Promise<T> {
    return JSON.parse(await kubectl('get', ...args, '-o', 'json')) as T;
  }

  return { kubectl, kubectlApply, getJson };
}

/** Polls `check` until it returns a value; bounded by `timeoutMs`. */
export async function until<T>(
  what: string,
  check: () => Promise<T | undefined>,
  timeoutMs: number,
  intervalMs = 250,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const v = await check();
      if (v !== undefined) return v;
    } catch (err) {
      last = err;
    }
    if (Date.now() > deadline) {
      throw new Error(`not ${what} within ${timeoutMs} ms${last === undefined ? '' : `: ${String(last)}`}`);
    }
    await sleep(intervalMs);
  }
}
