// Networking building blocks shared by the agent, the cluster DNS and the harness that
// puts several hosts on one machine: commands in namespaces, links, routes, host-gateway
// pod routes, the underlay, and the Service catalog the proxy and DNS read.

export type { NetCommandOptions } from './command.ts';
export {
  defaultNetCommandTimeoutMs,
  inNetns,
  isAlreadyGone,
  removeIgnoringMissing,
  runNet,
} from './command.ts';
export { InvalidNetworkSpecError, NetCommandError, RangeConflictError } from './errors.ts';
export type { LinkEnd } from './links.ts';
export {
  addAddress,
  addBridge,
  addVethPair,
  attachToBridge,
  checkInterfaceName,
  deleteLink,
  linkExists,
  maxInterfaceNameBytes,
  readSysctl,
  setLinkUp,
  setSysctl,
} from './links.ts';
export {
  checkNetnsName,
  createNetns,
  deleteNetns,
  listNetns,
  netnsEtcDir,
  netnsExists,
  netnsPids,
  netnsRunDir,
} from './netns.ts';
export type {
  NodePodNetwork,
  NodeRouteProblem,
  PodRouterOptions,
  PodRouteSyncResult,
  RoutePlan,
} from './pod-routes.ts';
export { desiredPodRoutes, nodePodNetworks, PodRouter, planPodRoutes } from './pod-routes.ts';
export type { Route } from './routes.ts';
export {
  canonicalCIDR,
  checkRangeFree,
  cidrsOverlap,
  flotillaRouteProtocol,
  guardRouteMetric,
  installRoute,
  listOwnRoutes,
  removeRoute,
  routeKey,
} from './routes.ts';
export type {
  EndpointPortView,
  EndpointView,
  ServiceAddress,
  ServiceCatalogEvent,
  ServiceCatalogSource,
  ServiceObject,
  ServicePortView,
  ServiceView,
  SessionAffinity,
} from './service-catalog.ts';
export {
  compareIPs,
  defaultAffinityTimeoutSeconds,
  InMemoryServiceSource,
  ServiceCatalog,
  ServiceSourceFullError,
  serviceKey,
  serviceNameLabel,
  serviceView,
  UnknownServiceObjectError,
} from './service-catalog.ts';
export type { UnderlayHost, UnderlayOptions } from './underlay.ts';
export { destroyUnderlay, hostNetnsName, switchNetnsName, Underlay } from './underlay.ts';
