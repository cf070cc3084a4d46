import { GatehouseError, isGatehouseError, type Clock, type RecordStore } from '../../core/index.js';
import type { PasswordHasher } from './password_hasher.js';
import type { SignInThrottle } from './sign_in_throttle.js';
import { checkPassword, checkRoles, checkUsername, usernameKey, type User } from './user.js';

/** Collection of local users, keyed by {@link usernameKey}. */
export const USERS_COLLECTION = 'identity_users';

const notFound = () => new GatehouseError('ERR_IDENTITY_USER_NOT_FOUND');
const signInFailed = () => new GatehouseError('ERR_IDENTITY_SIGN_IN_FAILED');

/**
 * Local users on the record store: create, change password, disable, list, and password sign-in (throttled before
 * hashing; unknown and disabled users cost a dummy verification and get the same fixed answer). Changing the password
 * or disabling bumps the user's `generation`, which ends every session and refresh token family the user had.
 *
 * @example
 * const users = new UserRegistry({ store, clock, hasher, throttle });
 * await users.create({ username: 'ada', password: 'correct horse battery', roles: ['admin'] });
 * const user = await users.signIn('ada', 'correct horse battery', '203.0.113.7');
 */
export class UserRegistry {
  constructor(
    private readonly deps: {
      store: RecordStore;
      clock: Clock;
      hasher: PasswordHasher;
      throttle: SignInThrottle;
      /** Called after a password change or disable (the app revokes the user's refresh token families). */
      onGenerationChange?: (account: string) => Promise<void>;
    },
  ) {}

  async create(input: { username: unknown; password: unknown; roles?: unknown }): Promise<User> {
    const username = checkUsername(input.username);
    const password = checkPassword(input.password);
    const roles = checkRoles(input.roles);
    const now = this.deps.clock.now();
    const user: User = {
      username,
      roles,
      disabled: false,
      passwordHash: await this.deps.hasher.hash(password),
      generation: 1,
      createdAt: now,
      updatedAt: now,
    };
    try {
      await this.deps.store.write([
        { op: 'insert', collection: USERS_COLLECTION, key: usernameKey(username), value: user },
      ]);
    } catch (err) {
      if (isGatehouseError(err, 'ERR_STORE_CONFLICT')) throw new GatehouseError('ERR_IDENTITY_USER_EXISTS');
      throw err;
    }
    return user;
  }

  async find(username: string): Promise<User | undefined> {
    if (typeof username !== 'string' || username.length > 256) return undefined;
    return (await this.deps.store.get<User>(USERS_COLLECTION, usernameKey(username)))?.value;
  }

  async get(username: string): Promise<User> {
    const user = await this.find(username);
    if (!user) throw notFound();
    return user;
  }

  async list(): Promise<User[]> {
    const out: User[] = [];
    let after: string | undefined;
    for (;;) {
      const page = await this.deps.store.list<User>(USERS_COLLECTION, { limit: 500, ...(after ? { after } : {}) });
      out.push(...page.map((r) => r.value));
      if (page.length < 500) return out;
      after = page[page.length - 1]?.key;
    }
  }

  /** Sets a new password; ends the user's sessions and refresh token families (next generation). */
  async setPassword(username: string, password: unknown): Promise<User> {
    const checked = checkPassword(password);
    const passwordHash = await this.deps.hasher.hash(checked);
    const user = await this.change(username, (u) => ({ ...u, passwordHash, generation: u.generation + 1 }));
    await this.deps.onGenerationChange?.(usernameKey(user.username));
    return user;
  }

  /** Disables (or re-enables) the account; disabling ends its sessions and refresh token families. */
  async setDisabled(username: string, disabled: boolean): Promise<User> {
    const user = await this.change(username, (u) => ({
      ...u,
      disabled,
      generation: disabled ? u.generation + 1 : u.generation,
    }));
    if (disabled) await this.deps.onGenerationChange?.(usernameKey(user.username));
    return user;
  }

  async setRoles(username: string, roles: unknown): Promise<User> {
    const checked = checkRoles(roles);
    return this.change(username, (user) => ({ ...user, roles: checked }));
  }

  /**
   * Password sign-in from `address`. Throws ERR_IDENTITY_SIGN_IN_THROTTLED before hashing when a budget is spent,
   * ERR_IDENTITY_SIGN_IN_FAILED (fixed message) for an unknown user, a wrong password or a disabled account.
   */
  async signIn(username: unknown, password: unknown, address: string): Promise<User> {
    if (typeof username !== 'string' || typeof password !== 'string') throw signInFailed();
    if (username.length > 256 || password.length > 1024) throw signInFailed();
    const account = usernameKey(username);
    await this.deps.throttle.admit(address, account);
    const user = await this.find(username);
    const ok = user
      ? await this.deps.hasher.verify(password, user.passwordHash)
      : await this.deps.hasher.verifyDummy(password);
    if (!ok || !user || user.disabled) {
      await this.deps.throttle.failed(address, account);
      throw signInFailed();
    }
    return user;
  }

  /** True when a session or refresh family begun at user generation `generation` still stands. */
  static accepts(user: User | undefined, generation: number): user is User {
    return user !== undefined && !user.disabled && generation === user.generation;
  }

  private async change(username: string, edit: (user: User) => User): Promise<User> {
    for (let attempt = 0; attempt < 5; attempt++) {
      const rec = await this.deps.store.get<User>(USERS_COLLECTION, usernameKey(username));
      if (!rec) throw notFound();
      const now = this.deps.clock.now();
      const next = { ...edit(rec.value), updatedAt: now };
      try {
        await this.deps.store.write([
          { op: 'update', collection: USERS_COLLECTION, key: rec.key, value: next, expectVersion: rec.version },
        ]);
        return next;
      } catch (err) {
        if (!isGatehouseError(err, 'ERR_STORE_CONFLICT')) throw err;
      }
    }
    throw new GatehouseError('ERR_STORE_CONFLICT');
  }
}
