export type { ApiServerDeps } from './api-server.ts';
export { ApiServer } from './api-server.ts';
export type { ApiServerConfig } from './config.ts';
export { ConfigError, configEnvVar, defaultConfig, parseConfig } from './config.ts';
export { collectionPrefix, objectKey, registryPrefix, resourcePrefix } from './storage/keys.ts';
