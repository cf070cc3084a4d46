export { decide, decideMicros, emissionIntervalUs, isIdle, toMicros, validCost, waitMicros } from './gcra.js';
export type { GcraDecision } from './gcra.js';
export type { RateLimit, RateDecision, ConsumeRequest, LimiterStore } from './ports.js';
export { MemoryLimiterStore } from './memory_store.js';
export type { MemoryLimiterStoreOptions } from './memory_store.js';
export { GuardedStore } from './guarded_store.js';
export type { GuardedStoreOptions } from './guarded_store.js';
export { FallbackLimiterStore } from './fallback_store.js';
export type { FallbackLimiterStoreOptions } from './fallback_store.js';
export { RollingWindow } from './rolling_window.js';
export { CircuitBreaker, CircuitOpenError } from './breaker.js';
export type {
  BreakerState,
  BreakerReason,
  BreakerStateChange,
  BreakerPermit,
  BreakerRejection,
  CircuitBreakerOptions,
  ExecuteOptions,
} from './breaker.js';
export { addressKey, plainAddress } from './address_key.js';
export { retryAfterSeconds, emissionIntervalMs } from './retry_after.js';
export { Budgets } from './budgets.js';
export type { Budget, BudgetCost, BudgetRefusal } from './budgets.js';
