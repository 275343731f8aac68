// deploy/'s example files as tests read them: where they are, and an environment file
// (/etc/default/flotilla) parsed the way systemd's EnvironmentFile= reads it.
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

export const repoRoot = fileURLToPath(new URL('../../../', import.meta.url));
export const deployDir = `${repoRoot}deploy`;

/** `KEY=VALUE` lines; blank lines and `#` comments skipped (no quoting is used in deploy/). */
export function readEnvFile(file: string): Record<string, string> {
  const env: Record<string, string> = {};
  for (const raw of readFileSync(file, 'utf8').split('\n')) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) continue;
    const eq = line.indexOf('=');
    if (eq <= 0) throw new Error(`${file}: not KEY=VALUE: ${line}`);
    env[line.slice(0, eq)] = line.slice(eq + 1);
  }
  return env;
}
