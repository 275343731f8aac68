import { spawn } from 'node:child_process';
import { NetCommandError } from './errors.ts';

/** A network command that takes longer than this is killed (iptables-restore of 10k rules takes ~1 s). */
export const defaultNetCommandTimeoutMs = 30_000;
/** Output kept from one command; `iptables-save` of 10k rules is ~1.5 MB. */
const maxNetCommandOutputBytes = 32 * 1024 * 1024;

export type NetCommandOptions = {
  /** Run inside this named network namespace (`ip netns exec`); the caller's namespace when absent. */
  readonly netns?: string | undefined;
  /** Written to the command's stdin, which is then closed. */
  readonly input?: string;
  readonly timeoutMs?: number;
};

/** How a command is started inside a namespace: `ip netns exec NAME command args...`. */
export function inNetns(
  netns: string | undefined,
  command: string,
  args: readonly string[],
): { readonly command: string; readonly args: readonly string[] } {
  if (netns === undefined) return { command, args };
  // `ip -n` is a setns without the mount-namespace work `ip netns exec` does.
  if (command === 'ip') return { command, args: ['-n', netns, ...args] };
  return { command: 'ip', args: ['netns', 'exec', netns, command, ...args] };
}

/**
 * Runs a command without a shell and resolves with its stdout; rejects with
 * `NetCommandError` on a non-zero exit, a timeout or too much output.
 */
export function runNet(
  command: string,
  args: readonly string[],
  options: NetCommandOptions = {},
): Promise<string> {
  const started = inNetns(options.netns, command, args);
  const timeoutMs = options.timeoutMs ?? defaultNetCommandTimeoutMs;
  return new Promise((resolve, reject) => {
    const child = spawn(started.command, [...started.args], {
      stdio: [options.input === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'],
    });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    let bytes = 0;
    let failure: string | undefined;
    const take = (into: Buffer[]) => (chunk: Buffer) => {
      bytes += chunk.length;
      if (bytes > maxNetCommandOutputBytes) {
        failure = `more than ${maxNetCommandOutputBytes} bytes of output`;
        child.kill('SIGKILL');
        return;
      }
      into.push(chunk);
    };
    child.stdout?.on('data', take(out));
    child.stderr?.on('data', take(err));
    const timer = setTimeout(() => {
      failure = `no exit within ${timeoutMs} ms`;
      child.kill('SIGKILL');
    }, timeoutMs);
    child.once('error', (e) => {
      clearTimeout(timer);
      reject(new NetCommandError(command, args, options.netns, null, e.message));
    });
    child.once('close', (code) => {
      clearTimeout(timer);
      const stderr = Buffer.concat(err).toString('utf8');
      if (failure !== undefined) reject(new NetCommandError(command, args, options.netns, code, failure));
      else if (code !== 0) reject(new NetCommandError(command, args, options.netns, code, stderr));
      else resolve(Buffer.concat(out).toString('utf8'));
    });
    if (options.input !== undefined && child.stdin !== null) {
      // A command that exits before reading all of its input closes the pipe: its exit
      // code tells what went wrong, not the EPIPE.
      child.stdin.on('error', () => {});
      child.stdin.end(options.input);
    }
  });
}

/** Whether a failure only says the thing to remove is already gone. */
export function isAlreadyGone(err: unknown): boolean {
  return (
    err instanceof NetCommandError &&
    /Cannot find device|No such process|does not exist|No such file or directory|Cannot open network namespace|No chain\/target\/match by that name|Bad rule/i.test(
      err.stderr,
    )
  );
}

/** Runs a removal and treats "already gone" as success. */
export async function removeIgnoringMissing(p: Promise<unknown>): Promise<void> {
  try {
    await p;
  } catch (err) {
    if (!isAlreadyGone(err)) throw err;
  }
}
