import { FlotillaError } from '@flotilla/actor';

/** The history handed to `check` is malformed; nothing was checked. */
export class InvalidHistoryError extends FlotillaError {
  readonly operation: number | undefined;
  constructor(message: string, operation?: number) {
    super('InvalidHistory', operation === undefined ? message : `operation #${operation}: ${message}`, {
      operation,
    });
    this.operation = operation;
  }
}

/** `check` was given options it cannot honour (a budget that is not a positive number). */
export class InvalidCheckOptionsError extends FlotillaError {
  constructor(message: string) {
    super('InvalidCheckOptions', message);
  }
}

/** A recorded call was ended twice (complete, fail or unknown after one of them). */
export class CallAlreadyEndedError extends FlotillaError {
  constructor(operation: number, endedAs: string, attempted: string) {
    super(
      'CallAlreadyEnded',
      `operation #${operation} already ended as ${endedAs}; ${attempted}() changes nothing`,
      { operation, endedAs, attempted },
    );
  }
}

/** The recorder holds its bound of operations; a workload that needs more must say so. */
export class HistoryFullError extends FlotillaError {
  constructor(maxOperations: number) {
    super('HistoryFull', `the history already holds its maximum of ${maxOperations} operations`, {
      maxOperations,
    });
  }
}

/** A model broke its contract (a partition that loses or repeats an operation). */
export class InvalidModelError extends FlotillaError {
  constructor(model: string, message: string) {
    super('InvalidModel', `model ${model}: ${message}`, { model });
  }
}
