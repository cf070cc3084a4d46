import { normalizeRequestTarget } from '../core/index.js';

/**
 * Authorization policies by caller SPIFFE ID, method and path, with the semantics of Istio's AuthorizationPolicy:
 * any matching DENY policy denies; with no ALLOW policy the request is allowed; otherwise an ALLOW policy must match.
 *
 * Strings match exactly, by prefix (`"/api/*"`), by suffix (`"*.json"`) or anything (`"*"`). Principals are written
 * either as the full SPIFFE ID or, as in Istio, without the `spiffe://` scheme (`"td/ns/demo/sa/frontend"`).
 */

/** Who is calling: every listed field must match (a field matches when any of its values does). */
export interface PolicySource {
  principals?: string[];
  notPrincipals?: string[];
}

/**
 * What is called: every listed field must match. Paths are matched without the query string, after
 * normalizeRequestTarget (escapes of unreserved characters decoded, `//` merged, `.` and `..` removed): write
 * patterns in that form (`/admin/*`, never `//admin` or `/%61dmin`).
 */
export interface PolicyOperation {
  methods?: string[];
  notMethods?: string[];
  paths?: string[];
  notPaths?: string[];
}

/** A rule matches when any `from` source and any `to` operation match (an absent list matches everything). */
export interface PolicyRule {
  from?: PolicySource[];
  to?: PolicyOperation[];
}

/** One policy. A policy without rules matches nothing; `rules: [{}]` matches every request. */
export interface AuthorizationPolicy {
  name: string;
  action: 'ALLOW' | 'DENY';
  rules: PolicyRule[];
}

/** The request as policies see it; `principal` is undefined for a plaintext (PERMISSIVE) caller. */
export interface PolicyRequest {
  principal: string | undefined;
  method: string;
  /** The request target (path and query) as received or already normalized: it is normalized here either way. */
  path: string;
}

/** The outcome and which policy decided it. */
export interface PolicyDecision {
  allowed: boolean;
  reason: 'deny_matched' | 'no_allow_policy' | 'allow_matched' | 'no_allow_matched' | 'invalid_target';
  policy?: string;
}

/**
 * Matches one value against an Istio-style string pattern.
 *
 * @example
 * matchesPattern('/api/*', '/api/users'); // true
 */
export function matchesPattern(pattern: string, value: string): boolean {
  if (pattern === '*') return true;
  if (pattern.endsWith('*')) return value.startsWith(pattern.slice(0, -1));
  if (pattern.startsWith('*')) return value.endsWith(pattern.slice(1));
  return pattern === value;
}

function principalMatches(pattern: string, principal: string): boolean {
  const value = pattern.startsWith('spiffe://') ? principal : principal.replace(/^spiffe:\/\//, '');
  return matchesPattern(pattern, value);
}

function anyOf(patterns: string[] | undefined, test: (p: string) => boolean): boolean | undefined {
  return patterns === undefined ? undefined : patterns.some(test);
}

function sourceMatches(source: PolicySource, principal: string | undefined): boolean {
  if (source.principals !== undefined) {
    if (principal === undefined || !anyOf(source.principals, (p) => principalMatches(p, principal))) return false;
  }
  if (source.notPrincipals !== undefined && principal !== undefined) {
    if (anyOf(source.notPrincipals, (p) => principalMatches(p, principal))) return false;
  }
  return true;
}

function operationMatches(op: PolicyOperation, method: string, path: string): boolean {
  const upper = method.toUpperCase();
  if (anyOf(op.methods, (m) => matchesPattern(m.toUpperCase(), upper)) === false) return false;
  if (anyOf(op.notMethods, (m) => matchesPattern(m.toUpperCase(), upper)) === true) return false;
  if (anyOf(op.paths, (p) => matchesPattern(p, path)) === false) return false;
  if (anyOf(op.notPaths, (p) => matchesPattern(p, path)) === true) return false;
  return true;
}

function ruleMatches(rule: PolicyRule, request: PolicyRequest, path: string): boolean {
  const from = rule.from === undefined || rule.from.some((s) => sourceMatches(s, request.principal));
  const to = rule.to === undefined || rule.to.some((o) => operationMatches(o, request.method, path));
  return from && to;
}

function policyMatches(policy: AuthorizationPolicy, request: PolicyRequest, path: string): boolean {
  return policy.rules.some((rule) => ruleMatches(rule, request, path));
}

/**
 * Evaluates the policies of a workload for one request (Istio order: DENY, then ALLOW), on the normalized path, so
 * that `//admin/x`, `/./admin/x`, `/%61dmin/x` and `/x/../admin/x` all meet a policy on `/admin/*` (Istio
 * CVE-2019-9901). A target normalizeRequestTarget refuses (not origin-form, malformed escape) is denied
 * (`invalid_target`). The caller must forward the normalized target, not the raw one, or the app may see another path.
 *
 * @example
 * evaluatePolicies(policies, { principal: 'spiffe://td/ns/demo/sa/frontend', method: 'GET', path: '/hello' });
 * // { allowed: true, reason: 'allow_matched', policy: 'frontend-only' }
 */
export function evaluatePolicies(policies: readonly AuthorizationPolicy[], request: PolicyRequest): PolicyDecision {
  const target = normalizeRequestTarget(request.path);
  if (target === undefined) return { allowed: false, reason: 'invalid_target' };
  const query = target.indexOf('?');
  const path = query === -1 ? target : target.slice(0, query);
  for (const policy of policies) {
    if (policy.action === 'DENY' && policyMatches(policy, request, path)) {
      return { allowed: false, reason: 'deny_matched', policy: policy.name };
    }
  }
  const allows = policies.filter((p) => p.action === 'ALLOW');
  if (allows.length === 0) return { allowed: true, reason: 'no_allow_policy' };
  const match = allows.find((policy) => policyMatches(policy, request, path));
  return match
    ? { allowed: true, reason: 'allow_matched', policy: match.name }
    : { allowed: false, reason: 'no_allow_matched' };
}
