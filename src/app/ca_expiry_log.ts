import type { Logger } from '../core/index.js';
import type { AuthorityStatus } from '../pki/index.js';

/** What the expiry log reads of {@link AuthorityStatus}. */
export type ExpiryWords = Pick<AuthorityStatus, 'warnings' | 'notices'>;

/**
 * The CA expiry line for a check that runs every minute: logged when its words change (a new warning, or the days
 * left, once a day), not at every check. A CA certificate near expiry that nothing replaces in time is a warn line;
 * an intermediate near expiry whose published successor takes over before then is an info line that rotation is
 * scheduled (naming the successor and its activation time). `alreadyLogged` is what the start logged
 * (Authority.open). `ca status`, the metric and `gatehouse doctor` show the warnings at any time.
 *
 * @example
 * const logExpiry = expiryWarningLog(logger, authority.status());
 * scheduler.add({ name: 'ca-rotation', everyMs: 60_000, run: async () => logExpiry(authority.status()) });
 */
export function expiryWarningLog(logger: Logger, alreadyLogged: ExpiryWords): (now: ExpiryWords) => void {
  let warned = alreadyLogged.warnings.join('\n');
  let noted = alreadyLogged.notices.join('\n');
  return ({ warnings, notices }) => {
    const warnWords = warnings.join('\n');
    const noteWords = notices.join('\n');
    if (warnings.length > 0 && warnWords !== warned) {
      logger.warn({ warnings }, 'the certificate authority is close to expiry');
    }
    if (notices.length > 0 && noteWords !== noted) logger.info({ notices }, 'CA rotation is scheduled');
    warned = warnWords;
    noted = noteWords;
  };
}
