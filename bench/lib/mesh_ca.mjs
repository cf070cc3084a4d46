// One gatehouse CA for every process of a mesh benchmark: the parent creates it on a memory store and hands a
// snapshot (the CA record and its sealed keys) to each child, which reopens the same CA. Children use it through the
// in-process CA client (`join:<spiffe id>` credentials) or issue plain key + chain material for the bare anchors.
import { MemoryRecordStore } from '../../dist/adapters/index.js';
import { InProcessCaClient } from '../../dist/app/mesh_ca_client.js';
import { silentLogger, systemClock } from '../../dist/core/index.js';
import { newKeyAndCsr } from '../../dist/mesh/index.js';
import { AUTHORITY_COLLECTION, Authority, Revocations } from '../../dist/pki/index.js';

const DAY = 86_400_000;
export const TRUST_DOMAIN = 'bench.test';
export const spiffeId = (sa) => `spiffe://${TRUST_DOMAIN}/ns/demo/sa/${sa}`;

function mapVault(entries = []) {
  const secrets = new Map(entries.map(([k, v]) => [k, Buffer.from(v, 'base64')]));
  return {
    secrets,
    putSecret: async (name, value) => void secrets.set(name, Buffer.from(value)),
    getSecret: async (name) => secrets.get(name),
  };
}

async function open(store, vault) {
  return Authority.open({
    store,
    vault,
    clock: systemClock,
    trustDomain: TRUST_DOMAIN,
    rootTtlMs: 3650 * DAY,
    intermediateTtlMs: 365 * DAY,
    logger: silentLogger,
  });
}

/** Creates a CA; returns a JSON-able snapshot for {@link openCa}. */
export async function createCaSnapshot() {
  const store = new MemoryRecordStore({ clock: systemClock });
  const vault = mapVault();
  await open(store, vault);
  const stored = await store.get(AUTHORITY_COLLECTION, 'platform');
  return {
    record: stored.value,
    secrets: [...vault.secrets].map(([k, v]) => [k, v.toString('base64')]),
  };
}

/** Reopens the CA of a snapshot: the Authority, an in-process CA client and a way to issue key + chain PEMs. */
export async function openCa(snapshot) {
  const store = new MemoryRecordStore({ clock: systemClock });
  await store.write([{ op: 'insert', collection: AUTHORITY_COLLECTION, key: 'platform', value: snapshot.record }]);
  const authority = await open(store, mapVault(snapshot.secrets));
  const revocations = new Revocations(store, systemClock, DAY);
  const client = new InProcessCaClient({
    authority,
    revocations,
    clock: systemClock,
    redeem: async (credential) => credential.replace(/^join:/, ''),
  });
  return {
    authority,
    client,
    bundlePem: authority.trustBundlePem(),
    /** A fresh P-256 key and its SVID chain (leaf + intermediate) for `sa`, for the bare anchors. */
    async issue(sa) {
      const { keyPem, csrPem } = await newKeyAndCsr();
      const svid = authority.issueSvid({ csrPem, spiffeId: spiffeId(sa) });
      return { keyPem, chainPem: svid.chainPem };
    },
  };
}
