// The package's public entry point: only deliberate exports.
export { GatehouseError, isGatehouseError, systemClock, ManualClock } from './core/index.js';
export type { Clock, ErrorCode, Logger } from './core/index.js';
export { loadConfig } from './config/index.js';
export type { Config, ConfigInput } from './config/index.js';
