// Issue 3 benchmarks, in process: 1 KiB records with a fresh data key, with a cached data key, and against the AWS
// Encryption SDK for JavaScript (raw AES keyring, unsigned committing suite).
import { createCipheriv, randomBytes } from 'node:crypto';
import { compare } from '../lib/measure.mjs';
import { MemoryRecordStore } from '../../dist/adapters/index.js';
import { Envelopes, Keyring, RootKey } from '../../dist/kms/index.js';
import { ManualClock, silentLogger } from '../../dist/core/index.js';

const record = randomBytes(1024);
const context = { tenant: 'acme', table: 'orders' };
const contextAad = Buffer.from(JSON.stringify(context));

async function keyring() {
  const clock = new ManualClock(Date.now());
  const store = new MemoryRecordStore({ clock });
  const ring = await Keyring.open({ store, root: RootKey.generate(), clock, logger: silentLogger });
  await ring.createKey('orders', {});
  return { ring, clock };
}

function gcm(key, plaintext, aad) {
  const iv = randomBytes(12);
  const cipher = createCipheriv('aes-256-gcm', key, iv);
  cipher.setAAD(aad);
  const out = Buffer.concat([iv, cipher.update(plaintext), cipher.final(), cipher.getAuthTag()]);
  return out;
}

export async function run() {
  const rows = [];
  const { ring, clock } = await keyring();
  const fresh = new Envelopes({ keys: ring, clock });
  const cached = new Envelopes({
    keys: ring,
    clock,
    cache: { maxAgeMs: 60_000, maxMessages: 100_000, maxBytes: 1 << 30 },
  });
  const kek = randomBytes(32);

  // 1. Fresh data key per record vs a bare loop doing the same work: random key, wrap it, AES-256-GCM the record.
  const freshRows = await compare({
    name: 'gatehouse Envelopes.encrypt (fresh DEK)',
    subject: () => fresh.encrypt('orders', record, context),
    anchors: {
      'bare node:crypto (random DEK + GCM wrap + GCM)': () => {
        const dek = randomBytes(32);
        const wrapped = gcm(kek, dek, contextAad);
        return [wrapped, gcm(dek, record, contextAad)];
      },
    },
  });
  rows.push({ bench: '1 KiB records, fresh data key', target: '≥ 0.8× bare', need: 0.8, results: freshRows });

  // 2. Cached data key vs bare createCipheriv('aes-256-gcm') on 1 KiB.
  const dek = randomBytes(32);
  const cachedRows = await compare({
    name: 'gatehouse Envelopes.encrypt (cached DEK)',
    subject: () => cached.encrypt('orders', record, context),
    anchors: { "bare createCipheriv('aes-256-gcm') 1 KiB": () => gcm(dek, record, contextAad) },
  });
  rows.push({ bench: '1 KiB records, cached data key', target: '≥ 0.8× bare', need: 0.8, results: cachedRows });

  // 3. Against the AWS Encryption SDK (raw AES keyring, 0x0478 unsigned committing suite).
  const esdk = await import('@aws-crypto/client-node');
  const { buildClient, CommitmentPolicy, RawAesKeyringNode, RawAesWrappingSuiteIdentifier, AlgorithmSuiteIdentifier } =
    esdk;
  const { encrypt } = buildClient(CommitmentPolicy.REQUIRE_ENCRYPT_REQUIRE_DECRYPT);
  const keyringEsdk = new RawAesKeyringNode({
    keyName: 'orders',
    keyNamespace: 'bench',
    unencryptedMasterKey: new Uint8Array(randomBytes(32)),
    wrappingSuite: RawAesWrappingSuiteIdentifier.AES256_GCM_IV12_TAG16_NO_PADDING,
  });
  const esdkRows = await compare({
    name: 'gatehouse Envelopes.encrypt (fresh DEK)',
    subject: () => fresh.encrypt('orders', record, context),
    anchors: {
      'AWS Encryption SDK 5.0.2 (raw AES keyring, 0x0478)': () =>
        encrypt(keyringEsdk, record, {
          encryptionContext: context,
          suiteId: AlgorithmSuiteIdentifier.ALG_AES256_GCM_IV12_TAG16_HKDF_SHA512_COMMIT_KEY,
        }),
      'bare node:crypto (random DEK + GCM wrap + GCM), the ceiling': () => {
        const dek = randomBytes(32);
        const wrapped = gcm(kek, dek, contextAad);
        return [wrapped, gcm(dek, record, contextAad)];
      },
    },
    rounds: 5,
  });
  const [esdkSubject, esdkAnchor, esdkCeiling] = esdkRows;
  rows.push({
    bench: '1 KiB records vs AWS Encryption SDK, fresh data key each',
    target: '≥ 25× ESDK',
    need: 25,
    results: [esdkSubject, esdkAnchor],
    note:
      `Plainly: with a fresh data key per record, 25× the ESDK is above what Node itself can do here. In the same run ` +
      `the bare node:crypto loop (random DEK, GCM wrap, GCM) reaches ${Math.round(esdkCeiling.opsPerSec)} ops/s, ` +
      `${(esdkCeiling.opsPerSec / esdkAnchor.opsPerSec).toFixed(1)}× the ESDK, and gatehouse is ` +
      `${(esdkSubject.opsPerSec / esdkCeiling.opsPerSec).toFixed(2)}× that ceiling. The next row (both sides caching ` +
      `data keys) is the comparison where 25× is reachable; both rows are kept.`,
  });

  // 4. Both with data-key caching: our cache against the ESDK caching materials manager.
  const cmm = new esdk.NodeCachingMaterialsManager({
    backingMaterials: keyringEsdk,
    cache: esdk.getLocalCryptographicMaterialsCache(100),
    maxAge: 60_000,
    maxMessagesEncrypted: 100_000,
    maxBytesEncrypted: 1 << 30,
  });
  const esdkCachedRows = await compare({
    name: 'gatehouse Envelopes.encrypt (cached DEK)',
    subject: () => cached.encrypt('orders', record, context),
    anchors: {
      'AWS Encryption SDK 5.0.2 (caching CMM, 0x0478)': () =>
        encrypt(cmm, record, {
          encryptionContext: context,
          suiteId: AlgorithmSuiteIdentifier.ALG_AES256_GCM_IV12_TAG16_HKDF_SHA512_COMMIT_KEY,
          plaintextLength: record.length,
        }),
    },
    rounds: 5,
  });
  rows.push({
    bench: '1 KiB records vs AWS Encryption SDK, both caching data keys',
    target: '≥ 25× ESDK',
    need: 25,
    results: esdkCachedRows,
  });
  return rows;
}
