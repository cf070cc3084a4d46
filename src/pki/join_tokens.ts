import { createHash, randomBytes } from 'node:crypto';
import { GatehouseError, isGatehouseError, type Clock, type RecordStore, type StoredRecord } from '../core/index.js';

/** Collection of join tokens: key = SHA-256 hex of the token, never the token itself. */
export const JOIN_TOKEN_COLLECTION = 'pki_join_tokens';

/** Tokens start with this prefix so that secret scanners recognise them. */
export const JOIN_TOKEN_PREFIX = 'ghj_';

interface JoinTokenRecord {
  spiffeId: string;
  createdAt: number;
  expiresAt: number;
}

/** A freshly created join token: shown once, stored only as a digest. */
export interface CreatedJoinToken {
  token: string;
  spiffeId: string;
  expiresAt: number;
}

const VOID_PAGE = 500;

function digest(token: string): string {
  return createHash('sha256').update(token).digest('hex');
}

function invalidToken(): GatehouseError {
  return new GatehouseError('ERR_PKI_JOIN_TOKEN_INVALID');
}

/**
 * One-time join tokens, each bound to one SPIFFE ID: the bootstrap credential of `POST /v1/ca/sign`. The token is 32
 * random bytes, stored as its SHA-256 digest with a record expiry; consuming it deletes the record with a version
 * precondition, so under any number of concurrent consumers exactly one wins.
 *
 * @example
 * const tokens = new JoinTokens(store, clock);
 * const { token } = await tokens.create('spiffe://gatehouse.local/ns/prod/sa/api', 600_000);
 * const spiffeId = await tokens.consume(token); // a second consume throws ERR_PKI_JOIN_TOKEN_INVALID
 */
export class JoinTokens {
  constructor(
    private readonly store: RecordStore,
    private readonly clock: Clock,
  ) {}

  /** Creates a token for `spiffeId` (already authorized by the caller), valid for `ttlMs`. */
  async create(spiffeId: string, ttlMs: number): Promise<CreatedJoinToken> {
    if (!Number.isSafeInteger(ttlMs) || ttlMs <= 0) {
      throw new GatehouseError('ERR_HTTP_BAD_REQUEST', { message: 'Invalid join token lifetime' });
    }
    const token = JOIN_TOKEN_PREFIX + randomBytes(32).toString('base64url');
    const now = this.clock.now();
    const expiresAt = now + ttlMs;
    const value: JoinTokenRecord = { spiffeId, createdAt: now, expiresAt };
    await this.store.write([{ op: 'insert', collection: JOIN_TOKEN_COLLECTION, key: digest(token), value, expiresAt }]);
    return { token, spiffeId, expiresAt };
  }

  /**
   * Uses the token up and returns the SPIFFE ID it is bound to. Unknown, expired and already used tokens all fail
   * the same way (ERR_PKI_JOIN_TOKEN_INVALID). `check`, given the bound SPIFFE ID, runs between reading the token and
   * using it up: when it throws, the token is kept (a request refused for its identity does not burn it).
   */
  async consume(token: string, check?: (spiffeId: string) => Promise<void>): Promise<string> {
    const record = await this.live(token);
    await check?.(record.value.spiffeId);
    if (!(await this.deleteUnchanged(record))) throw invalidToken();
    return record.value.spiffeId;
  }

  /**
   * Deletes every live token bound to `spiffeId` (a revocation voids the tokens issued before it, which could
   * otherwise enroll the identity again once its deny-list entry expires). Returns how many were deleted. Pages
   * through the collection: outstanding tokens are few and short-lived.
   */
  async voidFor(spiffeId: string): Promise<number> {
    let deleted = 0;
    let after: string | undefined;
    for (;;) {
      const page = await this.store.list<JoinTokenRecord>(JOIN_TOKEN_COLLECTION, {
        limit: VOID_PAGE,
        ...(after === undefined ? {} : { after }),
      });
      for (const record of page) {
        if (record.value.spiffeId === spiffeId && (await this.deleteUnchanged(record))) deleted++;
      }
      if (page.length < VOID_PAGE) return deleted;
      after = page[page.length - 1]!.key;
    }
  }

  private async live(token: string): Promise<StoredRecord<JoinTokenRecord>> {
    if (typeof token !== 'string' || !token.startsWith(JOIN_TOKEN_PREFIX) || token.length > 128) throw invalidToken();
    const record = await this.store.get<JoinTokenRecord>(JOIN_TOKEN_COLLECTION, digest(token));
    if (!record || record.value.expiresAt <= this.clock.now()) throw invalidToken();
    return record;
  }

  /** Deletes the token record if it is still the version read; false when it is gone or changed (used meanwhile). */
  private async deleteUnchanged(record: StoredRecord<JoinTokenRecord>): Promise<boolean> {
    try {
      await this.store.write([
        { op: 'delete', collection: JOIN_TOKEN_COLLECTION, key: record.key, expectVersion: record.version },
      ]);
      return true;
    } catch (err) {
      if (isGatehouseError(err, 'ERR_STORE_CONFLICT') || isGatehouseError(err, 'ERR_STORE_NOT_FOUND')) return false;
      throw err;
    }
  }
}
