import { X509Certificate, createPrivateKey, randomBytes } from 'node:crypto';
import { isIP } from 'node:net';
import { GatehouseError, silentLogger, type Clock, type Logger } from '../core/index.js';
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

/** A certificate chain and its private key (PEM), as the operator gives them with `--cert`/`--key`. */
export interface CertificatePair {
  certPem: string;
  keyPem: string;
}

/**
 * Checks an operator's pair: the first certificate of the PEM chain must parse and match the private key. Throws
 * ERR_CONFIG_INVALID naming `--cert` or `--key` otherwise.
 *
 * @example
 * const issued = checkCertificatePair({ certPem, keyPem });
 */
export function checkCertificatePair(pem: CertificatePair): IssuedListenerCert {
  let cert: X509Certificate;
  try {
    cert = new X509Certificate(pem.certPem);
  } catch {
    throw new GatehouseError('ERR_CONFIG_INVALID', { message: '--cert: not a PEM certificate' });
  }
  let matches: boolean;
  try {
    matches = cert.checkPrivateKey(createPrivateKey(pem.keyPem));
  } catch {
    throw new GatehouseError('ERR_CONFIG_INVALID', { message: '--key: not a PEM private key' });
  }
  if (!matches) {
    throw new GatehouseError('ERR_CONFIG_INVALID', {
      message: '--key: the private key does not belong to the first certificate of --cert',
    });
  }
  return {
    certPem: pem.certPem,
    keyPem: pem.keyPem,
    notAfter: Date.parse(cert.validTo),
    issuedAt: Date.parse(cert.validFrom),
    serialNumber: cert.serialNumber,
  };
}

/**
 * The listener certificate supplied by the operator (`--cert`/`--key` of a component started alone), shared by the
 * component's listeners. Never renewed by gatehouse: whoever issued it renews it, and `replace` (the CLI calls it on
 * SIGHUP with the re-read files) checks the new pair and swaps it into every listener with setSecureContext; a pair
 * that does not check throws and the current one stays. Used by the components alone (`gatehouse identity|kms|ca`)
 * and the gateway alone (`gatehouse gateway`).
 *
 * @example
 * const operator = OperatorCertificate.load({ certPem, keyPem }, logger); // ERR_CONFIG_INVALID for a bad pair
 * await preparePlatformListener({ core, component: 'kms', logger, certificate: operator, build });
 * operator.replace(renewedPair);
 */
export class OperatorCertificate {
  private readonly appliers = new Set<(cert: IssuedListenerCert) => void>();

  private constructor(
    private issued: IssuedListenerCert,
    private readonly logger: Logger,
  ) {}

  /** Checks the pair (see {@link checkCertificatePair}); each replacement is logged to `logger`. */
  static load(pem: CertificatePair, logger: Logger = silentLogger): OperatorCertificate {
    return new OperatorCertificate(checkCertificatePair(pem), logger);
  }

  /**
   * Checks `pem`, then swaps it into every listener (new connections get it; open ones keep theirs). When TLS refuses
   * it at one listener (a key too weak for OpenSSL, say), the listeners already swapped get the current pair back and
   * ERR_CONFIG_INVALID is thrown. A pair swapped in is logged (`listener_certificate_replaced`, serial and expiry).
   */
  replace(pem: CertificatePair): IssuedListenerCert {
    const next = checkCertificatePair(pem);
    const swapped: Array<(cert: IssuedListenerCert) => void> = [];
    try {
      for (const apply of this.appliers) {
        apply(next);
        swapped.push(apply);
      }
    } catch (err) {
      for (const apply of swapped) apply(this.issued);
      throw new GatehouseError('ERR_CONFIG_INVALID', {
        message: `--cert/--key: refused by TLS: ${(err as Error).message}`,
      });
    }
    this.issued = next;
    this.logger.info(
      {
        event: 'listener_certificate_replaced',
        serial: next.serialNumber,
        notAfter: new Date(next.notAfter).toISOString(),
      },
      'listener certificate replaced',
    );
    return next;
  }

  /** One listener's view: its first certificate, then each replacement handed to `apply` once it listens. */
  source(): ListenerCertificateSource {
    let applier: ((cert: IssuedListenerCert) => void) | undefined;
    return {
      issue: async () => this.issued,
      start: (apply) => {
        applier = apply;
        this.appliers.add(apply);
      },
      renewNow: async () => this.issued,
      stop: () => {
        if (applier) this.appliers.delete(applier);
      },
    };
  }
}

/**
 * Keeps one platform listener's certificate fresh: issues it from the CA (SPIFFE URI for the component plus
 * DNS:localhost, IP:127.0.0.1 and ::1, and the `names` the operator lists), renews it at the configured fraction of its lifetime with a little jitter,
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
      /** Extra DNS names and IP addresses (`listen.certificateNames`). */
      names?: readonly string[];
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
    const names = this.options.names ?? [];
    const cert = await this.options.authority.issueListenerCertificate({
      component: this.options.component,
      dnsNames: ['localhost', ...names.filter((name) => isIP(name) === 0)],
      ipAddresses: ['127.0.0.1', '::1', ...names.filter((name) => isIP(name) !== 0)],
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
