// Issue 4 benchmark: RFC 7662 introspection over TLS 1.3 (keep-alive, 32 connections) by the token's own client
// (client_secret_basic). gatehouse introspects its ES256 JWT access token (signature verified once and remembered by
// SHA-256 as in production, then claims, expiry, key presence and revocation list on every call);
// node-oidc-provider 8 introspects its opaque access token (a lookup in its memory adapter); the bare node:https
// anchor does the same work as gatehouse (form, SHA-256 secret check, ES256 verify, JSON reply).
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Agent, request } from 'undici';
import { compareHttp, startServer } from '../lib/http_load.mjs';
import { selfSigned } from '../lib/tls.mjs';

const servers = join(dirname(fileURLToPath(import.meta.url)), '..', 'servers');
const basic = (s) =>
  `Basic ${Buffer.from(`${encodeURIComponent(s.clientId)}:${encodeURIComponent(s.secret)}`).toString('base64')}`;
const FORM = 'application/x-www-form-urlencoded';

/** A client-credentials access token from `server` (with `resource` for a JWT, without for an opaque one). */
async function issue(agent, server, path, resource) {
  const res = await request(`https://127.0.0.1:${server.port}${path}`, {
    method: 'POST',
    dispatcher: agent,
    headers: { authorization: basic(server), 'content-type': FORM },
    body: `grant_type=client_credentials&scope=orders%3Aread${resource ? `&resource=${encodeURIComponent(server.audience)}` : ''}`,
  });
  const json = await res.body.json();
  if (res.statusCode !== 200) throw new Error(`token: ${res.statusCode} ${JSON.stringify(json)}`);
  return json.access_token;
}

async function introspectionTarget(agent, server, path, token) {
  const target = {
    url: `https://127.0.0.1:${server.port}${path}`,
    headers: { authorization: basic(server), 'content-type': FORM },
    body: `token=${encodeURIComponent(token)}&token_type_hint=access_token`,
  };
  const res = await request(target.url, {
    method: 'POST',
    dispatcher: agent,
    headers: target.headers,
    body: target.body,
  });
  const json = await res.body.json();
  if (res.statusCode !== 200 || json.active !== true)
    throw new Error(`${path}: ${res.statusCode} ${JSON.stringify(json)}`);
  return target;
}

export async function run() {
  const tls = selfSigned();
  const agent = new Agent({ connect: { rejectUnauthorized: false } });
  const started = [];
  try {
    const gatehouse = await startServer(join(servers, 'gatehouse_identity.mjs'), tls);
    started.push(gatehouse);
    const oidc = await startServer(join(servers, 'oidc_provider.mjs'), tls);
    started.push(oidc);
    const bare = await startServer(join(servers, 'bare_token.mjs'), tls);
    started.push(bare);
    const names = {
      gatehouse: 'gatehouse /oauth2/introspect (ES256 JWT access token)',
      oidc: 'node-oidc-provider 8.8.1 /token/introspection (opaque token)',
      bare: 'bare node:https (form + SHA-256 + ES256 verify + JSON)',
    };
    const targets = {
      [names.gatehouse]: await introspectionTarget(
        agent,
        gatehouse,
        '/oauth2/introspect',
        await issue(agent, gatehouse, '/oauth2/token', true),
      ),
      [names.oidc]: await introspectionTarget(
        agent,
        oidc,
        '/token/introspection',
        await issue(agent, oidc, '/token', false),
      ),
      [names.bare]: await introspectionTarget(
        agent,
        bare,
        '/oauth2/introspect',
        await issue(agent, bare, '/oauth2/token', true),
      ),
    };
    const results = await compareHttp({ targets, rounds: 5, seconds: 5, connections: 32 });
    const by = Object.fromEntries(results.map((r) => [r.name, r]));
    return [
      {
        bench: 'Introspection vs node-oidc-provider 8 (opaque tokens), TLS 1.3, 32 connections',
        target: '≥ 2× node-oidc-provider',
        need: 2,
        results: [by[names.gatehouse], by[names.oidc]],
        note: 'gatehouse verifies the ES256 signature of a token once and remembers it by SHA-256 (expiry, key presence and revocation checked on every call), as it does in production; node-oidc-provider looks its opaque token up in memory. Both authenticate the client (client_secret_basic) and parse the form on every call.',
      },
      {
        bench: 'Introspection vs the bare node:https ceiling',
        target: '≥ 0.85× bare',
        need: 0.85,
        results: [by[names.gatehouse], by[names.bare]],
      },
    ];
  } finally {
    await agent.close();
    for (const s of started) await s.stop();
  }
}
