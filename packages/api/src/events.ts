/**
 * Building core/v1 Events the way Kubernetes' event recorder does, so that
 * `kubectl describe` and `kubectl get events` show them as users expect.
 * https://kubernetes.io/docs/reference/kubernetes-api/cluster-resources/event-v1/
 */
import { timeFromMs } from './time.ts';
import type { Event, ObjectReference } from './types/core.ts';
import type { KubeObject } from './types/meta.ts';

/** A reference to an object, e.g. for an event's involvedObject or a binding's target. */
export function objectReference(obj: KubeObject, fieldPath?: string): ObjectReference {
  const m = obj.metadata;
  return {
    apiVersion: obj.apiVersion,
    kind: obj.kind,
    ...(m.namespace === undefined ? {} : { namespace: m.namespace }),
    ...(m.name === undefined ? {} : { name: m.name }),
    ...(m.uid === undefined ? {} : { uid: m.uid }),
    ...(m.resourceVersion === undefined ? {} : { resourceVersion: m.resourceVersion }),
    ...(fieldPath === undefined ? {} : { fieldPath }),
  };
}

export type NewEvent = {
  readonly involved: ObjectReference;
  readonly type: 'Normal' | 'Warning';
  /** Short and CamelCase, e.g. FailedScheduling, Pulled, BackOff. */
  readonly reason: string;
  readonly message: string;
  /** The reporting component, e.g. `default-scheduler`, `kubelet`. */
  readonly component: string;
  /** The reporting instance (a node name for the kubelet), or ''. */
  readonly host: string;
  readonly nowMs: number;
};

/**
 * A new Event object (count 1, first and last seen now), named `<object>.<hex nanoseconds>`
 * as the recorder names them; events about cluster-scoped objects live in `default`.
 */
export function newEvent(e: NewEvent): Event {
  const nanos = BigInt(Math.trunc(e.nowMs)) * 1_000_000n;
  const now = timeFromMs(e.nowMs);
  return {
    apiVersion: 'v1',
    kind: 'Event',
    metadata: {
      name: `${e.involved.name ?? 'unknown'}.${nanos.toString(16)}`,
      namespace: e.involved.namespace || 'default',
    },
    involvedObject: e.involved,
    reason: e.reason,
    message: e.message,
    source: e.host === '' ? { component: e.component } : { component: e.component, host: e.host },
    firstTimestamp: now,
    lastTimestamp: now,
    count: 1,
    type: e.type,
    reportingComponent: e.component,
    reportingInstance: e.host,
  };
}
