import { decode } from './codec.ts';
import type { WireError } from './errors.ts';

/** Bumped on any incompatible change of the frames below. */
export const PROTOCOL_VERSION = 1;

/**
 * Everything the actor layer puts on NATS. Keys are short because every ask carries them.
 *
 * Request/reply: `ask` → `ok` | `err` (NATS correlates the reply; `id` is the request id,
 * stable across retries, for idempotency). `tell` has no reply.
 *
 * Streams: the client sends `open` as a request; the server answers `ok` with its control
 * subject and then publishes `item`/`hb`/`end`/`fail` frames, numbered by `s`, to the
 * client's inbox `r`. The client grants credit by sending `credit` (consumed up to `a`) to
 * the control subject; the server never sends past `a + w`. Numbered frames make a lost
 * frame (core NATS is at-most-once) visible as a gap instead of silent data loss.
 */
export type Frame =
  | {
      readonly v: 1;
      readonly k: 'ask';
      readonly id: string;
      readonly m: string;
      readonly t: number;
      readonly b: unknown;
    }
  | { readonly v: 1; readonly k: 'tell'; readonly m: string; readonly b: unknown }
  | { readonly v: 1; readonly k: 'ok'; readonly b: unknown }
  | { readonly v: 1; readonly k: 'err'; readonly e: WireError }
  | {
      readonly v: 1;
      readonly k: 'open';
      readonly id: string;
      readonly m: string;
      readonly b: unknown;
      /** client inbox */
      readonly r: string;
      /** window: frames the server may send beyond the acknowledged ones */
      readonly w: number;
      /** heartbeat interval in ms both sides use */
      readonly hb: number;
    }
  | { readonly v: 1; readonly k: 'item'; readonly s: number; readonly p: Uint8Array }
  | { readonly v: 1; readonly k: 'hb'; readonly s: number }
  | { readonly v: 1; readonly k: 'end'; readonly s: number }
  | { readonly v: 1; readonly k: 'fail'; readonly s: number; readonly e: WireError }
  | { readonly v: 1; readonly k: 'credit'; readonly id: string; readonly a: number }
  | { readonly v: 1; readonly k: 'cancel'; readonly id: string };

export type FrameKind = Frame['k'];

export type ParseResult =
  | { readonly ok: true; readonly frame: Frame }
  | { readonly ok: false; readonly reason: string };

const isStr = (x: unknown): x is string => typeof x === 'string';
const isNat = (x: unknown): x is number => typeof x === 'number' && Number.isSafeInteger(x) && x >= 0;
const isWireError = (x: unknown): x is WireError =>
  typeof x === 'object' && x !== null && isStr((x as WireError).code) && isStr((x as WireError).message);

/** Decode and check one frame. Never throws: garbage yields a reason for the metrics. */
export function parseFrame(bytes: Uint8Array): ParseResult {
  let raw: unknown;
  try {
    raw = decode(bytes);
  } catch {
    return { ok: false, reason: 'undecodable' };
  }
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw))
    return { ok: false, reason: 'not-a-frame' };
  const f = raw as Record<string, unknown>;
  if (f.v !== PROTOCOL_VERSION) return { ok: false, reason: 'version' };
  let valid: boolean;
  switch (f.k) {
    case 'ask':
      valid = isStr(f.id) && isStr(f.m) && isNat(f.t);
      break;
    case 'tell':
      valid = isStr(f.m);
      break;
    case 'ok':
      valid = true;
      break;
    case 'err':
      valid = isWireError(f.e);
      break;
    case 'open':
      valid = isStr(f.id) && isStr(f.m) && isStr(f.r) && isNat(f.w) && f.w > 0 && isNat(f.hb);
      break;
    case 'item':
      valid = isNat(f.s) && f.p instanceof Uint8Array;
      break;
    case 'hb':
    case 'end':
      valid = isNat(f.s);
      break;
    case 'fail':
      valid = isNat(f.s) && isWireError(f.e);
      break;
    case 'credit':
      valid = isStr(f.id) && isNat(f.a);
      break;
    case 'cancel':
      valid = isStr(f.id);
      break;
    default:
      return { ok: false, reason: 'unknown-kind' };
  }
  return valid ? { ok: true, frame: f as Frame } : { ok: false, reason: `malformed-${String(f.k)}` };
}
