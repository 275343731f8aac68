import { readFile, writeFile } from 'node:fs/promises';
import type { Command, SnapshotMeta, StateMachine } from '@flotilla/raft';

const utf8 = new TextEncoder();
const utf8d = new TextDecoder();

/**
 * The harness's state machine: it remembers every applied payload in order, and a digest
 * of the sequence. Members of one cluster must end with equal sequences; a payload that
 * was acknowledged to a client must be in them. In memory on purpose: on restart the
 * driver restores the latest snapshot and replays the log after it, which exercises both.
 */
export class LogMachine implements StateMachine {
  private applied = 0;
  private payloads: string[] = [];
  private digest = 0x811c9dc5;
  private seen = new Set<string>();

  appliedIndex(): number {
    return this.applied;
  }

  apply(commands: readonly Command[], lastIndex: number): readonly unknown[] {
    const results: number[] = [];
    for (const c of commands) {
      const text = utf8d.decode(c.payload);
      // A retried proposal may be in the log twice: apply it once (like the store's dedup).
      if (!this.seen.has(text)) {
        this.seen.add(text);
        this.payloads.push(text);
        this.digest = fnv1a(this.digest, text);
      }
      results.push(this.payloads.length);
    }
    this.applied = lastIndex;
    return results;
  }

  async snapshot(path: string): Promise<{ index: number }> {
    // Pinned now: the copy below is of the state at this call, whatever applies meanwhile.
    const index = this.applied;
    const state = JSON.stringify({ applied: index, payloads: this.payloads, digest: this.digest });
    await writeFile(path, utf8.encode(state));
    return { index };
  }

  async restore(path: string, meta: SnapshotMeta): Promise<void> {
    const state = JSON.parse(utf8d.decode(await readFile(path))) as {
      applied: number;
      payloads: string[];
      digest: number;
    };
    if (state.applied !== meta.index)
      throw new Error(`snapshot file holds index ${state.applied}, meta says ${meta.index}`);
    this.applied = state.applied;
    this.payloads = state.payloads;
    this.digest = state.digest;
    this.seen = new Set(state.payloads);
  }

  summary(): { applied: number; count: number; digest: number } {
    return { applied: this.applied, count: this.payloads.length, digest: this.digest };
  }

  slice(from: number, count: number): string[] {
    return this.payloads.slice(from, from + count);
  }
}

function fnv1a(hash: number, text: string): number {
  let h = hash;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h;
}
