import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { isGatehouseError, type ManualClock, type RecordStore, type WriteOp } from '../../src/core/index.js';

/** What a contract run needs: a fresh, empty store on a ManualClock, and how to throw it away. */
export interface ContractStore {
  store: RecordStore;
  clock: ManualClock;
  cleanup(): Promise<void>;
}

async function codeOf(promise: Promise<unknown>): Promise<string> {
  try {
    await promise;
  } catch (err) {
    if (isGatehouseError(err)) return err.code;
    throw err;
  }
  throw new Error('expected the promise to reject');
}

/**
 * The RecordStore contract (src/core/records.ts): every adapter runs this same suite.
 *
 * @example
 * recordStoreContract('memory', async () => { const clock = new ManualClock(0); return { store: new MemoryRecordStore({ clock }), clock, cleanup: async () => {} }; });
 */
export function recordStoreContract(name: string, makeStore: () => Promise<ContractStore>): void {
  describe(`RecordStore contract: ${name}`, () => {
    let store: RecordStore;
    let clock: ManualClock;
    let cleanup: () => Promise<void>;

    beforeEach(async () => {
      ({ store, clock, cleanup } = await makeStore());
    });
    afterEach(async () => {
      await cleanup();
    });

    it('inserts at version 1, gets it back, and refuses a second insert', async () => {
      const [rec] = await store.write([{ op: 'insert', collection: 'c', key: 'k', value: { a: 1 } }]);
      expect(rec).toEqual({ collection: 'c', key: 'k', value: { a: 1 }, version: 1, expiresAt: null });
      expect(await store.get('c', 'k')).toEqual(rec);
      expect(await codeOf(store.write([{ op: 'insert', collection: 'c', key: 'k', value: 2 }]))).toBe(
        'ERR_STORE_CONFLICT',
      );
      expect((await store.get('c', 'k'))?.value).toEqual({ a: 1 });
      expect(await store.get('c', 'missing')).toBeUndefined();
      expect(await store.get('other', 'k')).toBeUndefined();
    });

    it('updates with and without expectVersion, bumping the version by one', async () => {
      await store.write([{ op: 'insert', collection: 'c', key: 'k', value: 1 }]);
      const [v2] = await store.write([{ op: 'update', collection: 'c', key: 'k', value: 2, expectVersion: 1 }]);
      expect(v2?.version).toBe(2);
      const [v3] = await store.write([{ op: 'update', collection: 'c', key: 'k', value: 3 }]);
      expect(v3).toMatchObject({ value: 3, version: 3 });
      expect(await codeOf(store.write([{ op: 'update', collection: 'c', key: 'k', value: 4, expectVersion: 2 }]))).toBe(
        'ERR_STORE_CONFLICT',
      );
      expect(await codeOf(store.write([{ op: 'update', collection: 'c', key: 'nope', value: 1 }]))).toBe(
        'ERR_STORE_NOT_FOUND',
      );
      expect(await store.get('c', 'k')).toMatchObject({ value: 3, version: 3 });
    });

    it('upserts: creates at version 1, then bumps the version', async () => {
      const [a] = await store.write([{ op: 'upsert', collection: 'c', key: 'k', value: 'a' }]);
      expect(a).toMatchObject({ value: 'a', version: 1, expiresAt: null });
      const [b] = await store.write([{ op: 'upsert', collection: 'c', key: 'k', value: 'b' }]);
      expect(b).toMatchObject({ value: 'b', version: 2 });
      expect(await store.get('c', 'k')).toMatchObject({ value: 'b', version: 2 });
    });

    it('deletes with the preconditions of the port', async () => {
      await store.write([{ op: 'insert', collection: 'c', key: 'k', value: 1 }]);
      expect(await codeOf(store.write([{ op: 'delete', collection: 'c', key: 'k', expectVersion: 7 }]))).toBe(
        'ERR_STORE_CONFLICT',
      );
      expect(await store.write([{ op: 'delete', collection: 'c', key: 'k', expectVersion: 1 }])).toEqual([]);
      expect(await store.get('c', 'k')).toBeUndefined();
      // Deleting a missing record is a no-op without expectVersion, NOT_FOUND with it.
      expect(await store.write([{ op: 'delete', collection: 'c', key: 'k' }])).toEqual([]);
      expect(await codeOf(store.write([{ op: 'delete', collection: 'c', key: 'k', expectVersion: 1 }]))).toBe(
        'ERR_STORE_NOT_FOUND',
      );
      const [again] = await store.write([{ op: 'insert', collection: 'c', key: 'k', value: 2 }]);
      expect(again?.version).toBe(1);
    });

    it('applies a multi-op write atomically: a failing op leaves nothing applied', async () => {
      await store.write([{ op: 'insert', collection: 'c', key: 'taken', value: 0 }]);
      await store.write([{ op: 'insert', collection: 'c', key: 'u', value: 'old' }]);
      const code = await codeOf(
        store.write([
          { op: 'insert', collection: 'c', key: 'new', value: 1 },
          { op: 'update', collection: 'c', key: 'u', value: 'changed' },
          { op: 'delete', collection: 'c', key: 'taken' },
          { op: 'insert', collection: 'c', key: 'u', value: 'clash' },
        ]),
      );
      expect(code).toBe('ERR_STORE_CONFLICT');
      expect(await store.get('c', 'new')).toBeUndefined();
      expect(await store.get('c', 'u')).toMatchObject({ value: 'old', version: 1 });
      expect(await store.get('c', 'taken')).toMatchObject({ value: 0 });
    });

    it('lets later ops of one write see earlier ones and returns non-delete results in order', async () => {
      const results = await store.write([
        { op: 'insert', collection: 'c', key: 'a', value: 1 },
        { op: 'update', collection: 'c', key: 'a', value: 2, expectVersion: 1 },
        { op: 'upsert', collection: 'd', key: 'b', value: 3 },
        { op: 'delete', collection: 'c', key: 'a', expectVersion: 2 },
        { op: 'insert', collection: 'c', key: 'a', value: 4 },
      ]);
      expect(results.map((r) => [r.collection, r.key, r.value, r.version])).toEqual([
        ['c', 'a', 1, 1],
        ['c', 'a', 2, 2],
        ['d', 'b', 3, 1],
        ['c', 'a', 4, 1],
      ]);
      expect(await store.get('c', 'a')).toMatchObject({ value: 4, version: 1 });
      expect(await store.write([])).toEqual([]);
    });

    it('lists live records in byte order with prefix, after and limit', async () => {
      const keys = ['b', 'a', 'ab', 'a/2', 'a/10', 'B', 'é', 'z', '\u{1F600}', '\uFF21'];
      await store.write(keys.map((key) => ({ op: 'insert' as const, collection: 'l', key, value: key })));
      await store.write([{ op: 'insert', collection: 'other', key: 'a', value: 0 }]);
      const bytes = [...keys].sort((x, y) => Buffer.compare(Buffer.from(x), Buffer.from(y)));
      expect((await store.list('l')).map((r) => r.key)).toEqual(bytes);
      expect((await store.list('l', { prefix: 'a' })).map((r) => r.key)).toEqual(['a', 'a/10', 'a/2', 'ab']);
      expect((await store.list('l', { prefix: 'a/' })).map((r) => r.key)).toEqual(['a/10', 'a/2']);
      expect((await store.list('l', { prefix: 'a', after: 'a/10', limit: 2 })).map((r) => r.key)).toEqual([
        'a/2',
        'ab',
      ]);
      expect((await store.list('l', { after: 'z' })).map((r) => r.key)).toEqual(bytes.slice(bytes.indexOf('z') + 1));
      expect(await store.list('l', { limit: 0 })).toEqual([]);
      expect(await store.list('l', { prefix: 'q' })).toEqual([]);
      expect(await store.list('empty')).toEqual([]);
      const page = await store.list<string>('l', { limit: 3 });
      expect(page.map((r) => r.value)).toEqual(bytes.slice(0, 3));
      expect(page[0]).toMatchObject({ collection: 'l', version: 1, expiresAt: null });
    });

    it('treats a record at or past its expiry as gone, and purges it for good', async () => {
      const t0 = clock.now();
      await store.write([
        { op: 'insert', collection: 'e', key: 'short', value: 1, expiresAt: t0 + 1000 },
        { op: 'insert', collection: 'e', key: 'long', value: 2, expiresAt: t0 + 5000 },
        { op: 'insert', collection: 'e', key: 'never', value: 3 },
      ]);
      clock.advance(999);
      expect(await store.get('e', 'short')).toMatchObject({ value: 1, expiresAt: t0 + 1000 });
      clock.advance(1);
      expect(await store.get('e', 'short')).toBeUndefined();
      expect((await store.list('e')).map((r) => r.key)).toEqual(['long', 'never']);
      expect(await codeOf(store.write([{ op: 'update', collection: 'e', key: 'short', value: 9 }]))).toBe(
        'ERR_STORE_NOT_FOUND',
      );
      expect(await store.write([{ op: 'delete', collection: 'e', key: 'short' }])).toEqual([]);
      // Insert treats an expired key as free; upsert starts it over at version 1.
      const [reborn] = await store.write([{ op: 'insert', collection: 'e', key: 'short', value: 'new' }]);
      expect(reborn).toMatchObject({ version: 1, expiresAt: null });
      clock.advance(4000);
      const [fresh] = await store.write([{ op: 'upsert', collection: 'e', key: 'long', value: 'again' }]);
      expect(fresh).toMatchObject({ version: 1, expiresAt: null });
      await store.write([{ op: 'insert', collection: 'e', key: 'gone', value: 1, expiresAt: clock.now() }]);
      expect(await store.get('e', 'gone')).toBeUndefined();
      expect(await store.purgeExpired()).toBe(1);
      expect(await store.purgeExpired()).toBe(0);
      expect((await store.list('e')).map((r) => r.key)).toEqual(['long', 'never', 'short']);
    });

    it('keeps a live record expiry when update or upsert omit it, and changes it when given', async () => {
      const t0 = clock.now();
      await store.write([{ op: 'insert', collection: 'x', key: 'k', value: 1, expiresAt: t0 + 100 }]);
      const [kept] = await store.write([{ op: 'update', collection: 'x', key: 'k', value: 2 }]);
      expect(kept?.expiresAt).toBe(t0 + 100);
      const [upserted] = await store.write([{ op: 'upsert', collection: 'x', key: 'k', value: 3 }]);
      expect(upserted?.expiresAt).toBe(t0 + 100);
      const [moved] = await store.write([{ op: 'update', collection: 'x', key: 'k', value: 4, expiresAt: t0 + 500 }]);
      expect(moved?.expiresAt).toBe(t0 + 500);
      const [forever] = await store.write([{ op: 'upsert', collection: 'x', key: 'k', value: 5, expiresAt: null }]);
      expect(forever?.expiresAt).toBeNull();
      clock.advance(1000);
      expect(await store.get('x', 'k')).toMatchObject({ value: 5, version: 5, expiresAt: null });
    });

    it('counts atomically from 0, and counters never expire', async () => {
      expect(await store.counter('n', 'hits')).toBe(0);
      expect(await store.increment('n', 'hits', 1)).toBe(1);
      expect(await store.increment('n', 'hits', 5)).toBe(6);
      expect(await store.increment('n', 'hits', -2)).toBe(4);
      expect(await store.increment('n', 'other', 2)).toBe(2);
      const parallel = await Promise.all(Array.from({ length: 20 }, () => store.increment('n', 'par', 1)));
      expect([...parallel].sort((a, b) => a - b)).toEqual(Array.from({ length: 20 }, (_, i) => i + 1));
      clock.advance(10 * 365 * 86_400_000);
      await store.purgeExpired();
      expect(await store.counter('n', 'hits')).toBe(4);
      expect(await store.counter('n', 'par')).toBe(20);
      expect(await store.get('n', 'hits')).toBeUndefined();
    });

    it('round-trips JSON values: nesting, unicode, numbers, null, arrays', async () => {
      const value = {
        nested: { deep: { list: [1, 'two', { three: [true, false, null] }] } },
        unicode: 'héllo \u{1F510} 日本語 \u0000 "quotes" \\ \n',
        numbers: [0, -1, 1.5, 1e21, Number.MAX_SAFE_INTEGER],
        empty: { obj: {}, arr: [], str: '' },
      };
      for (const [key, v] of [
        ['obj', value],
        ['str', 'plain'],
        ['num', 42],
        ['null', null],
        ['arr', [1, [2, [3]]]],
        ['bool', false],
      ] as const) {
        await store.write([{ op: 'insert', collection: 'j', key, value: v }]);
        expect((await store.get('j', key))?.value).toEqual(v);
      }
      expect(Object.keys((await store.get<typeof value>('j', 'obj'))?.value ?? {})).toEqual(Object.keys(value));
      const [unicodeKey] = await store.write([{ op: 'insert', collection: 'j', key: 'clé/\u{1F511}', value: 1 }]);
      expect(await store.get('j', 'clé/\u{1F511}')).toEqual(unicodeKey);
    });

    it('gives exactly one winner among 50 parallel updates with the same expectVersion', async () => {
      await store.write([{ op: 'insert', collection: 'race', key: 'k', value: -1 }]);
      const outcomes = await Promise.allSettled(
        Array.from({ length: 50 }, (_, i) =>
          store.write([{ op: 'update', collection: 'race', key: 'k', value: i, expectVersion: 1 }]),
        ),
      );
      const winners = outcomes.filter((o) => o.status === 'fulfilled');
      expect(winners).toHaveLength(1);
      for (const o of outcomes) {
        if (o.status === 'rejected') expect(isGatehouseError(o.reason, 'ERR_STORE_CONFLICT')).toBe(true);
      }
      const winner = (winners[0] as PromiseFulfilledResult<Array<{ value: unknown }>>).value[0];
      expect(await store.get('race', 'k')).toMatchObject({ version: 2, value: winner?.value });
    });

    it('keeps multi-op writes atomic under concurrency: losers leave no partial effects', async () => {
      await store.write([{ op: 'insert', collection: 'race', key: 'head', value: 0 }]);
      const outcomes = await Promise.allSettled(
        Array.from({ length: 20 }, (_, i) =>
          store.write([
            { op: 'insert', collection: 'race', key: `side-${String(i).padStart(2, '0')}`, value: i },
            { op: 'update', collection: 'race', key: 'head', value: i, expectVersion: 1 },
          ]),
        ),
      );
      expect(outcomes.filter((o) => o.status === 'fulfilled')).toHaveLength(1);
      const sides = await store.list('race', { prefix: 'side-' });
      expect(sides).toHaveLength(1);
      expect(await store.get('race', 'head')).toMatchObject({ version: 2, value: sides[0]?.value });
    });

    it('gives exactly one winner among parallel inserts of one key', async () => {
      const outcomes = await Promise.allSettled(
        Array.from({ length: 20 }, (_, i) => store.write([{ op: 'insert', collection: 'race', key: 'new', value: i }])),
      );
      expect(outcomes.filter((o) => o.status === 'fulfilled')).toHaveLength(1);
      expect(await store.get('race', 'new')).toMatchObject({ version: 1 });
    });

    it('refuses malformed names, values and limits before touching storage', async () => {
      expect(await codeOf(store.get('', 'k'))).toBe('ERR_INTERNAL');
      expect(await codeOf(store.get('c', 'x'.repeat(513)))).toBe('ERR_INTERNAL');
      expect(await codeOf(store.write([{ op: 'insert', collection: 'c', key: 'k', value: undefined }]))).toBe(
        'ERR_INTERNAL',
      );
      expect(await codeOf(store.write([{ op: 'insert', collection: 'c', key: 'k\n', value: 1 }]))).toBe('ERR_INTERNAL');
      expect(await codeOf(store.list('c', { limit: -1 }))).toBe('ERR_INTERNAL');
      const bogus = { op: 'replace', collection: 'c', key: 'k', value: 1 } as unknown as WriteOp;
      expect(await codeOf(store.write([bogus]))).toBe('ERR_INTERNAL');
      expect(await codeOf(store.increment('c', 'k', 0.5))).toBe('ERR_INTERNAL');
      expect(await store.list('c')).toEqual([]);
    });

    it('snapshot: one consistent read of live records and counters; restore into an empty store only', async () => {
      await store.write([
        { op: 'insert', collection: 'c', key: 'a', value: { n: 1 } },
        { op: 'insert', collection: 'c', key: 'gone', value: 0, expiresAt: clock.now() + 1000 },
        { op: 'insert', collection: 'd', key: 'ü/x', value: [1, 'two'], expiresAt: clock.now() + 60_000 },
      ]);
      await store.write([{ op: 'update', collection: 'c', key: 'a', value: { n: 2 } }]);
      await store.increment('n', 'hits', 7);
      clock.advance(1000);
      const iterator = store.snapshot!()[Symbol.asyncIterator]();
      const first = await iterator.next();
      // Writes after the snapshot started are not part of it.
      await store.write([{ op: 'insert', collection: 'c', key: 'late', value: 1 }]);
      await store.write([{ op: 'update', collection: 'c', key: 'a', value: { n: 3 } }]);
      await store.increment('n', 'hits', 100);
      const entries = [first.value];
      for (let next = await iterator.next(); !next.done; next = await iterator.next()) entries.push(next.value);
      const sorted = entries.sort((x, y) =>
        `${x.kind}${x.collection}${x.key}`.localeCompare(`${y.kind}${y.collection}${y.key}`),
      );
      expect(sorted).toEqual([
        { kind: 'counter', collection: 'n', key: 'hits', value: 7 },
        { kind: 'record', collection: 'c', key: 'a', value: { n: 2 }, version: 2, expiresAt: null },
        { kind: 'record', collection: 'd', key: 'ü/x', value: [1, 'two'], version: 1, expiresAt: clock.now() + 59_000 },
      ]);

      const target = await makeStore();
      try {
        const counts = await target.store.restore!(
          (async function* () {
            yield* sorted;
          })(),
        );
        expect(counts).toEqual({ records: 2, counters: 1 });
        expect(await target.store.get('c', 'a')).toEqual({
          collection: 'c',
          key: 'a',
          value: { n: 2 },
          version: 2,
          expiresAt: null,
        });
        expect(await target.store.counter('n', 'hits')).toBe(7);
        const [bumped] = await target.store.write([{ op: 'update', collection: 'c', key: 'a', value: 4 }]);
        expect(bumped?.version).toBe(3);
        expect(await codeOf(target.store.restore!((async function* () {})()))).toBe('ERR_RESTORE_TARGET_IN_USE');
      } finally {
        await target.cleanup();
      }
      expect(await codeOf(store.restore!((async function* () {})()))).toBe('ERR_RESTORE_TARGET_IN_USE');
    });
  });
}
