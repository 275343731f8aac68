/**
 * CRC-32C (Castagnoli, reflected polynomial 0x82F63B78), the checksum of every WAL record.
 *
 * Chosen over CRC-32/IEEE (`zlib.crc32`, native) because it detects more: Hamming distance
 * 6 up to ~5 kbit messages against 4 for IEEE at the sizes of our records (Koopman, "32-Bit
 * Cyclic Redundancy Codes for Internet Applications", 2002), and it is what etcd, ext4 and
 * iSCSI use. Node has no native CRC-32C, so this is slicing-by-16 in JavaScript: about
 * 1.4–1.7 GB/s on this machine, ~40 µs for a 64 KiB batch, well under one fdatasync.
 */

const POLYNOMIAL = 0x82f63b78;
const SLICES = 16;

/** `TABLE[k * 256 + b]` is the CRC of byte `b` followed by `k` zero bytes. */
const TABLE = buildTable();

function buildTable(): Int32Array {
  const table = new Int32Array(SLICES * 256);
  for (let b = 0; b < 256; b++) {
    let c = b;
    for (let bit = 0; bit < 8; bit++) c = c & 1 ? (c >>> 1) ^ POLYNOMIAL : c >>> 1;
    table[b] = c;
  }
  for (let b = 0; b < 256; b++) {
    for (let k = 1; k < SLICES; k++) {
      const prev = table[(k - 1) * 256 + b]!;
      table[k * 256 + b] = (prev >>> 8) ^ table[prev & 0xff]!;
    }
  }
  return table;
}

/**
 * The CRC-32C of `bytes[start, end)`. Pass a previous result as `seed` to continue a CRC
 * over data that arrives in pieces: `crc32c(b, 0, n, crc32c(a))` equals the CRC of a ‖ b.
 */
export function crc32c(bytes: Uint8Array, start = 0, end = bytes.length, seed = 0): number {
  const t = TABLE;
  let crc = ~seed;
  let i = start;
  const blockEnd = end - ((end - start) % SLICES);
  for (; i < blockEnd; i += SLICES) {
    const a = (bytes[i]! | (bytes[i + 1]! << 8) | (bytes[i + 2]! << 16) | (bytes[i + 3]! << 24)) ^ crc;
    crc =
      t[0xf00 + (a & 0xff)]! ^
      t[0xe00 + ((a >>> 8) & 0xff)]! ^
      t[0xd00 + ((a >>> 16) & 0xff)]! ^
      t[0xc00 + (a >>> 24)]! ^
      t[0xb00 + bytes[i + 4]!]! ^
      t[0xa00 + bytes[i + 5]!]! ^
      t[0x900 + bytes[i + 6]!]! ^
      t[0x800 + bytes[i + 7]!]! ^
      t[0x700 + bytes[i + 8]!]! ^
      t[0x600 + bytes[i + 9]!]! ^
      t[0x500 + bytes[i + 10]!]! ^
      t[0x400 + bytes[i + 11]!]! ^
      t[0x300 + bytes[i + 12]!]! ^
      t[0x200 + bytes[i + 13]!]! ^
      t[0x100 + bytes[i + 14]!]! ^
      t[bytes[i + 15]!]!;
  }
  for (; i < end; i++) crc = t[(crc ^ bytes[i]!) & 0xff]! ^ (crc >>> 8);
  return ~crc >>> 0;
}
