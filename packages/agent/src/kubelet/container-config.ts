import { createHash } from 'node:crypto';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import type { Container, Pod, PodQOSClass } from '@flotilla/api';
import { defaultTerminationGracePeriodSeconds, defaultTerminationMessagePath } from '@flotilla/api';
import { ContainerConfigError } from '../errors.ts';
import type { ContainerConfig, ImageInfo, Mount } from '../runtime/runtime.ts';
import { isSafePayloadPath } from './atomic-writer.ts';
import { canonicalJson } from './canonical-json.ts';
import { containerEnv, type EnvContext, expandVars } from './env.ts';
import {
  type ContainerKind,
  containerHashAnnotation,
  containerKindAnnotation,
  containerNameLabel,
  gracePeriodAnnotation,
  nodeLabel,
  podNameLabel,
  podNamespaceLabel,
  podUidLabel,
  restartCountAnnotation,
  specImageAnnotation,
  terminationMessagePathAnnotation,
  terminationMessagePolicyAnnotation,
} from './labels.ts';
import { linuxResources } from './resources.ts';
import { seccompFrom } from './sandbox-config.ts';
import type { PodVolumes } from './volumes.ts';

/**
 * A digest of the container's spec, stored on the container: when the spec changes
 * (a new image), kubelet sees another hash and replaces the container.
 */
export function containerHash(container: Container): string {
  return createHash('sha256').update(canonicalJson(container)).digest('hex').slice(0, 16);
}

/** The grace period a pod's containers get when they are stopped (the pod's, or the deletion's). */
export function podGracePeriodSeconds(pod: Pod): number {
  return (
    pod.metadata.deletionGracePeriodSeconds ??
    pod.spec?.terminationGracePeriodSeconds ??
    defaultTerminationGracePeriodSeconds
  );
}

export type ContainerContext = EnvContext & {
  readonly kind: ContainerKind;
  readonly restartCount: number;
  readonly qos: PodQOSClass;
  readonly nodeMemoryBytes: number;
  readonly volumes: PodVolumes;
  /** The kubelet-managed /etc/hosts; undefined for pods on the host's network. */
  readonly hostsFile: string | undefined;
  /** The host file mounted at the container's terminationMessagePath. */
  readonly terminationMessageFile: string;
  readonly image: ImageInfo;
};

/**
 * The CRI config of one container of a pod, as kubelet builds it: environment, expanded
 * command and args, mounts of its volumes (and the managed /etc/hosts and termination
 * message file), resources, security context, and the labels and annotations that let
 * a restarted agent recognise it. Throws `ContainerConfigError`.
 */
export async function containerConfigFor(
  pod: Pod,
  container: Container,
  ctx: ContainerContext,
): Promise<ContainerConfig> {
  const env = await containerEnv(pod, container, ctx);
  const envMap = new Map(env.map((e) => [e.name, e.value]));
  const expand = (s: string) => expandVars(s, (n) => envMap.get(n));
  const spec = pod.spec;
  const psc = spec?.securityContext;
  const csc = container.securityContext;

  const runAsUser = csc?.runAsUser ?? psc?.runAsUser;
  if ((csc?.runAsNonRoot ?? psc?.runAsNonRoot) === true) {
    if (runAsUser === 0) throw new ContainerConfigError("container's runAsUser breaks non-root policy");
    if (runAsUser === undefined) {
      if (ctx.image.uid === undefined && ctx.image.username !== '') {
        throw new ContainerConfigError(
          `container has runAsNonRoot and image has non-numeric user (${ctx.image.username}), cannot verify user is non-root`,
        );
      }
      if ((ctx.image.uid ?? 0) === 0)
        throw new ContainerConfigError('container has runAsNonRoot and image will run as root');
    }
  }

  const mounts: Mount[] = [];
  for (const vm of container.volumeMounts ?? []) {
    const source = ctx.volumes.get(vm.name);
    if (source === undefined) {
      throw new ContainerConfigError(
        `cannot find volume "${vm.name}" to mount into container "${container.name}"`,
      );
    }
    const subPath = vm.subPathExpr !== undefined ? expand(vm.subPathExpr) : (vm.subPath ?? '');
    let hostPath = source.hostPath;
    if (subPath !== '') {
      if (!isSafePayloadPath(subPath))
        throw new ContainerConfigError(`invalid subPath ${JSON.stringify(subPath)}`);
      hostPath = join(source.hostPath, subPath);
      // Kubelet creates a missing subPath directory in a writable volume.
      if (!source.readOnly) await mkdir(hostPath, { recursive: true }).catch(() => undefined);
    }
    mounts.push({
      containerPath: vm.mountPath,
      hostPath,
      readonly: vm.readOnly === true || source.readOnly,
      propagation:
        vm.mountPropagation === 'HostToContainer'
          ? 'host-to-container'
          : vm.mountPropagation === 'Bidirectional'
            ? 'bidirectional'
            : 'private',
    });
  }
  if (ctx.hostsFile !== undefined && !mounts.some((m) => m.containerPath === '/etc/hosts')) {
    mounts.push({
      containerPath: '/etc/hosts',
      hostPath: ctx.hostsFile,
      readonly: false,
      propagation: 'private',
    });
  }
  const terminationMessagePath = container.terminationMessagePath || defaultTerminationMessagePath;
  mounts.push({
    containerPath: terminationMessagePath,
    hostPath: ctx.terminationMessageFile,
    readonly: false,
    propagation: 'private',
  });

  const name = container.name;
  return {
    name,
    attempt: ctx.restartCount,
    image: ctx.image.id,
    command: (container.command ?? []).map(expand),
    args: (container.args ?? []).map(expand),
    workingDir: container.workingDir ?? '',
    env,
    mounts,
    labels: {
      [containerNameLabel]: name,
      [podNameLabel]: pod.metadata.name ?? '',
      [podNamespaceLabel]: pod.metadata.namespace ?? 'default',
      [podUidLabel]: pod.metadata.uid ?? '',
      [nodeLabel]: ctx.nodeName,
    },
    annotations: {
      [containerHashAnnotation]: containerHash(container),
      [restartCountAnnotation]: String(ctx.restartCount),
      [terminationMessagePathAnnotation]: terminationMessagePath,
      [terminationMessagePolicyAnnotation]: container.terminationMessagePolicy ?? 'File',
      [gracePeriodAnnotation]: String(podGracePeriodSeconds(pod)),
      [specImageAnnotation]: container.image ?? '',
      [containerKindAnnotation]: ctx.kind,
    },
    logPath: join(name, `${ctx.restartCount}.log`),
    stdin: container.stdin === true,
    stdinOnce: container.stdinOnce === true,
    tty: container.tty === true,
    resources: linuxResources(container, ctx.qos, ctx.nodeMemoryBytes),
    security: {
      privileged: csc?.privileged === true,
      capabilitiesAdd: csc?.capabilities?.add ?? [],
      capabilitiesDrop: csc?.capabilities?.drop ?? [],
      runAsUser,
      runAsGroup: csc?.runAsGroup ?? psc?.runAsGroup,
      supplementalGroups: [
        ...(psc?.supplementalGroups ?? []),
        ...(psc?.fsGroup === undefined ? [] : [psc.fsGroup]),
      ],
      readonlyRootfs: csc?.readOnlyRootFilesystem === true,
      noNewPrivs: csc?.allowPrivilegeEscalation === false,
      seccomp: seccompFrom(csc?.seccompProfile ?? psc?.seccompProfile),
      pid: spec?.hostPID === true ? 'node' : spec?.shareProcessNamespace === true ? 'pod' : 'container',
    },
  };
}
