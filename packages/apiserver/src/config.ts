/**
 * The configuration of one API server replica. Every replica of a cluster must agree on
 * the cluster id and both address ranges; the rest is per process.
 */
import { FlotillaError } from '@flotilla/actor';
import { defaultNodePortRange } from '@flotilla/api';

export type ApiServerConfig = {
  /** Names the cluster's actors on NATS (`apiserver.<id>`, `store.<id>`, `agent.<id>.<node>`). */
  readonly clusterId: string;
  /** NATS servers to connect to (the connection fails over between them). */
  readonly nats: readonly string[];
  /** Where HTTP listens: loopback unless the configuration names another address. */
  readonly host: string;
  readonly port: number;
  /**
   * Cluster IPs of Services. Flotilla's default is a /16 (65,534 addresses, an 8 KiB
   * bitmap written with every Service that takes or frees one); a /12 like kubeadm's
   * default works but makes that bitmap 128 KiB.
   */
  readonly serviceClusterIPRange: string;
  readonly serviceNodePortRange: string;
  /** How long Events live (kube-apiserver's --event-ttl). */
  readonly eventTtlSeconds: number;
  /**
   * A watch without timeoutSeconds ends after this long times a random factor in [1, 2)
   * (kube-apiserver's --min-request-timeout), so that watches spread over replicas again.
   */
  readonly minWatchTimeoutSeconds: number;
  /** Store calls (reads, txns) give up after this long (503/504 to the client). */
  readonly storeTimeoutMs: number;
  /** HTTP requests handled at once (kube-apiserver's --max-requests-inflight); beyond: 429. */
  readonly maxRequestsInflight: number;
  /** Mutating HTTP requests handled at once (--max-mutating-requests-inflight). */
  readonly maxMutatingRequestsInflight: number;
  readonly logLevel: string;
  /** NATS ping interval: how fast a dead NATS server is noticed. */
  readonly natsPingIntervalMs: number;
};

export const defaultConfig: Omit<ApiServerConfig, 'clusterId' | 'nats'> = {
  host: '127.0.0.1',
  port: 6443,
  serviceClusterIPRange: '10.96.0.0/16',
  serviceNodePortRange: defaultNodePortRange,
  eventTtlSeconds: 3_600,
  minWatchTimeoutSeconds: 1_800,
  storeTimeoutMs: 10_000,
  maxRequestsInflight: 400,
  maxMutatingRequestsInflight: 200,
  logLevel: 'info',
  natsPingIntervalMs: 5_000,
};

/** The environment variable `flotilla apiserver` processes read their configuration from (JSON). */
export const configEnvVar = 'FLOTILLA_APISERVER_CONFIG';

export class ConfigError extends FlotillaError {
  constructor(message: string) {
    super('InvalidConfig', message);
  }
}

/** A configuration from JSON, with defaults for what it leaves out. */
export function parseConfig(json: string): ApiServerConfig {
  let raw: unknown;
  try {
    raw = JSON.parse(json);
  } catch (err) {
    throw new ConfigError(`${configEnvVar} is not JSON: ${err instanceof Error ? err.message : String(err)}`);
  }
  if (typeof raw !== 'object' || raw === null) throw new ConfigError(`${configEnvVar} must be a JSON object`);
  const c = { ...defaultConfig, ...(raw as Partial<ApiServerConfig>) };
  if (typeof c.clusterId !== 'string' || c.clusterId === '') throw new ConfigError('clusterId is required');
  if (!Array.isArray(c.nats) || c.nats.length === 0 || c.nats.some((u) => typeof u !== 'string')) {
    throw new ConfigError('nats must list at least one server URL');
  }
  if (!Number.isInteger(c.port) || c.port < 0 || c.port > 65_535)
    throw new ConfigError(`port ${c.port} is not a port`);
  return c as ApiServerConfig;
}
