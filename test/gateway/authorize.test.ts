import { describe, expect, it } from 'vitest';
import { authorize, type GatewayPrincipal } from '../../src/gateway/index.js';
import { codeOf } from '../support/error_code.js';

const auth = (over: Partial<{ scopes: string[]; anyScopes: string[]; roles: string[] }> = {}) => ({
  kind: 'jwt' as const,
  scopes: [],
  anyScopes: [],
  roles: [],
  forwardToken: false,
  ...over,
});
const caller = (scopes: string[], roles: string[] = []): GatewayPrincipal => ({
  kind: 'jwt',
  sub: 'alice',
  clientId: 'app',
  scopes: new Set(scopes),
  roles,
});

describe('the authorization stage', () => {
  it('needs every scope, one of the any-scopes when there are some, and every role', async () => {
    const route = auth({ scopes: ['orders:read'], anyScopes: ['eu', 'us'], roles: ['clerk'] });
    expect(await codeOf(() => authorize(route, caller(['orders:read', 'us'], ['clerk', 'x'])))).toBeUndefined();
    expect(await codeOf(() => authorize(route, caller(['us'], ['clerk'])))).toBe('ERR_TOKEN_INSUFFICIENT_SCOPE');
    expect(await codeOf(() => authorize(route, caller(['orders:read'], ['clerk'])))).toBe(
      'ERR_TOKEN_INSUFFICIENT_SCOPE',
    );
    expect(await codeOf(() => authorize(route, caller(['orders:read', 'eu'], [])))).toBe(
      'ERR_TOKEN_INSUFFICIENT_SCOPE',
    );
    expect(await codeOf(() => authorize(route, undefined))).toBe('ERR_TOKEN_INSUFFICIENT_SCOPE');
  });

  it('asks nothing of a public route, and only authentication of a route with no requirement', async () => {
    expect(await codeOf(() => authorize({ ...auth(), kind: 'none' }, undefined))).toBeUndefined();
    expect(await codeOf(() => authorize(auth(), caller([])))).toBeUndefined();
  });
});
