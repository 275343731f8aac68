export type { ActorDefinition, ActorSystemOptions, AskOptions } from './actor-system.ts';
export { ActorHost, ActorRef, ActorSystem, defaultAskTimeoutMs } from './actor-system.ts';
export { AssertionError, assert, assertNever } from './assert.ts';
export type { BackoffPolicy } from './backoff.ts';
export { backoffDelayMs, defaultBackoff, sleep } from './backoff.ts';
export type { StreamOptions } from './client-stream.ts';
export { ClientStream, defaultStreamOptions } from './client-stream.ts';
export { decode, encode } from './codec.ts';
export type { NatsConnection, NatsOptions } from './connection.ts';
export { connectNats } from './connection.ts';
export type { WireError } from './errors.ts';
export {
  ConnectionClosedError,
  DeadlineExceededError,
  FlotillaError,
  fromWireError,
  NoRespondersError,
  RemoteError,
  registerRemoteError,
  ShuttingDownError,
  StreamError,
  toWireError,
  UnknownMethodError,
} from './errors.ts';
export type {
  FailpointAction,
  FailpointName,
  FailpointProtocol,
  FailpointSpec,
  FailpointState,
  FailpointStatus,
} from './failpoints.ts';
export {
  checkFailpointSpec,
  clearFailpoint,
  FailpointError,
  failpoint,
  failpointEnabled,
  failpointNames,
  failpointStatus,
  failpointsActorName,
  failpointsArmed,
  isFailpointName,
  maxFailpointDelayMs,
  parseFailpointEnv,
  serveFailpoints,
  setFailpoint,
} from './failpoints.ts';
export type { Frame } from './frames.ts';
export { PROTOCOL_VERSION, parseFrame } from './frames.ts';
export type { Logger, LoggerOptions } from './logger.ts';
export { createLogger, silentLogger } from './logger.ts';
export { Counter, createRegistry, Gauge, Histogram, metricOnce, Registry } from './metrics.ts';
export type {
  Ask,
  AskMethods,
  Handler,
  Handlers,
  ItemOf,
  Protocol,
  ReqOf,
  RequestContext,
  ResOf,
  Stream,
  StreamMethods,
  StreamSink,
  Tell,
  TellMethods,
} from './protocol.ts';
export { ask, stream, tell } from './protocol.ts';
export { exitOnSignals } from './shutdown.ts';
