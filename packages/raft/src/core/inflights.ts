import { assert } from './assert.ts';

/**
 * The append messages in flight to one follower, as a ring of (last index, bytes). A leader
 * in replicate state stops sending once the ring is full, so a slow follower costs bounded
 * memory and bandwidth; an acknowledgement frees every message at or below its index.
 */
export class Inflights {
  private readonly lastIndices: number[];
  private readonly sizes: number[];
  private readonly maxMessages: number;
  private readonly maxBytes: number;
  private start = 0;
  private size = 0;
  private bytesInFlight = 0;

  /** `maxBytes` 0 means no byte bound. */
  constructor(maxMessages: number, maxBytes: number) {
    this.maxMessages = maxMessages;
    this.maxBytes = maxBytes;
    this.lastIndices = new Array<number>(maxMessages).fill(0);
    this.sizes = new Array<number>(maxMessages).fill(0);
  }

  get count(): number {
    return this.size;
  }

  get bytes(): number {
    return this.bytesInFlight;
  }

  full(): boolean {
    return this.size === this.maxMessages || (this.maxBytes > 0 && this.bytesInFlight >= this.maxBytes);
  }

  add(lastIndex: number, bytes: number): void {
    assert(!this.full(), 'inflights: add while full');
    if (this.size > 0) {
      const newest = this.lastIndices[(this.start + this.size - 1) % this.maxMessages]!;
      assert(lastIndex > newest, `inflights: ${lastIndex} does not follow ${newest}`);
    }
    const slot = (this.start + this.size) % this.maxMessages;
    this.lastIndices[slot] = lastIndex;
    this.sizes[slot] = bytes;
    this.size++;
    this.bytesInFlight += bytes;
  }

  /** The follower holds everything through `index`: those messages are no longer in flight. */
  freeLE(index: number): void {
    while (this.size > 0 && this.lastIndices[this.start]! <= index) this.freeFirst();
  }

  /** Forget the oldest message (it was probably lost), so that one more may go. */
  freeFirst(): void {
    if (this.size === 0) return;
    this.bytesInFlight -= this.sizes[this.start]!;
    this.start = (this.start + 1) % this.maxMessages;
    this.size--;
  }

  reset(): void {
    this.start = 0;
    this.size = 0;
    this.bytesInFlight = 0;
  }
}
