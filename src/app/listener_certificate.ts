import { X509Certificate, createPrivateKey, randomBytes } from 'node:crypto';
import { GatehouseError, type Clock, type Logger } from '../core/index.js';
import { renewalTime, type Authority } from '../pki/index.js';

export interface IssuedListenerCert {
  certPem: string;
  keyPem: string;
  notAfter: number;
  issuedAt: number;
  serialNumber: string;
}

const RETRY_MS = 30_000;

/** What a platform listener needs from its certificate: the first one, renewals handed to `apply`, and a stop. */
export interface ListenerCertificateSource {
  issue(): Promise<IssuedListenerCert>;
  start(apply: (cert: IssuedListenerCert) => void): void;
  renewNow(): Promise<IssuedListenerCert>;
  stop(): void;
}

/**
 * A listener certificate supplied by the operator (`--cert`/`--key` of a component started alone): checked once
 * (the first certificate of the PEM chain must match the private key), never renewed here; `renewNow` hands the
 * same one back. Whoever issued it renews it (restart the component with the new files).
 */
export class FixedListenerCertificate implements ListenerCertificateSource {
  constructor(private readonly pem: { certPem: string; keyPem: string }) {}

  async issue(): Promise<IssuedListenerCert> {
    let cert: X509Certificate;
    try {
      cert = new X509Certificate(this.pem.certPem);
    } catch {
      throw new GatehouseError('ERR_CONFIG_INVALID', { message: '--cert: not a PEM certificate' });
    }
    let matches: boolean;
    try {
      matches = cert.checkPrivateKey(createPrivateKey(this.pem.keyPem));
    } catch {
      throw new GatehouseError('ERR_CONFIG_INVALID', { message: '--key: not a PEM private key' });
    }
    if (!matches) {
      throw new GatehouseError('ERR_CONFIG_INVALID', {
        message: '--key: the private key does not belong to the first certificate of --cert',
      });
    }
    return {
      certPem: this.pem.certPem,
      keyPem: this.pem.keyPem,
      notAfter: Date.parse(cert.validTo),
      issuedAt: Date.parse(cert.validFrom),
      serialNumber: cert.serialNumber,
    };
  }

  start(): void {}

  renewNow(): Promise<IssuedListenerCert> {
    return this.issue();
  }

  stop(): void {}
}

/**
 * Keeps one platform listener's certificate fresh: issues it from the CA (SPIFFE URI for the component plus
 * DNS:localhost, IP:127.0.0.1 and ::1), renews it at the configured fraction of its lifetime with a little jitter,
 * and hands each new one to `apply` (which swaps it in with setSecureContext). The private key lives only in memory.
 * If renewal fails it retries every 30 s while the current certificate is still valid.
 */
export class ListenerCertificate implements ListenerCertificateSource {
  private timer: NodeJS.Timeout | undefined;
  private stopped = false;
  current: IssuedListenerCert | undefined;

  constructor(
    private readonly options: {
      component: string;
      authority: Authority;
      ttlMs: number;
      renewAtFraction: number;
      clock: Clock;
      logger: Logger;
      apply?: (cert: IssuedListenerCert) => void;
    },
  ) {}

  /** Issues the first certificate (no timer yet: call `start` once the listener exists). */
  async issue(): Promise<IssuedListenerCert> {
    const issuedAt = this.options.clock.now();
    const cert = await this.options.authority.issueListenerCertificate({
      component: this.options.component,
      dnsNames: ['localhost'],
      ipAddresses: ['127.0.0.1', '::1'],
      ttlMs: this.options.ttlMs,
    });
    this.current = {
      certPem: cert.certPem,
      keyPem: cert.keyPem,
      notAfter: cert.notAfter,
      issuedAt,
      serialNumber: cert.serialNumber,
    };
    return this.current;
  }

  /** Schedules renewals from now on. */
  start(apply: (cert: IssuedListenerCert) => void): void {
    this.options.apply = apply;
    this.schedule();
  }

  /** Renews now (the admin API's forced-renew hook and tests use it). */
  async renewNow(): Promise<IssuedListenerCert> {
    const cert = await this.issue();
    this.options.apply?.(cert);
    this.options.logger.info(
      { listener: this.options.component, serial: cert.serialNumber, notAfter: new Date(cert.notAfter).toISOString() },
      'listener certificate renewed',
    );
    this.schedule();
    return cert;
  }

  stop(): void {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
  }

  private schedule(): void {
    if (this.stopped || !this.current) return;
    if (this.timer) clearTimeout(this.timer);
    const at = renewalTime({
      issuedAt: this.current.issuedAt,
      notAfter: this.current.notAfter,
      fraction: this.options.renewAtFraction,
      jitterFraction: 0.02,
      random: () => randomBytes(4).readUInt32BE() / 2 ** 32,
    });
    this.arm(Math.max(0, at - this.options.clock.now()));
  }

  private arm(delayMs: number): void {
    // setTimeout cannot wait longer than 2^31-1 ms; re-arm in steps.
    const step = Math.min(delayMs, 2 ** 31 - 1);
    this.timer = setTimeout(() => {
      if (step < delayMs) return this.arm(delayMs - step);
      this.renewNow().catch((err: unknown) => {
        const validFor = (this.current?.notAfter ?? 0) - this.options.clock.now();
        this.options.logger.error(
          { listener: this.options.component, err: (err as Error).message, validForMs: validFor },
          'listener certificate renewal failed; retrying',
        );
        if (!this.stopped) this.arm(RETRY_MS);
      });
    }, step);
    this.timer.unref();
  }
}
