import type {
  Container,
  ContainerState,
  ContainerStateTerminated,
  ContainerStatus,
  Pod,
  PodCondition,
  PodPhase,
  PodStatus,
} from '@flotilla/api';
import { podQOSClass, timeFromMs } from '@flotilla/api';
import type { ContainerKind } from './labels.ts';
import { latestByName, type ObservedContainer, type ObservedPod, previousInstance } from './observed.ts';

/** A waiting reason the kubelet remembers for a container (kubelet's reasonCache). */
export type WaitingReason = { readonly reason: string; readonly message: string };

export type StatusInput = {
  readonly pod: Pod;
  readonly observed: ObservedPod;
  /** Keyed by `containerKey(kind, name)`. */
  readonly waiting: ReadonlyMap<string, WaitingReason>;
  /** Probe verdicts of a running container. */
  readonly probes: (containerId: string) => { readonly ready: boolean; readonly started: boolean };
  /** `containerd` in `containerd://<id>`. */
  readonly runtimeName: string;
  readonly hostIP: string;
  /** The ready sandbox's IP; '' when there is none. */
  readonly podIP: string;
  readonly nowMs: number;
  /** The pod was stopped for good (deleted, or past its active deadline). */
  readonly terminal: boolean;
  readonly terminalReason: WaitingReason | undefined;
};

export function containerKey(kind: ContainerKind, name: string): string {
  return `${kind}/${name}`;
}

function time(ms: number): string | undefined {
  return ms > 0 ? timeFromMs(ms) : undefined;
}

function terminatedOf(c: ObservedContainer, runtimeName: string): ContainerStateTerminated {
  const message = [c.message, c.terminationMessage].filter((m) => m !== '').join(': ');
  return {
    exitCode: c.exitCode,
    reason: c.reason || (c.exitCode === 0 ? 'Completed' : 'Error'),
    ...(message === '' ? {} : { message }),
    ...(time(c.startedAtMs) === undefined ? {} : { startedAt: time(c.startedAtMs) }),
    ...(time(c.finishedAtMs) === undefined ? {} : { finishedAt: time(c.finishedAtMs) }),
    containerID: `${runtimeName}://${c.id}`,
  };
}

/** kubelet reports a container it can no longer find as terminated, exit code 137. */
function unknownTerminated(c: ObservedContainer, runtimeName: string): ContainerStateTerminated {
  return {
    exitCode: 137,
    reason: 'ContainerStatusUnknown',
    message: 'The container could not be located when the pod was terminated',
    containerID: `${runtimeName}://${c.id}`,
  };
}

function containerStatusOf(
  c: Container,
  kind: ContainerKind,
  input: StatusInput,
  latest: ObservedContainer | undefined,
  defaultWaiting: string,
  previous: ContainerStatus | undefined,
): ContainerStatus {
  const rt = input.runtimeName;
  const waiting = input.waiting.get(containerKey(kind, c.name));
  const image = c.image ?? '';
  if (latest === undefined) {
    // Never ran here, or its containers were removed: keep what was reported before.
    return {
      name: c.name,
      state: { waiting: waiting ?? { reason: defaultWaiting } },
      lastState: previous?.lastState ?? {},
      ready: false,
      restartCount: previous?.restartCount ?? 0,
      image,
      imageID: previous?.imageID ?? '',
      started: false,
    };
  }
  const prev = previousInstance(input.observed.containers, kind, c.name);
  const prevState: ContainerState =
    prev === undefined
      ? (previous?.lastState ?? {})
      : { terminated: prev.state === 'unknown' ? unknownTerminated(prev, rt) : terminatedOf(prev, rt) };
  let state: ContainerState;
  let lastState = prevState;
  let ready = false;
  let started = false;
  switch (latest.state) {
    case 'running': {
      state = {
        running: {
          ...(time(latest.startedAtMs) === undefined ? {} : { startedAt: time(latest.startedAtMs) }),
        },
      };
      const p = input.probes(latest.id);
      ready = kind === 'regular' && p.ready;
      started = p.started;
      break;
    }
    case 'created':
      state = { waiting: waiting ?? { reason: 'ContainerCreating' } };
      break;
    case 'exited':
      // About to be restarted (in back-off): waiting, the exit shown as lastState.
      if (waiting !== undefined && !input.terminal) {
        state = { waiting };
        lastState = { terminated: terminatedOf(latest, rt) };
      } else {
        state = { terminated: terminatedOf(latest, rt) };
      }
      break;
    case 'unknown':
      state = { terminated: unknownTerminated(latest, rt) };
      break;
  }
  return {
    name: c.name,
    state,
    lastState,
    ready,
    restartCount: latest.restartCount,
    image,
    imageID: latest.imageRef,
    containerID: `${rt}://${latest.id}`,
    started,
  };
}

/**
 * The pod's phase from its containers' states, as kubelet's getPhase decides it.
 * https://kubernetes.io/docs/concepts/workloads/pods/pod-lifecycle/#pod-phase
 */
export function podPhase(
  pod: Pod,
  init: readonly ContainerStatus[],
  regular: readonly ContainerStatus[],
  terminal: boolean,
): PodPhase {
  const policy = pod.spec?.restartPolicy ?? 'Always';
  let pendingInit = 0;
  let failedInit = 0;
  for (const s of init) {
    if (s.state?.running !== undefined) pendingInit++;
    else if (s.state?.terminated !== undefined) {
      if (s.state.terminated.exitCode !== 0) failedInit++;
    } else if (s.lastState?.terminated !== undefined) {
      if (s.lastState.terminated.exitCode !== 0) failedInit++;
    } else pendingInit++;
  }
  let running = 0;
  let waiting = 0;
  let stopped = 0;
  let succeeded = 0;
  for (const s of regular) {
    if (s.state?.running !== undefined) running++;
    else if (s.state?.terminated !== undefined) {
      stopped++;
      if (s.state.terminated.exitCode === 0) succeeded++;
    } else if (s.lastState?.terminated !== undefined) stopped++;
    else waiting++;
  }
  if (failedInit > 0 && policy === 'Never') return 'Failed';
  if (
    (pendingInit > 0 &&
      !regular.some((s) => s.state?.running !== undefined || s.state?.terminated !== undefined)) ||
    waiting > 0
  ) {
    return 'Pending';
  }
  if (running > 0) return 'Running';
  if (stopped > 0) {
    if (terminal) return stopped === succeeded ? 'Succeeded' : 'Failed';
    if (policy === 'Always') return 'Running';
    if (stopped === succeeded) return 'Succeeded';
    if (policy === 'Never') return 'Failed';
    return 'Running';
  }
  return 'Pending';
}

function condition(
  type: string,
  ok: boolean,
  nowMs: number,
  previous: readonly PodCondition[] | undefined,
  reason?: string,
  message?: string,
): PodCondition {
  const status = ok ? 'True' : 'False';
  const before = previous?.find((c) => c.type === type);
  const since =
    before !== undefined && before.status === status && before.lastTransitionTime
      ? before.lastTransitionTime
      : timeFromMs(nowMs);
  return {
    type,
    status,
    lastProbeTime: undefined,
    lastTransitionTime: since,
    ...(ok || reason === undefined ? {} : { reason }),
    ...(ok || message === undefined ? {} : { message }),
  };
}

/**
 * The pod's status as kubelet computes it (generateAPIPodStatus): phase, conditions,
 * container statuses with their reasons, IPs and start time. Pure: the same input gives
 * the same status, and what did not change keeps its transition time.
 */
export function computePodStatus(input: StatusInput): PodStatus {
  const pod = input.pod;
  const previous = pod.status;
  const spec = pod.spec;
  const init = spec?.initContainers ?? [];
  const regular = spec?.containers ?? [];
  const latestInit = latestByName(input.observed.containers, 'init');
  const latestRegular = latestByName(input.observed.containers, 'regular');

  const initStatuses = init.map((c) =>
    containerStatusOf(
      c,
      'init',
      input,
      latestInit.get(c.name),
      'PodInitializing',
      previous?.initContainerStatuses?.find((s) => s.name === c.name),
    ),
  );
  const initDone =
    initStatuses.every((s) => s.state?.terminated?.exitCode === 0) ||
    previous?.conditions?.some((c) => c.type === 'Initialized' && c.status === 'True') === true;
  const statuses = regular.map((c) =>
    containerStatusOf(
      c,
      'regular',
      input,
      latestRegular.get(c.name),
      initDone ? 'ContainerCreating' : 'PodInitializing',
      previous?.containerStatuses?.find((s) => s.name === c.name),
    ),
  );

  let phase = podPhase(pod, initStatuses, statuses, input.terminal);
  // A pod that finished stays finished (kubelet never moves a pod out of a terminal phase).
  if (previous?.phase === 'Succeeded' || previous?.phase === 'Failed') phase = previous.phase;
  if (input.terminalReason !== undefined) phase = 'Failed';

  const prevConds = previous?.conditions;
  const notInit = init
    .filter((_, i) => initStatuses[i]?.state?.terminated?.exitCode !== 0)
    .map((c) => c.name);
  const notReady = regular.filter((_, i) => statuses[i]?.ready !== true).map((c) => c.name);
  const completed = phase === 'Succeeded';
  const containersReady = notReady.length === 0 && !completed;
  const gates = (spec?.readinessGates ?? []).map((g) => g.conditionType);
  const gatesOpen = gates.filter((g) => !prevConds?.some((c) => c.type === g && c.status === 'True'));
  const notReadyReason = completed ? 'PodCompleted' : 'ContainersNotReady';
  const notReadyMessage = completed ? undefined : `containers with unready status: [${notReady.join(' ')}]`;
  const conditions: PodCondition[] = [
    condition(
      'Initialized',
      initDone,
      input.nowMs,
      prevConds,
      completed ? 'PodCompleted' : 'ContainersNotInitialized',
      `containers with incomplete status: [${notInit.join(' ')}]`,
    ),
    containersReady && gatesOpen.length === 0
      ? condition('Ready', true, input.nowMs, prevConds)
      : containersReady
        ? condition(
            'Ready',
            false,
            input.nowMs,
            prevConds,
            'ReadinessGatesNotReady',
            `corresponding condition of pod readiness gate "${gatesOpen[0]}" does not exist.`,
          )
        : condition('Ready', false, input.nowMs, prevConds, notReadyReason, notReadyMessage),
    condition('ContainersReady', containersReady, input.nowMs, prevConds, notReadyReason, notReadyMessage),
    prevConds?.find((c) => c.type === 'PodScheduled') ??
      condition('PodScheduled', true, input.nowMs, prevConds),
  ];
  // Conditions others own (readiness gates and the like) are kept as they are.
  const ours = new Set(['Initialized', 'Ready', 'ContainersReady', 'PodScheduled']);
  for (const c of prevConds ?? []) if (!ours.has(c.type)) conditions.push(c);

  const podIP = spec?.hostNetwork === true ? input.hostIP : input.podIP || previous?.podIP || '';
  const startTime = previous?.startTime ?? timeFromMs(input.nowMs);
  return {
    phase,
    conditions: conditions.map(stripUndefined),
    ...(input.terminalReason === undefined
      ? {}
      : { reason: input.terminalReason.reason, message: input.terminalReason.message }),
    hostIP: input.hostIP,
    hostIPs: [{ ip: input.hostIP }],
    ...(podIP === '' ? {} : { podIP, podIPs: [{ ip: podIP }] }),
    startTime,
    ...(init.length === 0 ? {} : { initContainerStatuses: initStatuses }),
    containerStatuses: statuses,
    qosClass: podQOSClass(spec),
  };
}

function stripUndefined(c: PodCondition): PodCondition {
  return Object.fromEntries(Object.entries(c).filter(([, v]) => v !== undefined)) as PodCondition;
}
