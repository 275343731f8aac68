export type { ApiClient, ResourceClient } from './client.ts';
export type { EventRecorderOptions } from './event-recorder.ts';
export { EventRecorder } from './event-recorder.ts';
export type { NatsApiClientOptions } from './nats-api-client.ts';
export { defaultApiTimeoutMs, NatsApiClient } from './nats-api-client.ts';
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
