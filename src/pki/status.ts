import type { LoadedAuthority, LoadedCa } from './load.js';

const DAY_MS = 86_400_000;

/** One CA certificate's state. */
export interface CaCertificateStatus {
  /** The CA record's id: what `next` and `retiring` name, so a rotation can be followed across steps. */
  id: string;
  subject: string;
  serialNumber: string;
  notBefore: number;
  notAfter: number;
  /** Whole days until notAfter (negative once expired). */
  daysLeft: number;
  /** Seconds until notAfter (negative once expired): the value an expiry alert watches. */
  expirySeconds: number;
}

/** What `gatehouse status` and the admin API show about the CA. */
export interface AuthorityStatus {
  trustDomain: string;
  root: CaCertificateStatus;
  intermediate: CaCertificateStatus;
  /** Human-readable, one per CA certificate within `expiryWarningMs` of expiry (or expired). Empty when all is well. */
  warnings: string[];
  /** The SPIFFE bundle sequence. */
  bundleSequence?: number;
  /** CA rotation: the prepared intermediate and when it starts signing. */
  next?: { intermediateId: string; activateAt: number };
  /** CA rotation: former intermediates still in the bundle until their leaves expire. */
  retiring?: Array<{ intermediateId: string; retireAt: number }>;
}

function describe(ca: LoadedCa, now: number): CaCertificateStatus {
  return {
    id: ca.record.id,
    subject: ca.certificate.subject,
    serialNumber: ca.record.serialNumber,
    notBefore: ca.record.notBefore,
    notAfter: ca.record.notAfter,
    daysLeft: Math.floor((ca.record.notAfter - now) / DAY_MS),
    expirySeconds: Math.floor((ca.record.notAfter - now) / 1000),
  };
}

function warning(role: string, ca: CaCertificateStatus, now: number, expiryWarningMs: number): string[] {
  if (ca.notAfter <= now) return [`the ${role} CA certificate expired on ${new Date(ca.notAfter).toISOString()}`];
  if (ca.notAfter - now <= expiryWarningMs) {
    return [`the ${role} CA certificate expires on ${new Date(ca.notAfter).toISOString()} (${ca.daysLeft} days left)`];
  }
  return [];
}

/**
 * The CA's state at `now`: the active intermediate and its root, days left, and warnings when either is within
 * `expiryWarningMs` of expiry (a silently expiring CA takes the whole mesh down).
 *
 * @example
 * const s = authorityStatus(loaded, clock.now(), 30 * 86_400_000); if (s.warnings.length) logger.warn({ warnings: s.warnings });
 */
export function authorityStatus(authority: LoadedAuthority, now: number, expiryWarningMs: number): AuthorityStatus {
  const rootCa = authority.roots.find((r) => r.record.id === authority.active.rootId);
  const root = describe(rootCa ?? (authority.roots[0] as LoadedCa), now);
  const intermediate = describe(authority.active, now);
  return {
    trustDomain: authority.trustDomain,
    root,
    intermediate,
    warnings: [
      ...warning('root', root, now, expiryWarningMs),
      ...warning('intermediate', intermediate, now, expiryWarningMs),
    ],
  };
}
