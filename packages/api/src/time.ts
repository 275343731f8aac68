/**
 * Times as Kubernetes writes them: metav1.Time is RFC 3339 in UTC with second precision,
 * metav1.MicroTime the same with exactly six fractional digits. AGE columns use kubectl's
 * human-readable durations.
 */

const rfc3339 =
  /^(\d{4})-(\d{2})-(\d{2})[Tt](\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,9}))?(?:([Zz])|([+-])(\d{2}):(\d{2}))$/;

export type ParsedTime = {
  /** Whole seconds since the Unix epoch. */
  readonly epochSeconds: number;
  /** Fractional part as nanoseconds (0 to 999,999,999). */
  readonly nanos: number;
};

/** Parses an RFC 3339 timestamp; undefined when `text` is not one. */
export function parseTime(text: string): ParsedTime | undefined {
  const m = rfc3339.exec(text);
  if (!m) return undefined;
  const [year, month, day, hour, minute, second] = [m[1], m[2], m[3], m[4], m[5], m[6]].map(Number) as [
    number,
    number,
    number,
    number,
    number,
    number,
  ];
  if (month < 1 || month > 12 || day < 1 || day > daysInMonth(year, month)) return undefined;
  if (hour > 23 || minute > 59 || second > 59) return undefined;
  let offsetSeconds = 0;
  if (m[9] !== undefined) {
    const oh = Number(m[10]);
    const om = Number(m[11]);
    if (oh > 23 || om > 59) return undefined;
    offsetSeconds = (m[9] === '-' ? -1 : 1) * (oh * 3600 + om * 60);
  }
  const epochSeconds = Date.UTC(year, month - 1, day, hour, minute, second) / 1000 - offsetSeconds;
  const nanos = m[7] === undefined ? 0 : Number(m[7].padEnd(9, '0'));
  return { epochSeconds, nanos };
}

function daysInMonth(year: number, month: number): number {
  return new Date(Date.UTC(year, month, 0)).getUTCDate();
}

function formatSeconds(epochSeconds: number): string {
  return new Date(epochSeconds * 1000).toISOString().slice(0, 19);
}

/** metav1.Time form: `2024-05-01T10:00:00Z` (fraction dropped, as Go's encoder does). */
export function formatTime(t: ParsedTime): string {
  return `${formatSeconds(t.epochSeconds)}Z`;
}

/** metav1.MicroTime form: `2024-05-01T10:00:00.123456Z`. */
export function formatMicroTime(t: ParsedTime): string {
  const micros = Math.floor(t.nanos / 1000);
  return `${formatSeconds(t.epochSeconds)}.${String(micros).padStart(6, '0')}Z`;
}

/** A JavaScript epoch-millisecond clock reading as metav1.Time. */
export function timeFromMs(epochMs: number): string {
  return formatTime({ epochSeconds: Math.floor(epochMs / 1000), nanos: 0 });
}

/** A JavaScript epoch-millisecond clock reading as metav1.MicroTime. */
export function microTimeFromMs(epochMs: number): string {
  const epochSeconds = Math.floor(epochMs / 1000);
  return formatMicroTime({ epochSeconds, nanos: Math.round((epochMs - epochSeconds * 1000) * 1e6) });
}

/** Milliseconds since the epoch of an RFC 3339 time, or undefined if it does not parse. */
export function timeToMs(text: string | undefined): number | undefined {
  if (text === undefined) return undefined;
  const t = parseTime(text);
  return t === undefined ? undefined : t.epochSeconds * 1000 + Math.floor(t.nanos / 1e6);
}

/**
 * kubectl's human duration (apimachinery's `duration.HumanDuration`): `45s`, `3m20s`,
 * `5h10m`, `3d4h`, `2y30d`; two seconds of clock skew read as `0s`.
 */
export function humanDuration(ms: number): string {
  const seconds = Math.trunc(ms / 1000);
  if (seconds < -1) return '<invalid>';
  if (seconds < 0) return '0s';
  if (seconds < 120) return `${seconds}s`;
  const minutes = Math.trunc(seconds / 60);
  if (minutes < 10) {
    const s = seconds % 60;
    return s === 0 ? `${minutes}m` : `${minutes}m${s}s`;
  }
  if (minutes < 180) return `${minutes}m`;
  const hours = Math.trunc(minutes / 60);
  if (hours < 8) {
    const m = minutes % 60;
    return m === 0 ? `${hours}h` : `${hours}h${m}m`;
  }
  if (hours < 48) return `${hours}h`;
  if (hours < 24 * 8) {
    const h = hours % 24;
    return h === 0 ? `${Math.trunc(hours / 24)}d` : `${Math.trunc(hours / 24)}d${h}h`;
  }
  if (hours < 24 * 365 * 2) return `${Math.trunc(hours / 24)}d`;
  if (hours < 24 * 365 * 8) {
    const days = Math.trunc(hours / 24) % 365;
    const years = Math.trunc(hours / 24 / 365);
    return days === 0 ? `${years}y` : `${years}y${days}d`;
  }
  return `${Math.trunc(hours / 24 / 365)}y`;
}

/** The AGE of something created at `timestamp`, as kubectl prints it (`<unknown>` if unset). */
export function ageSince(timestamp: string | undefined, nowMs: number): string {
  const then = timeToMs(timestamp);
  return then === undefined ? '<unknown>' : humanDuration(nowMs - then);
}
