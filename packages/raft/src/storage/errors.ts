import { FlotillaError } from '@flotilla/actor';

/**
 * A WAL record that is damaged, missing or inconsistent somewhere other than a torn tail.
 * Recovery refuses to start rather than silently dropping data: an operator must look.
 */
export class WalCorruptionError extends FlotillaError {
  readonly file: string;
  readonly offset: number;
  readonly reason: string;
  constructor(file: string, offset: number, reason: string) {
    super(
      'WalCorruption',
      `WAL corrupt in ${file} at byte ${offset}: ${reason}; refusing to start (the damage is ` +
        'not a torn tail, so cutting it could drop acknowledged entries)',
      { file, offset, reason },
    );
    this.file = file;
    this.offset = offset;
    this.reason = reason;
  }
}

/** The caller passed something the WAL must not write (bad index, term going back, ...). Nothing changed. */
export class WalInputError extends FlotillaError {
  constructor(message: string, data?: unknown) {
    super('WalInvalidInput', message, data);
  }
}

/** More bytes are appended and not yet written than `maxPendingBytes` allows: call `sync()` first. Nothing changed. */
export class WalBufferFullError extends FlotillaError {
  constructor(pendingBytes: number, batchBytes: number, maxPendingBytes: number) {
    super(
      'WalBufferFull',
      `WAL buffer full: ${pendingBytes} bytes pending + ${batchBytes} in this batch > maxPendingBytes ` +
        `${maxPendingBytes}; await sync() before appending more`,
      { pendingBytes, batchBytes, maxPendingBytes },
    );
  }
}

/**
 * A write or fsync failed. After a failed fsync the kernel may have dropped the dirty pages,
 * so what is on disk is unknown: the WAL takes no more work and the process should restart
 * and recover from the files.
 */
export class WalFailedError extends FlotillaError {
  constructor(message: string, cause?: unknown) {
    super('WalFailed', message, undefined, { cause });
  }
}

export class WalClosedError extends FlotillaError {
  constructor() {
    super('WalClosed', 'the WAL is closed');
  }
}

/** A snapshot file whose footer or data checksum does not verify. */
export class SnapshotCorruptionError extends FlotillaError {
  readonly file: string;
  readonly reason: string;
  constructor(file: string, reason: string) {
    super('SnapshotCorruption', `snapshot ${file} is corrupt: ${reason}`, { file, reason });
    this.file = file;
    this.reason = reason;
  }
}

/** No stored snapshot has this index and term. */
export class SnapshotNotFoundError extends FlotillaError {
  constructor(index: number, term: number) {
    super('SnapshotNotFound', `no stored snapshot at index ${index}, term ${term}`, { index, term });
  }
}

/** Bad arguments to the snapshot store (out-of-range read, bad metadata, ...). Nothing changed. */
export class SnapshotInputError extends FlotillaError {
  constructor(message: string, data?: unknown) {
    super('SnapshotInvalidInput', message, data);
  }
}

/**
 * A chunk of a snapshot being received arrived at the wrong offset. `expectedOffset` is where
 * the sender must resume; the chunk was not written.
 */
export class SnapshotChunkOffsetError extends FlotillaError {
  readonly expectedOffset: number;
  constructor(offset: number, expectedOffset: number) {
    super(
      'SnapshotChunkOffset',
      `snapshot chunk at offset ${offset} rejected: expected offset ${expectedOffset}`,
      { offset, expectedOffset },
    );
    this.expectedOffset = expectedOffset;
  }
}
