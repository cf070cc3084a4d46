export { configSchema } from './schema.js';
export type { Config, ConfigInput } from './schema.js';
export { loadConfig, resolveInDataDir } from './load.js';
export { changedKeys } from './reload.js';
export type { LoadOptions } from './load.js';
export {
  envNameFor,
  ENV_PREFIX,
  processEnvironment,
  threadPoolSize,
  rootKeyFromEnvironment,
  configFileFromEnvironment,
} from './env.js';
export { connectionTls, isLoopbackHost } from './connection_tls.js';
export { renderConfigurationDoc } from './docs.js';
