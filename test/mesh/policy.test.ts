import { describe, expect, it } from 'vitest';
import { evaluatePolicies, matchesPattern, type AuthorizationPolicy } from '../../src/mesh/index.js';

const FRONTEND = 'spiffe://td/ns/demo/sa/frontend';
const ADMIN = 'spiffe://td/ns/ops/sa/admin';
const allowFrontend: AuthorizationPolicy = {
  name: 'allow-frontend',
  action: 'ALLOW',
  rules: [{ from: [{ principals: [FRONTEND] }], to: [{ methods: ['GET', 'POST'], paths: ['/api/*'] }] }],
};
const allowOpsNamespace: AuthorizationPolicy = {
  name: 'allow-ops',
  action: 'ALLOW',
  rules: [{ from: [{ principals: ['td/ns/ops/*'] }] }],
};
const denyDelete: AuthorizationPolicy = {
  name: 'deny-delete',
  action: 'DENY',
  rules: [{ to: [{ methods: ['DELETE'] }] }],
};
const denyAdminPaths: AuthorizationPolicy = {
  name: 'deny-admin',
  action: 'DENY',
  rules: [{ from: [{ notPrincipals: ['td/ns/ops/*'] }], to: [{ paths: ['/admin', '/admin/*'] }] }],
};
const allowNothing: AuthorizationPolicy = { name: 'allow-nothing', action: 'ALLOW', rules: [] };
const allowAll: AuthorizationPolicy = { name: 'allow-all', action: 'ALLOW', rules: [{}] };

describe('authorization policies (Istio semantics)', () => {
  it.each([
    // [policies, principal, method, path, allowed, reason, policy]
    [[], FRONTEND, 'GET', '/x', true, 'no_allow_policy', undefined],
    [[], undefined, 'GET', '/x', true, 'no_allow_policy', undefined],
    [[denyDelete], FRONTEND, 'GET', '/x', true, 'no_allow_policy', undefined],
    [[denyDelete], FRONTEND, 'DELETE', '/x', false, 'deny_matched', 'deny-delete'],
    [[allowFrontend], FRONTEND, 'GET', '/api/users?q=1', true, 'allow_matched', 'allow-frontend'],
    [[allowFrontend], FRONTEND, 'get', '/api/users', true, 'allow_matched', 'allow-frontend'],
    [[allowFrontend], FRONTEND, 'PUT', '/api/users', false, 'no_allow_matched', undefined],
    [[allowFrontend], FRONTEND, 'GET', '/other', false, 'no_allow_matched', undefined],
    [[allowFrontend], ADMIN, 'GET', '/api/users', false, 'no_allow_matched', undefined],
    [[allowFrontend], undefined, 'GET', '/api/users', false, 'no_allow_matched', undefined],
    [[allowFrontend, allowOpsNamespace], ADMIN, 'PUT', '/anything', true, 'allow_matched', 'allow-ops'],
    // DENY wins over a matching ALLOW
    [[allowFrontend, denyDelete], FRONTEND, 'DELETE', '/api/users', false, 'deny_matched', 'deny-delete'],
    [[allowAll, denyAdminPaths], FRONTEND, 'GET', '/admin/keys', false, 'deny_matched', 'deny-admin'],
    [[allowAll, denyAdminPaths], ADMIN, 'GET', '/admin/keys', true, 'allow_matched', 'allow-all'],
    [[allowAll, denyAdminPaths], undefined, 'GET', '/admin', false, 'deny_matched', 'deny-admin'],
    // an ALLOW policy without rules allows nothing (but still makes ALLOW required)
    [[allowNothing], FRONTEND, 'GET', '/', false, 'no_allow_matched', undefined],
    [[allowAll], undefined, 'GET', '/', true, 'allow_matched', 'allow-all'],
  ] as const)('%#: %j %s %s %s → %s', (policies, principal, method, path, allowed, reason, policy) => {
    const decision = evaluatePolicies(policies as unknown as AuthorizationPolicy[], { principal, method, path });
    expect(decision).toEqual({ allowed, reason, ...(policy ? { policy } : {}) });
  });

  it('judges the normalized path: every encoding of /admin/keys meets the DENY, an unparsable target is denied', () => {
    const judge = (path: string) =>
      evaluatePolicies([allowAll, denyAdminPaths], { principal: FRONTEND, method: 'GET', path });
    for (const path of ['//admin/keys', '/./admin/keys', '/%61dmin/keys', '/x/../admin/keys', '/admin//keys?x=1']) {
      expect(judge(path), path).toEqual({ allowed: false, reason: 'deny_matched', policy: 'deny-admin' });
    }
    for (const path of ['/%zz/admin', 'http://h/admin/keys', '*', '']) {
      expect(judge(path), path).toEqual({ allowed: false, reason: 'invalid_target' });
    }
    expect(judge('/x/../public')).toEqual({ allowed: true, reason: 'allow_matched', policy: 'allow-all' });
  });

  it('matches exact, prefix, suffix and any', () => {
    expect(matchesPattern('/a', '/a')).toBe(true);
    expect(matchesPattern('/a', '/a/b')).toBe(false);
    expect(matchesPattern('/a/*', '/a/b')).toBe(true);
    expect(matchesPattern('*.json', '/x.json')).toBe(true);
    expect(matchesPattern('*', '')).toBe(true);
  });
});
