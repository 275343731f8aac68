import { lstatSync, mkdtempSync, readdirSync, readFileSync, readlinkSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, test } from 'vitest';
import { isSafePayloadPath, writePayload } from './atomic-writer.ts';

const root = mkdtempSync(join(tmpdir(), 'flotilla-atomic-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));
const file = (s: string, mode = 0o644) => ({ data: Buffer.from(s), mode });

describe('writePayload (configMap/secret volumes)', () => {
  test('files appear through ..data; an update swaps them all at once and drops keys that went away', async () => {
    const dir = join(root, 'v1');
    expect(
      await writePayload(
        dir,
        new Map([
          ['a', file('1')],
          ['sub/b', file('2', 0o600)],
        ]),
      ),
    ).toBe(true);
    expect(readFileSync(join(dir, 'a'), 'utf8')).toBe('1');
    expect(readFileSync(join(dir, 'sub', 'b'), 'utf8')).toBe('2');
    expect(lstatSync(join(dir, 'a')).isSymbolicLink()).toBe(true);
    expect(readlinkSync(join(dir, 'a'))).toBe('..data/a');
    expect(lstatSync(join(dir, 'sub', 'b')).mode & 0o777).toBe(0o600);
    const firstData = readlinkSync(join(dir, '..data'));

    // Unchanged: nothing is rewritten.
    expect(
      await writePayload(
        dir,
        new Map([
          ['a', file('1')],
          ['sub/b', file('2', 0o600)],
        ]),
      ),
    ).toBe(false);
    expect(readlinkSync(join(dir, '..data'))).toBe(firstData);

    expect(
      await writePayload(
        dir,
        new Map([
          ['a', file('changed')],
          ['c', file('3')],
        ]),
      ),
    ).toBe(true);
    expect(readFileSync(join(dir, 'a'), 'utf8')).toBe('changed');
    expect(readFileSync(join(dir, 'c'), 'utf8')).toBe('3');
    const entries = readdirSync(dir).sort();
    expect(entries).toEqual(['..data', readlinkSync(join(dir, '..data')), 'a', 'c'].sort());
  });

  test('paths that could leave the volume are refused', async () => {
    for (const bad of ['../x', '/etc/passwd', 'a/../../x', '..data', ''])
      expect(isSafePayloadPath(bad)).toBe(false);
    for (const ok of ['a', 'a/b', 'a.conf']) expect(isSafePayloadPath(ok)).toBe(true);
    await expect(writePayload(join(root, 'v2'), new Map([['../escape', file('x')]]))).rejects.toThrow(
      'unsafe volume path',
    );
  });
});
