/**
 * Validation of apps/v1 Deployments and ReplicaSets and of Scale: the selector must be
 * set, non-empty, match the template's labels and never change; the template must restart
 * Always; rolling update bounds must be counts or percentages that are not both zero.
 * https://kubernetes.io/docs/concepts/workloads/controllers/deployment/#writing-a-deployment-spec
 */
import type { FieldError, FieldPath } from '../field-errors.ts';
import { child, forbidden, invalid, notSupported, required } from '../field-errors.ts';
import { labelSelectorFromStruct, matchesLabels, SelectorError } from '../labels.ts';
import { isValidPercent, nameIsDNSSubdomain } from '../names.ts';
import type { Deployment, DeploymentStatus, DeploymentStrategy, ReplicaSet } from '../types/apps.ts';
import type { Scale } from '../types/autoscaling.ts';
import type { PodTemplateSpec } from '../types/core.ts';
import type { IntOrString, LabelSelector } from '../types/meta.ts';
import {
  immutable,
  nonNegative,
  validateLabelSelector,
  validateObjectMeta,
  validateObjectMetaUpdate,
} from './meta.ts';
import { validatePodTemplateSpec } from './pod.ts';

type WorkloadSpec = {
  readonly replicas?: number;
  readonly selector?: LabelSelector;
  readonly template?: PodTemplateSpec;
  readonly minReadySeconds?: number;
};

function validateWorkloadSpec(
  spec: WorkloadSpec | undefined,
  kindLabel: string,
  path: FieldPath,
): FieldError[] {
  if (spec === undefined) return [required(path)];
  const errs: FieldError[] = [...nonNegative(spec.replicas, child(path, 'replicas'))];
  const selectorPath = child(path, 'selector');
  const sel = spec.selector;
  if (sel === undefined) errs.push(required(selectorPath));
  else {
    errs.push(...validateLabelSelector(sel, selectorPath));
    if (Object.keys(sel.matchLabels ?? {}).length + (sel.matchExpressions ?? []).length === 0) {
      errs.push(invalid(selectorPath, sel, `empty selector is invalid for ${kindLabel}`));
    }
  }
  const templatePath = child(path, 'template');
  const template = spec.template;
  if (template === undefined) errs.push(required(templatePath));
  else {
    if (sel !== undefined) {
      try {
        const selector = labelSelectorFromStruct(sel);
        if (
          selector.kind === 'requirements' &&
          selector.requirements.length > 0 &&
          !matchesLabels(selector, template.metadata?.labels)
        ) {
          errs.push(
            invalid(
              child(templatePath, 'metadata', 'labels'),
              template.metadata?.labels ?? {},
              '`selector` does not match template `labels`',
            ),
          );
        }
      } catch (err) {
        if (!(err instanceof SelectorError)) throw err;
        errs.push(invalid(selectorPath, sel, 'invalid label selector'));
      }
    }
    errs.push(...validatePodTemplateSpec(template, templatePath));
    // Controllers restart their pods; a pod that ends would be replaced forever.
    const restart = template.spec?.restartPolicy;
    if (restart !== undefined && restart !== 'Always') {
      errs.push(notSupported(child(templatePath, 'spec', 'restartPolicy'), restart, ['Always']));
    }
    if (template.spec?.activeDeadlineSeconds !== undefined) {
      errs.push(
        forbidden(
          child(templatePath, 'spec', 'activeDeadlineSeconds'),
          'activeDeadlineSeconds in ReplicaSet is not Supported',
        ),
      );
    }
  }
  errs.push(...nonNegative(spec.minReadySeconds, child(path, 'minReadySeconds')));
  return errs;
}

function percentOf(value: IntOrString | undefined): number | undefined {
  if (typeof value === 'number') return value;
  if (value === undefined || isValidPercent(value).length > 0) return undefined;
  return Number(value.slice(0, -1));
}

function validateIntOrPercent(value: IntOrString | undefined, path: FieldPath): FieldError[] {
  if (value === undefined) return [];
  if (typeof value === 'number') return nonNegative(value, path);
  return isValidPercent(value).map((msg) => invalid(path, value, msg));
}

function validateStrategy(strategy: DeploymentStrategy | undefined, path: FieldPath): FieldError[] {
  const s = strategy ?? {};
  switch (s.type) {
    case 'Recreate':
      return s.rollingUpdate === undefined
        ? []
        : [
            forbidden(
              child(path, 'rollingUpdate'),
              "may not be specified when strategy `type` is 'Recreate'",
            ),
          ];
    case 'RollingUpdate': {
      const ru = s.rollingUpdate;
      if (ru === undefined)
        return [required(child(path, 'rollingUpdate'), 'this should be defaulted and never be nil')];
      const up = child(path, 'rollingUpdate');
      const errs = [
        ...validateIntOrPercent(ru.maxUnavailable, child(up, 'maxUnavailable')),
        ...validateIntOrPercent(ru.maxSurge, child(up, 'maxSurge')),
      ];
      // With neither surge nor unavailability a rollout could never make progress.
      if (percentOf(ru.maxUnavailable) === 0 && percentOf(ru.maxSurge) === 0) {
        errs.push(
          invalid(child(up, 'maxUnavailable'), ru.maxUnavailable, 'may not be 0 when `maxSurge` is 0'),
        );
      }
      if (typeof ru.maxUnavailable === 'string' && (percentOf(ru.maxUnavailable) ?? 0) > 100) {
        errs.push(invalid(child(up, 'maxUnavailable'), ru.maxUnavailable, 'must not be greater than 100%'));
      }
      return errs;
    }
    default:
      return [notSupported(child(path, 'type'), s.type ?? '', ['Recreate', 'RollingUpdate'])];
  }
}

export function validateDeployment(d: Deployment): FieldError[] {
  const spec = d.spec;
  const errs = [
    ...validateObjectMeta(d.metadata, { namespaced: true, name: nameIsDNSSubdomain }),
    ...validateWorkloadSpec(spec, 'deployment', 'spec'),
  ];
  if (spec === undefined) return errs;
  errs.push(...validateStrategy(spec.strategy, 'spec.strategy'));
  errs.push(...nonNegative(spec.revisionHistoryLimit, 'spec.revisionHistoryLimit'));
  if (spec.progressDeadlineSeconds !== undefined) {
    errs.push(...nonNegative(spec.progressDeadlineSeconds, 'spec.progressDeadlineSeconds'));
    if (spec.progressDeadlineSeconds <= (spec.minReadySeconds ?? 0)) {
      errs.push(
        invalid(
          'spec.progressDeadlineSeconds',
          spec.progressDeadlineSeconds,
          'must be greater than minReadySeconds',
        ),
      );
    }
  }
  return errs;
}

/** apps/v1 selectors are immutable: changing one would orphan the existing pods. */
export function validateDeploymentUpdate(next: Deployment, prev: Deployment): FieldError[] {
  return [
    ...validateObjectMetaUpdate(next.metadata, prev.metadata),
    ...validateDeployment(next).filter((e) => !e.field.startsWith('metadata.')),
    ...immutable(next.spec?.selector, prev.spec?.selector, 'spec.selector'),
  ];
}

function validateReplicaCounts(
  status: Partial<
    Record<
      'replicas' | 'readyReplicas' | 'availableReplicas' | 'updatedReplicas' | 'fullyLabeledReplicas',
      number
    >
  > & {
    readonly observedGeneration?: number;
  },
  path: FieldPath,
): FieldError[] {
  const errs: FieldError[] = [];
  for (const [k, v] of Object.entries(status))
    if (typeof v === 'number') errs.push(...nonNegative(v, child(path, k)));
  const replicas = status.replicas ?? 0;
  for (const k of [
    'readyReplicas',
    'availableReplicas',
    'updatedReplicas',
    'fullyLabeledReplicas',
  ] as const) {
    const v = status[k];
    if (v !== undefined && v > replicas)
      errs.push(invalid(child(path, k), v, `cannot be greater than ${path}.replicas`));
  }
  if ((status.availableReplicas ?? 0) > (status.readyReplicas ?? 0)) {
    errs.push(
      invalid(
        child(path, 'availableReplicas'),
        status.availableReplicas,
        `cannot be greater than ${path}.readyReplicas`,
      ),
    );
  }
  return errs;
}

export function validateDeploymentStatus(status: DeploymentStatus | undefined): FieldError[] {
  const { conditions: _c, collisionCount, unavailableReplicas, ...counts } = status ?? {};
  return [
    ...validateReplicaCounts(counts, 'status'),
    ...nonNegative(unavailableReplicas, 'status.unavailableReplicas'),
    ...nonNegative(collisionCount, 'status.collisionCount'),
  ];
}

export function validateReplicaSet(rs: ReplicaSet): FieldError[] {
  return [
    ...validateObjectMeta(rs.metadata, { namespaced: true, name: nameIsDNSSubdomain }),
    ...validateWorkloadSpec(rs.spec, 'replicaset', 'spec'),
  ];
}

export function validateReplicaSetUpdate(next: ReplicaSet, prev: ReplicaSet): FieldError[] {
  return [
    ...validateObjectMetaUpdate(next.metadata, prev.metadata),
    ...validateReplicaSet(next).filter((e) => !e.field.startsWith('metadata.')),
    ...immutable(next.spec?.selector, prev.spec?.selector, 'spec.selector'),
  ];
}

export function validateReplicaSetStatus(status: ReplicaSet['status']): FieldError[] {
  const { conditions: _c, ...counts } = status ?? { replicas: 0 };
  return validateReplicaCounts(counts, 'status');
}

export function validateScale(scale: Scale): FieldError[] {
  return nonNegative(scale.spec?.replicas, 'spec.replicas');
}
