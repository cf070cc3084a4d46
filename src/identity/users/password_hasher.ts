import { scrypt, type ScryptOptions } from 'node:crypto';
import { GatehouseError } from '../../core/index.js';
import { constantTimeEqual, secureRandomBytes } from '../../crypto/index.js';

/** scrypt parameters (N = 2^ln). OWASP: ln=17, r=8, p=1. */
export interface ScryptParameters {
  ln: number;
  r: number;
  p: number;
}

const FORMAT = /^\$scrypt\$ln=(\d{1,2}),r=(\d{1,2}),p=(\d{1,2})\$([A-Za-z0-9_-]{22,64})\$([A-Za-z0-9_-]{43})$/;
const KEY_BYTES = 32;

function derive(password: string, salt: Buffer, params: ScryptParameters): Promise<Buffer> {
  const N = 2 ** params.ln;
  const options: ScryptOptions = {
    N,
    r: params.r,
    p: params.p,
    maxmem: 128 * N * params.r * params.p + 32 * 1024 ** 2,
  };
  return new Promise((resolve, reject) => {
    scrypt(password.normalize('NFC'), salt, KEY_BYTES, options, (err, key) => (err ? reject(err) : resolve(key)));
  });
}

/**
 * Parses a stored hash string; undefined when it is not one of ours.
 *
 * @example
 * parsePasswordHash('$scrypt$ln=17,r=8,p=1$...$...')?.params.ln; // 17
 */
export function parsePasswordHash(stored: string): { params: ScryptParameters; salt: Buffer; key: Buffer } | undefined {
  const m = FORMAT.exec(stored);
  if (!m) return undefined;
  const params = { ln: Number(m[1]), r: Number(m[2]), p: Number(m[3]) };
  if (params.ln < 10 || params.ln > 22 || params.r < 1 || params.p < 1) return undefined;
  return { params, salt: Buffer.from(m[4] as string, 'base64url'), key: Buffer.from(m[5] as string, 'base64url') };
}

/**
 * Password hashing with the asynchronous `crypto.scrypt` (libuv thread pool, never the event loop), at most
 * `concurrency` at once and at most `queue` waiting: beyond that, callers get ERR_IDENTITY_PASSWORD_BUSY at once, so a
 * login flood can neither starve the event loop nor grow memory (each scrypt holds 128·N·r bytes). Hash strings carry
 * their parameters (`$scrypt$ln=17,r=8,p=1$salt$key`), so raising the cost later keeps old hashes verifiable.
 * `verifyDummy` spends the same work for unknown users.
 *
 * @example
 * const hasher = new PasswordHasher({ params: { ln: 17, r: 8, p: 1 }, concurrency: 2, queue: 64 });
 * const stored = await hasher.hash('correct horse battery staple');
 * await hasher.verify('correct horse battery staple', stored); // true
 */
export class PasswordHasher {
  private running = 0;
  private readonly waiting: Array<() => void> = [];
  private dummy: Promise<string> | undefined;

  constructor(private readonly options: { params: ScryptParameters; concurrency: number; queue: number }) {}

  /** Work in flight and waiting (for tests and metrics). */
  load(): { running: number; waiting: number } {
    return { running: this.running, waiting: this.waiting.length };
  }

  async hash(password: string): Promise<string> {
    const salt = secureRandomBytes(16);
    const { ln, r, p } = this.options.params;
    const key = await this.slot(() => derive(password, salt, this.options.params));
    return `$scrypt$ln=${ln},r=${r},p=${p}$${salt.toString('base64url')}$${key.toString('base64url')}`;
  }

  /** True when `password` matches `stored`; false for a malformed stored hash. Constant-time comparison. */
  async verify(password: string, stored: string): Promise<boolean> {
    const parsed = parsePasswordHash(stored);
    if (!parsed) return false;
    const key = await this.slot(() => derive(password, parsed.salt, parsed.params));
    return constantTimeEqual(key, parsed.key);
  }

  /** Spends one verification's work against a throw-away hash (unknown users cost the same as known ones). */
  async verifyDummy(password: string): Promise<false> {
    this.dummy ??= this.hash('gatehouse dummy password');
    await this.verify(password, await this.dummy);
    return false;
  }

  private async slot<T>(work: () => Promise<T>): Promise<T> {
    if (this.running >= this.options.concurrency) {
      if (this.waiting.length >= this.options.queue) throw new GatehouseError('ERR_IDENTITY_PASSWORD_BUSY');
      await new Promise<void>((resolve) => this.waiting.push(resolve));
    } else {
      this.running++;
    }
    try {
      return await work();
    } finally {
      const next = this.waiting.shift();
      if (next) next();
      else this.running--;
    }
  }
}
