/** `60s`, `1.5m`, `500ms` or a plain number of seconds, in milliseconds. */
export function parseDuration(text: string): number {
  const m = /^(\d+(?:\.\d+)?)(ms|s|m)?$/.exec(text.trim());
  if (!m) throw new RangeError(`bad duration ${JSON.stringify(text)} (use 60s, 2m, 500ms)`);
  const n = Number(m[1]);
  const unit = m[2] ?? 's';
  return Math.round(unit === 'ms' ? n : unit === 's' ? n * 1000 : n * 60_000);
}
