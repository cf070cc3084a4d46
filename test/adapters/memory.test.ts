import { describe, expect, it } from 'vitest';
import { MemoryLeases, MemoryRecordStore } from '../../src/adapters/index.js';
import { ManualClock, runUnderLease } from '../../src/core/index.js';
import { recordStoreContract } from './record_store.contract.js';

recordStoreContract('memory', async () => {
  const clock = new ManualClock(Date.parse('2026-01-01T00:00:00Z'));
  const store = new MemoryRecordStore({ clock });
  return { store, clock, cleanup: () => store.close() };
});

describe('MemoryRecordStore', () => {
  it('hands out copies, so callers cannot change stored values by mutation', async () => {
    const store = new MemoryRecordStore({ clock: new ManualClock(0) });
    const value = { list: [1] };
    await store.write([{ op: 'insert', collection: 'c', key: 'k', value }]);
    value.list.push(2);
    const got = await store.get<{ list: number[] }>('c', 'k');
    got?.value.list.push(3);
    expect((await store.get('c', 'k'))?.value).toEqual({ list: [1] });
  });
});

describe('MemoryLeases', () => {
  it('holds a name once until released', async () => {
    const leases = new MemoryLeases();
    const a = await leases.tryAcquire('job');
    expect(a?.name).toBe('job');
    expect(await leases.tryAcquire('job')).toBeUndefined();
    expect(await leases.tryAcquire('other')).toBeDefined();
    await a?.release();
    await a?.release();
    expect(await runUnderLease(leases, 'job', async () => {})).toBe(true);
    expect(await leases.tryAcquire('job')).toBeDefined();
  });
});
