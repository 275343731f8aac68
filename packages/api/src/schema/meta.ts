/** Schemas of the meta/v1 types every resource embeds. */
import type {
  DeleteOptions,
  LabelSelector,
  LabelSelectorOperator,
  LabelSelectorRequirement,
  ListMeta,
  ManagedFieldsEntry,
  ObjectMeta,
  OwnerReference,
} from '../types/meta.ts';
import {
  always,
  anyValue,
  boolean,
  int64,
  list,
  map,
  mergeList,
  pointer,
  setList,
  string,
  struct,
  time,
} from './schema.ts';

const metaV1 = 'io.k8s.apimachinery.pkg.apis.meta.v1';

export const ownerReferenceSchema = struct<OwnerReference>(`${metaV1}.OwnerReference`, {
  apiVersion: always(string()),
  kind: always(string()),
  name: always(string()),
  uid: always(string()),
  controller: pointer(boolean),
  blockOwnerDeletion: pointer(boolean),
});

export const managedFieldsEntrySchema = struct<ManagedFieldsEntry>(`${metaV1}.ManagedFieldsEntry`, {
  manager: string(),
  operation: string(),
  apiVersion: string(),
  time: time,
  fieldsType: string(),
  fieldsV1: pointer(anyValue<unknown>()),
  subresource: string(),
});

export const objectMetaSchema = struct<ObjectMeta>(`${metaV1}.ObjectMeta`, {
  name: string(),
  generateName: string(),
  namespace: string(),
  selfLink: string(),
  uid: string(),
  resourceVersion: string(),
  generation: int64,
  creationTimestamp: time,
  deletionTimestamp: pointer(time),
  deletionGracePeriodSeconds: pointer(int64),
  labels: map(string()),
  annotations: map(string()),
  ownerReferences: mergeList(ownerReferenceSchema, 'uid'),
  finalizers: setList(string()),
  managedFields: list(managedFieldsEntrySchema),
});

export const listMetaSchema = struct<ListMeta>(`${metaV1}.ListMeta`, {
  selfLink: string(),
  resourceVersion: string(),
  continue: string(),
  remainingItemCount: pointer(int64),
});

export const labelSelectorRequirementSchema = struct<LabelSelectorRequirement>(
  `${metaV1}.LabelSelectorRequirement`,
  {
    key: always(string()),
    operator: always(string<LabelSelectorOperator>()),
    values: list(string()),
  },
);

export const labelSelectorSchema = struct<LabelSelector>(`${metaV1}.LabelSelector`, {
  matchLabels: map(string()),
  matchExpressions: list(labelSelectorRequirementSchema),
});

export const deleteOptionsSchema = struct<DeleteOptions>(`${metaV1}.DeleteOptions`, {
  apiVersion: string(),
  kind: string<'DeleteOptions'>(),
  gracePeriodSeconds: pointer(int64),
  preconditions: pointer(
    struct<NonNullable<DeleteOptions['preconditions']>>(`${metaV1}.Preconditions`, {
      uid: pointer(string()),
      resourceVersion: pointer(string()),
    }),
  ),
  orphanDependents: pointer(boolean),
  propagationPolicy: pointer(string<NonNullable<DeleteOptions['propagationPolicy']>>()),
  dryRun: list(string()),
});
