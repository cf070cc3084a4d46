import { GatehouseError, type Clock, type Logger } from '../../core/index.js';
import type { ApiCatalog } from '../apis/api_catalog.js';
import { scopeWords } from '../authorize/scope_words.js';
import type { ClientCache } from '../clients/client_cache.js';
import type { BrowserSession } from '../sessions/browser_session.js';
import { SessionStore } from '../sessions/session_store.js';
import type { CodeEntryThrottle } from './code_entry_throttle.js';
import type { DeviceAuthorizations } from './device_authorizations.js';
import { formatUserCode, normalizeUserCode } from './user_code.js';

/** What the device pages must show next. `session` (when set) is a new session cookie to send. */
export type DeviceOutcome = (
  | { kind: 'login'; csrf: string }
  | { kind: 'enter'; csrf: string; username: string; userCode: string; error?: GatehouseError }
  | {
      kind: 'confirm';
      csrf: string;
      username: string;
      userCode: string;
      clientName: string;
      scopes: Array<{ name: string; description: string }>;
    }
  | { kind: 'done'; approved: boolean }
  | { kind: 'error'; error: GatehouseError }
) & { session?: { id: string; session: BrowserSession } };

/**
 * The person's side of the device flow, free of HTTP: they sign in first, then enter the user code (any case, dashes
 * optional; "Confirm"), then see the client and scopes and choose "Allow" or "Deny". Every form carries the session's
 * CSRF token. Wrong codes are limited per account, per address and globally BEFORE the lookup ({@link CodeEntryThrottle}).
 *
 * @example
 * const outcome = await verification.enter({ user_code: 'wdjb-mjht', csrf }, sessionId, address);
 */
export class DeviceVerification {
  constructor(
    private readonly deps: {
      devices: DeviceAuthorizations;
      sessions: SessionStore;
      throttle: CodeEntryThrottle;
      clients: ClientCache;
      apis: ApiCatalog;
      clock: Clock;
      logger: Logger;
    },
  ) {}

  /** GET of the device page (`user_code` prefilled from verification_uri_complete), from a browser at `address`. */
  async page(sessionId: string | undefined, userCode: unknown, address: string): Promise<DeviceOutcome> {
    const session = await this.deps.sessions.read(sessionId);
    if (!session?.account || !session.username) return this.login(session, address);
    const prefill = typeof userCode === 'string' ? userCode.slice(0, 64) : '';
    return { kind: 'enter', csrf: session.csrf, username: session.username, userCode: prefill };
  }

  /** POST of the code form ("Confirm"). */
  async enter(
    form: { user_code: unknown; csrf: unknown },
    sessionId: string | undefined,
    address: string,
  ): Promise<DeviceOutcome> {
    const checked = await this.signedIn(form.csrf, sessionId, address);
    if ('kind' in checked) return checked;
    const { session, account, username } = checked;
    const found = await this.lookup(form.user_code, account, address);
    if (found instanceof GatehouseError) {
      const typed = typeof form.user_code === 'string' ? form.user_code.slice(0, 64) : '';
      return { kind: 'enter', csrf: session.csrf, username, userCode: typed, error: found };
    }
    const client = await this.deps.clients.get(found.clientId);
    const api = await this.deps.apis.get(found.audience);
    const scopes = scopeWords(found.scopes, api);
    return {
      kind: 'confirm',
      csrf: session.csrf,
      username,
      userCode: formatUserCode(found.userCode),
      clientName: client?.name ?? found.clientId,
      scopes,
    };
  }

  /** POST of the consent form ("Allow" / "Deny"). */
  async decide(
    form: { user_code: unknown; csrf: unknown; decision: unknown },
    sessionId: string | undefined,
    address: string,
  ): Promise<DeviceOutcome> {
    const checked = await this.signedIn(form.csrf, sessionId, address);
    if ('kind' in checked) return checked;
    const { session, account, username } = checked;
    if (form.decision !== 'allow' && form.decision !== 'deny') {
      return {
        kind: 'error',
        error: new GatehouseError('ERR_OAUTH_INVALID_REQUEST', { message: 'choose Allow or Deny' }),
      };
    }
    const found = await this.lookup(form.user_code, account, address);
    if (found instanceof GatehouseError) return { kind: 'error', error: found };
    const approve = form.decision === 'allow';
    const approval = approve
      ? { account, username, generation: session.generation, authTime: session.authTime ?? this.deps.clock.now() }
      : null;
    if (!(await this.deps.devices.decide(found.userCode, approval))) {
      return { kind: 'error', error: new GatehouseError('ERR_IDENTITY_DEVICE_CODE_UNKNOWN') };
    }
    this.deps.logger.info(
      { audit: true, event: 'device_decision', result: approve ? 'allow' : 'deny', username, clientId: found.clientId },
      'device authorization decided',
    );
    return { kind: 'done', approved: approve };
  }

  private async lookup(input: unknown, account: string, address: string) {
    try {
      await this.deps.throttle.admit(address, account);
    } catch (err) {
      return err as GatehouseError;
    }
    const code = normalizeUserCode(input);
    const found = code === undefined ? undefined : await this.deps.devices.findByUserCode(code);
    if (found) return found;
    await this.deps.throttle.failed(address, account);
    this.deps.logger.info({ audit: true, event: 'device_code_entry', result: 'unknown', address }, 'wrong user code');
    return new GatehouseError('ERR_IDENTITY_DEVICE_CODE_UNKNOWN');
  }

  private async signedIn(
    csrf: unknown,
    sessionId: string | undefined,
    address: string,
  ): Promise<DeviceOutcome | { session: BrowserSession; account: string; username: string }> {
    const session = await this.deps.sessions.read(sessionId);
    if (!session?.account || !session.username) return this.login(session, address);
    if (!SessionStore.csrfMatches(session, csrf))
      return { kind: 'error', error: new GatehouseError('ERR_IDENTITY_CSRF') };
    return { session, account: session.account, username: session.username };
  }

  private async login(session: BrowserSession | undefined, address: string): Promise<DeviceOutcome> {
    if (session) return { kind: 'login', csrf: session.csrf };
    const started = await this.deps.sessions.start(address);
    return { kind: 'login', csrf: started.session.csrf, session: started };
  }
}
