import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { AdminToken } from '../../src/app/admin_token.js';
import { MemoryRecordStore } from '../../src/adapters/index.js';
import { ManualClock, type RecordStore } from '../../src/core/index.js';
import { tempDir } from '../support/tmp.js';

const tmp = tempDir('gh-admtok-');
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
