// Queries per second the cluster DNS answers on loopback: one server process (1,000
// ClusterIP Services and 100 headless ones with 3 endpoints), a client in this process
// keeping a fixed number of queries outstanding, for a bounded time.
//   node packages/agent/test/dns-load.measure.ts [seconds] [outstanding]
import { spawn } from 'node:child_process';
import { createSocket } from 'node:dgram';
import { connect } from 'node:net';
import { performance } from 'node:perf_hooks';
import { createInterface } from 'node:readline';
import { silentLogger } from '@flotilla/actor';
import { queryMessage } from '../src/dns/client.ts';
import { ClusterDns } from '../src/dns/dns-server.ts';
import { RRType } from '../src/dns/wire.ts';
import { service, slice } from './net-fixtures.ts';

const seconds = Number(process.argv[2] ?? 5);
const outstanding = Number(process.argv[3] ?? 64);
/** Bound on queries sent in one phase, whatever the speed. */
const maxQueries = 2_000_000;

const objects = [
  ...Array.from({ length: 1000 }, (_, i) =>
    service('bench', `svc-${i}`, `10.96.${Math.floor(i / 250)}.${(i % 250) + 1}`, [
      { name: 'http', port: 80 },
    ]),
  ),
  ...Array.from({ length: 100 }, (_, i) => [
    service('bench', `hl-${i}`, 'None', [{ name: 'http', port: 80 }]),
    slice(
      'bench',
      `hl-${i}`,
      [1, 2, 3].map((e) => ({ ip: `10.244.${i}.${e}` })),
      [{ name: 'http', port: 8080 }],
    ),
  ]).flat(),
];

const main = new URL('./dns-replica-main.ts', import.meta.url).pathname;
const server = spawn(process.execPath, [main, '127.0.0.1', '0'], { stdio: ['pipe', 'pipe', 'inherit'] });
const lines = createInterface({ input: server.stdout! });
let port = 0;
const synced = new Promise<void>((resolve) => {
  lines.on('line', (l) => {
    if (l.startsWith('listening ')) port = Number(l.split(' ')[1]);
    if (l === 'synced') resolve();
  });
});
for (const object of objects) server.stdin!.write(`${JSON.stringify({ kind: 'added', object })}\n`);
server.stdin!.write(`${JSON.stringify({ kind: 'synced' })}\n`);
await synced;

/** The i-th query of the mix: 80% ClusterIP A, 10% headless A, 10% NXDOMAIN. */
function question(i: number): { name: string; type: number } {
  const k = i % 10;
  if (k < 8) return { name: `svc-${(i * 7919) % 1000}.bench.svc.cluster.local`, type: RRType.A };
  if (k === 8) return { name: `hl-${i % 100}.bench.svc.cluster.local`, type: RRType.A };
  return { name: `missing-${i % 1000}.bench.svc.cluster.local`, type: RRType.A };
}

const percentile = (xs: number[], p: number) => xs[Math.min(xs.length - 1, Math.floor(p * xs.length))] ?? NaN;

async function udpPhase(durationSeconds: number): Promise<string> {
  const socket = createSocket('udp4');
  const sentAt = new Map<number, number>();
  const latencies: number[] = [];
  let sent = 0;
  let answered = 0;
  let nextId = 0;
  const deadline = performance.now() + durationSeconds * 1000;
  await new Promise<void>((resolve) => socket.bind(0, '127.0.0.1', () => resolve()));
  const send = () => {
    if (performance.now() >= deadline || sent >= maxQueries) return;
    let id = nextId++ & 0xffff;
    while (sentAt.has(id)) id = nextId++ & 0xffff;
    sentAt.set(id, performance.now());
    socket.send(queryMessage(question(sent), id), port, '127.0.0.1');
    sent++;
  };
  return new Promise((resolve) => {
    socket.on('message', (msg) => {
      const id = msg.readUInt16BE(0);
      const at = sentAt.get(id);
      if (at === undefined) return;
      sentAt.delete(id);
      latencies.push(performance.now() - at);
      answered++;
      send();
    });
    const start = performance.now();
    for (let i = 0; i < outstanding; i++) send();
    // Lost datagrams would shrink the window; a check every 100 ms refills it.
    const refill = setInterval(() => {
      const now = performance.now();
      for (const [id, at] of sentAt) if (now - at > 1000) sentAt.delete(id);
      while (sentAt.size < outstanding && now < deadline) send();
      if (now >= deadline + 1000) {
        clearInterval(refill);
        socket.close();
        latencies.sort((a, b) => a - b);
        const elapsed = (Math.min(now, deadline) - start) / 1000;
        resolve(
          `UDP: ${Math.round(answered / elapsed)} answers/s (${answered} of ${sent} in ${elapsed.toFixed(1)} s, ${outstanding} outstanding), latency p50 ${percentile(latencies, 0.5).toFixed(2)} ms, p99 ${percentile(latencies, 0.99).toFixed(2)} ms`,
        );
      }
    }, 100);
  });
}

async function tcpPhase(): Promise<string> {
  const window = 16;
  const socket = connect({ host: '127.0.0.1', port });
  await new Promise<void>((resolve) => socket.once('connect', () => resolve()));
  let sent = 0;
  let answered = 0;
  let buf = Buffer.alloc(0);
  const deadline = performance.now() + seconds * 1000;
  const start = performance.now();
  const send = () => {
    if (performance.now() >= deadline || sent >= maxQueries) return;
    const q = queryMessage(question(sent), sent & 0xffff);
    const frame = Buffer.alloc(q.length + 2);
    frame.writeUInt16BE(q.length, 0);
    q.copy(frame, 2);
    socket.write(frame);
    sent++;
  };
  return new Promise((resolve) => {
    socket.on('data', (chunk) => {
      buf = buf.length === 0 ? chunk : Buffer.concat([buf, chunk]);
      while (buf.length >= 2 && buf.length >= 2 + buf.readUInt16BE(0)) {
        buf = buf.subarray(2 + buf.readUInt16BE(0));
        answered++;
        send();
      }
      if (answered === sent && performance.now() >= deadline) {
        socket.destroy();
        const elapsed = (performance.now() - start) / 1000;
        resolve(`TCP (one connection, ${window} pipelined): ${Math.round(answered / elapsed)} answers/s`);
      }
    });
    for (let i = 0; i < window; i++) send();
  });
}

// One second unreported first: both processes compile the hot paths.
await udpPhase(1);
process.stdout.write(`${await udpPhase(seconds)}\n`);
process.stdout.write(`${await tcpPhase()}\n`);
server.kill('SIGTERM');

/** The server's own work per query: `answer()` called in this process, no sockets. */
async function inProcessPhase(): Promise<string> {
  const dns = await ClusterDns.start({ listen: { address: '127.0.0.1', port: 0 }, logger: silentLogger() });
  for (const object of objects) dns.handle({ kind: 'added', object });
  const queries = Array.from({ length: 1000 }, (_, i) => queryMessage(question(i), i));
  let answered = 0;
  const start = performance.now();
  while (performance.now() - start < seconds * 1000 && answered < maxQueries) {
    for (const q of queries) await dns.answer(q, 'udp');
    answered += queries.length;
  }
  const elapsed = (performance.now() - start) / 1000;
  await dns.stop();
  return `in-process answer(): ${Math.round(answered / elapsed)} answers/s (${((elapsed * 1e6) / answered).toFixed(1)} µs each)`;
}
process.stdout.write(`${await inProcessPhase()}\n`);
