import { FlotillaError } from '@flotilla/actor';

/** A write refused because this instance does not hold (or no longer holds) its lease. */
export class NotLeaderError extends FlotillaError {
  readonly lease: string;
  constructor(lease: string) {
    super('NotLeader', `not the holder of lease ${lease}: write refused`, { lease });
    this.lease = lease;
  }
}

/** Options that would break a guarantee (e.g. a renew deadline not shorter than the lease). */
export class ConfigError extends FlotillaError {
  constructor(message: string, data?: unknown) {
    super('ControllerConfig', message, data);
  }
}
