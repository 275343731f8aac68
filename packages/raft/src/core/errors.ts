/**
 * Errors the core throws. The core may import nothing outside this folder, so these do not
 * extend `FlotillaError`; they carry the same `code` and `data` fields so that the driver can
 * wrap or forward them unchanged.
 */
export class RaftError extends Error {
  /** Stable, machine-readable code. */
  readonly code: string;
  /** Structured detail (plain data). */
  readonly data: unknown;

  constructor(code: string, message: string, data?: unknown) {
    super(message);
    this.name = new.target.name;
    this.code = code;
    this.data = data;
  }
}

/** A `RaftConfig` value is out of range or inconsistent. */
export class RaftConfigError extends RaftError {
  constructor(message: string, data?: unknown) {
    super('RaftConfig', message, data);
  }
}

/** The `RestoreState` handed to the constructor is not a state a correct driver could have persisted. */
export class RaftRestoreError extends RaftError {
  constructor(message: string, data?: unknown) {
    super('RaftRestore', message, data);
  }
}

/** The caller broke the API's contract (for example `ready()` twice without `advance()`); nothing changed. */
export class RaftUsageError extends RaftError {
  constructor(message: string, data?: unknown) {
    super('RaftUsage', message, data);
  }
}

/** An invariant of the protocol does not hold: a bug (or a peer that breaks the protocol), never an expected condition. */
export class RaftInvariantError extends RaftError {
  constructor(message: string) {
    super('RaftInvariant', message);
  }
}
