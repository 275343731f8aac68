import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import * as net from 'node:net';
import type { Container } from '@flotilla/api';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { FakeRuntime } from '../runtime/fake-runtime.ts';
import { NetworkProber, probeUserAgent, resolvePort } from './prober.ts';

// Probes against real sockets on loopback (the pod IP stands in as 127.0.0.1).
let server: http.Server;
let port: number;
let seenAgent = '';
let seenHeader = '';

beforeAll(async () => {
  server = http.createServer((req, res) => {
    seenAgent = req.headers['user-agent'] ?? '';
    seenHeader = String(req.headers['x-probe'] ?? '');
    const code = Number(req.url?.slice(1)) || 200;
    if (req.url === '/slow') return void setTimeout(() => res.end('late'), 3_000);
    res.writeHead(code, code === 302 ? { Location: '/elsewhere' } : {}).end();
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  port = (server.address() as AddressInfo).port;
});
afterAll(() => {
  server.closeAllConnections();
  server.close();
});

const container: Container = { name: 'c', ports: [{ name: 'web', containerPort: 1 }] };
const target = { containerId: 'x', container, podIP: '127.0.0.1' };
const prober = new NetworkProber(new FakeRuntime({ podCIDR: '10.0.0.0/24' }));

describe('NetworkProber', () => {
  test('httpGet: 200–399 succeed, others fail with the status; kubelet headers are sent', async () => {
    for (const [path, ok] of [
      ['/200', true],
      ['/302', true],
      ['/399', true],
      ['/404', false],
      ['/500', false],
    ] as const) {
      const r = await prober.probe(
        { httpGet: { path, port, httpHeaders: [{ name: 'X-Probe', value: 'yes' }] }, timeoutSeconds: 1 },
        target,
      );
      expect([path, r.ok]).toEqual([path, ok]);
    }
    expect(seenAgent).toBe(probeUserAgent);
    expect(seenHeader).toBe('yes');
    const fail = await prober.probe({ httpGet: { path: '/500', port }, timeoutSeconds: 5 }, target);
    expect(fail.message).toBe('HTTP probe failed with statuscode: 500');
  });

  test('httpGet: a slow answer is a timeout, a closed port a refusal', async () => {
    const slow = await prober.probe({ httpGet: { path: '/slow', port }, timeoutSeconds: 1 }, target);
    expect(slow.ok).toBe(false);
    expect(slow.message).toContain('context deadline exceeded');
    const closed = await closedPort();
    const refused = await prober.probe({ httpGet: { path: '/', port: closed }, timeoutSeconds: 1 }, target);
    expect(refused.ok).toBe(false);
    expect(refused.message).toContain('ECONNREFUSED');
  });

  test('tcpSocket: an open port succeeds, a closed one fails; named ports resolve through the container', async () => {
    expect((await prober.probe({ tcpSocket: { port }, timeoutSeconds: 5 }, target)).ok).toBe(true);
    expect(
      (await prober.probe({ tcpSocket: { port: await closedPort() }, timeoutSeconds: 1 }, target)).ok,
    ).toBe(false);
    expect(resolvePort('web', container)).toBe(1);
    expect(resolvePort('8080', container)).toBe(8080);
    expect(resolvePort('nope', container)).toBeUndefined();
    const unnamed = await prober.probe({ tcpSocket: { port: 'nope' }, timeoutSeconds: 1 }, target);
    expect(unnamed).toEqual({ ok: false, message: 'unable to resolve port nope' });
  });

  test('gRPC probes are reported as unsupported rather than passing', async () => {
    expect((await prober.probe({ grpc: { port } }, target)).ok).toBe(false);
  });
});

/** A port nothing listens on: bound, then closed. */
async function closedPort(): Promise<number> {
  const s = net.createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const p = (s.address() as AddressInfo).port;
  await new Promise<void>((r) => s.close(() => r()));
  return p;
}
