import { createReadStream } from 'node:fs';
import { Readable } from 'node:stream';
import { assertNever } from '@flotilla/actor';

/** One entry of a tar archive: a file (copied from `source`), a directory or a symlink. */
export type TarEntry =
  | {
      readonly kind: 'file';
      readonly path: string;
      readonly source: string;
      readonly size: number;
      readonly mode: number;
    }
  | { readonly kind: 'dir'; readonly path: string; readonly mode: number }
  | { readonly kind: 'symlink'; readonly path: string; readonly target: string };

const block = 512;

function octal(value: number, width: number): string {
  return `${value.toString(8).padStart(width - 1, '0')}\0`;
}

function header(name: string, type: string, size: number, mode: number, linkname = ''): Buffer {
  const h = Buffer.alloc(block);
  h.write(name, 0, 100, 'utf8');
  h.write(octal(mode & 0o7777, 8), 100, 'ascii');
  h.write(octal(0, 8), 108, 'ascii'); // uid: root
  h.write(octal(0, 8), 116, 'ascii'); // gid: root
  h.write(octal(size, 12), 124, 'ascii');
  h.write(octal(0, 12), 136, 'ascii'); // mtime: fixed, so the same inputs make the same bytes
  h.write('        ', 148, 'ascii'); // checksum counts as spaces while it is computed
  h.write(type, 156, 'ascii');
  h.write(linkname, 157, 100, 'utf8');
  h.write('ustar\0', 257, 'ascii');
  h.write('00', 263, 'ascii');
  let sum = 0;
  for (const b of h) sum += b;
  h.write(`${sum.toString(8).padStart(6, '0')}\0 `, 148, 'ascii');
  return h;
}

/** A POSIX pax header carrying a long path or link target (ustar fields hold 100 bytes). */
function paxHeader(records: Readonly<Record<string, string>>): Buffer[] {
  let body = '';
  for (const [key, value] of Object.entries(records)) {
    const rest = ` ${key}=${value}\n`;
    // The record's length counts its own digits.
    let len = Buffer.byteLength(rest) + 1;
    while (String(len).length + Buffer.byteLength(rest) !== len)
      len = String(len).length + Buffer.byteLength(rest);
    body += `${len}${rest}`;
  }
  const data = Buffer.from(body, 'utf8');
  return [header('pax', 'x', data.length, 0o644), data, padding(data.length)];
}

function padding(size: number): Buffer {
  const rest = size % block;
  return Buffer.alloc(rest === 0 ? 0 : block - rest);
}

/** A tar stream of `entries`, in order, read lazily (files are streamed, not buffered). */
export function tarStream(entries: readonly TarEntry[]): Readable {
  async function* generate(): AsyncGenerator<Buffer> {
    for (const e of entries) {
      const path = e.kind === 'dir' && !e.path.endsWith('/') ? `${e.path}/` : e.path;
      const link = e.kind === 'symlink' ? e.target : '';
      const long: Record<string, string> = {};
      if (Buffer.byteLength(path) > 99) long.path = path;
      if (Buffer.byteLength(link) > 99) long.linkpath = link;
      if (Object.keys(long).length > 0) yield* paxHeader(long);
      const short = path.slice(0, 99);
      switch (e.kind) {
        case 'dir':
          yield header(short, '5', 0, e.mode);
          break;
        case 'symlink':
          yield header(short, '2', 0, 0o777, link.slice(0, 99));
          break;
        case 'file': {
          yield header(short, '0', e.size, e.mode);
          let read = 0;
          for await (const chunk of createReadStream(e.source)) {
            read += (chunk as Buffer).length;
            yield chunk as Buffer;
          }
          if (read !== e.size)
            throw new Error(`${e.source} changed size while archived (${e.size} → ${read})`);
          yield padding(e.size);
          break;
        }
        default:
          assertNever(e, 'tar entry');
      }
    }
    yield Buffer.alloc(2 * block);
  }
  return Readable.from(generate());
}
