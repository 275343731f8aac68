import { execFile } from 'node:child_process';
import { HostCommandError } from './errors.ts';

/** A host command (ip, ctr, mount) that takes longer than this is killed. */
export const defaultHostCommandTimeoutMs = 60_000;
/** Output kept from a host command; more is an error (none of ours prints that much). */
const maxHostCommandOutputBytes = 4 * 1024 * 1024;

/** Runs `command args` without a shell; resolves with stdout, rejects with `HostCommandError`. */
export function runHost(
  command: string,
  args: readonly string[],
  timeoutMs: number = defaultHostCommandTimeoutMs,
): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(
      command,
      [...args],
      { timeout: timeoutMs, maxBuffer: maxHostCommandOutputBytes, encoding: 'utf8' },
      (err, stdout, stderr) => {
        if (err) {
          const code = typeof err.code === 'number' ? err.code : null;
          reject(new HostCommandError(command, args, code, stderr || err.message));
        } else {
          resolve(stdout);
        }
      },
    );
  });
}
