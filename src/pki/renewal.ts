/** When to renew a certificate, as pure functions of its issuance time and expiry. */
export interface RenewalTiming {
  /** When the certificate was issued (ms). Not the backdated notBefore: the 10 s of slack are not lifetime. */
  issuedAt: number;
  /** Its notAfter (ms). */
  notAfter: number;
  /** Fraction of the lifetime after which it is renewed, in (0, 1), e.g. 2/3. */
  fraction: number;
  /** Spread: the fraction moves by up to ± this much (default 0), so that many certificates do not renew at once. */
  jitterFraction?: number;
  /** A uniform random number in [0, 1) (default Math.random); injected so tests are exact. */
  random?: () => number;
}

/**
 * The moment a certificate should be renewed: `issuedAt + lifetime × (fraction ± jitter)`, kept strictly inside the
 * lifetime (never before issuance, never at or after expiry).
 *
 * @example
 * renewalTime({ issuedAt: 0, notAfter: 3_000, fraction: 2 / 3 }); // 2000
 */
export function renewalTime(timing: RenewalTiming): number {
  const { issuedAt, notAfter, fraction } = timing;
  if (!(fraction > 0 && fraction < 1)) throw new RangeError('fraction must be in (0, 1)');
  const lifetime = notAfter - issuedAt;
  if (lifetime <= 0) return issuedAt;
  const jitter = timing.jitterFraction ?? 0;
  const spread = jitter === 0 ? 0 : (2 * (timing.random ?? Math.random)() - 1) * jitter;
  const effective = Math.min(Math.max(fraction + spread, 0), 1);
  const at = issuedAt + Math.floor(lifetime * effective);
  return Math.min(Math.max(at, issuedAt), notAfter - 1);
}

/**
 * True when `now` is at or after {@link renewalTime}.
 *
 * @example
 * isRenewalDue({ now: clock.now(), issuedAt: cert.issuedAt, notAfter: cert.notAfter, fraction: 2 / 3 });
 */
export function isRenewalDue(timing: RenewalTiming & { now: number }): boolean {
  return timing.now >= renewalTime(timing);
}
