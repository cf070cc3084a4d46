export { RedisLimiterStore } from './limiter_store.js';
export type { RedisLimiterStoreOptions } from './limiter_store.js';
export { RedisRevocationBus } from './revocation_bus.js';
export type { RedisRevocationBusOptions } from './revocation_bus.js';
