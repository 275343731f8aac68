/**
 * meta/v1: the object metadata every resource carries, lists, selectors, Status,
 * DeleteOptions, watch events and server-side Tables.
 * https://kubernetes.io/docs/reference/kubernetes-api/common-definitions/object-meta/
 */

/** RFC 3339 time in UTC with second precision, e.g. `2024-05-01T10:00:00Z` (metav1.Time). */
export type Time = string;
/** RFC 3339 time in UTC with microsecond precision, e.g. `2024-05-01T10:00:00.123456Z`. */
export type MicroTime = string;
/** A resource quantity in its string form, e.g. `500m`, `128Mi` (see quantity.ts). */
export type QuantityString = string;
/** An int-or-string field: a port number or a port name, a count or a percentage. */
export type IntOrString = number | string;

export type OwnerReference = {
  readonly apiVersion: string;
  readonly kind: string;
  readonly name: string;
  readonly uid: string;
  readonly controller?: boolean;
  readonly blockOwnerDeletion?: boolean;
};

export type ManagedFieldsEntry = {
  readonly manager?: string;
  readonly operation?: string;
  readonly apiVersion?: string;
  readonly time?: Time;
  readonly fieldsType?: string;
  readonly fieldsV1?: unknown;
  readonly subresource?: string;
};

export type ObjectMeta = {
  readonly name?: string;
  readonly generateName?: string;
  readonly namespace?: string;
  readonly uid?: string;
  readonly resourceVersion?: string;
  readonly generation?: number;
  readonly creationTimestamp?: Time;
  readonly deletionTimestamp?: Time;
  readonly deletionGracePeriodSeconds?: number;
  readonly labels?: Readonly<Record<string, string>>;
  readonly annotations?: Readonly<Record<string, string>>;
  readonly ownerReferences?: readonly OwnerReference[];
  readonly finalizers?: readonly string[];
  readonly managedFields?: readonly ManagedFieldsEntry[];
  readonly selfLink?: string;
};

export type ListMeta = {
  readonly resourceVersion?: string;
  readonly continue?: string;
  readonly remainingItemCount?: number;
  readonly selfLink?: string;
};

export type LabelSelectorOperator = 'In' | 'NotIn' | 'Exists' | 'DoesNotExist';

export type LabelSelectorRequirement = {
  readonly key: string;
  readonly operator: LabelSelectorOperator;
  readonly values?: readonly string[];
};

export type LabelSelector = {
  readonly matchLabels?: Readonly<Record<string, string>>;
  readonly matchExpressions?: readonly LabelSelectorRequirement[];
};

/** Any top-level object: what every resource has in common. */
export type KubeObject = {
  readonly apiVersion: string;
  readonly kind: string;
  readonly metadata: ObjectMeta;
};

export type KubeList<T> = {
  readonly apiVersion: string;
  readonly kind: string;
  readonly metadata: ListMeta;
  readonly items: readonly T[];
};

/** The reasons the API server puts in a failed Status (metav1.StatusReason). */
export type StatusReason =
  | ''
  | 'Unauthorized'
  | 'Forbidden'
  | 'NotFound'
  | 'AlreadyExists'
  | 'Conflict'
  | 'Gone'
  | 'Invalid'
  | 'ServerTimeout'
  | 'StoreReadError'
  | 'Timeout'
  | 'TooManyRequests'
  | 'BadRequest'
  | 'MethodNotAllowed'
  | 'NotAcceptable'
  | 'RequestEntityTooLarge'
  | 'UnsupportedMediaType'
  | 'InternalError'
  | 'Expired'
  | 'ServiceUnavailable';

/** The cause types of a 422 (field.ErrorType as it appears on the wire). */
export type CauseType =
  | 'FieldValueNotFound'
  | 'FieldValueRequired'
  | 'FieldValueDuplicate'
  | 'FieldValueInvalid'
  | 'FieldValueNotSupported'
  | 'FieldValueForbidden'
  | 'FieldValueTooLong'
  | 'FieldValueTooMany'
  | 'FieldValueTypeInvalid'
  | 'InternalError'
  | 'UnexpectedServerResponse'
  | 'FieldManagerConflict'
  | 'ResourceVersionTooLarge'
  | 'NamespaceTerminating';

export type StatusCause = {
  readonly reason?: CauseType;
  readonly message?: string;
  readonly field?: string;
};

export type StatusDetails = {
  readonly name?: string;
  readonly group?: string;
  /** The resource (plural) for most errors; the kind for 422 Invalid, as Kubernetes does. */
  readonly kind?: string;
  readonly uid?: string;
  readonly causes?: readonly StatusCause[];
  readonly retryAfterSeconds?: number;
};

export type Status = {
  readonly apiVersion: 'v1';
  readonly kind: 'Status';
  readonly metadata: ListMeta;
  readonly status: 'Success' | 'Failure';
  readonly message?: string;
  readonly reason?: StatusReason;
  readonly details?: StatusDetails;
  readonly code: number;
};

export type Preconditions = {
  readonly uid?: string;
  readonly resourceVersion?: string;
};

export type DeletionPropagation = 'Orphan' | 'Background' | 'Foreground';

export type DeleteOptions = {
  readonly apiVersion?: string;
  readonly kind?: 'DeleteOptions';
  readonly gracePeriodSeconds?: number;
  readonly preconditions?: Preconditions;
  readonly orphanDependents?: boolean;
  readonly propagationPolicy?: DeletionPropagation;
  readonly dryRun?: readonly string[];
};

export type WatchEventType = 'ADDED' | 'MODIFIED' | 'DELETED' | 'BOOKMARK' | 'ERROR';

/** One event of a watch stream; `object` is a Status when the type is ERROR. */
export type WatchEvent<T = KubeObject> =
  | { readonly type: 'ADDED' | 'MODIFIED' | 'DELETED' | 'BOOKMARK'; readonly object: T }
  | { readonly type: 'ERROR'; readonly object: Status };

export type TableColumnDefinition = {
  readonly name: string;
  readonly type: 'string' | 'integer' | 'number' | 'boolean' | 'date';
  readonly format: string;
  readonly description: string;
  /** 0: always shown; higher: only with `-o wide`. */
  readonly priority: number;
};

export type TableRowCondition = {
  readonly type: 'Completed';
  readonly status: 'True' | 'False' | 'Unknown';
  readonly reason?: string;
  readonly message?: string;
};

export type PartialObjectMetadata = {
  readonly apiVersion: 'meta.k8s.io/v1';
  readonly kind: 'PartialObjectMetadata';
  readonly metadata: ObjectMeta;
};

export type TableRow = {
  readonly cells: readonly (string | number | boolean)[];
  readonly conditions?: readonly TableRowCondition[];
  readonly object?: KubeObject | PartialObjectMetadata;
};

export type Table = {
  readonly apiVersion: 'meta.k8s.io/v1';
  readonly kind: 'Table';
  readonly metadata: ListMeta;
  readonly columnDefinitions: readonly TableColumnDefinition[];
  readonly rows: readonly TableRow[];
};
