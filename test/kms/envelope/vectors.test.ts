import { createDecipheriv, createHash, type CipherGCMTypes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { MemoryRecordStore } from '../../../src/adapters/index.js';
import { ManualClock } from '../../../src/core/index.js';
import { Envelopes, Keyring, RootKey, Sealer, encodeContext, type KeyType } from '../../../src/kms/index.js';
import { newKeyRecord, versionLabel } from '../../../src/kms/key_policy.js';
import { singleCommitment } from '../../../src/kms/envelope/derive.js';
import { through } from './envelope_fixture.js';

interface Vectors {
  rootKey: string;
  keys: { name: string; type: KeyType; version: number; material: string }[];
  single: { keyName: string; context: Record<string, string>; plaintext: string; envelope: string };
  stream: {
    keyName: string;
    context: Record<string, string>;
    segmentSize: number;
    plaintextHex: string;
    envelope: string;
  };
  dataKey: { keyName: string; context: Record<string, string>; plaintext: string; wrapped: string };
}

const vectors = JSON.parse(readFileSync(new URL('./vectors/envelope_v1.json', import.meta.url), 'utf8')) as Vectors;
const hex = (text: string) => Buffer.from(text, 'hex');

/** A real keyring under the vectors' fixed root key, holding their fixed key material as version 1. */
async function vectorKeyring(): Promise<Envelopes> {
  const clock = new ManualClock(Date.parse('2026-01-01T00:00:00Z'));
  const store = new MemoryRecordStore({ clock });
  const root = RootKey.fromBytes(hex(vectors.rootKey));
  const keyring = await Keyring.open({ store, root, clock });
  const sealer = new Sealer(root);
  for (const key of vectors.keys) {
    const sealed = sealer.seal(hex(key.material), versionLabel(key.name, key.version));
    const value = newKeyRecord(key.name, key.type, clock.now(), sealed);
    await store.write([{ op: 'insert', collection: 'kms_keys', key: key.name, value }]);
  }
  return new Envelopes({ keys: keyring, clock });
}

/**
 * An independent reader of a single-mode envelope written from docs/kms-format.md with node:crypto only, so the
 * document is checked to be precise enough for another implementation.
 */
function readSingleByTheDoc(envelope: Buffer, kek: Buffer, alg: CipherGCMTypes, context: Buffer): Buffer {
  expect(envelope.subarray(0, 4).toString('latin1')).toBe('GHEV');
  expect([envelope[4], envelope[5], envelope[6]]).toEqual([1, 1, 1]);
  const n = envelope[7] ?? 0;
  const w = 8 + n;
  const open = (key: Buffer, nonce: Buffer, sealed: Buffer, aad: Buffer) => {
    const d = createDecipheriv(alg, key, nonce, { authTagLength: 16 });
    d.setAuthTag(sealed.subarray(sealed.length - 16));
    d.setAAD(aad);
    return Buffer.concat([d.update(sealed.subarray(0, sealed.length - 16)), d.final()]);
  };
  const dek = open(
    kek,
    envelope.subarray(w + 4, w + 16),
    envelope.subarray(w + 16, w + 64),
    Buffer.concat([envelope.subarray(0, w + 16), context]),
  );
  const commitment = createHash('sha256')
    .update(Buffer.concat([Buffer.from('gatehouse envelope v1 single commitment'), dek]))
    .digest();
  expect(commitment.equals(envelope.subarray(w + 64, w + 96))).toBe(true);
  const h = w + 96;
  const aad = Buffer.concat([envelope.subarray(0, w), envelope.subarray(w + 64, w + 96), context]);
  return open(dek, envelope.subarray(h, h + 12), envelope.subarray(h + 12), aad);
}

describe('stored test vectors (format v1)', () => {
  it('decrypts the single-shot vector through a real keyring holding the fixed material', async () => {
    const envelopes = await vectorKeyring();
    const { plaintext, keyName, keyVersion } = await envelopes.decrypt(
      hex(vectors.single.envelope),
      vectors.single.context,
    );
    expect(plaintext.toString('hex')).toBe(vectors.single.plaintext);
    expect({ keyName, keyVersion }).toEqual({ keyName: 'orders', keyVersion: 1 });
  });

  it('decrypts the stream vector (two segments, ChaCha20-Poly1305)', async () => {
    const envelopes = await vectorKeyring();
    const opened = await through(envelopes.decryptStream(vectors.stream.context), hex(vectors.stream.envelope), 100);
    expect(opened.toString('hex')).toBe(vectors.stream.plaintextHex);
  });

  it('unwraps the data-key vector', async () => {
    const envelopes = await vectorKeyring();
    const { plaintext } = await envelopes.unwrapDataKey(hex(vectors.dataKey.wrapped), vectors.dataKey.context);
    expect(plaintext.toString('hex')).toBe(vectors.dataKey.plaintext);
  });

  it('is readable by an independent implementation of docs/kms-format.md', () => {
    const kek = hex(vectors.keys[0]?.material ?? '');
    const plaintext = readSingleByTheDoc(
      hex(vectors.single.envelope),
      kek,
      'aes-256-gcm',
      encodeContext(vectors.single.context),
    );
    expect(plaintext.toString('hex')).toBe(vectors.single.plaintext);
  });

  it('encodes the context canonically as documented', () => {
    expect(encodeContext(vectors.single.context).toString('hex')).toBe(
      '0002' +
        '0005' +
        Buffer.from('table').toString('hex') +
        '0006' +
        Buffer.from('orders').toString('hex') +
        '0006' +
        Buffer.from('tenant').toString('hex') +
        '0004' +
        Buffer.from('acme').toString('hex'),
    );
  });

  it('sorts context keys by UTF-8 bytes, whatever the insertion order', () => {
    const a = encodeContext({ '\u{1F600}': '1', '\uFB01': '2', b: '3' });
    const b = encodeContext({ b: '3', '\uFB01': '2', '\u{1F600}': '1' });
    expect(a.equals(b)).toBe(true);
    // 'b' (62) < U+FB01 (EF AC 81) < U+1F600 (F0 9F 98 80), although U+1F600 sorts first in UTF-16
    expect(a.subarray(2, 5).toString('hex')).toBe('000162');
    expect(a.subarray(8, 13).toString('hex')).toBe('0003efac81');
    expect(encodeContext({}).equals(encodeContext())).toBe(true);
  });

  it('encodes any context exactly as the documented layout built from Buffers sorted with Buffer.compare', () => {
    // The reference: UTF-8 Buffers per key and value, sorted by bytes, concatenated with uint16 lengths.
    const reference = (context: Record<string, string>) => {
      const pairs = Object.entries(context).map(([k, v]) => [Buffer.from(k), Buffer.from(v)] as const);
      pairs.sort((x, y) => Buffer.compare(x[0], y[0]));
      const u16 = (n: number) => Buffer.from([n >> 8, n & 0xff]);
      return Buffer.concat([u16(pairs.length), ...pairs.flatMap(([k, v]) => [u16(k.length), k, u16(v.length), v])]);
    };
    // Prefixes, the surrogate / U+E000–U+FFFF boundary on both sides, 1- to 4-byte UTF-8, empty values.
    const alphabet = [
      'a',
      'b',
      'z',
      '\u00e9',
      '\u07ff',
      '\u0800',
      '\ud7ff',
      '\ue000',
      '\uffff',
      '\u{10000}',
      '\u{1f600}',
    ];
    let seed = 7;
    const pick = () => alphabet[(seed = (seed * 1103515245 + 12345) % 2 ** 31) % alphabet.length] as string;
    for (let i = 0; i < 300; i += 1) {
      const context: Record<string, string> = {};
      const pairs = 1 + (i % 6);
      for (let p = 0; p < pairs; p += 1) {
        const length = 1 + ((i + p) % 3);
        context[Array.from({ length }, pick).join('')] = Array.from({ length: (i + p) % 4 }, pick).join('');
      }
      expect(encodeContext(context).toString('hex')).toBe(reference(context).toString('hex'));
    }
  });

  it('commits single-shot envelopes with SHA-256(label ‖ DEK) as documented', () => {
    const dek = hex('0b'.repeat(32));
    const label = Buffer.from('gatehouse envelope v1 single commitment', 'latin1');
    const expected = createHash('sha256')
      .update(Buffer.concat([label, dek]))
      .digest();
    expect(singleCommitment(dek).equals(expected)).toBe(true);
    expect(singleCommitment(hex('0c'.repeat(32))).equals(expected)).toBe(false);
  });
});
