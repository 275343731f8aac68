/**
 * The bytes the driver puts in a normal entry: a proposal id, so that the member that
 * proposed can recognise its entry when it is applied (proposals may be forwarded to
 * the leader and come back only through the log), then the application's payload.
 *
 *   [version 0x01][id length: u8][id: utf-8][payload...]
 *
 * An empty entry (the no-op a new leader appends) has no envelope.
 */
const version = 0x01;
const maxIdBytes = 255;
const utf8 = new TextEncoder();
const utf8d = new TextDecoder();

export function wrapProposal(id: string, payload: Uint8Array): Uint8Array {
  const idBytes = utf8.encode(id);
  if (idBytes.length > maxIdBytes) throw new RangeError(`proposal id longer than ${maxIdBytes} bytes`);
  const out = new Uint8Array(2 + idBytes.length + payload.length);
  out[0] = version;
  out[1] = idBytes.length;
  out.set(idBytes, 2);
  out.set(payload, 2 + idBytes.length);
  return out;
}

export type Unwrapped = { readonly id: string; readonly payload: Uint8Array } | null;

/** The proposal inside an entry's data, or null for a no-op or foreign bytes. */
export function unwrapProposal(data: Uint8Array): Unwrapped {
  if (data.length < 2 || data[0] !== version) return null;
  const idLength = data[1]!;
  if (data.length < 2 + idLength) return null;
  return {
    id: utf8d.decode(data.subarray(2, 2 + idLength)),
    payload: data.subarray(2 + idLength),
  };
}
