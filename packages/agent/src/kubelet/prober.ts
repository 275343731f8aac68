import * as http from 'node:http';
import * as https from 'node:https';
import * as net from 'node:net';
import { sleep } from '@flotilla/actor';
import type { Container, HTTPGetAction, IntOrString, LifecycleHandler, Probe } from '@flotilla/api';
import { CriError } from '../errors.ts';
import type { Runtime } from '../runtime/runtime.ts';

export type ProbeResult = { readonly ok: boolean; readonly message: string };

/** Where a probe or hook runs: the container, its pod's address. */
export type ProbeTarget = {
  readonly containerId: string;
  readonly container: Container;
  readonly podIP: string;
};

/** Runs one probe or lifecycle handler. */
export interface Prober {
  probe(probe: Probe, target: ProbeTarget): Promise<ProbeResult>;
  handler(handler: LifecycleHandler, target: ProbeTarget, timeoutSeconds: number): Promise<ProbeResult>;
}

/** kubelet sends this User-Agent with HTTP probes. */
export const probeUserAgent = 'kube-probe/1.31';
/** Bytes of an HTTP probe's response body kept for the message (kubelet keeps 10 KiB). */
const maxProbeBodyBytes = 10 * 1024;

/** A named port is looked up among the container's ports. */
export function resolvePort(port: IntOrString, container: Container): number | undefined {
  if (typeof port === 'number') return port;
  if (/^[0-9]+$/.test(port)) return Number(port);
  return container.ports?.find((p) => p.name === port)?.containerPort;
}

/**
 * Probes over the node's network (httpGet, tcpSocket to the pod's IP) and through the
 * runtime (exec), with kubelet's success rules: HTTP 200–399, a TCP connection, exit 0.
 * https://kubernetes.io/docs/tasks/configure-pod-container/configure-liveness-readiness-startup-probes/
 */
export class NetworkProber implements Prober {
  private readonly runtime: Runtime;

  constructor(runtime: Runtime) {
    this.runtime = runtime;
  }

  probe(probe: Probe, target: ProbeTarget): Promise<ProbeResult> {
    const timeoutSeconds = probe.timeoutSeconds ?? 1;
    if (probe.grpc !== undefined) {
      return Promise.resolve({ ok: false, message: 'gRPC probes are not supported by this agent' });
    }
    return this.run(probe, target, timeoutSeconds);
  }

  async handler(
    handler: LifecycleHandler,
    target: ProbeTarget,
    timeoutSeconds: number,
  ): Promise<ProbeResult> {
    if (handler.sleep !== undefined) {
      await sleep(Math.min(handler.sleep.seconds, timeoutSeconds) * 1000);
      return { ok: true, message: '' };
    }
    return this.run(handler, target, timeoutSeconds);
  }

  private async run(
    action: LifecycleHandler,
    target: ProbeTarget,
    timeoutSeconds: number,
  ): Promise<ProbeResult> {
    if (action.exec !== undefined) return this.exec(action.exec.command ?? [], target, timeoutSeconds);
    if (action.httpGet !== undefined) return httpProbe(action.httpGet, target, timeoutSeconds * 1000);
    if (action.tcpSocket !== undefined) {
      const port = resolvePort(action.tcpSocket.port, target.container);
      if (port === undefined)
        return { ok: false, message: `unable to resolve port ${action.tcpSocket.port}` };
      return tcpProbe(action.tcpSocket.host || target.podIP, port, timeoutSeconds * 1000);
    }
    return { ok: false, message: 'the probe has no action' };
  }

  private async exec(
    command: readonly string[],
    target: ProbeTarget,
    timeoutSeconds: number,
  ): Promise<ProbeResult> {
    try {
      const r = await this.runtime.execSync(target.containerId, command, timeoutSeconds);
      const output = Buffer.concat([r.stdout, r.stderr]).toString('utf8').slice(0, maxProbeBodyBytes);
      return r.exitCode === 0
        ? { ok: true, message: output }
        : { ok: false, message: `command ${JSON.stringify(command)} exited with ${r.exitCode}: ${output}` };
    } catch (err) {
      if (err instanceof CriError && err.status === 'DeadlineExceeded') {
        return {
          ok: false,
          message: `command ${JSON.stringify(command)} timed out after ${timeoutSeconds}s`,
        };
      }
      return { ok: false, message: err instanceof Error ? err.message : String(err) };
    }
  }
}

function httpProbe(action: HTTPGetAction, target: ProbeTarget, timeoutMs: number): Promise<ProbeResult> {
  const port = resolvePort(action.port, target.container);
  if (port === undefined)
    return Promise.resolve({ ok: false, message: `unable to resolve port ${action.port}` });
  const host = action.host || target.podIP;
  const headers: Record<string, string> = { 'User-Agent': probeUserAgent, Accept: '*/*' };
  for (const h of action.httpHeaders ?? []) headers[h.name] = h.value;
  const lib = action.scheme === 'HTTPS' ? https : http;
  const url = `${(action.scheme ?? 'HTTP').toLowerCase()}://${host.includes(':') ? `[${host}]` : host}:${port}${action.path ?? '/'}`;
  return new Promise((resolve) => {
    const req = lib.request(
      {
        host,
        port,
        path: action.path ?? '/',
        method: 'GET',
        headers,
        // kubelet does not verify the certificates of HTTPS probes.
        rejectUnauthorized: false,
        signal: AbortSignal.timeout(timeoutMs),
        agent: false,
      },
      (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => {
          if (body.length < maxProbeBodyBytes) body += chunk;
        });
        res.on('end', () => {
          const code = res.statusCode ?? 0;
          resolve(
            code >= 200 && code < 400
              ? { ok: true, message: '' }
              : { ok: false, message: `HTTP probe failed with statuscode: ${code}` },
          );
        });
        res.on('error', (err) => resolve({ ok: false, message: `Get "${url}": ${err.message}` }));
      },
    );
    req.on('error', (err) => {
      const timedOut = err.name === 'AbortError' || err.name === 'TimeoutError';
      resolve({
        ok: false,
        message: timedOut
          ? `Get "${url}": context deadline exceeded (Client.Timeout exceeded while awaiting headers)`
          : `Get "${url}": ${err.message}`,
      });
    });
    req.end();
  });
}

function tcpProbe(host: string, port: number, timeoutMs: number): Promise<ProbeResult> {
  return new Promise((resolve) => {
    const socket = net.connect({ host, port });
    const timer = setTimeout(() => {
      socket.destroy();
      resolve({ ok: false, message: `dial tcp ${host}:${port}: i/o timeout` });
    }, timeoutMs);
    socket.once('connect', () => {
      clearTimeout(timer);
      socket.destroy();
      resolve({ ok: true, message: '' });
    });
    socket.once('error', (err) => {
      clearTimeout(timer);
      resolve({ ok: false, message: `dial tcp ${host}:${port}: ${err.message}` });
    });
  });
}

/** Every probe and hook succeeds: simulated nodes have nothing to probe. */
export class AlwaysSucceedProber implements Prober {
  async probe(): Promise<ProbeResult> {
    return { ok: true, message: '' };
  }
  async handler(): Promise<ProbeResult> {
    return { ok: true, message: '' };
  }
}
