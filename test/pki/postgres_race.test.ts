import { afterEach, describe, expect, it } from 'vitest';
import { PostgresRecordStore } from '../../src/adapters/index.js';
import { ManualClock, silentLogger } from '../../src/core/index.js';
import { AUTHORITY_COLLECTION, Authority } from '../../src/pki/index.js';
import { freshPostgresSchema, type FreshPostgresSchema } from '../support/postgres.js';
import { DAY, MapVault, T0, TRUST_DOMAIN } from './helpers.js';

describe('CA creation on shared PostgreSQL', () => {
  let pgSchema: FreshPostgresSchema | undefined;
  const stores: PostgresRecordStore[] = [];
  afterEach(async () => {
    for (const store of stores.splice(0)) await store.close();
    await pgSchema?.drop();
  });

  it('two replicas opening at once end up with one CA', async () => {
    pgSchema = await freshPostgresSchema();
    const clock = new ManualClock(T0);
    const vault = new MapVault(); // the keyring is shared between replicas too
    const open = async () => {
      const store = await PostgresRecordStore.open({ ...pgSchema!, poolSize: 2, ssl: false, clock });
      stores.push(store);
      return store;
    };
    const [storeA, storeB] = await Promise.all([open(), open()]);
    const options = { vault, clock, trustDomain: TRUST_DOMAIN, rootTtlMs: 3650 * DAY, intermediateTtlMs: 365 * DAY };
    const [a, b] = await Promise.all([
      Authority.open({ ...options, store: storeA, logger: silentLogger }),
      Authority.open({ ...options, store: storeB, logger: silentLogger }),
    ]);
    expect(a.trustBundlePem()).toBe(b.trustBundlePem());
    expect(await storeA.list(AUTHORITY_COLLECTION)).toHaveLength(1);
    // Both replicas sign under the same intermediate.
    const [la, lb] = await Promise.all([
      a.issueListenerCertificate({ component: 'admin', ttlMs: DAY }),
      b.issueListenerCertificate({ component: 'admin', ttlMs: DAY }),
    ]);
    expect(la.certPem.split('-----END CERTIFICATE-----')[1]).toBe(lb.certPem.split('-----END CERTIFICATE-----')[1]);
  });
});
