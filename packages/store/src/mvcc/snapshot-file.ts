import { createHash } from 'node:crypto';
import { type FileHandle, open } from 'node:fs/promises';
import { SnapshotInvalidError } from './errors.ts';

/**
 * A snapshot file is an LMDB copy of the backend followed by a 48-byte trailer: the magic
 * "FLOSNAP1", the copy's length (8 bytes, big-endian) and its SHA-256. LMDB trusts the
 * pages it opens (a damaged file can crash the process), so restore checks the trailer
 * before LMDB ever sees the bytes.
 */
const magic = Buffer.from('FLOSNAP1', 'latin1');
const trailerBytes = 8 + 8 + 32;
// Files are hashed and copied through one buffer of this size.
const chunkBytes = 1024 * 1024;
// LMDB's meta page holds MDB_MAGIC (0xBEEFC0DE, little-endian) at this offset.
const lmdbMagicOffset = 24;
const lmdbMagic = Buffer.from([0xde, 0xc0, 0xef, 0xbe]);

async function forEachChunk(
  fh: FileHandle,
  length: number,
  visit: (chunk: Buffer) => Promise<void> | void,
): Promise<void> {
  const buf = Buffer.allocUnsafe(Math.min(chunkBytes, Math.max(length, 1)));
  let position = 0;
  while (position < length) {
    const want = Math.min(buf.length, length - position);
    const { bytesRead } = await fh.read(buf, 0, want, position);
    if (bytesRead === 0) throw new Error(`unexpected end of file at ${position} of ${length}`);
    await visit(buf.subarray(0, bytesRead));
    position += bytesRead;
  }
}

/** Append the trailer to an LMDB copy and sync it. */
export async function sealSnapshot(
  path: string,
): Promise<{ readonly bytes: number; readonly sha256: string }> {
  const fh = await open(path, 'r+');
  try {
    const { size } = await fh.stat();
    const hash = createHash('sha256');
    await forEachChunk(fh, size, (chunk) => {
      hash.update(chunk);
    });
    const digest = hash.digest();
    const trailer = Buffer.alloc(trailerBytes);
    magic.copy(trailer, 0);
    trailer.writeBigUInt64BE(BigInt(size), 8);
    digest.copy(trailer, 16);
    await fh.write(trailer, 0, trailer.length, size);
    await fh.sync();
    return { bytes: size + trailerBytes, sha256: digest.toString('hex') };
  } finally {
    await fh.close();
  }
}

/**
 * Check a snapshot file's trailer and checksum, then write the LMDB copy it holds to
 * `toPath` (synced). Throws SnapshotInvalidError, having written nothing usable, if the
 * file is not an intact snapshot.
 */
export async function unsealSnapshot(fromPath: string, toPath: string): Promise<{ readonly sha256: string }> {
  let src: FileHandle;
  try {
    src = await open(fromPath, 'r');
  } catch (err) {
    throw SnapshotInvalidError.of(fromPath, `cannot be opened (${(err as Error).message})`);
  }
  try {
    const { size } = await src.stat();
    if (size < trailerBytes + 2 * 4096)
      throw SnapshotInvalidError.of(fromPath, `is too short (${size} bytes)`);
    const trailer = Buffer.alloc(trailerBytes);
    await src.read(trailer, 0, trailerBytes, size - trailerBytes);
    if (!trailer.subarray(0, 8).equals(magic))
      throw SnapshotInvalidError.of(fromPath, 'has no snapshot trailer');
    const length = Number(trailer.readBigUInt64BE(8));
    if (length !== size - trailerBytes) {
      throw SnapshotInvalidError.of(
        fromPath,
        `says it holds ${length} bytes but holds ${size - trailerBytes}`,
      );
    }
    const head = Buffer.alloc(lmdbMagic.length);
    await src.read(head, 0, head.length, lmdbMagicOffset);
    if (!head.equals(lmdbMagic)) throw SnapshotInvalidError.of(fromPath, 'does not hold an LMDB file');
    const dst = await open(toPath, 'w');
    const hash = createHash('sha256');
    try {
      let written = 0;
      await forEachChunk(src, length, async (chunk) => {
        hash.update(chunk);
        await dst.write(chunk, 0, chunk.length, written);
        written += chunk.length;
      });
      await dst.sync();
    } finally {
      await dst.close();
    }
    const digest = hash.digest();
    if (!digest.equals(trailer.subarray(16))) throw SnapshotInvalidError.of(fromPath, 'fails its checksum');
    return { sha256: digest.toString('hex') };
  } finally {
    await src.close();
  }
}
