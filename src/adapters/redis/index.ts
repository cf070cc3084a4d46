export { RedisLimiterStore } from './limiter_store.js';
export type { RedisLimiterStoreOptions } from './limiter_store.js';
