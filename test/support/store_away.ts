import { MemoryRecordStore } from '../../src/adapters/index.js';
import { GatehouseError, type Clock, type RecordStore } from '../../src/core/index.js';

/**
 * A memory record store that can be taken away: while away, every call but `close` rejects with
 * ERR_STORE_UNAVAILABLE, as PostgreSQL's store does when the server cannot be reached.
 *
 * @example
 * const { store, setAway } = storeThatCanGoAway(clock);
 * setAway(true); // the next get/list/write rejects
 */
export function storeThatCanGoAway(clock: Clock): { store: RecordStore; setAway(away: boolean): void } {
  const inner = new MemoryRecordStore({ clock });
  let away = false;
  const store = new Proxy(inner, {
    get(target, name, receiver) {
      const value = Reflect.get(target, name, receiver) as unknown;
      if (typeof value !== 'function' || name === 'close') return value;
      return (...args: unknown[]) => {
        if (away) return Promise.reject(new GatehouseError('ERR_STORE_UNAVAILABLE', { detail: 'test: away' }));
        return (value as (...a: unknown[]) => unknown).apply(target, args);
      };
    },
  });
  return { store, setAway: (value) => (away = value) };
}
