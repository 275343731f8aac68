import { connect, type NatsConnection } from '@nats-io/transport-node';
import type { Logger } from 'pino';

export type { NatsConnection } from '@nats-io/transport-node';

export interface NatsOptions {
  /** `host:port` or `nats://host:port`, one or several servers of one cluster. */
  readonly servers: string | readonly string[];
  /** Shown in the server's connection list. */
  readonly name?: string;
  /**
   * How often the client pings the server. A server that is paused (SIGSTOP) keeps the TCP
   * connection open, so only missed pings reveal it: detection takes about
   * `pingIntervalMs * (maxPingOut + 1)`.
   */
  readonly pingIntervalMs?: number;
  readonly maxPingOut?: number;
  readonly reconnectTimeWaitMs?: number;
  /**
   * How long one dial (TCP connect through the server's first PONG) may take before the
   * client gives up on that server and tries the next one. NATS's own default is 20 s,
   * which a server whose host is gone (no RST, SYNs dropped) costs on every pass through
   * the list; a server on the same network answers in milliseconds.
   */
  readonly connectTimeoutMs?: number;
  /**
   * Keep trying until a first connection succeeds (default: a process waits for its NATS
   * to come up). With false, `connect` rejects when no listed server answers, for callers
   * that must not wait on a server that may be gone for good (a test harness polling hosts).
   */
  readonly waitOnFirstConnect?: boolean;
}

/**
 * A dial's limit when none is given. A client that spent 20 s on each dead server could
 * outlive every server it knew: in the chaos replace-member run, a connection whose server
 * went away tried two removed hosts in turn for 20 s each while the cluster replaced the
 * rest, and never learnt of the new servers (it learns them only while connected).
 */
const defaultConnectTimeoutMs = 2_000;

/**
 * The process's connection to NATS: reconnects forever, across every server it knows
 * (the configured ones and those the cluster announces).
 */
export async function connectNats(options: NatsOptions, log: Logger): Promise<NatsConnection> {
  const servers = typeof options.servers === 'string' ? [options.servers] : [...options.servers];
  const nc = await connect({
    servers,
    name: options.name,
    maxReconnectAttempts: -1,
    reconnectTimeWait: options.reconnectTimeWaitMs ?? 250,
    reconnectJitter: 100,
    timeout: options.connectTimeoutMs ?? defaultConnectTimeoutMs,
    pingInterval: options.pingIntervalMs ?? 5_000,
    maxPingOut: options.maxPingOut ?? 2,
    waitOnFirstConnect: options.waitOnFirstConnect ?? true,
    // Otherwise every request builds two Error objects up front just for their stack
    // traces: about a third of a caller's CPU at high request rates (seen in bench:actor).
    noAsyncTraces: true,
  });
  void (async () => {
    for await (const s of nc.status()) {
      switch (s.type) {
        case 'disconnect':
        case 'reconnecting':
        case 'staleConnection':
        case 'error':
          log.warn(
            { event: s.type, server: 'server' in s ? s.server : undefined },
            'nats connection trouble',
          );
          break;
        case 'reconnect':
          log.info({ server: 'server' in s ? s.server : undefined }, 'nats reconnected');
          break;
        default:
          log.debug({ event: s.type }, 'nats status');
      }
    }
  })();
  log.info({ server: nc.getServer() }, 'connected to nats');
  return nc;
}
