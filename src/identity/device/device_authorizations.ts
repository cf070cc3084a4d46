import { GatehouseError, isGatehouseError, type Clock, type RecordStore } from '../../core/index.js';
import { randomToken, sha256Base64url } from '../../crypto/index.js';
import { oauthError } from '../oauth_error.js';
import { newUserCode, userCodeLength } from './user_code.js';

/** Device authorizations keyed by the SHA-256 of the device_code. */
export const DEVICE_CODES_COLLECTION = 'identity_device_codes';
/** The user code index: normalized user code → device code digest. */
export const DEVICE_USER_CODES_COLLECTION = 'identity_device_user_codes';

/** How long an ended authorization is kept past its expiry, so that late polls get `expired_token`. */
const KEEP_EXPIRED_MS = 10 * 60_000;
/** Polls that raced another poll re-read at most this many times before answering slow_down. */
const POLL_RETRIES = 3;

/** The person who approved a device. */
export interface DeviceApproval {
  account: string;
  username: string;
  generation: number;
  authTime: number;
}

/** One device authorization as stored. */
export interface DeviceAuthorization {
  clientId: string;
  userCode: string;
  scopes: string[];
  audience: string;
  status: 'pending' | 'approved' | 'denied';
  approval: DeviceApproval | null;
  /** Seconds between polls; every slow_down adds 5. */
  interval: number;
  lastPollAt: number | null;
  expiresAt: number;
}

/** What a poll that passed the interval check found. */
export type DevicePoll = { kind: 'approved'; authorization: DeviceAuthorization } | { kind: 'denied' };

/**
 * Device authorizations (RFC 8628): `device_code` is 256 random bits stored only as its digest; the user code is
 * base-20, its length grown with the number pending ({@link userCodeLength}). `poll` enforces `interval` with ONE
 * conditional write (expectVersion) per poll: of parallel polls at most one passes, the others get `slow_down` (and the
 * interval grows by 5 s). An approved authorization is consumed by a conditional delete: tokens are issued once.
 *
 * @example
 * const started = await devices.start({ clientId, scopes, audience }, attempts);
 * const found = await devices.findByUserCode('WDJBMJHT');
 */
export class DeviceAuthorizations {
  constructor(
    private readonly deps: { store: RecordStore; clock: Clock; ttlMs: number; interval: number; maxPending: number },
  ) {}

  /** Live user codes (this call's one not included), counted up to `maxPending`. */
  async pending(): Promise<number> {
    const live = await this.deps.store.list(DEVICE_USER_CODES_COLLECTION, { limit: this.deps.maxPending });
    return live.length;
  }

  /**
   * Starts an authorization; `attempts` is how many wrong code entries the limits admit during one code lifetime.
   * Refuses with 503 `temporarily_unavailable` and Retry-After of `interval` seconds when `maxPending` are pending
   * (a server-wide capacity limit: RFC 8628 defines `slow_down` only for polls of the token endpoint, §3.5).
   */
  async start(
    request: { clientId: string; scopes: string[]; audience: string },
    attempts: number,
  ): Promise<{ deviceCode: string; userCode: string; expiresIn: number; interval: number }> {
    const pending = await this.pending();
    if (pending >= this.deps.maxPending) {
      throw Object.assign(
        new GatehouseError('ERR_OAUTH_DEVICE_CAPACITY', {
          oauthError: 'temporarily_unavailable',
          detail: `${pending} device authorizations pending (identity.device.maxPending)`,
        }),
        { retryAfterSeconds: this.deps.interval },
      );
    }
    const length = userCodeLength(pending + 1, attempts, this.deps.maxPending);
    const now = this.deps.clock.now();
    const expiresAt = now + this.deps.ttlMs;
    for (let tries = 0; ; tries++) {
      const deviceCode = randomToken(32);
      const userCode = newUserCode(length);
      const key = sha256Base64url(deviceCode);
      const value: DeviceAuthorization = {
        ...request,
        userCode,
        status: 'pending',
        approval: null,
        interval: this.deps.interval,
        lastPollAt: null,
        expiresAt,
      };
      try {
        await this.deps.store.write([
          { op: 'insert', collection: DEVICE_USER_CODES_COLLECTION, key: userCode, value: { key }, expiresAt },
          { op: 'insert', collection: DEVICE_CODES_COLLECTION, key, value, expiresAt: expiresAt + KEEP_EXPIRED_MS },
        ]);
      } catch (err) {
        if (tries < 3 && isGatehouseError(err, 'ERR_STORE_CONFLICT')) continue;
        throw err;
      }
      return { deviceCode, userCode, expiresIn: Math.round(this.deps.ttlMs / 1000), interval: this.deps.interval };
    }
  }

  /** The pending authorization a normalized user code names (undefined when unknown, expired or decided). */
  async findByUserCode(userCode: string): Promise<(DeviceAuthorization & { key: string }) | undefined> {
    const index = await this.deps.store.get<{ key: string }>(DEVICE_USER_CODES_COLLECTION, userCode);
    if (!index) return undefined;
    const rec = await this.deps.store.get<DeviceAuthorization>(DEVICE_CODES_COLLECTION, index.value.key);
    if (!rec || rec.value.status !== 'pending' || rec.value.expiresAt <= this.deps.clock.now()) return undefined;
    return { ...rec.value, key: index.value.key };
  }

  /**
   * Records the person's decision on a pending authorization and retires its user code (one atomic write). Returns
   * false when the code is no longer pending.
   */
  async decide(userCode: string, approval: DeviceApproval | null): Promise<boolean> {
    const index = await this.deps.store.get<{ key: string }>(DEVICE_USER_CODES_COLLECTION, userCode);
    if (!index) return false;
    const rec = await this.deps.store.get<DeviceAuthorization>(DEVICE_CODES_COLLECTION, index.value.key);
    if (!rec || rec.value.status !== 'pending' || rec.value.expiresAt <= this.deps.clock.now()) return false;
    const value: DeviceAuthorization = { ...rec.value, status: approval ? 'approved' : 'denied', approval };
    try {
      await this.deps.store.write([
        { op: 'delete', collection: DEVICE_USER_CODES_COLLECTION, key: userCode, expectVersion: index.version },
        {
          op: 'update',
          collection: DEVICE_CODES_COLLECTION,
          key: index.value.key,
          value,
          expectVersion: rec.version,
          expiresAt: rec.expiresAt,
        },
      ]);
      return true;
    } catch (err) {
      if (isGatehouseError(err, 'ERR_STORE_CONFLICT') || isGatehouseError(err, 'ERR_STORE_NOT_FOUND')) return false;
      throw err;
    }
  }

  /**
   * One poll of the token endpoint by `clientId`. Throws the RFC 8628 §3.5 errors: invalid_grant (unknown or another
   * client's code), expired_token, slow_down (too soon, or lost the race with a parallel poll), authorization_pending.
   */
  async poll(deviceCode: string, clientId: string): Promise<DevicePoll> {
    if (deviceCode.length > 256) throw oauthError('invalid_grant', 'the device code is invalid');
    const key = sha256Base64url(deviceCode);
    for (let attempt = 0; ; attempt++) {
      const rec = await this.deps.store.get<DeviceAuthorization>(DEVICE_CODES_COLLECTION, key);
      if (!rec || rec.value.clientId !== clientId) throw oauthError('invalid_grant', 'the device code is invalid');
      const now = this.deps.clock.now();
      const auth = rec.value;
      if (auth.expiresAt <= now) throw oauthError('expired_token');
      const tooSoon = auth.lastPollAt !== null && now - auth.lastPollAt < auth.interval * 1000;
      const next: DeviceAuthorization = tooSoon
        ? { ...auth, interval: auth.interval + 5, lastPollAt: now }
        : { ...auth, lastPollAt: now };
      try {
        await this.deps.store.write([
          {
            op: 'update',
            collection: DEVICE_CODES_COLLECTION,
            key,
            value: next,
            expectVersion: rec.version,
            expiresAt: rec.expiresAt,
          },
        ]);
      } catch (err) {
        if (!isGatehouseError(err, 'ERR_STORE_CONFLICT') && !isGatehouseError(err, 'ERR_STORE_NOT_FOUND')) throw err;
        if (attempt < POLL_RETRIES) continue;
        throw oauthError('slow_down');
      }
      if (tooSoon) throw oauthError('slow_down');
      if (auth.status === 'pending') throw oauthError('authorization_pending');
      await this.deps.store
        .write([{ op: 'delete', collection: DEVICE_CODES_COLLECTION, key, expectVersion: rec.version + 1 }])
        .catch((err: unknown) => {
          if (isGatehouseError(err, 'ERR_STORE_CONFLICT') || isGatehouseError(err, 'ERR_STORE_NOT_FOUND'))
            throw oauthError('invalid_grant', 'the device code was already used');
          throw err;
        });
      return auth.status === 'approved' ? { kind: 'approved', authorization: auth } : { kind: 'denied' };
    }
  }
}
