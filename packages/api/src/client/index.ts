export type { ApiClient, ResourceClient } from './client.ts';
export type {
  AgentProtocol,
  ApiProtocol,
  CollectionTarget,
  ListOptions,
  LogChunk,
  LogOptions,
  ObjectTarget,
  PatchType,
  ResourceRef,
  WatchOptions,
  WriteOptions,
} from './protocol.ts';
export { agentActorName, apiActorName } from './protocol.ts';
