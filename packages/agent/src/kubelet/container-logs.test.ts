import { appendFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, test } from 'vitest';
import {
  lastLogLines,
  parseLogRecord,
  readContainerLog,
  rotatedPath,
  rotateLogIfLarge,
  timestampMs,
} from './container-logs.ts';

const dir = mkdtempSync(join(tmpdir(), 'flotilla-logs-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

async function read(path: string, options: Parameters<typeof readContainerLog>[1]): Promise<string> {
  const parts: Buffer[] = [];
  for await (const b of readContainerLog(path, options)) parts.push(b);
  return Buffer.concat(parts).toString();
}

const log = [
  '2026-01-01T00:00:01.000000001Z stdout F one',
  '2026-01-01T00:00:02.500000000Z stderr F two',
  '2026-01-01T00:00:03.000000000Z stdout P thr',
  '2026-01-01T00:00:03.100000000Z stdout F ee',
  '2026-01-01T00:00:04.000000000Z stdout F',
  'garbage line',
  '2026-01-01T00:00:05.000000000Z stdout F five',
  '',
].join('\n');

describe('CRI log records', () => {
  test('parse', () => {
    expect(parseLogRecord(Buffer.from('2026-01-01T00:00:01.5Z stderr P hello world'))).toEqual({
      timestamp: '2026-01-01T00:00:01.5Z',
      stream: 'stderr',
      partial: true,
      content: Buffer.from('hello world'),
    });
    expect(parseLogRecord(Buffer.from('2026-01-01T00:00:01Z stdout F'))?.content.length).toBe(0);
    expect(parseLogRecord(Buffer.from('nonsense'))).toBeUndefined();
    expect(timestampMs('2026-01-01T00:00:02.500000000Z')).toBe(Date.parse('2026-01-01T00:00:02.5Z'));
  });

  test('whole log, partial lines joined, empty lines kept, malformed skipped', async () => {
    const path = join(dir, 'a.log');
    writeFileSync(path, log);
    expect(await read(path, {})).toBe('one\ntwo\nthree\n\nfive\n');
    expect(await read(path, { stream: 'stderr' })).toBe('two\n');
  });

  test('tail, since, timestamps, limit', async () => {
    const path = join(dir, 'b.log');
    writeFileSync(path, log);
    expect(await read(path, { tailLines: 2 })).toBe('\nfive\n');
    expect(await read(path, { tailLines: 0 })).toBe('');
    expect(await read(path, { sinceMs: Date.parse('2026-01-01T00:00:02.5Z') })).toBe('two\nthree\n\nfive\n');
    expect(await read(path, { tailLines: 1, timestamps: true })).toBe(
      '2026-01-01T00:00:05.000000000Z five\n',
    );
    expect(await read(path, { limitBytes: 6 })).toBe('one\ntw');
  });

  test('follow returns new lines and ends when the container stops', async () => {
    const path = join(dir, 'c.log');
    writeFileSync(path, '2026-01-01T00:00:01Z stdout F first\n');
    let running = true;
    const got: string[] = [];
    const reader = (async () => {
      for await (const b of readContainerLog(path, { follow: true }, async () => running))
        got.push(b.toString());
    })();
    for (let i = 0; i < 100 && got.length === 0; i++) await new Promise((r) => setTimeout(r, 50));
    appendFileSync(path, '2026-01-01T00:00:02Z stdout P sec');
    // More than one poll of the follower passes.
    await new Promise((r) => setTimeout(r, 500));
    // Nothing of an unfinished record is shown; the P record continues in the next one.
    expect(got.join('')).toBe('first\n');
    appendFileSync(path, 'ond\n2026-01-01T00:00:02Z stdout F  half\n');
    running = false;
    await reader;
    expect(got.join('')).toBe('first\nsecond half\n');
  });

  test('rotation keeps one older file, which reads come through; termination message tail', async () => {
    const path = join(dir, 'd.log');
    writeFileSync(path, '2026-01-01T00:00:01Z stdout F old\n');
    let reopened = 0;
    expect(await rotateLogIfLarge(path, async () => void reopened++, 10)).toBe(true);
    expect(reopened).toBe(1);
    expect(readFileSync(rotatedPath(path), 'utf8')).toContain('old');
    writeFileSync(path, '2026-01-01T00:00:02Z stdout F new\n');
    expect(await read(path, {})).toBe('old\nnew\n');
    expect(await rotateLogIfLarge(path, async () => void reopened++, 1_000)).toBe(false);
    const many = Array.from({ length: 100 }, (_, i) => `2026-01-01T00:00:02Z stderr F line ${i}`).join('\n');
    writeFileSync(path, `${many}\n`);
    const tail = await lastLogLines(path, 80, 2048);
    expect(tail.startsWith('line 20\n')).toBe(true);
    expect(tail.endsWith('line 99\n')).toBe(true);
  });
});
