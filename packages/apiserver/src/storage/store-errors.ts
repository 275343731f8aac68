/**
 * Store failures as the Status a client of the API sees: a compacted revision is 410
 * Expired (the client lists again), a revision the store has not reached is 504 with
 * Kubernetes' "Too large resource version", an object over the size limit is 413, and a
 * store that does not answer is 503/504 so that clients retry.
 * https://kubernetes.io/docs/reference/using-api/api-concepts/#410-gone-responses
 */
import { DeadlineExceededError, FlotillaError, NoRespondersError } from '@flotilla/actor';
import {
  internalError,
  requestEntityTooLarge,
  StatusError,
  serviceUnavailable,
  timeout,
} from '@flotilla/api';
import {
  CompactedError,
  FutureRevisionError,
  RequestTooLargeError,
  ResultNotKeptError,
  StoreUnavailableError,
  ValueTooLargeError,
} from '@flotilla/store';

/** Seconds a client is asked to wait before retrying when the store is unavailable. */
const retryAfterSeconds = 1;

/** Codes of Raft errors that mean "no leader right now" (raft is not ours to import). */
const leaderlessCodes = new Set(['NotLeader', 'ProposalDropped', 'ProposalTimeout', 'RaftStopped']);

/** The 410 of a read or watch below the compacted revision. */
export function expired(requested: number, compacted: number): StatusError {
  return new StatusError({
    apiVersion: 'v1',
    kind: 'Status',
    metadata: {},
    status: 'Failure',
    message: `too old resource version: ${requested} (${compacted})`,
    reason: 'Expired',
    code: 410,
  });
}

/** The 504 of a read at a revision the store has not reached. */
export function tooLargeResourceVersion(requested: number, current: number): StatusError {
  return new StatusError({
    apiVersion: 'v1',
    kind: 'Status',
    metadata: {},
    status: 'Failure',
    message: `Too large resource version: ${requested}, current: ${current}`,
    reason: 'Timeout',
    details: {
      causes: [{ reason: 'ResourceVersionTooLarge', message: 'Too large resource version' }],
      retryAfterSeconds,
    },
    code: 504,
  });
}

/** Any error from the store client, as a StatusError (StatusErrors pass through). */
export function statusOfStoreError(err: unknown, maxObjectBytes: number): StatusError {
  if (err instanceof StatusError) return err;
  if (err instanceof CompactedError) return expired(err.data.revision, err.data.compactedRevision);
  if (err instanceof FutureRevisionError) {
    return tooLargeResourceVersion(err.data.revision, err.data.currentRevision);
  }
  if (err instanceof ValueTooLargeError || err instanceof RequestTooLargeError) {
    return requestEntityTooLarge(maxObjectBytes);
  }
  if (err instanceof ResultNotKeptError) {
    // A retried write was applied, but its answer (which branch of the txn ran) is lost.
    return timeout(
      'the write was retried after a store timeout and its outcome is unknown',
      retryAfterSeconds,
    );
  }
  if (err instanceof DeadlineExceededError) {
    return timeout('request did not complete within the store deadline', retryAfterSeconds);
  }
  if (err instanceof NoRespondersError || err instanceof StoreUnavailableError) {
    return serviceUnavailable(`the store is unavailable: ${err.message}`, retryAfterSeconds);
  }
  if (err instanceof FlotillaError && leaderlessCodes.has(err.code)) {
    return serviceUnavailable(`the store has no leader: ${err.message}`, retryAfterSeconds);
  }
  return internalError(err instanceof Error ? err.message : String(err));
}
