import { spawnSync } from 'node:child_process';
import { createWriteStream, mkdirSync, readFileSync, readlinkSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { describe, expect, it } from 'vitest';
import { tempDir } from '../../tmp.ts';
import { tarStream } from './tar.ts';

describe('the tar writer', () => {
  it('writes files, directories, symlinks and long names that GNU tar extracts as they were', async () => {
    const dir = tempDir('tar');
    const content = Buffer.alloc(70_000, 7);
    writeFileSync(join(dir, 'source.bin'), content);
    writeFileSync(join(dir, 'empty'), '');
    const deep = `a/${'very-long-directory-name-'.repeat(6)}/node_modules/.pnpm/pkg@1.0.0/node_modules/pkg/index.js`;
    const target = `../../${'x'.repeat(120)}/target`;
    const archive = join(dir, 'out.tar');
    await pipeline(
      tarStream([
        { kind: 'dir', path: 'tmp', mode: 0o1777 },
        { kind: 'dir', path: 'a', mode: 0o755 },
        {
          kind: 'file',
          path: 'a/data.bin',
          source: join(dir, 'source.bin'),
          size: content.length,
          mode: 0o640,
        },
        { kind: 'file', path: 'a/empty', source: join(dir, 'empty'), size: 0, mode: 0o644 },
        { kind: 'file', path: deep, source: join(dir, 'source.bin'), size: content.length, mode: 0o755 },
        { kind: 'symlink', path: 'a/link', target: 'data.bin' },
        { kind: 'symlink', path: 'a/far', target },
      ]),
      createWriteStream(archive),
    );
    const out = join(dir, 'x');
    mkdirSync(out);
    const r = spawnSync('tar', ['-xf', archive, '-C', out], { encoding: 'utf8' });
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    expect(readFileSync(join(out, 'a/data.bin')).equals(content)).toBe(true);
    expect(statSync(join(out, 'a/data.bin')).mode & 0o777).toBe(0o640);
    expect(readFileSync(join(out, 'a/empty')).length).toBe(0);
    expect(readFileSync(join(out, deep)).equals(content)).toBe(true);
    expect(readlinkSync(join(out, 'a/link'))).toBe('data.bin');
    expect(readlinkSync(join(out, 'a/far'))).toBe(target);
    expect(statSync(join(out, 'tmp')).mode & 0o7777).toBe(0o1777);
  });

  it('refuses a file that changed size while it was archived', async () => {
    const dir = tempDir('tar');
    writeFileSync(join(dir, 'f'), 'abc');
    const archive = createWriteStream(join(dir, 'out.tar'));
    await expect(
      pipeline(
        tarStream([{ kind: 'file', path: 'f', source: join(dir, 'f'), size: 10, mode: 0o644 }]),
        archive,
      ),
    ).rejects.toThrow(/changed size/);
  });
});
