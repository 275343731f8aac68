import { type Logger, pino } from 'pino';

export type { Logger } from 'pino';

export interface LoggerOptions {
  readonly level?: string;
  /** Where lines go: a file descriptor (default 2, stderr) or a path. */
  readonly destination?: number | string;
  readonly base?: Record<string, unknown>;
}

/**
 * The process's root logger. Writes are synchronous: a member killed with SIGKILL must
 * not lose the lines that explain what it was doing (pino's worker transports would).
 * Components take `log.child({ component, member })`.
 */
export function createLogger(options: LoggerOptions = {}): Logger {
  const level = options.level ?? process.env.FLOTILLA_LOG_LEVEL ?? 'info';
  const dest = pino.destination({ dest: options.destination ?? 2, sync: true });
  return pino({ level, base: { pid: process.pid, ...options.base } }, dest);
}

/** A logger that drops everything, for tests that do not look at logs. */
export function silentLogger(): Logger {
  return pino({ level: 'silent' });
}
