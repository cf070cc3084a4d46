import type { RecordStore, StoredRecord } from '../core/index.js';

const PAGE = 500;

/**
 * Every live record of a collection (optionally under a key prefix), read page by page in key order.
 *
 * @example
 * const keys = await listAll<KeyRecord>(store, 'kms_keys');
 */
export async function listAll<T>(store: RecordStore, collection: string, prefix?: string): Promise<StoredRecord<T>[]> {
  const all: StoredRecord<T>[] = [];
  let after: string | undefined;
  for (;;) {
    const page = await store.list<T>(collection, {
      limit: PAGE,
      ...(prefix ? { prefix } : {}),
      ...(after ? { after } : {}),
    });
    all.push(...page);
    if (page.length < PAGE) return all;
    after = page[page.length - 1]?.key;
  }
}
