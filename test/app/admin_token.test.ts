import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { AdminToken } from '../../src/app/admin_token.js';
import { MemoryRecordStore } from '../../src/adapters/index.js';
import { ManualClock, type RecordStore } from '../../src/core/index.js';
import { tempDir } from '../support/tmp.js';

let tmp: ReturnType<typeof tempDir>;
beforeEach(() => {
  tmp = tempDir('gh-admtok-');
});
afterEach(() => tmp.remove());

/** The store as a replica sees it when it read before another replica's first start committed its token. */
function readingTooEarly(store: RecordStore): RecordStore {
  return {
    get: async () => undefined,
    list: (collection, options) => store.list(collection, options),
    write: (ops) => store.write(ops),
    increment: (collection, key, by) => store.increment(collection, key, by),
    counter: (collection, key) => store.counter(collection, key),
    purgeExpired: () => store.purgeExpired(),
    close: () => store.close(),
  };
}

describe('AdminToken.createFirst (two replicas initializing one storage at once)', () => {
  it('keeps the token the first replica stored; the second removes the file it wrote and reports false', async () => {
    const store = new MemoryRecordStore({ clock: new ManualClock(1000) });
    const first = join(tmp.dir, 'first.token');
    const second = join(tmp.dir, 'second.token');
    expect(await AdminToken.createFirst(store, first, 1000)).toBe(true);
    expect(await AdminToken.createFirst(readingTooEarly(store), second, 1001)).toBe(false);
    expect(existsSync(second)).toBe(false);
    expect(await AdminToken.fileMatches(store, first)).toBe(true);
    // Seen in time, the token is simply kept: nothing written.
    expect(await AdminToken.createFirst(store, second, 1002)).toBe(false);
    expect(existsSync(second)).toBe(false);
    expect(await AdminToken.fileMatches(store, first)).toBe(true);
  });
});

describe('AdminToken.refresh racing a rotation on this replica', () => {
  it('a refresh that read the store while a rotation was being written does not bring the old token back', async () => {
    const store = new MemoryRecordStore({ clock: new ManualClock(1000) });
    const file = join(tmp.dir, 'admin.token');
    expect(await AdminToken.createFirst(store, file, 1000)).toBe(true);
    const token = await AdminToken.load(store);
    const old = readFileSync(file, 'utf8').trim();
    let commit: () => void = () => undefined;
    const committed = new Promise<void>((resolve) => (commit = resolve));
    let writing: () => void = () => undefined;
    const started = new Promise<void>((resolve) => (writing = resolve));
    // The rotation's write waits, so the refresh starts in the middle of the rotation.
    const slowWrites: RecordStore = {
      ...readingTooEarly(store),
      get: (collection, key) => store.get(collection, key),
      write: async (ops) => {
        writing();
        await committed;
        return store.write(ops);
      },
    };
    let apply: () => void = () => undefined;
    const applied = new Promise<void>((resolve) => (apply = resolve));
    // The refresh reads the stored (old) digest now and hands it back only once the rotation has ended.
    const slowReads: RecordStore = {
      ...readingTooEarly(store),
      get: async (collection, key) => {
        const record = await store.get(collection, key);
        await applied;
        return record as never;
      },
    };
    const rotating = token.rotate(slowWrites, file, 1001);
    await started;
    const refreshing = token.refresh(slowReads);
    commit();
    await rotating;
    apply();
    await refreshing;
    const fresh = readFileSync(file, 'utf8').trim();
    expect(fresh).not.toBe(old);
    expect(token.check(fresh)).toBe(true);
    expect(token.check(old)).toBe(false);
  });
});
