import { describe, expect, it } from 'vitest';
import { isGatehouseError } from '../../src/core/index.js';
import { authorize, type GatewayPrincipal } from '../../src/gateway/index.js';

const auth = (over: Partial<{ scopes: string[]; anyScopes: string[]; roles: string[] }> = {}) => ({
  kind: 'jwt' as const,
  scopes: [],
  anyScopes: [],
  roles: [],
  ...over,
});
const caller = (scopes: string[], roles: string[] = []): GatewayPrincipal => ({
  kind: 'jwt',
  sub: 'alice',
  clientId: 'app',
  scopes: new Set(scopes),
  roles,
});
const refusal = (run: () => void) => {
  try {
    run();
  } catch (err) {
    return isGatehouseError(err) ? err.code : 'not a GatehouseError';
  }
  return undefined;
};

describe('the authorization stage', () => {
  it('needs every scope, one of the any-scopes when there are some, and every role', () => {
    const route = auth({ scopes: ['orders:read'], anyScopes: ['eu', 'us'], roles: ['clerk'] });
    expect(refusal(() => authorize(route, caller(['orders:read', 'us'], ['clerk', 'x'])))).toBeUndefined();
    expect(refusal(() => authorize(route, caller(['us'], ['clerk'])))).toBe('ERR_TOKEN_INSUFFICIENT_SCOPE');
    expect(refusal(() => authorize(route, caller(['orders:read'], ['clerk'])))).toBe('ERR_TOKEN_INSUFFICIENT_SCOPE');
    expect(refusal(() => authorize(route, caller(['orders:read', 'eu'], [])))).toBe('ERR_TOKEN_INSUFFICIENT_SCOPE');
    expect(refusal(() => authorize(route, undefined))).toBe('ERR_TOKEN_INSUFFICIENT_SCOPE');
  });

  it('asks nothing of a public route, and only authentication of a route with no requirement', () => {
    expect(refusal(() => authorize({ ...auth(), kind: 'none' }, undefined))).toBeUndefined();
    expect(refusal(() => authorize(auth(), caller([])))).toBeUndefined();
  });
});
