import type { AuthorityRecord } from './state.js';

/** The rotation policy: how long leaves live and how long a prepared intermediate is published before it signs. */
export interface RotationPolicy {
  /** The longest lifetime of any leaf the CA signs (SVIDs and listener certificates). */
  maxLeafTtlMs: number;
  /** Time between publishing the next intermediate in the bundle and signing with it. */
  activationDelayMs: number;
  /** Prepare the next intermediate automatically once this fraction of the active one's life has passed (0.5). */
  prepareAtFraction: number;
}

/** One step of the rotation state machine. */
export type RotationStep =
  | { kind: 'prepare'; activateAt: number }
  | { kind: 'activate'; intermediateId: string; retireOldAt: number }
  | { kind: 'retire'; intermediateId: string };

/**
 * When a prepared intermediate starts signing: after `activationDelayMs`, but early enough that the active one
 * never signs a leaf beyond its own expiry window (`notAfter - maxLeafTtl`), and never before `now`.
 *
 * @example
 * activationTime(now, activeNotAfter, policy); // now + 7 days, or sooner near expiry
 */
export function activationTime(now: number, activeNotAfter: number, policy: RotationPolicy): number {
  return Math.max(now, Math.min(now + policy.activationDelayMs, activeNotAfter - policy.maxLeafTtlMs));
}

/**
 * When an intermediate that stopped signing at `deactivatedAt` can leave the bundle: once the last leaf it signed has
 * expired (a leaf lives at most `maxLeafTtlMs`, and never past its issuer's notAfter).
 *
 * @example
 * retirementTime(activatedAt, oldNotAfter, 86_400_000); // activatedAt + 24 h
 */
export function retirementTime(deactivatedAt: number, oldNotAfter: number, maxLeafTtlMs: number): number {
  return Math.min(deactivatedAt + maxLeafTtlMs, oldNotAfter);
}

/**
 * The rotation steps due at `now`, as a pure function of the stored CA record (SPIRE-style overlap):
 * prepare the next intermediate once `prepareAtFraction` of the active one's life has passed (or when `force`, the
 * admin's `ca rotate`), activate it at its `activateAt`, and retire each former intermediate at its `retireAt`.
 *
 * @example
 * for (const step of rotationSteps(record, clock.now(), policy)) await apply(step);
 */
export function rotationSteps(
  record: AuthorityRecord,
  now: number,
  policy: RotationPolicy,
  force = false,
): RotationStep[] {
  const steps: RotationStep[] = [];
  const active = record.intermediates.find((i) => i.id === record.activeIntermediateId);
  for (const retiring of record.retiring ?? []) {
    if (retiring.retireAt <= now) steps.push({ kind: 'retire', intermediateId: retiring.intermediateId });
  }
  if (!active) return steps;
  if (record.next) {
    if (record.next.activateAt <= now) {
      steps.push({
        kind: 'activate',
        intermediateId: record.next.intermediateId,
        retireOldAt: retirementTime(now, active.notAfter, policy.maxLeafTtlMs),
      });
    }
    return steps;
  }
  const preparesAt = active.notBefore + Math.floor((active.notAfter - active.notBefore) * policy.prepareAtFraction);
  if (force || now >= preparesAt)
    steps.push({ kind: 'prepare', activateAt: activationTime(now, active.notAfter, policy) });
  return steps;
}
