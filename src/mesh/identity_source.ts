import { GatehouseError, type Clock, type Logger } from '../core/index.js';
import { renewalTime, type RevokedIdentity } from '../pki/index.js';
import { newKeyAndCsr } from './key_pair.js';
import type {
  CaRetryAfter,
  CertificateAuthorityClient,
  IssuedCertificate,
  SvidMaterial,
  TrustBundle,
} from './ports.js';

/** Options of {@link IdentitySource}. */
export interface IdentitySourceOptions {
  client: CertificateAuthorityClient;
  /** The bootstrap credential (a join token), asked for again when the SVID expired and must be re-bootstrapped. */
  credential: () => string | Promise<string>;
  /** The SPIFFE ID this workload expects to hold: sent with the credential, so a mismatch does not use it up. */
  spiffeId?: string;
  clock: Clock;
  logger: Logger;
  /** Renew after this fraction of the lifetime, counted from issuance (default 2/3). */
  renewAtFraction?: number;
  /** ± spread of that fraction (default 0.05). */
  jitterFraction?: number;
  /** First retry delay after a failed renewal; doubles up to `retryMaxMs` (defaults 1 s, 30 s). */
  retryInitialMs?: number;
  retryMaxMs?: number;
  /** How often the deny list is refetched (default 5 s). */
  denyListRefreshMs?: number;
  /**
   * How long {@link IdentitySource.start} keeps waiting out the CA's rate limit (429 with Retry-After) before it gives
   * up on the bootstrap (default 5 min). The join token is not used up by a refusal, so it is sent again.
   */
  bootstrapWaitMs?: number;
}

/**
 * The wait in milliseconds a CA refusal asks for (its Retry-After, see {@link CaRetryAfter}); undefined for any other
 * failure.
 *
 * @example
 * const wait = caRetryAfterMs(err); // 30_000 for a 429 with Retry-After: 30
 */
export function caRetryAfterMs(err: unknown): number | undefined {
  const seconds = (err as Partial<CaRetryAfter> | undefined)?.retryAfterSeconds;
  return typeof seconds === 'number' && Number.isFinite(seconds) && seconds > 0 ? seconds * 1000 : undefined;
}

/**
 * When a failed renewal is tried again: after the backoff, or the CA's Retry-After when that is longer, but never
 * after the current SVID expires (the loop then drops it and bootstraps).
 *
 * @example
 * renewalRetryDelayMs({ backoffMs: 1_000, retryAfterMs: 30_000, remainingMs: 3_600_000 }); // 30_000
 */
export function renewalRetryDelayMs(o: { backoffMs: number; retryAfterMs: number | undefined; remainingMs: number }) {
  return Math.max(0, Math.min(Math.max(o.backoffMs, o.retryAfterMs ?? 0), o.remainingMs));
}

type Listener = (material: SvidMaterial | undefined, bundle: TrustBundle) => void;

/**
 * Holds this workload's current X.509-SVID, key and trust bundle, and keeps them fresh: bootstraps with the join
 * token, renews at 2/3 of the lifetime (from issuance) with jitter through the CA client, retries with backoff (or
 * after the CA's Retry-After when it is rate limited, see {@link renewalRetryDelayMs}) while the current certificate
 * is valid, drops it at expiry (listeners stop serving) and re-bootstraps, refetches the
 * bundle per its refresh hint and the deny list every few seconds.
 *
 * @example
 * const identity = new IdentitySource({ client, credential: () => joinToken, clock: systemClock, logger });
 * await identity.start();
 * identity.onChange((svid) => server.setSecureContext(...));
 */
export class IdentitySource {
  private material: SvidMaterial | undefined;
  private trust: TrustBundle | undefined;
  private denied: RevokedIdentity[] = [];
  private generation = 0;
  private readonly listeners = new Set<Listener>();
  private readonly timers = new Set<NodeJS.Timeout>();
  private renewal: NodeJS.Timeout | undefined;
  private inFlight: Promise<SvidMaterial> | undefined;
  private stopped = false;

  constructor(private readonly options: IdentitySourceOptions) {}

  /** Bootstraps (sign with the credential), fetches bundle and deny list, and starts the timers. */
  async start(): Promise<SvidMaterial> {
    this.trust = await this.options.client.bundle();
    this.denied = await this.options.client.denyList();
    const material = await this.bootstrapPatiently();
    this.every(this.options.denyListRefreshMs ?? 5_000, () => this.refreshDenyList());
    this.scheduleBundle();
    return material;
  }

  /** The current SVID, or undefined once it expired (nothing may be served then). */
  get current(): SvidMaterial | undefined {
    const material = this.material;
    if (material && material.notAfter <= this.options.clock.now()) return undefined;
    return material;
  }

  /** The trust bundle. */
  get bundle(): TrustBundle {
    if (!this.trust) throw new GatehouseError('ERR_MESH_IDENTITY_UNAVAILABLE', { detail: 'no bundle yet' });
    return this.trust;
  }

  /** The deny list as last fetched. */
  get denyList(): readonly RevokedIdentity[] {
    return this.denied;
  }

  /** Called with the new SVID (or undefined at expiry) and the bundle whenever either changes. */
  onChange(listener: Listener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Renews now (the forced-renew hook of the admin API); concurrent calls share one renewal. */
  renewNow(): Promise<SvidMaterial> {
    this.inFlight ??= this.renewOnce().finally(() => (this.inFlight = undefined));
    return this.inFlight;
  }

  /** Refetches the deny list now. */
  async refreshDenyList(): Promise<void> {
    try {
      this.denied = await this.options.client.denyList();
    } catch (err) {
      this.options.logger.warn({ err: (err as Error).message }, 'deny list refresh failed; keeping the last one');
    }
  }

  /** Refetches the bundle now; listeners hear of a new sequence. */
  async refreshBundle(): Promise<void> {
    const bundle = await this.options.client.bundle();
    const changed = bundle.sequence !== this.trust?.sequence || bundle.pem !== this.trust.pem;
    this.trust = bundle;
    if (changed) this.emit();
  }

  /** Stops every timer. */
  stop(): void {
    this.stopped = true;
    for (const timer of this.timers) clearTimeout(timer);
    this.timers.clear();
    if (this.renewal) clearTimeout(this.renewal);
  }

  private async bootstrap(): Promise<SvidMaterial> {
    const { keyPem, csrPem } = await newKeyAndCsr();
    const issued = await this.options.client.sign(csrPem, await this.options.credential(), this.options.spiffeId);
    return this.install(issued, keyPem, 'bootstrapped');
  }

  /** Bootstraps, waiting out the CA's rate limit (a fleet enrolling at once behind one address) up to a bound. */
  private async bootstrapPatiently(): Promise<SvidMaterial> {
    const bound = this.options.bootstrapWaitMs ?? 300_000;
    let waited = 0;
    for (;;) {
      try {
        return await this.bootstrap();
      } catch (err) {
        const wait = caRetryAfterMs(err);
        if (wait === undefined || this.stopped || waited + wait > bound) throw err;
        this.options.logger.warn(
          { err: (err as Error).message, retryInMs: wait },
          'SVID bootstrap rate limited; waiting',
        );
        await new Promise((resolve) => setTimeout(resolve, wait));
        waited += wait;
      }
    }
  }

  private async renewOnce(): Promise<SvidMaterial> {
    const current = this.current;
    if (!current) return this.bootstrap();
    const { keyPem, csrPem } = await newKeyAndCsr();
    const issued = await this.options.client.renew(csrPem, current);
    return this.install(issued, keyPem, 'renewed');
  }

  private install(issued: IssuedCertificate, keyPem: string, what: string): SvidMaterial {
    const now = this.options.clock.now();
    const material: SvidMaterial = {
      ...issued,
      keyPem,
      issuedAt: Math.min(Math.max(now, issued.notBefore), issued.notAfter),
      generation: ++this.generation,
    };
    this.material = material;
    this.options.logger.info(
      {
        spiffeId: material.spiffeId,
        serial: material.serialNumber,
        notAfter: new Date(material.notAfter).toISOString(),
      },
      `SVID ${what}`,
    );
    this.emit();
    this.scheduleRenewal(material);
    return material;
  }

  private scheduleRenewal(material: SvidMaterial): void {
    if (this.stopped) return;
    const at = renewalTime({
      issuedAt: material.issuedAt,
      notAfter: material.notAfter,
      fraction: this.options.renewAtFraction ?? 2 / 3,
      jitterFraction: this.options.jitterFraction ?? 0.05,
    });
    this.armRenewal(at - this.options.clock.now(), this.options.retryInitialMs ?? 1_000);
  }

  private armRenewal(delayMs: number, backoffMs: number): void {
    if (this.stopped) return;
    if (this.renewal) clearTimeout(this.renewal);
    this.renewal = setTimeout(() => void this.renewOrRetry(backoffMs), Math.max(0, Math.min(delayMs, 2 ** 31 - 1)));
    this.renewal.unref();
  }

  private async renewOrRetry(backoffMs: number): Promise<void> {
    try {
      await this.renewNow(); // install() schedules the next renewal
    } catch (err) {
      const now = this.options.clock.now();
      const current = this.material;
      if (current && current.notAfter <= now && this.material === current) {
        this.material = undefined;
        this.options.logger.error({ spiffeId: current.spiffeId }, 'SVID expired: stopped serving; re-bootstrapping');
        this.emit();
      }
      const remainingMs = this.material ? this.material.notAfter - now : Infinity;
      const retryAfterMs = caRetryAfterMs(err);
      const delay = renewalRetryDelayMs({ backoffMs, retryAfterMs, remainingMs });
      this.options.logger.warn(
        { err: (err as Error).message, retryInMs: delay, ...(retryAfterMs === undefined ? {} : { retryAfterMs }) },
        'SVID renewal failed; retrying',
      );
      this.armRenewal(delay, Math.min(backoffMs * 2, this.options.retryMaxMs ?? 30_000));
    }
  }

  private scheduleBundle(): void {
    const hint = Math.max(1_000, this.trust?.refreshHintMs ?? 300_000);
    this.later(hint, async () => {
      try {
        await this.refreshBundle();
      } catch (err) {
        this.options.logger.warn({ err: (err as Error).message }, 'bundle refresh failed; keeping the last one');
      }
      this.scheduleBundle();
    });
  }

  private every(ms: number, run: () => Promise<void>): void {
    this.later(ms, async () => {
      await run();
      this.every(ms, run);
    });
  }

  private later(ms: number, run: () => Promise<void>): void {
    if (this.stopped) return;
    const timer = setTimeout(() => {
      this.timers.delete(timer);
      void run();
    }, ms);
    timer.unref();
    this.timers.add(timer);
  }

  private emit(): void {
    if (!this.trust) return;
    for (const listener of this.listeners) listener(this.material, this.trust);
  }
}
