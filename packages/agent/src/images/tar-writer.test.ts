import { describe, expect, test } from 'vitest';
import { writeTar } from './tar-writer.ts';

type Member = { name: string; mode: number; size: number; type: string; link: string; data: Buffer };

/** A strict reader of what writeTar writes: checks every header's checksum. */
function readTar(buf: Buffer): Member[] {
  const out: Member[] = [];
  let off = 0;
  for (;;) {
    const h = buf.subarray(off, off + 512);
    if (h.every((b) => b === 0)) break;
    const str = (a: number, n: number) =>
      h
        .subarray(a, a + n)
        .toString('utf8')
        .replace(/\0.*$/s, '');
    const num = (a: number, n: number) => Number.parseInt(str(a, n).trim() || '0', 8);
    let sum = 0;
    for (let i = 0; i < 512; i++) sum += i >= 148 && i < 156 ? 32 : (h[i] ?? 0);
    expect(num(148, 8)).toBe(sum);
    expect(str(257, 6)).toBe('ustar');
    const prefix = str(345, 155);
    const name = prefix === '' ? str(0, 100) : `${prefix}/${str(0, 100)}`;
    const size = num(124, 12);
    out.push({
      name,
      mode: num(100, 8),
      size,
      type: str(156, 1),
      link: str(157, 100),
      data: buf.subarray(off + 512, off + 512 + size),
    });
    off += 512 + Math.ceil(size / 512) * 512;
  }
  expect(buf.length - off).toBe(1024);
  return out;
}

describe('writeTar', () => {
  test('directories, files and symlinks with modes, sizes and valid checksums; reproducible', () => {
    const entries = [
      { kind: 'dir', path: 'bin', mode: 0o755 },
      { kind: 'dir', path: 'tmp', mode: 0o1777 },
      { kind: 'file', path: 'bin/busybox', mode: 0o755, data: Buffer.alloc(700, 7) },
      { kind: 'symlink', path: 'bin/sh', target: '/bin/busybox' },
      {
        kind: 'file',
        path: `${'d'.repeat(90)}/${'f'.repeat(60)}`,
        mode: 0o644,
        data: Buffer.from('long path'),
      },
    ] as const;
    const tar = writeTar(entries);
    expect(tar.length % 512).toBe(0);
    expect(writeTar(entries).equals(tar)).toBe(true);
    const members = readTar(tar);
    expect(members.map((m) => [m.name, m.type, m.mode, m.size, m.link])).toEqual([
      ['bin/', '5', 0o755, 0, ''],
      ['tmp/', '5', 0o1777, 0, ''],
      ['bin/busybox', '0', 0o755, 700, ''],
      ['bin/sh', '2', 0o777, 0, '/bin/busybox'],
      [`${'d'.repeat(90)}/${'f'.repeat(60)}`, '0', 0o644, 9, ''],
    ]);
    expect(members[2]?.data.equals(Buffer.alloc(700, 7))).toBe(true);
  });

  test('a path ustar cannot hold is refused', () => {
    expect(() =>
      writeTar([{ kind: 'file', path: 'x'.repeat(300), mode: 0o644, data: Buffer.alloc(0) }]),
    ).toThrow('too long');
  });

  test('a symlink target over 100 bytes goes in a PAX header that GNU tar reads', async () => {
    const { execFileSync } = await import('node:child_process');
    const { mkdtempSync, readlinkSync, rmSync, writeFileSync } = await import('node:fs');
    const { tmpdir } = await import('node:os');
    const { join } = await import('node:path');
    const target = `../../${'x'.repeat(60)}@1.0.0/node_modules/${'y'.repeat(60)}`;
    const tar = writeTar([{ kind: 'symlink', path: 'a/link', target }]);
    const members = readTar(tar);
    expect(members.map((m) => m.type)).toEqual(['x', '2']);
    expect(members[0]!.data.toString()).toBe(
      `${Buffer.byteLength(` linkpath=${target}\n`) + 3} linkpath=${target}\n`,
    );
    const dir = mkdtempSync(join(tmpdir(), 'pax-'));
    try {
      writeFileSync(join(dir, 't.tar'), tar);
      execFileSync('tar', ['-xf', join(dir, 't.tar'), '-C', dir]);
      expect(readlinkSync(join(dir, 'a', 'link'))).toBe(target);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
