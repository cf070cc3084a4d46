import type { Logger } from '../core/index.js';

/**
 * The CA expiry warning for a check that runs every minute: logged when its words change (a new warning, or the
 * days left, once a day), not at every check. `alreadyLogged` are the warnings the start logged (Authority.open).
 * `ca status`, the metric and `gatehouse doctor` show the warnings at any time.
 *
 * @example
 * const logExpiry = expiryWarningLog(logger, authority.status().warnings);
 * scheduler.add({ name: 'ca-rotation', everyMs: 60_000, run: async () => logExpiry(authority.status().warnings) });
 */
export function expiryWarningLog(
  logger: Logger,
  alreadyLogged: readonly string[],
): (warnings: readonly string[]) => void {
  let logged = alreadyLogged.join('\n');
  return (warnings) => {
    const words = warnings.join('\n');
    if (warnings.length > 0 && words !== logged) {
      logger.warn({ warnings }, 'the certificate authority is close to expiry');
    }
    logged = words;
  };
}
