import { open, rename, rm, stat } from 'node:fs/promises';
import { sleep } from '@flotilla/actor';

/**
 * Container logs in CRI's format: the runtime writes one record per line,
 * `<RFC 3339 nano timestamp> <stdout|stderr> <P|F> <content>`, where P marks a partial
 * line continued by the next record. kubelet reads them back for `kubectl logs`.
 * https://github.com/kubernetes/design-proposals-archive/blob/main/node/kubelet-cri-logging.md
 */
export type LogRecord = {
  readonly timestamp: string;
  readonly timeMs: number;
  readonly stream: 'stdout' | 'stderr';
  /** The full line, partial records joined, without its newline. */
  readonly content: Buffer;
};

export type LogOptions = {
  /** Only the last N lines (kubectl logs --tail). */
  readonly tailLines?: number;
  /** Only lines at or after this time (--since / --since-time). */
  readonly sinceMs?: number;
  /** Prefix each line with its RFC 3339 timestamp (--timestamps). */
  readonly timestamps?: boolean;
  /** Stop after this many bytes (--limit-bytes). */
  readonly limitBytes?: number;
  /** Keep streaming new lines until the container stops (-f). */
  readonly follow?: boolean;
  readonly stream?: 'all' | 'stdout' | 'stderr';
};

/** A log file is rotated (one older file kept) when it grows past this (kubelet's containerLogMaxSize default). */
export const maxLogFileBytes = 10 * 1024 * 1024;
/** How often a followed log is checked for new lines. */
export const followPollMs = 200;
/** A record longer than this without a newline is cut (the runtime splits lines at 16 KiB anyway). */
const maxPendingLineBytes = 1024 * 1024;

export function rotatedPath(path: string): string {
  return `${path}.1`;
}

type Parsed = { timestamp: string; stream: 'stdout' | 'stderr'; partial: boolean; content: Buffer };

/** Parses one CRI log record (a line without its newline); undefined when malformed. */
export function parseLogRecord(line: Buffer): Parsed | undefined {
  const s1 = line.indexOf(0x20);
  const s2 = s1 < 0 ? -1 : line.indexOf(0x20, s1 + 1);
  const s3 = s2 < 0 ? -1 : line.indexOf(0x20, s2 + 1);
  if (s3 < 0 && !(s2 >= 0 && line.length === s2 + 2)) return undefined;
  const stream = line.subarray(s1 + 1, s2).toString('ascii');
  if (stream !== 'stdout' && stream !== 'stderr') return undefined;
  const tag = line.subarray(s2 + 1, s3 < 0 ? line.length : s3).toString('ascii');
  return {
    timestamp: line.subarray(0, s1).toString('ascii'),
    stream,
    partial: tag === 'P',
    content: s3 < 0 ? Buffer.alloc(0) : line.subarray(s3 + 1),
  };
}

/** RFC 3339 with nanoseconds → epoch ms (Date parses at most milliseconds). */
export function timestampMs(ts: string): number {
  return Date.parse(ts.replace(/(\.\d{3})\d*/, '$1'));
}

/** Turns log file bytes into full lines; `pending` carries a partial record across calls. */
class RecordAssembler {
  private partial: Parsed | undefined;
  private tail = Buffer.alloc(0);

  push(chunk: Buffer): LogRecord[] {
    const data = this.tail.length === 0 ? chunk : Buffer.concat([this.tail, chunk]);
    const out: LogRecord[] = [];
    let start = 0;
    for (let nl = data.indexOf(0x0a, start); nl >= 0; nl = data.indexOf(0x0a, start)) {
      const rec = parseLogRecord(data.subarray(start, nl));
      start = nl + 1;
      if (rec === undefined) continue;
      if (this.partial !== undefined && this.partial.stream === rec.stream) {
        rec.content = Buffer.concat([this.partial.content, rec.content]);
        rec.timestamp = this.partial.timestamp;
      }
      if (rec.partial && rec.content.length < maxPendingLineBytes) {
        this.partial = rec;
        continue;
      }
      this.partial = undefined;
      out.push({
        timestamp: rec.timestamp,
        timeMs: timestampMs(rec.timestamp),
        stream: rec.stream,
        content: rec.content,
      });
    }
    this.tail = Buffer.from(data.subarray(start));
    return out;
  }
}

async function readWhole(path: string): Promise<Buffer | undefined> {
  try {
    const fh = await open(path, 'r');
    try {
      return await fh.readFile();
    } finally {
      await fh.close();
    }
  } catch {
    return undefined;
  }
}

function format(rec: LogRecord, timestamps: boolean): Buffer {
  return timestamps
    ? Buffer.concat([Buffer.from(`${rec.timestamp} `), rec.content, Buffer.from('\n')])
    : Buffer.concat([rec.content, Buffer.from('\n')]);
}

/**
 * A container's log as `kubectl logs` shows it. With `follow`, new lines keep coming
 * until `stillRunning` says the container stopped (and the file is read to its end), or
 * `signal` aborts.
 */
export async function* readContainerLog(
  path: string,
  options: LogOptions,
  stillRunning: () => Promise<boolean> = async () => false,
  signal?: AbortSignal,
): AsyncGenerator<Buffer> {
  const wanted = (r: LogRecord) =>
    (options.stream === undefined || options.stream === 'all' || options.stream === r.stream) &&
    (options.sinceMs === undefined || r.timeMs >= options.sinceMs);
  let budget = options.limitBytes ?? Number.POSITIVE_INFINITY;
  const emit = function* (recs: readonly LogRecord[]): Generator<Buffer> {
    for (const r of recs) {
      if (budget <= 0) return;
      let b = format(r, options.timestamps === true);
      if (b.length > budget) b = b.subarray(0, budget);
      budget -= b.length;
      yield b;
    }
  };

  const assembler = new RecordAssembler();
  const older = (await readWhole(rotatedPath(path))) ?? Buffer.alloc(0);
  const current = (await readWhole(path)) ?? Buffer.alloc(0);
  let records = [...assembler.push(older), ...assembler.push(current)].filter(wanted);
  if (options.tailLines !== undefined)
    records = options.tailLines <= 0 ? [] : records.slice(-options.tailLines);
  yield* emit(records);
  if (options.follow !== true) return;

  let offset = current.length;
  let inode = (await stat(path).catch(() => undefined))?.ino;
  while (budget > 0 && signal?.aborted !== true) {
    const st = await stat(path).catch(() => undefined);
    if (st !== undefined && (st.ino !== inode || st.size < offset)) {
      // Rotated: the rest of the old file was renamed away; the new one starts at 0.
      inode = st.ino;
      offset = 0;
    }
    if (st !== undefined && st.size > offset) {
      const fh = await open(path, 'r');
      try {
        const buf = Buffer.alloc(Math.min(st.size - offset, 4 * 1024 * 1024));
        const { bytesRead } = await fh.read(buf, 0, buf.length, offset);
        offset += bytesRead;
        yield* emit(assembler.push(buf.subarray(0, bytesRead)).filter(wanted));
      } finally {
        await fh.close();
      }
      continue;
    }
    if (!(await stillRunning())) {
      // The runtime may flush the last lines just after the process exits.
      const last = await stat(path).catch(() => undefined);
      if (last === undefined || last.size <= offset) return;
      continue;
    }
    await sleep(followPollMs, signal).catch(() => undefined);
  }
}

/**
 * The last lines of a log, for a termination message under FallbackToLogsOnError
 * (kubelet: at most 80 lines and 2 KiB).
 */
export async function lastLogLines(path: string, maxLines = 80, maxBytes = 2048): Promise<string> {
  const whole = await readWhole(path);
  if (whole === undefined) return '';
  // Only the file's tail matters; records are at most 16 KiB each.
  const from = Math.max(0, whole.length - maxLines * 16 * 1024);
  const start = from === 0 ? 0 : whole.indexOf(0x0a, from) + 1;
  const recs = new RecordAssembler().push(whole.subarray(start)).slice(-maxLines);
  const text = Buffer.concat(recs.map((r) => format(r, false)));
  return text.subarray(Math.max(0, text.length - maxBytes)).toString('utf8');
}

/**
 * Rotates a running container's log once it is too large: the file is renamed to
 * `<path>.1` (replacing an older one) and the runtime is asked to reopen its log.
 * Returns whether it rotated.
 */
export async function rotateLogIfLarge(
  path: string,
  reopen: () => Promise<void>,
  maxBytes: number = maxLogFileBytes,
): Promise<boolean> {
  const st = await stat(path).catch(() => undefined);
  if (st === undefined || st.size <= maxBytes) return false;
  await rm(rotatedPath(path), { force: true });
  await rename(path, rotatedPath(path));
  await reopen();
  return true;
}

/** Removes a container's log files (when the container itself is removed). */
export async function removeLog(path: string): Promise<void> {
  if (path === '') return;
  await rm(path, { force: true });
  await rm(rotatedPath(path), { force: true });
}
