/**
 * The labels and annotations the kubelet puts on sandboxes and containers. They are how
 * a restarted agent finds what it started (adoption) and rebuilds what it knew: which
 * pod a container belongs to, its restart count, the spec it was created from. The
 * `io.kubernetes.*` names are kubelet's own, so crictl and people read them as usual.
 */
export const podNameLabel = 'io.kubernetes.pod.name';
export const podNamespaceLabel = 'io.kubernetes.pod.namespace';
export const podUidLabel = 'io.kubernetes.pod.uid';
export const containerNameLabel = 'io.kubernetes.container.name';
/** The node whose agent created the object; an agent only ever adopts its own. */
export const nodeLabel = 'flotilla.io/node';

export const containerHashAnnotation = 'io.kubernetes.container.hash';
export const restartCountAnnotation = 'io.kubernetes.container.restartCount';
export const terminationMessagePathAnnotation = 'io.kubernetes.container.terminationMessagePath';
export const terminationMessagePolicyAnnotation = 'io.kubernetes.container.terminationMessagePolicy';
export const gracePeriodAnnotation = 'io.kubernetes.pod.terminationGracePeriod';
/** The image as the pod spec names it (the runtime reports the resolved reference). */
export const specImageAnnotation = 'flotilla.io/image';
/** `init` or `regular`: which list of the pod spec the container comes from. */
export const containerKindAnnotation = 'flotilla.io/container-kind';

export type ContainerKind = 'init' | 'regular';
