import { describe, expect, it } from 'vitest';
import { MemoryRecordStore } from '../../../src/adapters/index.js';
import { ManualClock, isGatehouseError } from '../../../src/core/index.js';
import {
  PasswordHasher,
  SessionStore,
  SignInThrottle,
  UserRegistry,
  newSessionAdmission,
  parsePasswordHash,
  sessionCookie,
  sessionIdFromCookie,
  usernameKey,
} from '../../../src/identity/index.js';
import { MemoryLimiterStore } from '../../../src/ratelimit/index.js';

const LIMIT = { rate: 5, period: 60_000, burst: 2 };

function setup(params = { ln: 10, r: 8, p: 1 }) {
  const clock = new ManualClock(Date.parse('2026-03-01T00:00:00Z'));
  const store = new MemoryRecordStore({ clock });
  const hasher = new PasswordHasher({ params, concurrency: 2, queue: 4 });
  const limiter = new MemoryLimiterStore({ clock, maxKeys: 1000 });
  const throttle = new SignInThrottle(limiter, {
    failedLoginPerAccount: LIMIT,
    failedLoginPerAddress: { ...LIMIT, burst: 20 },
  });
  const users = new UserRegistry({ store, clock, hasher, throttle });
  const sessions = new SessionStore({
    store,
    clock,
    ttlMs: 12 * 3600_000,
    idleMs: 3600_000,
    accountCheck: async (account, generation) => UserRegistry.accepts(await users.find(account), generation),
  });
  return { clock, store, hasher, users, sessions };
}

async function code(promise: Promise<unknown>): Promise<string> {
  try {
    await promise;
  } catch (err) {
    return isGatehouseError(err) ? err.code : String(err);
  }
  return 'no error';
}

describe('password hashing', () => {
  it('stores OWASP scrypt parameters in the hash string and verifies with them', async () => {
    const hasher = new PasswordHasher({ params: { ln: 17, r: 8, p: 1 }, concurrency: 1, queue: 1 });
    const stored = await hasher.hash('correct horse battery staple');
    expect(stored).toMatch(/^\$scrypt\$ln=17,r=8,p=1\$[A-Za-z0-9_-]{22}\$[A-Za-z0-9_-]{43}$/);
    expect(parsePasswordHash(stored)?.params).toEqual({ ln: 17, r: 8, p: 1 });
    expect(await hasher.verify('correct horse battery staple', stored)).toBe(true);
  });

  it('verifies hashes made with other parameters; refuses a malformed hash; equal passwords get different salts', async () => {
    const low = new PasswordHasher({ params: { ln: 10, r: 8, p: 1 }, concurrency: 2, queue: 2 });
    const other = new PasswordHasher({ params: { ln: 11, r: 4, p: 2 }, concurrency: 2, queue: 2 });
    const stored = await other.hash('pässwörd-ünïcode');
    expect(await low.verify('pässwörd-ünïcode', stored)).toBe(true);
    expect(await low.verify('pässwörd-unicode', stored)).toBe(false);
    expect(await low.verify('x', '$scrypt$ln=99,r=8,p=1$AAAA$BBBB')).toBe(false);
    expect(await low.hash('same')).not.toBe(await low.hash('same'));
  });

  it('runs at most `concurrency` hashes and refuses at once beyond the bounded queue', async () => {
    const hasher = new PasswordHasher({ params: { ln: 12, r: 8, p: 1 }, concurrency: 1, queue: 2 });
    const accepted = [hasher.hash('password-1'), hasher.hash('password-2'), hasher.hash('password-3')];
    expect(hasher.load()).toEqual({ running: 1, waiting: 2 });
    expect(await code(hasher.hash('password-4'))).toBe('ERR_IDENTITY_PASSWORD_BUSY');
    await Promise.all(accepted);
    expect(hasher.load()).toEqual({ running: 0, waiting: 0 });
  });
});

describe('users', () => {
  it('creates, lists without hashes, refuses duplicates case-insensitively and bad input', async () => {
    const { users } = setup();
    const ada = await users.create({ username: 'Ada', password: 'correct horse battery', roles: ['admin'] });
    expect(ada.roles).toEqual(['admin']);
    expect(await code(users.create({ username: 'ada', password: 'another password' }))).toBe(
      'ERR_IDENTITY_USER_EXISTS',
    );
    expect(await code(users.create({ username: 'bad name', password: 'long enough' }))).toBe(
      'ERR_IDENTITY_USER_INVALID',
    );
    expect(await code(users.create({ username: 'bob', password: 'short' }))).toBe('ERR_IDENTITY_USER_INVALID');
    expect(await code(users.create({ username: 'bob', password: 'long enough', roles: ['a b'] }))).toBe(
      'ERR_IDENTITY_USER_INVALID',
    );
    expect((await users.list()).map((u) => u.username)).toEqual(['Ada']);
    expect(await code(users.setPassword('nobody', 'whatever123'))).toBe('ERR_IDENTITY_USER_NOT_FOUND');
  });

  it('signs in with the right password only; unknown, wrong and disabled answer the same fixed error', async () => {
    const { users } = setup();
    await users.create({ username: 'ada', password: 'correct horse battery' });
    expect((await users.signIn('ADA', 'correct horse battery', '198.51.100.1')).username).toBe('ada');
    expect(await code(users.signIn('ada', 'wrong password', '198.51.100.1'))).toBe('ERR_IDENTITY_SIGN_IN_FAILED');
    expect(await code(users.signIn('nobody', 'wrong password', '198.51.100.1'))).toBe('ERR_IDENTITY_SIGN_IN_FAILED');
    await users.setDisabled('ada', true);
    expect(await code(users.signIn('ada', 'correct horse battery', '198.51.100.1'))).toBe(
      'ERR_IDENTITY_SIGN_IN_FAILED',
    );
  });

  it('unknown users cost a dummy hash (a verification runs), so timing does not reveal them', async () => {
    const { users, hasher } = setup();
    let verifications = 0;
    const original = hasher.verify.bind(hasher);
    hasher.verify = async (password, stored) => {
      verifications++;
      return original(password, stored);
    };
    await code(users.signIn('ghost', 'some password', '198.51.100.1'));
    expect(verifications).toBe(1);
  });

  it('throttles per account before hashing, also for unknown accounts, and per address', async () => {
    const { users, hasher } = setup();
    await users.create({ username: 'ada', password: 'correct horse battery' });
    for (let i = 0; i < 3; i++) await code(users.signIn('ada', 'wrong password', `198.51.100.${i}`));
    let hashed = 0;
    const original = hasher.verify.bind(hasher);
    hasher.verify = async (password, stored) => {
      hashed++;
      return original(password, stored);
    };
    expect(await code(users.signIn('ada', 'correct horse battery', '198.51.100.9'))).toBe(
      'ERR_IDENTITY_SIGN_IN_THROTTLED',
    );
    expect(hashed).toBe(0);
    for (let i = 0; i < 3; i++) await code(users.signIn('ghost', 'wrong password', '198.51.100.20'));
    expect(await code(users.signIn('ghost', 'wrong password', '198.51.100.21'))).toBe('ERR_IDENTITY_SIGN_IN_THROTTLED');
    // per address: many accounts from one address
    for (let i = 0; i < 21; i++) await code(users.signIn(`u${i}`, 'wrong password', '192.0.2.50'));
    expect(await code(users.signIn('fresh', 'wrong password', '192.0.2.50'))).toBe('ERR_IDENTITY_SIGN_IN_THROTTLED');
  });
});

describe('browser sessions', () => {
  it('signing in rotates the id; sessions expire when idle; password change and disable end them', async () => {
    const { users, sessions, clock } = setup();
    const ada = await users.create({ username: 'ada', password: 'correct horse battery' });
    const anon = await sessions.start('192.0.2.1');
    expect(anon.session.account).toBeNull();
    expect(sessions.cookieMaxAgeSeconds(anon.session)).toBe(30 * 60);
    const signed = await sessions.signIn(anon.id, {
      account: usernameKey(ada.username),
      username: ada.username,
      generation: ada.generation,
    });
    expect(signed.id).not.toBe(anon.id);
    // the cookie lives the absolute lifetime (12 h), not the idle limit: the cookie is set at sign-in only, so a
    // Max-Age of 1 h would end an active session after an hour; the idle limit is the store's
    expect(sessions.cookieMaxAgeSeconds(signed.session)).toBe(12 * 3600);
    expect(await sessions.read(anon.id)).toBeUndefined();
    expect((await sessions.read(signed.id))?.username).toBe('ada');
    clock.advance(59 * 60_000);
    expect(await sessions.read(signed.id)).toBeDefined();
    clock.advance(59 * 60_000); // touched at 59 min: still inside the idle window
    expect(await sessions.read(signed.id)).toBeDefined();
    clock.advance(61 * 60_000);
    expect(await sessions.read(signed.id)).toBeUndefined();

    const again = await sessions.signIn(undefined, { account: 'ada', username: 'ada', generation: ada.generation });
    await users.setPassword('ada', 'a brand new password');
    expect(await sessions.read(again.id)).toBeUndefined();
    const fresh = await users.get('ada');
    const third = await sessions.signIn(undefined, { account: 'ada', username: 'ada', generation: fresh.generation });
    expect(await sessions.read(third.id)).toBeDefined();
    await users.setDisabled('ada', true);
    expect(await sessions.read(third.id)).toBeUndefined();
  });

  it('stores only the digest of the id; cookie attributes; CSRF compare', async () => {
    const { sessions, store } = setup();
    const { id, session } = await sessions.start('192.0.2.1');
    const all = await store.list('identity_sessions');
    expect(all.map((r) => r.key)).not.toContain(id);
    expect(sessionCookie(id, 60)).toBe(
      `__Host-gatehouse-session=${id}; Path=/; Max-Age=60; HttpOnly; Secure; SameSite=Lax`,
    );
    expect(sessionIdFromCookie(`a=b; __Host-gatehouse-session=${id}`)).toBe(id);
    expect(sessionIdFromCookie('__Host-gatehouse-session=short')).toBeUndefined();
    expect(SessionStore.csrfMatches(session, session.csrf)).toBe(true);
    expect(SessionStore.csrfMatches(session, 'forged')).toBe(false);
    expect(SessionStore.csrfMatches(undefined, session.csrf)).toBe(false);
  });

  it('an active session outlives the idle limit up to the absolute one; the cookie Max-Age says so', async () => {
    const { users, sessions, clock } = setup();
    const ada = await users.create({ username: 'ada', password: 'correct horse battery' });
    const signed = await sessions.signIn(undefined, { account: 'ada', username: 'ada', generation: ada.generation });
    for (let hour = 0; hour < 11; hour++) {
      clock.advance(50 * 60_000);
      const seen = await sessions.read(signed.id);
      expect(seen, `after ${hour + 1} x 50 min of use`).toBeDefined();
      expect(sessions.cookieMaxAgeSeconds(seen as NonNullable<typeof seen>)).toBe(12 * 3600 - (hour + 1) * 50 * 60);
    }
    clock.advance(70 * 60_000); // 12 h after sign-in
    expect(await sessions.read(signed.id)).toBeUndefined();
  });

  it('anonymous sessions (a sign-in page without a cookie) are bounded per address', async () => {
    const clock = new ManualClock(Date.parse('2026-03-01T00:00:00Z'));
    const store = new MemoryRecordStore({ clock });
    const limiter = new MemoryLimiterStore({ clock, maxKeys: 1000 });
    const sessions = new SessionStore({
      store,
      clock,
      ttlMs: 12 * 3600_000,
      idleMs: 3600_000,
      accountCheck: async () => true,
      admitNew: newSessionAdmission(limiter, { rate: 3, period: 60_000, burst: 2 }),
    });
    for (let i = 0; i < 3; i++) await sessions.start('198.51.100.1');
    const refused = await sessions.start('198.51.100.1').catch((err: unknown) => err);
    expect(isGatehouseError(refused, 'ERR_IDENTITY_SESSIONS_THROTTLED')).toBe(true);
    expect((refused as { status: number; retryAfterSeconds: number }).status).toBe(429);
    expect((refused as { retryAfterSeconds: number }).retryAfterSeconds).toBe(20);
    await sessions.start('198.51.100.2'); // another address has its own budget
    expect(await store.list('identity_sessions')).toHaveLength(4);
    clock.advance(20_000);
    await sessions.start('198.51.100.1');
  });
});
