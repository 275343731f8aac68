import { readFileSync } from 'node:fs';
import { parse as parseYaml } from 'yaml';
import { envName, flagName, type Setting, settings } from './settings.ts';

export type FlotillaConfig = {
  readonly cluster: string;
  readonly member: string;
  readonly dataDir: string;
  readonly nats: { readonly servers: readonly string[] };
  readonly log: { readonly level: 'debug' | 'info' | 'warn' | 'error' };
  readonly store: {
    readonly bootstrap: readonly string[];
    readonly tickMs: number;
    readonly electionTicks: number;
    readonly snapshotEveryEntries: number;
    readonly autoCompactionRetainRevisions: number;
  };
  readonly apiserver: { readonly listen: string; readonly serviceCIDR: string };
  readonly controllers: { readonly clusterCIDR: string; readonly nodeCIDRMaskSize: number };
  readonly agent: {
    readonly runtime: 'containerd' | 'fake';
    readonly containerdSocket: string;
    readonly nodeIP: string;
    readonly clusterDNS: string;
    readonly clusterDomain: string;
    readonly leaseRenewIntervalMs: number;
  };
};

/** Every problem with a configuration, one line each; nothing starts until there are none. */
export class ConfigError extends Error {
  readonly problems: readonly string[];
  constructor(problems: readonly string[]) {
    super(problems.join('\n'));
    this.name = 'ConfigError';
    this.problems = problems;
  }
}

type Source = { readonly name: string; readonly value: unknown };

const idPattern = /^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/;
const cidrPattern = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})\/(\d{1,2})$/;
const ipPattern = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/;
const addressPattern = /^([^\s:]+|\[[0-9a-fA-F:]+\]):(\d{1,5})$/;

/** Check and convert one raw value; a string explains what is wrong. */
function convert(s: Setting, raw: unknown): { ok: true; value: unknown } | { ok: false; problem: string } {
  const asList = (v: unknown): string[] | undefined =>
    Array.isArray(v) && v.every((x) => typeof x === 'string')
      ? v.map((x) => x.trim()).filter(Boolean)
      : typeof v === 'string'
        ? v
            .split(',')
            .map((x) => x.trim())
            .filter(Boolean)
        : undefined;
  switch (s.type) {
    case 'string':
      return typeof raw === 'string' ? { ok: true, value: raw } : { ok: false, problem: 'must be a string' };
    case 'id':
      return typeof raw === 'string' && idPattern.test(raw)
        ? { ok: true, value: raw }
        : { ok: false, problem: `must be a lowercase DNS label (a-z, 0-9, '-'), got ${JSON.stringify(raw)}` };
    case 'int': {
      const n =
        typeof raw === 'number'
          ? raw
          : typeof raw === 'string' && /^-?\d+$/.test(raw.trim())
            ? Number(raw)
            : Number.NaN;
      if (!Number.isSafeInteger(n))
        return { ok: false, problem: `must be an integer, got ${JSON.stringify(raw)}` };
      if (s.min !== undefined && n < s.min)
        return { ok: false, problem: `must be at least ${s.min}, got ${n}` };
      if (s.max !== undefined && n > s.max)
        return { ok: false, problem: `must be at most ${s.max}, got ${n}` };
      return { ok: true, value: n };
    }
    case 'list': {
      const list = asList(raw);
      if (!list) return { ok: false, problem: 'must be a list (or a comma-separated string)' };
      const bad = list.find((x) => !idPattern.test(x));
      return bad === undefined
        ? { ok: true, value: list }
        : { ok: false, problem: `${JSON.stringify(bad)} is not a valid member name` };
    }
    case 'url-list': {
      const list = asList(raw);
      if (!list || list.length === 0) return { ok: false, problem: 'must name at least one server' };
      for (const u of list) {
        const m = /^(nats|tls):\/\/[^\s/:]+:\d{1,5}$/.exec(u) ?? /^[^\s/:]+:\d{1,5}$/.exec(u);
        if (!m) return { ok: false, problem: `${JSON.stringify(u)} is not host:port or nats://host:port` };
      }
      return { ok: true, value: list };
    }
    case 'address': {
      const m = typeof raw === 'string' ? addressPattern.exec(raw) : null;
      const port = m ? Number(m[2]) : Number.NaN;
      return m && port > 0 && port < 65536
        ? { ok: true, value: raw }
        : { ok: false, problem: `must be host:port with a port in 1-65535, got ${JSON.stringify(raw)}` };
    }
    case 'cidr': {
      const m = typeof raw === 'string' ? cidrPattern.exec(raw) : null;
      const valid = m?.slice(1, 5).every((o) => Number(o) <= 255) && Number(m[5]) <= 32;
      return valid
        ? { ok: true, value: raw }
        : { ok: false, problem: `must be an IPv4 CIDR like 10.96.0.0/16, got ${JSON.stringify(raw)}` };
    }
    case 'level':
      return ['debug', 'info', 'warn', 'error'].includes(raw as string)
        ? { ok: true, value: raw }
        : { ok: false, problem: `must be debug, info, warn or error, got ${JSON.stringify(raw)}` };
    case 'ip': {
      const m = typeof raw === 'string' ? ipPattern.exec(raw) : null;
      return m?.slice(1, 5).every((o) => Number(o) <= 255)
        ? { ok: true, value: raw }
        : { ok: false, problem: `must be an IPv4 address like 192.0.2.10, got ${JSON.stringify(raw)}` };
    }
    case 'runtime':
      return raw === 'containerd' || raw === 'fake'
        ? { ok: true, value: raw }
        : { ok: false, problem: `must be containerd or fake, got ${JSON.stringify(raw)}` };
  }
}

function getPath(obj: unknown, path: string): unknown {
  let cur = obj;
  for (const part of path.split('.')) {
    if (typeof cur !== 'object' || cur === null) return undefined;
    cur = (cur as Record<string, unknown>)[part];
  }
  return cur;
}

function setPath(obj: Record<string, unknown>, path: string, value: unknown): void {
  const parts = path.split('.');
  let cur = obj;
  for (const part of parts.slice(0, -1)) {
    cur[part] ??= {};
    cur = cur[part] as Record<string, unknown>;
  }
  cur[parts.at(-1)!] = value;
}

/** Paths in the YAML file that no setting knows (typos, or settings of a newer version). */
function unknownPaths(obj: unknown, prefix = ''): string[] {
  if (typeof obj !== 'object' || obj === null || Array.isArray(obj)) return [];
  const out: string[] = [];
  for (const [k, v] of Object.entries(obj)) {
    const path = prefix ? `${prefix}.${k}` : k;
    if (settings.some((s) => s.path === path)) continue;
    if (settings.some((s) => s.path.startsWith(`${path}.`))) out.push(...unknownPaths(v, path));
    else out.push(path);
  }
  return out;
}

export interface LoadInput {
  /** Path of a YAML config file, if any. */
  readonly file?: string;
  readonly env?: Readonly<Record<string, string | undefined>>;
  /** Flag values by setting path (from commander). */
  readonly flags?: Readonly<Record<string, unknown>>;
  /** Settings this command cannot start without. */
  readonly required?: readonly string[];
}

/**
 * The configuration from defaults, then the file, then the environment, then flags (each
 * overriding the one before), checked whole: a `ConfigError` lists every problem with the
 * place it came from.
 */
export function loadConfig(input: LoadInput): FlotillaConfig {
  const problems: string[] = [];
  let fileValues: unknown = {};
  if (input.file) {
    try {
      fileValues = parseYaml(readFileSync(input.file, 'utf8'), { version: '1.1' }) ?? {};
      if (typeof fileValues !== 'object' || Array.isArray(fileValues)) {
        problems.push(`${input.file}: must be a YAML mapping of settings`);
        fileValues = {};
      }
    } catch (err) {
      problems.push(`${input.file}: ${err instanceof Error ? err.message.split('\n')[0] : String(err)}`);
    }
    for (const p of unknownPaths(fileValues)) problems.push(`${input.file}: unknown setting ${p}`);
  }
  const env = input.env ?? process.env;
  const out: Record<string, unknown> = {};
  for (const s of settings) {
    const candidates: Source[] = [];
    if (s.default !== undefined) candidates.push({ name: 'default', value: s.default });
    const fromFile = getPath(fileValues, s.path);
    if (fromFile !== undefined && fromFile !== null)
      candidates.push({ name: `${input.file}: ${s.path}`, value: fromFile });
    const fromEnv = env[envName(s.path)];
    if (fromEnv !== undefined && fromEnv !== '') candidates.push({ name: envName(s.path), value: fromEnv });
    const fromFlag = input.flags?.[s.path];
    if (fromFlag !== undefined) candidates.push({ name: flagName(s.path), value: fromFlag });
    const chosen = candidates.at(-1);
    if (!chosen) {
      if (input.required?.includes(s.path)) {
        problems.push(
          `${s.path} is required: set ${flagName(s.path)}, ${envName(s.path)} or ${s.path} in the config file`,
        );
      }
      continue;
    }
    const converted = convert(s, chosen.value);
    if (converted.ok) setPath(out, s.path, converted.value);
    else problems.push(`${chosen.name === 'default' ? s.path : chosen.name}: ${converted.problem}`);
  }
  if (problems.length > 0) throw new ConfigError(problems);
  return out as FlotillaConfig;
}
