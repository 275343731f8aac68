import type { FaultKind } from '../faults/fault-api.ts';
import type { ChaosReport } from './report.ts';

const width = 1100;
const height = 420;
const margin = { left: 64, right: 24, top: 56, bottom: 72 };
const plotW = width - margin.left - margin.right;
const plotH = height - margin.top - margin.bottom;

const faultColour: Record<FaultKind, string> = {
  kill: '#d62728',
  pause: '#ff7f0e',
  partition: '#9467bd',
  isolate: '#9467bd',
  disconnect: '#8c564b',
  failpoint: '#7f7f7f',
  restart: '#17becf',
  membership: '#17becf',
  restore: '#17becf',
};

function esc(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

function niceStep(max: number, ticks: number): number {
  const raw = max / ticks;
  const mag = 10 ** Math.floor(Math.log10(Math.max(raw, 1e-9)));
  for (const m of [1, 2, 5, 10]) if (raw <= m * mag) return m * mag;
  return 10 * mag;
}

/**
 * The run as a picture: operations per second (ok filled, failed and unknown as lines),
 * fault periods shaded by kind, unavailability windows as a red band under the axis, and
 * each new leader marked at the top.
 */
export function timelineSvg(r: ChaosReport): string {
  const { bucketMs } = r.timeline;
  const perSecond = (n: number) => (n * 1000) / bucketMs;
  const spanMs = Math.max(r.elapsedMs, 1);
  const maxRate = Math.max(
    1,
    ...r.timeline.ok.map(perSecond),
    ...r.timeline.failed.map(perSecond),
    ...r.timeline.unknown.map(perSecond),
  );
  const yStep = niceStep(maxRate, 5);
  const yMax = Math.ceil(maxRate / yStep) * yStep;
  const x = (ms: number) => margin.left + (Math.min(Math.max(ms, 0), spanMs) / spanMs) * plotW;
  const y = (rate: number) => margin.top + plotH - (rate / yMax) * plotH;
  const out: string[] = [];
  out.push(
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="sans-serif" font-size="11">`,
    `<rect width="${width}" height="${height}" fill="white"/>`,
    `<text x="${margin.left}" y="20" font-size="14" font-weight="bold">${esc(`${r.scenario} on ${r.backend}: ${r.passed ? 'PASS' : `FAIL (${r.violations.length} violation(s))`}`)}</text>`,
    `<text x="${margin.left}" y="38" fill="#555">${esc(`seed ${r.seed}, ${r.operations.ok} ok / ${r.operations.failed} failed / ${r.operations.unknown} unknown operations, ${r.leaderChanges} leader changes, ${r.unavailability.windows.length} unavailability windows (${(r.unavailability.totalMs / 1000).toFixed(1)} s)`)}</text>`,
  );
  // Fault periods (instantaneous ones as a thin bar).
  for (const f of r.faults) {
    const end = f.endMs ?? r.elapsedMs;
    const x0 = x(f.startMs);
    const w = Math.max(1.5, x(end) - x0);
    out.push(
      `<rect x="${x0.toFixed(1)}" y="${margin.top}" width="${w.toFixed(1)}" height="${plotH}" fill="${faultColour[f.kind]}" fill-opacity="0.16"><title>${esc(`${f.kind} ${f.members.join(',')} ${f.detail}${f.leader ? ' (leader)' : ''}: ${f.startMs}–${f.endMs ?? '…'} ms`)}</title></rect>`,
    );
  }
  // Axes and grid.
  for (let v = 0; v <= yMax; v += yStep) {
    out.push(
      `<line x1="${margin.left}" x2="${margin.left + plotW}" y1="${y(v).toFixed(1)}" y2="${y(v).toFixed(1)}" stroke="#ddd"/>`,
      `<text x="${margin.left - 6}" y="${(y(v) + 4).toFixed(1)}" text-anchor="end">${v}</text>`,
    );
  }
  const xStep = niceStep(spanMs / 1000, 10);
  for (let s = 0; s * 1000 <= spanMs; s += xStep) {
    out.push(
      `<line x1="${x(s * 1000).toFixed(1)}" x2="${x(s * 1000).toFixed(1)}" y1="${margin.top + plotH}" y2="${margin.top + plotH + 4}" stroke="#333"/>`,
      `<text x="${x(s * 1000).toFixed(1)}" y="${margin.top + plotH + 16}" text-anchor="middle">${s}s</text>`,
    );
  }
  out.push(
    `<line x1="${margin.left}" x2="${margin.left + plotW}" y1="${margin.top + plotH}" y2="${margin.top + plotH}" stroke="#333"/>`,
    `<line x1="${margin.left}" x2="${margin.left}" y1="${margin.top}" y2="${margin.top + plotH}" stroke="#333"/>`,
    `<text x="16" y="${margin.top + plotH / 2}" transform="rotate(-90 16 ${margin.top + plotH / 2})" text-anchor="middle">operations per second</text>`,
  );
  // Series: ok as an area, failed and unknown as lines.
  const points = (series: readonly number[]) =>
    series.map((n, i) => `${x((i + 0.5) * bucketMs).toFixed(1)},${y(perSecond(n)).toFixed(1)}`).join(' ');
  const okPts = points(r.timeline.ok);
  out.push(
    `<polygon points="${x(0.5 * bucketMs).toFixed(1)},${y(0)} ${okPts} ${x((r.timeline.ok.length - 0.5) * bucketMs).toFixed(1)},${y(0)}" fill="#2ca02c" fill-opacity="0.35" stroke="#2ca02c"/>`,
    `<polyline points="${points(r.timeline.failed)}" fill="none" stroke="#ff7f0e" stroke-width="1.5"/>`,
    `<polyline points="${points(r.timeline.unknown)}" fill="none" stroke="#d62728" stroke-width="1.5"/>`,
  );
  // Unavailability windows under the axis.
  for (const w of r.unavailability.windows) {
    out.push(
      `<rect x="${x(w.startMs).toFixed(1)}" y="${margin.top + plotH + 22}" width="${Math.max(1.5, x(w.endMs) - x(w.startMs)).toFixed(1)}" height="8" fill="#d62728"><title>${esc(`unavailable ${w.lengthMs} ms at ${w.startMs} ms: ${w.faults.join('; ')}`)}</title></rect>`,
    );
  }
  // New leaders at the top.
  for (const l of r.leaders) {
    const lx = x(l.atMs);
    out.push(
      `<path d="M${lx.toFixed(1)},${margin.top - 2} l-4,-7 h8 z" fill="#1f77b4"><title>${esc(`${l.leader} leads term ${l.term} (seen at ${l.atMs} ms)`)}</title></path>`,
    );
  }
  // Legend.
  const legend: [string, string][] = [
    ['#2ca02c', 'ok'],
    ['#ff7f0e', 'failed'],
    ['#d62728', 'unknown'],
    ['#d62728', 'kill (shaded)'],
    ['#ff7f0e', 'pause (shaded)'],
    ['#9467bd', 'partition (shaded)'],
    ['#8c564b', 'disconnect (shaded)'],
    ['#17becf', 'restart / membership'],
    ['#1f77b4', '▼ new leader'],
  ];
  let lx = margin.left;
  const ly = height - 14;
  for (const [colour, label] of legend) {
    out.push(
      `<rect x="${lx}" y="${ly - 9}" width="10" height="10" fill="${colour}" fill-opacity="0.6"/>`,
      `<text x="${lx + 14}" y="${ly}">${esc(label)}</text>`,
    );
    lx += 26 + label.length * 6.6;
  }
  out.push('</svg>');
  return out.join('\n');
}
