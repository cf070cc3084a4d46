import type { OutgoingHttpHeaders } from 'node:http';
import { type RateDecision, retryAfterSeconds } from '../ratelimit/index.js';

/** What the headers need of a limit. */
export interface HeaderPolicy {
  name: string;
  rate: number;
  /** Milliseconds. */
  per: number;
}

/** Whole seconds, rounded up. */
function seconds(ms: number): number {
  return Math.ceil(ms / 1000);
}

/**
 * `RateLimit-Policy` (draft-ietf-httpapi-ratelimit-headers-11): a Structured-Field list of the route's policies,
 * `"name";q=<rate>;w=<period in seconds>`.
 *
 * @example
 * policyHeader([{ name: 'per-key', rate: 1000, per: 1000 }]); // '"per-key";q=1000;w=1'
 */
export function policyHeader(policies: readonly HeaderPolicy[]): string {
  return policies.map((p) => `"${p.name}";q=${p.rate};w=${Math.max(1, seconds(p.per))}`).join(', ');
}

/**
 * `RateLimit` for the most restrictive policy: `"name";r=<remaining>;t=<seconds>`, where `t` is the wait before a
 * retry when refused, and the time until the quota is full again when admitted.
 *
 * @example
 * rateLimitHeader('per-key', decision); // '"per-key";r=0;t=1'
 */
export function rateLimitHeader(name: string, decision: RateDecision): string {
  const t = decision.allowed ? seconds(decision.resetAfterMs) : seconds(decision.retryAfterMs);
  return `"${name}";r=${Math.max(0, decision.remaining)};t=${t}`;
}

export { retryAfterSeconds };

/**
 * Puts the gateway's own response headers on an upstream answer. `RateLimit` and `RateLimit-Policy` are Structured
 * Field lists: the gateway's items are appended to the upstream's own instead of replacing them, so a stricter limit
 * of the upstream stays visible (draft-ietf-httpapi-ratelimit-headers-11: an intermediary should not make the fields
 * more permissive). The gateway's `Vary` names (a CORS route's `Origin`) are added to the upstream's. Any other field
 * of the gateway replaces the upstream's.
 *
 * @example
 * addGatewayHeaders(out, { ratelimit: '"per-key";r=4;t=1' }); // '"app";r=0;t=30, "per-key";r=4;t=1' when the upstream sent one
 */
export function addGatewayHeaders(out: OutgoingHttpHeaders, own: Readonly<Record<string, string>>): void {
  for (const name in own) {
    const value = own[name] as string;
    const upstream = out[name];
    if (upstream === undefined) out[name] = value;
    else if (name === 'ratelimit' || name === 'ratelimit-policy') out[name] = `${String(upstream)}, ${value}`;
    else if (name === 'vary') out[name] = addVary(String(upstream), value);
    else out[name] = value;
  }
}

/** The upstream's `Vary` with the gateway's field names added (`*` already varies by everything). */
function addVary(upstream: string, own: string): string {
  const names = upstream.split(',').map((n) => n.trim().toLowerCase());
  if (names.includes('*')) return upstream;
  const added = own.split(',').filter((n) => !names.includes(n.trim().toLowerCase()));
  return added.length === 0 ? upstream : `${upstream}, ${added.map((n) => n.trim()).join(', ')}`;
}
