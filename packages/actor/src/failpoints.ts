/**
 * Failpoints: named places in the Raft driver, the WAL and the store server where a test
 * makes a member crash, stall, fail or misbehave at an exact moment (FreeBSD's fail(9) and
 * etcd's gofail, in spirit).
 *
 * They exist only in processes started with `FLOTILLA_FAILPOINTS` set. Without it
 * `failpointsArmed` is a constant `false`, and every call site reads
 *
 *   if (failpointsArmed) await failpoint('wal.beforeSync');
 *
 * so production pays one check of a constant per call site and nothing else. With it, the
 * harness switches failpoints on and off at run time through the actor `serveFailpoints`
 * starts, or from the start through the variable's JSON (`{"raft.snapshotInstall":
 * {"action":{"kind":"crash"}}}`; any other non-empty value arms them with none active).
 */
import type { ActorHost, ActorSystem } from './actor-system.ts';
import { assertNever } from './assert.ts';
import { sleep } from './backoff.ts';
import { FlotillaError } from './errors.ts';
import { type Ask, ask } from './protocol.ts';

/** Every failpoint there is; the comment says where it sits. */
export const failpointNames = [
  /** The WAL is about to write and fdatasync what is buffered (a crash here loses it). */
  'wal.beforeSync',
  /** fdatasync returned; nobody has been told yet. */
  'wal.afterSync',
  /** Committed entries are about to reach the state machine. */
  'raft.beforeApply',
  /** The leader is about to send the next chunk of a snapshot to a follower. */
  'raft.snapshotSend',
  /** A received snapshot is whole on disk and about to replace the state machine. */
  'raft.snapshotInstall',
  /** A deliberately broken build: the leader answers a put at once and proposes it 50 ms later. */
  'store.ackBeforeSync',
  /** A deliberately broken build: linearizable reads are served without ReadIndex. */
  'store.readWithoutReadIndex',
] as const;

export type FailpointName = (typeof failpointNames)[number];

export type FailpointAction =
  /** The process dies on the spot (SIGKILL): nothing buffered is written, nothing is answered. */
  | { readonly kind: 'crash' }
  /** The call site waits this long (a slow disk, a slow network). */
  | { readonly kind: 'delay'; readonly ms: number }
  /** The call site throws `FailpointError` (an I/O error). */
  | { readonly kind: 'error' }
  /** For the broken-build switches: behave broken. */
  | { readonly kind: 'enable' };

export type FailpointSpec = {
  readonly action: FailpointAction;
  /** Let this many hits pass before acting (default 0). */
  readonly skipHits?: number;
  /** Act at most this many times, then only count (default: no limit). */
  readonly maxActions?: number;
};

export type FailpointState = {
  readonly spec: FailpointSpec | null;
  /** Times the call site was reached while armed, acting or not. */
  readonly hits: number;
  /** Times the action ran. */
  readonly actions: number;
};

export type FailpointStatus = Readonly<Partial<Record<FailpointName, FailpointState>>>;

/** A delay longer than this is a test bug, not a slow disk. */
export const maxFailpointDelayMs = 60_000;

export class FailpointError extends FlotillaError {
  readonly failpoint: string;
  constructor(failpoint: string, message = `failpoint ${failpoint} fired`) {
    super('Failpoint', message, { failpoint });
    this.failpoint = failpoint;
  }
}

export function isFailpointName(name: unknown): name is FailpointName {
  return typeof name === 'string' && (failpointNames as readonly string[]).includes(name);
}

/** Throws FailpointError unless `spec` is a well-formed spec. */
export function checkFailpointSpec(name: string, spec: FailpointSpec): void {
  if (!isFailpointName(name)) throw new FailpointError(name, `no failpoint named ${JSON.stringify(name)}`);
  const bad = (why: string) => new FailpointError(name, `failpoint ${name}: ${why}`);
  if (typeof spec !== 'object' || spec === null) throw bad('the spec is not an object');
  const count = (v: unknown) => v === undefined || (Number.isSafeInteger(v) && (v as number) >= 0);
  if (!count(spec.skipHits)) throw bad('skipHits is not a count');
  if (!count(spec.maxActions)) throw bad('maxActions is not a count');
  const action = spec.action as FailpointAction | undefined;
  switch (action?.kind) {
    case 'crash':
    case 'error':
    case 'enable':
      return;
    case 'delay':
      if (!Number.isFinite(action.ms) || action.ms < 0 || action.ms > maxFailpointDelayMs)
        throw bad(`delay must be 0..${maxFailpointDelayMs} ms`);
      return;
    default:
      throw bad(`unknown action ${JSON.stringify(action)}`);
  }
}

/**
 * What `FLOTILLA_FAILPOINTS` asks for: unset or empty, nothing (not armed); a JSON object,
 * those failpoints active from the start; anything else, armed with none active.
 */
export function parseFailpointEnv(text: string | undefined): {
  readonly armed: boolean;
  readonly initial: ReadonlyMap<FailpointName, FailpointSpec>;
} {
  const initial = new Map<FailpointName, FailpointSpec>();
  if (text === undefined || text.trim() === '') return { armed: false, initial };
  if (!text.trim().startsWith('{')) return { armed: true, initial };
  const parsed = JSON.parse(text) as Record<string, FailpointSpec>;
  for (const [name, spec] of Object.entries(parsed)) {
    checkFailpointSpec(name, spec);
    initial.set(name as FailpointName, spec);
  }
  return { armed: true, initial };
}

const fromEnv = parseFailpointEnv(process.env.FLOTILLA_FAILPOINTS);

/** True only in processes started with FLOTILLA_FAILPOINTS: call sites test this first. */
export const failpointsArmed: boolean = fromEnv.armed;

type Entry = { spec: FailpointSpec | null; hits: number; actions: number };
const entries = new Map<FailpointName, Entry>();
for (const [name, spec] of fromEnv.initial) entries.set(name, { spec, hits: 0, actions: 0 });

function entry(name: FailpointName): Entry {
  let e = entries.get(name);
  if (!e) {
    e = { spec: null, hits: 0, actions: 0 };
    entries.set(name, e);
  }
  return e;
}

/** Count a hit and say whether the spec acts on it. */
function take(name: FailpointName): FailpointAction | null {
  const e = entry(name);
  e.hits += 1;
  const spec = e.spec;
  if (spec === null) return null;
  if (e.hits <= (spec.skipHits ?? 0)) return null;
  if (spec.maxActions !== undefined && e.actions >= spec.maxActions) return null;
  e.actions += 1;
  return spec.action;
}

function crashNow(name: FailpointName): never {
  process.stderr.write(`failpoint ${name}: crashing (SIGKILL)\n`);
  process.kill(process.pid, 'SIGKILL');
  // PID 1 of a container ignores signals it has no handler for, even SIGKILL from itself.
  process.exit(137);
}

/**
 * The call site of a failpoint that crashes, delays or throws. Resolves at once when the
 * failpoint is off (or is a switch: see `failpointEnabled`).
 */
export async function failpoint(name: FailpointName): Promise<void> {
  const action = take(name);
  if (action === null) return;
  switch (action.kind) {
    case 'crash':
      return crashNow(name);
    case 'delay':
      await sleep(action.ms);
      return;
    case 'error':
      throw new FailpointError(name);
    case 'enable':
      return;
    default:
      assertNever(action, 'failpoint action');
  }
}

/** The call site of a broken-build switch: true while it is enabled (counts as a hit). */
export function failpointEnabled(name: FailpointName): boolean {
  const action = take(name);
  if (action === null) return false;
  if (action.kind === 'crash') crashNow(name);
  return action.kind === 'enable';
}

export function setFailpoint(name: FailpointName, spec: FailpointSpec): void {
  checkFailpointSpec(name, spec);
  const e = entry(name);
  e.spec = spec;
  e.actions = 0;
}

/** Turn one failpoint off, or every one; the hit counts stay. */
export function clearFailpoint(name?: FailpointName): void {
  for (const [n, e] of entries) if (name === undefined || n === name) e.spec = null;
}

export function failpointStatus(): FailpointStatus {
  const out: Partial<Record<FailpointName, FailpointState>> = {};
  for (const [name, e] of entries) out[name] = { spec: e.spec, hits: e.hits, actions: e.actions };
  return out;
}

export type FailpointProtocol = {
  set: Ask<{ readonly name: FailpointName; readonly spec: FailpointSpec }, FailpointStatus>;
  clear: Ask<{ readonly name?: FailpointName }, FailpointStatus>;
  status: Ask<null, FailpointStatus>;
};

/** Where a process's failpoints are controlled: `failpoints.<owner>`. */
export const failpointsActorName = (owner: string) => `failpoints.${owner}`;

/** Serve this process's failpoints to the test harness (only call when armed). */
export function serveFailpoints(system: ActorSystem, owner: string): ActorHost<FailpointProtocol> {
  return system.spawn<FailpointProtocol>({
    name: failpointsActorName(owner),
    logBindings: { component: 'failpoints' },
    handlers: {
      set: ask((req: { name: FailpointName; spec: FailpointSpec }) => {
        setFailpoint(req.name, req.spec);
        return failpointStatus();
      }),
      clear: ask((req: { name?: FailpointName }) => {
        if (req.name !== undefined && !isFailpointName(req.name))
          throw new FailpointError(String(req.name), `no failpoint named ${JSON.stringify(req.name)}`);
        clearFailpoint(req.name);
        return failpointStatus();
      }),
      status: ask(() => failpointStatus()),
    },
  });
}
