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
  /**
   * Human-readable, one per CA certificate within `expiryWarningMs` of expiry (or expired) that nothing replaces in
   * time. Empty when all is well.
   */
  warnings: string[];
  /**
   * Human-readable, expected events instead of warnings: the active intermediate is within `expiryWarningMs` of expiry
   * but its published successor takes over before then (names the successor and its activation time).
   */
  notices: string[];
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

/** The prepared intermediate (the record's `next`): published in the bundle, signing from `activateAt`. */
export interface SuccessorIntermediate {
  intermediateId: string;
  activateAt: number;
}

/**
 * The active intermediate near its expiry: a notice when `next` takes over strictly before it expires (the rotation
 * check activates it on time), a warning otherwise (no successor, or one that would activate too late).
 */
function intermediateExpiry(
  intermediate: CaCertificateStatus,
  next: SuccessorIntermediate | undefined,
  now: number,
  expiryWarningMs: number,
): Pick<AuthorityStatus, 'warnings' | 'notices'> {
  const warned = warning('intermediate', intermediate, now, expiryWarningMs);
  if (warned.length === 0 || intermediate.notAfter <= now || !next || next.activateAt >= intermediate.notAfter) {
    return { warnings: warned, notices: [] };
  }
  const expires = new Date(intermediate.notAfter).toISOString();
  const activates = new Date(next.activateAt).toISOString();
  return {
    warnings: [],
    notices: [
      `the intermediate CA certificate expires on ${expires} (${intermediate.daysLeft} days left); its successor ${next.intermediateId} is published and takes over on ${activates}`,
    ],
  };
}

/**
 * The CA's state at `now`: the active intermediate and its root, days left, and warnings when either is within
 * `expiryWarningMs` of expiry (a silently expiring CA takes the whole mesh down). An expiring intermediate whose
 * published successor (`next`) activates before it expires is a notice, not a warning: the rotation is on schedule.
 *
 * @example
 * const s = authorityStatus(loaded, clock.now(), 30 * 86_400_000, record.next);
 * if (s.warnings.length) logger.warn({ warnings: s.warnings });
 */
export function authorityStatus(
  authority: LoadedAuthority,
  now: number,
  expiryWarningMs: number,
  next?: SuccessorIntermediate,
): AuthorityStatus {
  const rootCa = authority.roots.find((r) => r.record.id === authority.active.rootId);
  const root = describe(rootCa ?? (authority.roots[0] as LoadedCa), now);
  const intermediate = describe(authority.active, now);
  const expiry = intermediateExpiry(intermediate, next, now, expiryWarningMs);
  return {
    trustDomain: authority.trustDomain,
    root,
    intermediate,
    warnings: [...warning('root', root, now, expiryWarningMs), ...expiry.warnings],
    notices: expiry.notices,
  };
}
