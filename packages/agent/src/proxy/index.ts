// The service proxy (kube-proxy's role): Services and ready endpoints as iptables rules.

export {
  chainPrefix,
  endpointChainName,
  markMasqChain,
  nodePortsChain,
  postroutingChain,
  serviceChainName,
  servicesChain,
} from './chain-names.ts';
export { missingJumps, readInstalled, removeAllChains, removeJumps, restoreChains } from './iptables.ts';
export type { ChainRef, InstalledChains, InstalledState, RestorePlan } from './restore-plan.ts';
export { jumpKey, planRestore } from './restore-plan.ts';
export type {
  ChainSet,
  JumpRule,
  ProxyEndpoint,
  ProxyRules,
  ProxyServicePort,
  Rule,
  TableName,
} from './rules.ts';
export {
  endpointProbability,
  jumpRules,
  jumpTarget,
  masqueradeMark,
  proxyRules,
  proxyServicePorts,
  proxyTables,
  renderRule,
  ruleCount,
} from './rules.ts';
export type { ProxySyncResult, ServiceProxyOptions } from './service-proxy.ts';
export {
  defaultFullSyncIntervalMs,
  defaultMaxSyncRetryDelayMs,
  defaultMinSyncIntervalMs,
  ServiceProxy,
  serviceSinkInterface,
} from './service-proxy.ts';
