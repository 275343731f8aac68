// The vocabulary of the cluster: types, registry, discovery, quantities, selectors,
// decoding, defaults, validation, strategies, patches, Status errors and Tables.
// (The typed API client over NATS will join this package once the API server exists.)

export * from './client/index.ts';
export type { Decoded, DecodeOptions, DecodeTarget, FieldValidation } from './decode.ts';
export {
  decodeDeleteOptions,
  decodeFor,
  decodeManifests,
  decodeObject,
  ManifestError,
  maxManifestDocuments,
  maxRequestBodyBytes,
  maxYamlAliasCount,
  parseJsonBody,
  parseYamlBody,
  parseYamlDocuments,
} from './decode.ts';
export {
  applyDefaults,
  builtinPriorityClasses,
  defaultDeployment,
  defaultMaxSurge,
  defaultMaxUnavailable,
  defaultNamespace,
  defaultPod,
  defaultPodSpec,
  defaultProgressDeadlineSeconds,
  defaultPullPolicy,
  defaultReplicaSet,
  defaultRevisionHistoryLimit,
  defaultSchedulerName,
  defaultService,
  defaultTerminationGracePeriodSeconds,
  defaultTerminationMessagePath,
  imageTag,
  namespaceNameLabel,
} from './defaults.ts';
export type { AggregatedDiscoveryVersion, DiscoveryFormat } from './discovery.ts';
export {
  aggregatedDiscovery,
  aggregatedDiscoveryContentType,
  apiGroupDocument,
  apiGroupList,
  apiResourceList,
  apiVersions,
  negotiateDiscovery,
  parseAccept,
  serverVersion,
} from './discovery.ts';
export type { NewEvent } from './events.ts';
export { newEvent, objectReference } from './events.ts';
export type { FieldError, FieldErrorType, FieldPath } from './field-errors.ts';
export {
  causeTypeOf,
  child,
  duplicate,
  fieldErrorBody,
  forbidden as forbiddenField,
  formatFieldError,
  formatFieldErrors,
  index,
  internalError as internalFieldError,
  invalid as invalidField,
  key,
  notFound as notFoundField,
  notSupported,
  required,
  tooLong,
  tooMany,
} from './field-errors.ts';
export type { FieldRequirement, FieldSelector } from './fields.ts';
export {
  checkFieldSelector,
  fieldSet,
  formatFieldSelector,
  matchesFields,
  maxFieldSelectorChars,
  parseFieldSelector,
  selectableFields,
} from './fields.ts';
export type { Requirement, Selector, SelectorOperator } from './labels.ts';
export {
  everything,
  formatLabelSelector,
  formatLabels,
  isEverything,
  labelSelectorFromStruct,
  matchesLabels,
  maxSelectorChars,
  nothing,
  parseLabelSelector,
  requirement,
  SelectorError,
  selectorFromSet,
} from './labels.ts';
export * from './names.ts';
export type {
  AllocationRange,
  CIDR,
  IPAddress,
  IPFamily,
  PortRange,
  RangeSnapshot,
  ServiceIPRange,
} from './net.ts';
export {
  AddressRangeError,
  addressIndex,
  cidrContains,
  cidrSize,
  defaultNodePortRange,
  formatCIDR,
  formatIP,
  maxRangeSize,
  nthAddress,
  parseCIDR,
  parseIP,
  parsePortRange,
  portOutOfRangeMessage,
  RangeAllocator,
  serviceIPAt,
  serviceIPOffset,
  serviceIPRange,
} from './net.ts';
export {
  isNodeReady,
  matchesNodeSelector,
  matchesNodeSelectorTerm,
  nodeCondition,
  podFitsNodeAffinity,
  taintControlPlane,
  taintNodeNotReady,
  taintNodeUnreachable,
  taintNodeUnschedulable,
  toleratesTaint,
  tolerationSecondsFor,
  untoleratedTaints,
} from './nodes.ts';
export type { JsonSchema, OpenApiFlavor } from './openapi/definitions.ts';
export {
  openApiV2Document,
  openApiV2ProtobufAccept,
  openApiV2ProtobufContentType,
  openApiV3Document,
  openApiV3GroupVersions,
  openApiV3Index,
} from './openapi/documents.ts';
export { encodeOpenApiV2 } from './openapi/protobuf.ts';
export { controllerOf, controllerRef, isControlledBy } from './owners.ts';
export type { JsonPatchOperation } from './patch/json-patch.ts';
export {
  applyJsonPatch,
  jsonEqual,
  maxJsonPatchOperations,
  parseJsonPatch,
  parsePointer,
} from './patch/json-patch.ts';
export { applyMergePatch } from './patch/merge-patch.ts';
export type { PatchErrorKind } from './patch/patch-error.ts';
export { PatchError, patchErrorStatus } from './patch/patch-error.ts';
export { applyStrategicMergePatch } from './patch/strategic-merge-patch.ts';
export type { ResourceAmounts } from './pods.ts';
export {
  isPodActive,
  isPodAvailable,
  isPodReady,
  isPodTerminal,
  podCondition,
  podRequests,
  withCondition,
} from './pods.ts';
export type { Quantity, QuantityFormat } from './quantity.ts';
export {
  addQuantities,
  canonicalQuantity,
  compareQuantities,
  formatQuantity,
  isQuantity,
  maxQuantityChars,
  maxQuantityExponent,
  parseQuantity,
  QuantityError,
  quantityFormatMessage,
  quantityFromMilli,
  quantityFromValue,
  quantityMilliValue,
  quantitySuffixMessage,
  quantityValue,
  subtractQuantities,
} from './quantity.ts';
export type { ResourceInfo, SubresourceInfo, SubresourceName, Verb } from './registry.ts';
export {
  apiGroups,
  findResource,
  groupResourceOf,
  groupVersionOf,
  hasStatusSubresource,
  parseApiVersion,
  resourceByName,
  resourceForKind,
  resources,
  subresourceOf,
} from './registry.ts';
export {
  deploymentSchema,
  endpointSliceSchema,
  leaseSchema,
  replicaSetSchema,
  scaleSchema,
} from './schema/apps.ts';
export {
  bindingSchema,
  configMapSchema,
  endpointsSchema,
  eventSchema,
  namespaceSchema,
  nodeSchema,
  persistentVolumeClaimSchema,
  persistentVolumeSchema,
  podSchema,
  secretSchema,
  serviceSchema,
} from './schema/core.ts';
export { deleteOptionsSchema, objectMetaSchema } from './schema/meta.ts';
export type { NormalizeResult, ValueProblem } from './schema/normalize.ts';
export { maxReportedProblems, normalize } from './schema/normalize.ts';
export type { Field, ListPatch, ObjectSchema, Presence, Schema, Typed } from './schema/schema.ts';
export type { GroupKind, GroupResource } from './status.ts';
export {
  alreadyExists,
  badRequest,
  conflict,
  forbidden,
  generateNameConflict,
  gone,
  internalError,
  invalid,
  isAlreadyExists,
  isBadRequest,
  isConflict,
  isInvalid,
  isNotFound,
  isResourceExpired,
  isStatus,
  methodNotSupported,
  namespaceTerminating,
  notAcceptable,
  notFound,
  optimisticLockMessage,
  qualifiedKind,
  qualifiedResource,
  reasonOf,
  requestEntityTooLarge,
  resourceExpired,
  StatusError,
  serviceUnavailable,
  staleResourceVersion,
  statusErrorCode,
  successStatus,
  timeout,
  tooManyRequests,
  tooOldResourceVersion,
  unauthorized,
  unknownResource,
  unprocessablePatch,
  unsupportedMediaType,
} from './status.ts';
export type { CreateContext, DeletePlan } from './strategy.ts';
export {
  applyScale,
  bindPod,
  checkPreconditions,
  foregroundFinalizer,
  generateName,
  orphanFinalizer,
  planDelete,
  podQOSClass,
  prepareForCreate,
  prepareForFinalize,
  prepareForStatusUpdate,
  prepareForUpdate,
  readyToRemove,
  scaleOf,
  validateDeleteOptions,
} from './strategy.ts';
export type { IncludeObject, TableOptions } from './table.ts';
export { hasPrinter, nodeRoles, podSummary, toTable } from './table.ts';
export {
  ageSince,
  formatMicroTime,
  formatTime,
  humanDuration,
  microTimeFromMs,
  parseTime,
  timeFromMs,
  timeToMs,
} from './time.ts';
export type * from './types/apps.ts';
export type * from './types/autoscaling.ts';
export type * from './types/coordination.ts';
export type * from './types/core.ts';
export { volumeSourceKeys } from './types/core.ts';
export type * from './types/discovery.ts';
export type * from './types/discovery-docs.ts';
export type * from './types/meta.ts';
export { validateScale } from './validation/apps.ts';
export { validateBinding } from './validation/pod.ts';
export {
  invalidObject,
  validateCreate,
  validateStatusUpdate,
  validateUpdate,
} from './validation/validate.ts';
