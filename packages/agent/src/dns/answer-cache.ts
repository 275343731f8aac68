import { canonicalName, decodeMessage, type Question, Rcode, recordTtlOffsets } from './wire.ts';

type Entry = {
  readonly response: Buffer;
  readonly ttlOffsets: readonly number[];
  readonly storedAtMs: number;
  readonly expiresAtMs: number;
};

/**
 * How a cached response is keyed: the question, and what changes the upstream's answer
 * (EDNS or not — a client that sent no OPT must get none back — DO and CD).
 */
export function cacheKey(q: Question, edns: boolean, dnssecOk: boolean, checkingDisabled: boolean): string {
  const bits = `${edns ? 1 : 0}${dnssecOk ? 1 : 0}${checkingDisabled ? 1 : 0}`;
  return `${canonicalName(q.name)}|${q.type}|${q.class}|${bits}`;
}

/**
 * Responses from the upstream resolver, kept for their TTL (at most `maxTtlSeconds`),
 * at most `maxEntries` of them, the least recently used evicted first. A hit is handed
 * out with its TTLs lowered by the time it spent here, so clients never keep a record
 * longer than its owner allowed.
 */
export class AnswerCache {
  private readonly entries = new Map<string, Entry>();
  private readonly maxEntries: number;
  private readonly maxTtlSeconds: number;

  constructor(maxEntries: number, maxTtlSeconds: number) {
    this.maxEntries = maxEntries;
    this.maxTtlSeconds = maxTtlSeconds;
  }

  get size(): number {
    return this.entries.size;
  }

  /**
   * Stores a response when it may be cached: a complete (not truncated) NOERROR or
   * NXDOMAIN whose records all have a TTL; a negative answer for its SOA's minimum (RFC 2308).
   */
  put(key: string, response: Buffer, nowMs: number): void {
    if (this.maxEntries === 0) return;
    const msg = decodeMessage(response);
    if (msg.tc || (msg.rcode !== Rcode.NOERROR && msg.rcode !== Rcode.NXDOMAIN)) return;
    const records = [...msg.answers, ...msg.authorities, ...msg.additionals];
    let ttl = this.maxTtlSeconds;
    for (const rr of records) ttl = Math.min(ttl, rr.ttl);
    const soa = msg.authorities.find((rr) => rr.data.type === 'SOA');
    if (msg.answers.length === 0) {
      if (soa === undefined || soa.data.type !== 'SOA') return;
      ttl = Math.min(ttl, soa.data.minimum);
    }
    if (ttl <= 0) return;
    this.entries.delete(key);
    this.entries.set(key, {
      response: Buffer.from(response),
      ttlOffsets: recordTtlOffsets(response),
      storedAtMs: nowMs,
      expiresAtMs: nowMs + ttl * 1000,
    });
    while (this.entries.size > this.maxEntries) {
      const oldest = this.entries.keys().next().value;
      if (oldest === undefined) break;
      this.entries.delete(oldest);
    }
  }

  /**
   * A copy of the cached response for this query, with the query's id and question
   * spelling (a client may check the case it sent) and aged TTLs; undefined on a miss.
   */
  get(key: string, query: Buffer, nowMs: number): Buffer | undefined {
    const entry = this.entries.get(key);
    if (entry === undefined) return undefined;
    if (nowMs >= entry.expiresAtMs) {
      this.entries.delete(key);
      return undefined;
    }
    this.entries.delete(key);
    this.entries.set(key, entry);
    const out = Buffer.from(entry.response);
    query.copy(out, 0, 0, 2);
    // The question name starts at byte 12 in both and is never compressed there; the
    // names are equal but for case, so they have the same length.
    const nameEnd = questionNameEnd(query);
    if (nameEnd !== undefined && questionNameEnd(out) === nameEnd) query.copy(out, 12, 12, nameEnd);
    const aged = Math.floor((nowMs - entry.storedAtMs) / 1000);
    for (const offset of entry.ttlOffsets)
      out.writeUInt32BE(Math.max(0, out.readUInt32BE(offset) - aged), offset);
    return out;
  }
}

/** Where the first question's name ends (uncompressed labels from offset 12), if well formed. */
function questionNameEnd(buf: Buffer): number | undefined {
  let pos = 12;
  while (pos < buf.length) {
    const len = buf.readUInt8(pos);
    if (len === 0) return pos + 1;
    if (len > 63) return undefined;
    pos += len + 1;
  }
  return undefined;
}
