import { assert, assertNever } from '@flotilla/actor';

/** One member of a tar archive. Times and owners are fixed (0) so archives are reproducible. */
export type TarEntry =
  | { readonly kind: 'dir'; readonly path: string; readonly mode: number }
  | { readonly kind: 'file'; readonly path: string; readonly mode: number; readonly data: Buffer }
  | { readonly kind: 'symlink'; readonly path: string; readonly target: string };

const blockBytes = 512;
const nameBytes = 100;
const prefixBytes = 155;

/**
 * A POSIX ustar archive of the entries, in the order given. Paths are relative, with
 * `/` separators; directories get a trailing slash. Enough for image layers and
 * docker-archive files, which is all the agent builds.
 */
export function writeTar(entries: readonly TarEntry[]): Buffer {
  const parts: Buffer[] = [];
  for (const e of entries) {
    switch (e.kind) {
      case 'dir':
        parts.push(header(e.path.endsWith('/') ? e.path : `${e.path}/`, e.mode, 0, '5', ''));
        break;
      case 'symlink': {
        // A target longer than ustar's 100 bytes goes in a PAX header before the entry.
        const long = Buffer.byteLength(e.target) > nameBytes;
        if (long) parts.push(...paxHeader({ linkpath: e.target }));
        parts.push(header(e.path, 0o777, 0, '2', long ? '' : e.target));
        break;
      }
      case 'file': {
        parts.push(header(e.path, e.mode, e.data.length, '0', ''), e.data);
        const pad = (blockBytes - (e.data.length % blockBytes)) % blockBytes;
        if (pad > 0) parts.push(Buffer.alloc(pad));
        break;
      }
      default:
        assertNever(e, 'tar entry');
    }
  }
  // The end of an archive: two zero blocks.
  parts.push(Buffer.alloc(2 * blockBytes));
  return Buffer.concat(parts);
}

/**
 * A PAX extended header (POSIX.1-2001, typeflag `x`) carrying `records` for the entry
 * after it; each record is `<length> <key>=<value>\n`, its length counting itself.
 */
function paxHeader(records: Readonly<Record<string, string>>): Buffer[] {
  let body = '';
  for (const [key, value] of Object.entries(records)) {
    const rest = ` ${key}=${value}\n`;
    let length = Buffer.byteLength(rest) + 1;
    while (String(length).length + Buffer.byteLength(rest) !== length) length += 1;
    body += `${length}${rest}`;
  }
  const data = Buffer.from(body, 'utf8');
  const pad = (blockBytes - (data.length % blockBytes)) % blockBytes;
  return [header('././@PaxHeader', 0o644, data.length, 'x', ''), data, Buffer.alloc(pad)];
}

function header(path: string, mode: number, size: number, type: string, linkName: string): Buffer {
  const h = Buffer.alloc(blockBytes);
  const [prefix, name] = splitPath(path);
  assert(Buffer.byteLength(linkName) <= nameBytes, `tar link target too long: ${linkName}`);
  h.write(name, 0, nameBytes, 'utf8');
  octal(h, 100, 8, mode & 0o7777);
  octal(h, 108, 8, 0); // uid
  octal(h, 116, 8, 0); // gid
  octal(h, 124, 12, size);
  octal(h, 136, 12, 0); // mtime
  h.write('        ', 148, 8, 'ascii'); // checksum is computed over spaces here
  h.write(type, 156, 1, 'ascii');
  h.write(linkName, 157, nameBytes, 'utf8');
  h.write('ustar\u000000', 257, 8, 'ascii');
  h.write('root', 265, 32, 'ascii');
  h.write('root', 297, 32, 'ascii');
  h.write(prefix, 345, prefixBytes, 'utf8');
  let sum = 0;
  for (const b of h) sum += b;
  h.write(`${sum.toString(8).padStart(6, '0')}\u0000 `, 148, 8, 'ascii');
  return h;
}

/** ustar keeps long paths as prefix + name, split at a slash. */
function splitPath(path: string): [string, string] {
  if (Buffer.byteLength(path) <= nameBytes) return ['', path];
  for (let i = path.indexOf('/'); i >= 0; i = path.indexOf('/', i + 1)) {
    const prefix = path.slice(0, i);
    const name = path.slice(i + 1);
    if (Buffer.byteLength(prefix) <= prefixBytes && Buffer.byteLength(name) <= nameBytes)
      return [prefix, name];
  }
  throw new Error(`tar path too long for ustar: ${path}`);
}

function octal(buf: Buffer, offset: number, width: number, value: number): void {
  assert(value >= 0 && value < 8 ** (width - 1), `tar field value ${value} does not fit ${width} bytes`);
  buf.write(`${value.toString(8).padStart(width - 1, '0')}\u0000`, offset, width, 'ascii');
}
