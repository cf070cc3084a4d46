import { PassThrough, Readable } from 'node:stream';
import { loadConfig } from '../../src/config/index.js';
import { GatehouseError, type Logger } from '../../src/core/index.js';
import {
  createHttpsServer,
  type HttpsServer,
  type KmsAuthorizer,
  type KmsContext,
  type KmsOperations,
} from '../../src/http/index.js';
import { testCertificate } from '../support/test_tls.js';

/**
 * A stand-in for the KMS operations that does no cryptography at all: a "ciphertext" is `fake:KEY:vN:` and the
 * base64 of a JSON {context, plaintext}. It lets route tests check shapes, order, errors and audit without keys.
 */
export class FakeKms implements KmsOperations {
  readonly keys_ = new Map<string, { version: number; deleted: boolean }>();
  /** Set to make encrypt throw an internal error (to check that a bug is a 500, not an item error). */
  explode = false;

  constructor(names: string[] = ['orders']) {
    for (const name of names) this.keys_.set(name, { version: 1, deleted: false });
  }

  private key(name: string) {
    const key = this.keys_.get(name);
    if (!key) throw new GatehouseError('ERR_KMS_KEY_NOT_FOUND');
    if (key.deleted) throw new GatehouseError('ERR_KMS_KEY_DELETED');
    return key;
  }

  private seal(name: string, version: number, plaintext: Buffer, context: KmsContext): string {
    const inner = JSON.stringify({ context, plaintext: plaintext.toString('base64') });
    return `fake:${name}:v${version}:${Buffer.from(inner).toString('base64')}`;
  }

  private open(ciphertext: string, context: KmsContext) {
    const match = /^fake:([^:]+):v(\d+):(.*)$/.exec(ciphertext);
    if (!match) throw new GatehouseError('ERR_KMS_DECRYPT_FAILED');
    const inner = JSON.parse(Buffer.from(match[3] as string, 'base64').toString()) as {
      context: KmsContext;
      plaintext: string;
    };
    if (JSON.stringify(inner.context) !== JSON.stringify(context)) throw new GatehouseError('ERR_KMS_DECRYPT_FAILED');
    return { name: match[1] as string, version: Number(match[2]), plaintext: Buffer.from(inner.plaintext, 'base64') };
  }

  keys = {
    create: async (name: string, options: { type?: string }) => {
      if (this.keys_.has(name)) throw new GatehouseError('ERR_KMS_KEY_EXISTS');
      this.keys_.set(name, { version: 1, deleted: false });
      return { name, type: options.type ?? 'aes256-gcm96', latest_version: 1 };
    },
    get: async (name: string) => ({ name, latest_version: this.key(name).version }),
    list: async () => [...this.keys_.keys()].map((name) => ({ name })),
    configure: async (name: string, change: object) => ({ name, ...change }),
    rotate: async (name: string) => {
      const key = this.key(name);
      key.version += 1;
      return { name, latest_version: key.version };
    },
    delete: async (name: string) => {
      this.key(name).deleted = true;
      return { name, deleted: true };
    },
    restore: async (name: string) => ({ name }),
    trim: async (name: string, min: number) => ({ name, min_available_version: min }),
  };

  async encrypt(name: string, plaintext: Buffer, context: KmsContext) {
    if (this.explode) throw new Error('boom');
    const { version } = this.key(name);
    return { ciphertext: this.seal(name, version, plaintext, context), keyVersion: version };
  }

  async decrypt(name: string, ciphertext: string, context: KmsContext) {
    this.key(name);
    if (ciphertext.startsWith('fake:') && !ciphertext.startsWith(`fake:${name}:`)) {
      throw new GatehouseError('ERR_KMS_KEY_MISMATCH');
    }
    const opened = this.open(ciphertext, context);
    return { plaintext: opened.plaintext, keyVersion: opened.version };
  }

  async rewrap(name: string, ciphertext: string, context: KmsContext) {
    const opened = await this.decrypt(name, ciphertext, context);
    return this.encrypt(name, opened.plaintext, context);
  }

  async dataKey(name: string, context: KmsContext, options: { plaintext: boolean }) {
    const plaintext = Buffer.alloc(32, 7);
    const sealed = await this.encrypt(name, plaintext, context);
    return options.plaintext ? { ...sealed, plaintext } : sealed;
  }

  streams = {
    encrypt: (name: string, _context: KmsContext, source: Readable) => {
      const output = new PassThrough();
      source.pipe(output);
      return { output, header: Promise.resolve({ keyName: name, keyVersion: this.key(name).version }) };
    },
    decrypt: (_context: KmsContext, source: Readable) => {
      const output = new PassThrough();
      source.pipe(output);
      return { output, header: Promise.resolve({ keyName: 'orders', keyVersion: 1 }) };
    },
    verify: async (_context: KmsContext, source: Readable) => {
      for await (const chunk of source) void chunk;
      return { keyName: 'orders', keyVersion: 1 };
    },
    rewrap: (_context: KmsContext, source: Readable) => {
      const output = new PassThrough();
      source.pipe(output);
      return { output, header: Promise.resolve({ keyName: 'orders', keyVersion: 1 }) };
    },
  };
}

/** Admits `Bearer good` with every permission and `Bearer enc-only` with `kms:encrypt:*` only. */
export const fakeAuthorizer: KmsAuthorizer = {
  async authorize(headers, permission) {
    const header = headers.authorization;
    if (header === 'Bearer good') return { principal: 'admin' };
    if (header === 'Bearer enc-only') {
      if (permission.startsWith('kms:encrypt:')) return { principal: 'encryptor' };
      throw new GatehouseError('ERR_KMS_FORBIDDEN');
    }
    throw new GatehouseError('ERR_KMS_UNAUTHORIZED');
  },
};

/** A throwaway self-signed certificate for listeners that tests drive with inject(). */
export { testCertificate as selfSigned } from '../support/test_tls.js';

const listeners: HttpsServer[] = [];

/**
 * A listener on the default http settings (`bodyLimit` overridable) with a throwaway certificate, for inject();
 * closed by {@link closeTestListeners} (register it with `afterEach`).
 */
export function testListener(name: string, logger: Logger, options: { bodyLimit?: number } = {}): HttpsServer {
  const config = loadConfig(
    options.bodyLimit === undefined ? {} : { overrides: { http: { bodyLimit: options.bodyLimit } } },
  );
  const server = createHttpsServer({ name, http: config.http, ...testCertificate(), logger });
  listeners.push(server);
  return server;
}

/** Closes every listener {@link testListener} made. */
export async function closeTestListeners(): Promise<void> {
  while (listeners.length) await listeners.pop()?.close();
}

export { Readable };
