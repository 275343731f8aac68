/**
 * pods/log: the API server asks the agent of the pod's node (actor
 * `agent.<cluster>.<node>`, AgentProtocol) for the container's log and relays the stream,
 * as kube-apiserver relays the kubelet's. The stream is opened, and its first answer
 * awaited, before anything is sent to the client, so that an agent that does not answer
 * becomes a clear 503/504 instead of an empty log.
 * https://kubernetes.io/docs/reference/kubernetes-api/workload-resources/pod-v1/#read-log-of-the-specified-pod
 */
import type { ActorSystem } from '@flotilla/actor';
import { DeadlineExceededError, NoRespondersError } from '@flotilla/actor';
import type { AgentProtocol, LogChunk, LogOptions, Pod } from '@flotilla/api';
import {
  agentActorName,
  badRequest,
  invalidField,
  invalid as invalidStatus,
  StatusError,
  serviceUnavailable,
  timeout,
} from '@flotilla/api';
import type { ObjectRef, RegistryContext } from './context.ts';
import { getObject } from './reads.ts';

/** How long the agent has to accept the log stream. */
export const logOpenTimeoutMs = 3_000;

export type PodLogTarget = {
  readonly system: ActorSystem;
  readonly clusterId: string;
};

function checkLogOptions(name: string, options: LogOptions): void {
  const errors = [];
  if (options.tailLines !== undefined && (!Number.isInteger(options.tailLines) || options.tailLines < 0)) {
    errors.push(invalidField('tailLines', options.tailLines, 'must be greater than or equal to 0'));
  }
  if (
    options.sinceSeconds !== undefined &&
    (!Number.isInteger(options.sinceSeconds) || options.sinceSeconds < 1)
  ) {
    errors.push(invalidField('sinceSeconds', options.sinceSeconds, 'must be greater than 0'));
  }
  if (options.limitBytes !== undefined && (!Number.isInteger(options.limitBytes) || options.limitBytes < 1)) {
    errors.push(invalidField('limitBytes', options.limitBytes, 'must be greater than 0'));
  }
  if (errors.length > 0) throw invalidStatus({ group: '', kind: 'PodLogOptions' }, name, errors);
}

/** Only the log options (a request may carry more, such as its target). */
function logFields(o: LogOptions): LogOptions {
  const out: { -readonly [K in keyof LogOptions]: LogOptions[K] } = {};
  if (o.follow !== undefined) out.follow = o.follow;
  if (o.previous !== undefined) out.previous = o.previous;
  if (o.tailLines !== undefined) out.tailLines = o.tailLines;
  if (o.sinceSeconds !== undefined) out.sinceSeconds = o.sinceSeconds;
  if (o.timestamps !== undefined) out.timestamps = o.timestamps;
  if (o.limitBytes !== undefined) out.limitBytes = o.limitBytes;
  return out;
}

/** The container a log request means: the one named, or the pod's only one. */
function containerOf(pod: Pod, requested: string | undefined): string {
  const name = pod.metadata.name ?? '';
  const all = [
    ...(pod.spec?.containers ?? []).map((c) => c.name),
    ...(pod.spec?.initContainers ?? []).map((c) => c.name),
  ];
  if (requested !== undefined && requested !== '') {
    if (!all.includes(requested)) throw badRequest(`container ${requested} is not valid for pod ${name}`);
    return requested;
  }
  const main = (pod.spec?.containers ?? []).map((c) => c.name);
  if (main.length === 1 && main[0] !== undefined) return main[0];
  throw badRequest(`a container name must be specified for pod ${name}, choose one of: [${main.join(' ')}]`);
}

function unreachable(node: string, err: unknown): StatusError {
  if (err instanceof StatusError) return err;
  if (err instanceof NoRespondersError) {
    return serviceUnavailable(
      `the agent of node ${JSON.stringify(node)} does not answer: no agent is connected`,
      1,
    );
  }
  if (err instanceof DeadlineExceededError) {
    return timeout(
      `the agent of node ${JSON.stringify(node)} did not answer within ${logOpenTimeoutMs} ms`,
      1,
    );
  }
  return serviceUnavailable(
    `the agent of node ${JSON.stringify(node)} failed to serve the log: ${err instanceof Error ? err.message : String(err)}`,
    1,
  );
}

/** A container's log as it streams from the agent; `cancel()` stops it. */
export type PodLogStream = AsyncIterableIterator<LogChunk> & { cancel(): void };

/** Opens the log of a pod's container; throws the Status to answer when it cannot. */
export async function openPodLog(
  ctx: RegistryContext,
  target: PodLogTarget,
  ref: ObjectRef,
  options: LogOptions,
): Promise<PodLogStream> {
  checkLogOptions(ref.name, options);
  const pod = (await getObject(ctx, ref)) as Pod;
  const container = containerOf(pod, options.container);
  const node = pod.spec?.nodeName;
  if (!node) throw badRequest(`pod ${ref.name} does not have a host assigned`);
  const upstream = target.system.ref<AgentProtocol>(agentActorName(target.clusterId, node)).stream(
    'log',
    { ...logFields(options), namespace: ref.namespace ?? '', pod: ref.name, container },
    {
      openTimeoutMs: logOpenTimeoutMs,
    },
  );
  // Wait for the first chunk, or for the open to have certainly succeeded (no error by
  // its deadline): a follow of a quiet container may not send anything for a long time.
  let timer: NodeJS.Timeout | undefined;
  const quiet = new Promise<'quiet'>((resolve) => {
    timer = setTimeout(() => resolve('quiet'), logOpenTimeoutMs + 250);
  });
  let first: IteratorResult<LogChunk> | 'quiet';
  const firstNext = upstream.next();
  try {
    first = await Promise.race([firstNext, quiet]);
  } catch (err) {
    throw unreachable(node, err);
  } finally {
    clearTimeout(timer);
  }
  let head: Promise<IteratorResult<LogChunk>> | undefined =
    first === 'quiet' ? firstNext : Promise.resolve(first);
  const stream: PodLogStream = {
    next: () => {
      const h = head;
      head = undefined;
      return h ?? upstream.next();
    },
    return: () => {
      upstream.cancel();
      return Promise.resolve({ value: undefined, done: true });
    },
    cancel: () => upstream.cancel(),
    [Symbol.asyncIterator]() {
      return stream;
    },
  };
  ctx.log.debug({ pod: ref.name, namespace: ref.namespace, node, container }, 'pod log opened');
  return stream;
}
