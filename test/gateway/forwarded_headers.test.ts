import { describe, expect, it } from 'vitest';
import { credentialWithholding, upstreamRequestHeaders } from '../../src/gateway/index.js';
import type { ForwardContext } from '../../src/gateway/forwarded_headers.js';
import type { RouteConfig } from '../../src/gateway/gateway_config.js';

const auth = (kind: RouteConfig['auth']['kind'], forwardToken = false): RouteConfig['auth'] => ({
  kind,
  scopes: [],
  anyScopes: [],
  roles: [],
  forwardToken,
});

const ctx: ForwardContext = {
  clientIp: '203.0.113.7',
  trustedPeer: undefined,
  requestId: 'req-1',
  principal: {
    kind: 'api_key',
    sub: 'alice',
    clientId: 'web',
    apiKeyId: 'key_1',
    scopes: new Set(['demo']),
    roles: [],
  },
};
const withheld = credentialWithholding('X-Api-Key');

describe('upstreamRequestHeaders with the credentials a route withholds', () => {
  it('drops the API-key header (matched in lower case) and a bearer API key on api_key routes', () => {
    const out = upstreamRequestHeaders(
      { 'x-api-key': 'ghk_secret', authorization: 'Bearer ghk_other', accept: 'text/plain' },
      ctx,
      withheld(auth('api_key')),
    );
    expect(out['x-api-key']).toBeUndefined();
    expect(out['authorization']).toBeUndefined();
    expect(out['accept']).toBe('text/plain');
    expect(out['x-gatehouse-key-id']).toBe('key_1');
  });

  it('keeps an Authorization that is not a bearer API key on api_key routes', () => {
    const out = upstreamRequestHeaders(
      { 'x-api-key': 'ghk_secret', authorization: 'Basic dTpw' },
      ctx,
      withheld(auth('api_key')),
    );
    expect(out['authorization']).toBe('Basic dTpw');
    expect(out['x-api-key']).toBeUndefined();
  });

  it('drops Authorization on jwt routes unless they forward the token, and nothing on public routes', () => {
    const headers = { authorization: 'Bearer eyJ.x.y', 'x-api-key': 'not-ours' };
    const jwt = upstreamRequestHeaders(headers, ctx, withheld(auth('jwt')));
    expect(jwt['authorization']).toBeUndefined();
    expect(jwt['x-api-key']).toBe('not-ours');
    const relay = withheld(auth('jwt', true));
    expect(relay).toBeUndefined();
    expect(upstreamRequestHeaders(headers, ctx, relay)['authorization']).toBe('Bearer eyJ.x.y');
    const open = withheld(auth('none'));
    expect(open).toBeUndefined();
    expect(upstreamRequestHeaders(headers, ctx, open)).toMatchObject(headers);
  });

  it('still drops hop-by-hop fields and caller-sent identity, and adds the forwarding fields', () => {
    const out = upstreamRequestHeaders(
      { connection: 'keep-alive', 'x-gatehouse-sub': 'root', host: 'api.example', 'x-forwarded-for': '10.0.0.1' },
      ctx,
      withheld(auth('jwt')),
    );
    expect(out).toEqual({
      'x-forwarded-for': '203.0.113.7',
      'x-forwarded-proto': 'https',
      'x-forwarded-host': 'api.example',
      'x-request-id': 'req-1',
      'x-gatehouse-auth': 'api_key',
      'x-gatehouse-sub': 'alice',
      'x-gatehouse-client-id': 'web',
      'x-gatehouse-key-id': 'key_1',
      'x-gatehouse-scopes': 'demo',
    });
  });

  it('drops underscore spellings of the fields it sets, which CGI-style upstreams read as those fields', () => {
    const out = upstreamRequestHeaders(
      {
        'x-gatehouse_sub': 'root',
        x_gatehouse_scopes: 'admin',
        'x-forwarded_for': '10.0.0.1',
        'x-request_id': 'forged',
        proxy_connection: 'x',
        'x-custom_field': 'kept',
      },
      { ...ctx, principal: undefined },
    );
    expect(out).toEqual({
      'x-custom_field': 'kept', // an underscore alone is no reason to drop a field
      'x-forwarded-for': '203.0.113.7',
      'x-forwarded-proto': 'https',
      'x-request-id': 'req-1',
    });
  });
});
