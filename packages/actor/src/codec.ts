import { Packr } from 'msgpackr';

// Records off: every frame is self-describing, so two processes never depend on shared
// structure state that one of them may not have (a restarted peer would mis-decode).
const packr = new Packr({ useRecords: false, moreTypes: false, int64AsType: 'number' });

export function encode(value: unknown): Uint8Array {
  return packr.pack(value);
}

export function decode(bytes: Uint8Array): unknown {
  return packr.unpack(bytes);
}
