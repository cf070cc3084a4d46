import { readFileSync } from 'node:fs';
import { GatehouseError, type Logger } from '../core/index.js';

/** A PEM file named on the command line (`--cert`, `--key`, `--issuer-ca`). */
export function readPem(file: string, what: string): string {
  try {
    return readFileSync(file, 'utf8');
  } catch (err) {
    throw new GatehouseError('ERR_CONFIG_UNREADABLE', {
      message: `cannot read the ${what} file ${file}: ${(err as NodeJS.ErrnoException).code ?? 'error'}`,
    });
  }
}

/** What takes a renewed `--cert`/`--key` pair: a component alone or the gateway alone. */
export interface CertificateReloadTarget {
  reloadCertificate(pem: { certPem: string; keyPem: string }): { serialNumber: string; notAfter: number };
}

/**
 * SIGHUP's certificate step: re-reads `--cert`/`--key` and swaps the pair in, printing `gatehouse <name>: listener
 * certificate reloaded (serial S, valid until T)`. An unreadable file or a pair that does not check is logged
 * (`certificate_reload_failed` with the reason, never the key) and the current pair stays. Returns whether it swapped.
 *
 * @example
 * process.on('SIGHUP', () => reloadCertificateFiles(running, { cert, key }, 'kms', logger));
 */
export function reloadCertificateFiles(
  target: CertificateReloadTarget,
  files: { cert: string; key: string },
  name: string,
  logger: Logger,
): boolean {
  try {
    const { serialNumber, notAfter } = target.reloadCertificate({
      certPem: readPem(files.cert, 'certificate'),
      keyPem: readPem(files.key, 'key'),
    });
    process.stdout.write(
      `gatehouse ${name}: listener certificate reloaded (serial ${serialNumber}, valid until ${new Date(notAfter).toISOString()})\n`,
    );
    return true;
  } catch (err) {
    logger.error(
      { event: 'certificate_reload_failed', reason: (err as Error).message },
      'certificate reload refused; keeping the current certificate',
    );
    return false;
  }
}
