import type { Clock, RecordStore } from '../../core/index.js';
import { constantTimeEqual, randomToken, sha256Base64url } from '../../crypto/index.js';
import type { BrowserSession } from './browser_session.js';

/** Collection of browser sessions, keyed by the SHA-256 of the cookie value. */
export const SESSIONS_COLLECTION = 'identity_sessions';

/** How long a session without sign-in lives (it only carries the CSRF token of the login form). */
const ANONYMOUS_TTL_MS = 30 * 60_000;
/** Last-seen is written at most this often, so page views do not all write. */
const TOUCH_EVERY_MS = 60_000;

/** Whether the signed-in user of a session still stands (exists, enabled, same generation). */
export type AccountCheck = (account: string, generation: number) => Promise<boolean>;

/** Admits one more anonymous session from `address`, or throws (a 429 GatehouseError with `retryAfterSeconds`). */
export type NewSessionAdmission = (address: string) => Promise<void>;

/**
 * Server-side browser sessions: the cookie holds 256 random bits, the store only their SHA-256. Signing in always
 * starts a NEW session id (no fixation); sessions expire after `idleMs` without use and `ttlMs` after sign-in, and end
 * when the user's password changes or the account is disabled (checked through `accountCheck` on every read).
 *
 * @example
 * const sessions = new SessionStore({ store, clock, ttlMs: 12 * 3600_000, idleMs: 3600_000, accountCheck });
 * const { id } = await sessions.start();
 */
export class SessionStore {
  constructor(
    private readonly deps: {
      store: RecordStore;
      clock: Clock;
      ttlMs: number;
      idleMs: number;
      accountCheck: AccountCheck;
      /** Bounds the anonymous sessions one address may open (each is a stored record); unbounded without it. */
      admitNew?: NewSessionAdmission;
    },
  ) {}

  /** A new anonymous session (CSRF token only) for a visitor at `address`, if {@link NewSessionAdmission} admits it. */
  async start(address: string): Promise<{ id: string; session: BrowserSession }> {
    await this.deps.admitNew?.(address);
    const now = this.deps.clock.now();
    return this.save({
      account: null,
      username: null,
      generation: 0,
      authTime: null,
      csrf: randomToken(32),
      createdAt: now,
      lastSeenAt: now,
    });
  }

  /** The live session of a cookie value, or undefined (unknown, expired, or its user changed). */
  async read(id: string | undefined): Promise<BrowserSession | undefined> {
    if (id === undefined) return undefined;
    const key = sha256Base64url(id);
    const rec = await this.deps.store.get<BrowserSession>(SESSIONS_COLLECTION, key);
    if (!rec) return undefined;
    const session = rec.value;
    if (session.account !== null && !(await this.deps.accountCheck(session.account, session.generation))) {
      await this.end(id);
      return undefined;
    }
    const now = this.deps.clock.now();
    if (now - session.lastSeenAt >= TOUCH_EVERY_MS) {
      const next = { ...session, lastSeenAt: now };
      await this.deps.store
        .write([{ op: 'update', collection: SESSIONS_COLLECTION, key, value: next, expiresAt: this.expiry(next) }])
        .catch(() => undefined);
      return next;
    }
    return session;
  }

  /** Signs a user in: a new session id replaces `previousId` (which is deleted). */
  async signIn(
    previousId: string | undefined,
    user: { account: string; username: string; generation: number },
  ): Promise<{ id: string; session: BrowserSession }> {
    if (previousId !== undefined) await this.end(previousId);
    const now = this.deps.clock.now();
    return this.save({ ...user, authTime: now, csrf: randomToken(32), createdAt: now, lastSeenAt: now });
  }

  async end(id: string): Promise<void> {
    await this.deps.store
      .write([{ op: 'delete', collection: SESSIONS_COLLECTION, key: sha256Base64url(id) }])
      .catch(() => undefined);
  }

  /**
   * Seconds the cookie should live: a signed-in session's whole absolute lifetime (the cookie is not sent again on
   * every request, so a Max-Age of the idle limit would end an active session after `idleMs`; the idle limit is the
   * store's, pushed back at each use), an anonymous one's 30 minutes.
   */
  cookieMaxAgeSeconds(session: BrowserSession): number {
    const until = session.account === null ? this.expiry(session) : session.createdAt + this.deps.ttlMs;
    return Math.ceil((until - this.deps.clock.now()) / 1000);
  }

  /** True when `presented` is this session's CSRF token (constant time). */
  static csrfMatches(session: BrowserSession | undefined, presented: unknown): boolean {
    return session !== undefined && typeof presented === 'string' && constantTimeEqual(presented, session.csrf);
  }

  private expiry(session: BrowserSession): number {
    if (session.account === null) return session.lastSeenAt + ANONYMOUS_TTL_MS;
    return Math.min(session.createdAt + this.deps.ttlMs, session.lastSeenAt + this.deps.idleMs);
  }

  private async save(session: BrowserSession): Promise<{ id: string; session: BrowserSession }> {
    const id = randomToken(32);
    await this.deps.store.write([
      {
        op: 'insert',
        collection: SESSIONS_COLLECTION,
        key: sha256Base64url(id),
        value: session,
        expiresAt: this.expiry(session),
      },
    ]);
    return { id, session };
  }
}
