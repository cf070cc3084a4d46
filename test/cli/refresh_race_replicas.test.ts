import { randomBytes } from 'node:crypto';
import { request, type Agent } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ComponentProcess } from '../support/cli.js';
import { identityReplicas } from '../support/replicas.js';
import { authorizePath, codeExchangeForm, httpsBrowser, pkcePair, signInAndAllow } from '../support/sign_in.js';

const REDIRECT = 'https://app.replicas.test/cb';
const AUDIENCE = 'https://orders.test';
const USER = { username: 'ada', password: 'correct horse battery staple' };

interface Answer {
  status: number;
  body: Record<string, unknown>;
}

// Issue 5: 50 parallel uses of one refresh token, 25 at each of two `gatehouse identity` processes on one PostgreSQL
// schema (default grace window 0): one winner, everyone else invalid_grant, and the reuse revokes the whole family.
describe('refresh token race across two gatehouse identity replicas on PostgreSQL', { timeout: 180_000 }, () => {
  const set = identityReplicas('gh-refresh-replicas-');
  let agent: Agent;
  let app: string;
  let rs: { clientId: string; secret: string };
  let a: ComponentProcess;
  let b: ComponentProcess;

  const post = async (url: string, form: Record<string, string>, authorization?: string): Promise<Answer> => {
    const res = await request(url, {
      method: 'POST',
      dispatcher: agent,
      headers: {
        'content-type': 'application/x-www-form-urlencoded',
        ...(authorization === undefined ? {} : { authorization }),
      },
      body: new URLSearchParams(form).toString(),
    });
    const text = await res.body.text();
    return { status: res.statusCode, body: (text ? JSON.parse(text) : {}) as Record<string, unknown> };
  };
  const refresh = (at: ComponentProcess, token: string) =>
    post(`${at.url}/oauth2/token`, { grant_type: 'refresh_token', refresh_token: token, client_id: app });
  const introspect = async (at: ComponentProcess, jwt: string) => {
    const basic = `Basic ${Buffer.from(`${rs.clientId}:${rs.secret}`).toString('base64')}`;
    const answer = await post(`${at.url}/oauth2/introspect`, { token: jwt }, basic);
    expect(answer.status).toBe(200);
    return answer.body['active'];
  };
  /** Introspection at `at` until inactive (the revocation reaches the other replica through Redis), at most 10 s. */
  const becomesInactive = async (at: ComponentProcess, jwt: string) => {
    let active: unknown = true;
    for (let i = 0; i < 100 && active !== false; i += 1) {
      active = await introspect(at, jwt);
      if (active !== false) await new Promise((r) => setTimeout(r, 100));
    }
    return active === false;
  };

  /** A person's code + PKCE sign-in at `at` over HTTP (cookie jar, CSRF, password, consent Allow), then the code. */
  const signIn = async (at: ComponentProcess): Promise<Answer> => {
    const { verifier, challenge } = pkcePair();
    const state = randomBytes(16).toString('base64url');
    const url = authorizePath({
      response_type: 'code',
      client_id: app,
      redirect_uri: REDIRECT,
      scope: 'orders:read offline_access',
      state,
      code_challenge: challenge,
      code_challenge_method: 'S256',
    });
    const { login, consent, done } = await signInAndAllow(httpsBrowser(agent, at.url), url, USER);
    expect(login.body).toContain('>Sign in</button>');
    expect(consent.body).toContain('>Allow</button>');
    const back = new URL(done.location as string);
    expect(back.origin + back.pathname).toBe(REDIRECT);
    expect(back.searchParams.get('state')).toBe(state);
    const code = back.searchParams.get('code');
    expect(code, back.searchParams.get('error') ?? '').toBeTruthy();
    return post(`${at.url}/oauth2/token`, codeExchangeForm(app, code as string, verifier, REDIRECT));
  };

  beforeAll(async () => {
    // `gatehouse up` initializes the schema once and registers the API, clients and user through its admin API.
    // One issuer for both replicas; the default refresh grace window (0s): every reuse revokes the family.
    const { cli, createClient } = await set.initialize({
      issuer: 'https://identity.replicas.test',
      signIn: { scryptCost: 12 },
    });
    const api = await cli(['api', 'create', '--audience', AUDIENCE, '--scope', 'orders:read=read']);
    expect(api.code, api.stderr).toBe(0);
    const user = await cli(['user', 'create', '--username', USER.username, '--password-stdin'], `${USER.password}\n`);
    expect(user.code, user.stderr).toBe(0);
    const web = await createClient([
      '--name',
      'web',
      '--grant',
      'authorization_code',
      '--grant',
      'refresh_token',
      '--public',
      '--scope',
      'orders:read',
      '--redirect-uri',
      REDIRECT,
    ]);
    app = web.clientId;
    rs = await createClient([
      '--name',
      'orders-rs',
      '--grant',
      'client_credentials',
      '--role',
      'resource-server',
      '--audience',
      AUDIENCE,
    ]);

    const started = await set.start(2);
    agent = started.agent;
    [a, b] = started.replicas as [ComponentProcess, ComponentProcess];
  });

  afterAll(() => set.stop());

  it('50 parallel refreshes of one token, 25 at each replica: one winner, 49 invalid_grant, the family revoked', async () => {
    const issued = await signIn(a);
    expect(issued.status, JSON.stringify(issued.body)).toBe(200);
    const first = issued.body['refresh_token'] as string;
    const firstAccess = issued.body['access_token'] as string;
    expect(typeof first).toBe('string');
    expect(await introspect(b, firstAccess)).toBe(true); // the replicas share keys: B knows A's token

    const answers = await Promise.all(Array.from({ length: 50 }, (_, i) => refresh(i % 2 === 0 ? a : b, first)));
    const winners = answers.filter((r) => r.status === 200);
    expect(winners).toHaveLength(1); // never two live families
    const losers = answers.filter((r) => r.status !== 200);
    expect(losers).toHaveLength(49);
    for (const loser of losers) {
      expect(loser.status).toBe(400);
      expect(loser.body['error']).toBe('invalid_grant');
    }
    const winner = (winners[0] as Answer).body;
    const successor = winner['refresh_token'] as string;
    expect(typeof successor).toBe('string');
    expect(successor).not.toBe(first);

    // The reuse revoked the family: the winner's successor is refused at both replicas (and stays refused).
    for (const at of [a, b, a]) {
      const refused = await refresh(at, successor);
      expect(refused.status).toBe(400);
      expect(refused.body['error']).toBe('invalid_grant');
    }
    // And the family's access tokens (the sign-in's and the winner's) are inactive at both replicas.
    for (const jwt of [winner['access_token'] as string, firstAccess]) {
      for (const at of [a, b]) expect(await becomesInactive(at, jwt)).toBe(true);
    }
  });
});
