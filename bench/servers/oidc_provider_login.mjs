// Child process: node-oidc-provider 8 (the anchor of the login benchmark) doing authorization code + PKCE for a public
// client with a minimal interaction of our own in place of its devInteractions (not meant for speed): a sign-in page
// and a consent page, server-rendered, each form with a CSRF token (HMAC of the interaction uid), the password checked
// with scrypt at the parameters gatehouse uses (ln=17, r=8, p=1, 32-byte key, 16-byte salt, 2 hashes at once), and
// the grant built as its own example interaction builds it. ES256 JWT access tokens through resourceIndicators, RS256
// ID tokens (its default), behind node:https (TLS 1.3). argv[2] = JSON { certPem, keyPem, username, password,
// redirectUri, audience }. Prints { port, pid, issuer, codeClientId } once listening.
import { createHmac, generateKeyPairSync, randomBytes, scrypt, timingSafeEqual } from 'node:crypto';
import { createServer } from 'node:https';
import { URL, URLSearchParams } from 'node:url';
import Provider from 'oidc-provider';

const input = JSON.parse(process.argv[2]);
const clientId = 'bench-web';
const jwk = (type, opts, alg) => ({
  ...generateKeyPairSync(type, opts).privateKey.export({ format: 'jwk' }),
  alg,
  use: 'sig',
  kid: alg,
});

// The password check: the same scrypt work per sign-in as gatehouse, at most 2 at once (its hashConcurrency).
const SCRYPT = { N: 2 ** 17, r: 8, p: 1, maxmem: 128 * 2 ** 17 * 8 + 32 * 1024 ** 2 };
const derive = (password, salt) =>
  new Promise((resolve, reject) =>
    scrypt(password.normalize('NFC'), salt, 32, SCRYPT, (err, key) => (err ? reject(err) : resolve(key))),
  );
let running = 0;
const waiting = [];
async function slot(work) {
  if (running >= 2) await new Promise((resolve) => waiting.push(resolve));
  else running++;
  try {
    return await work();
  } finally {
    const next = waiting.shift();
    if (next) next();
    else running--;
  }
}
const salt = randomBytes(16);
const stored = await derive(input.password, salt);
async function passwordMatches(username, password) {
  if (typeof password !== 'string' || password.length > 1024) return false;
  const key = await slot(() => derive(password, salt));
  return timingSafeEqual(key, stored) && username === input.username;
}

const csrfKey = randomBytes(32);
const csrfOf = (uid) => createHmac('sha256', csrfKey).update(uid).digest('base64url');
const csrfMatches = (uid, presented) => {
  const expected = Buffer.from(csrfOf(uid));
  const given = Buffer.from(typeof presented === 'string' ? presented : '');
  return given.length === expected.length && timingSafeEqual(given, expected);
};
const escape = (value) => String(value).replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
const hidden = (name, value) => `<input type="hidden" name="${name}" value="${escape(value)}">`;

function html(res, status, body) {
  res.writeHead(status, {
    'content-type': 'text/html; charset=utf-8',
    'cache-control': 'no-store',
    'content-security-policy': "default-src 'none'; form-action 'self'; frame-ancestors 'none'",
    'x-frame-options': 'DENY',
  });
  res.end(
    `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Sign in</title></head><body>${body}</body></html>`,
  );
}

const loginPage = (uid, error) =>
  `<h1>Sign in</h1>${error ? `<p role="alert">${escape(error)}</p>` : ''}<form method="post" action="/interaction/${uid}/login">` +
  `${hidden('csrf', csrfOf(uid))}<input type="text" name="username" required><input type="password" name="password" required>` +
  `<button type="submit">Sign in</button></form>`;
const consentPage = (uid, clientName, scopes) =>
  `<h1>Allow ${escape(clientName)}?</h1><ul>${scopes.map((s) => `<li>${escape(s)}</li>`).join('')}</ul>` +
  `<form method="post" action="/interaction/${uid}/confirm">${hidden('csrf', csrfOf(uid))}` +
  `<button type="submit" name="decision" value="allow">Allow</button>` +
  `<button type="submit" name="decision" value="deny">Deny</button></form>`;

async function readForm(req) {
  let size = 0;
  const chunks = [];
  for await (const chunk of req) {
    size += chunk.length;
    if (size > 8192) throw new Error('form too large');
    chunks.push(chunk);
  }
  return new URLSearchParams(Buffer.concat(chunks).toString('utf8'));
}

async function interaction(provider, req, res) {
  const match = /^\/interaction\/([A-Za-z0-9_-]{1,64})(\/login|\/confirm)?$/.exec(
    new URL(req.url, 'https://x').pathname,
  );
  if (!match) return html(res, 404, '<p>Not found</p>');
  const details = await provider.interactionDetails(req, res);
  const [, uid, action] = match;
  if (details.uid !== uid) return html(res, 400, '<p>Wrong interaction</p>');
  const { prompt, params, session } = details;
  if (req.method === 'GET' && action === undefined) {
    if (prompt.name === 'login') return html(res, 200, loginPage(uid));
    if (prompt.name === 'consent') {
      const client = await provider.Client.find(params.client_id);
      return html(res, 200, consentPage(uid, client?.clientName ?? params.client_id, String(params.scope).split(' ')));
    }
    return html(res, 400, '<p>Unknown prompt</p>');
  }
  if (req.method !== 'POST' || action === undefined) return html(res, 405, '<p>Method not allowed</p>');
  const form = await readForm(req);
  if (!csrfMatches(uid, form.get('csrf'))) return html(res, 403, '<p>The form expired</p>');
  if (action === '/login') {
    if (prompt.name !== 'login') return html(res, 400, '<p>Not expected</p>');
    const username = form.get('username');
    if (!(await passwordMatches(username, form.get('password'))))
      return html(res, 401, loginPage(uid, 'Wrong username or password'));
    return provider.interactionFinished(
      req,
      res,
      { login: { accountId: username } },
      { mergeWithLastSubmission: false },
    );
  }
  if (prompt.name !== 'consent') return html(res, 400, '<p>Not expected</p>');
  if (form.get('decision') !== 'allow') {
    return provider.interactionFinished(
      req,
      res,
      { error: 'access_denied', error_description: 'the person denied the request' },
      { mergeWithLastSubmission: false },
    );
  }
  const grant = details.grantId
    ? await provider.Grant.find(details.grantId)
    : new provider.Grant({ accountId: session.accountId, clientId: params.client_id });
  const missing = prompt.details;
  if (missing.missingOIDCScope) grant.addOIDCScope(missing.missingOIDCScope.join(' '));
  if (missing.missingOIDCClaims) grant.addOIDCClaims(missing.missingOIDCClaims);
  for (const [indicator, scopes] of Object.entries(missing.missingResourceScopes ?? {}))
    grant.addResourceScope(indicator, scopes.join(' '));
  const result = { consent: { grantId: await grant.save() } };
  return provider.interactionFinished(req, res, result, { mergeWithLastSubmission: true });
}

const server = createServer({ cert: input.certPem, key: input.keyPem, minVersion: 'TLSv1.3' });
server.listen(0, '127.0.0.1', () => {
  const { port } = server.address();
  const issuer = `https://127.0.0.1:${port}`;
  const provider = new Provider(issuer, {
    clients: [
      {
        client_id: clientId,
        client_name: 'Bench Web App',
        token_endpoint_auth_method: 'none',
        grant_types: ['authorization_code'],
        response_types: ['code'],
        redirect_uris: [input.redirectUri],
        scope: 'openid orders:read',
      },
    ],
    scopes: ['openid', 'orders:read'],
    jwks: { keys: [jwk('rsa', { modulusLength: 2048 }, 'RS256'), jwk('ec', { namedCurve: 'P-256' }, 'ES256')] },
    cookies: { keys: [randomBytes(32).toString('base64url')] },
    findAccount: (_ctx, sub) => ({ accountId: sub, claims: () => ({ sub }) }),
    pkce: { methods: ['S256'], required: () => true },
    features: {
      devInteractions: { enabled: false },
      resourceIndicators: {
        enabled: true,
        defaultResource: () => input.audience,
        useGrantedResource: () => true,
        getResourceServerInfo: (_ctx, resource) => {
          if (resource !== input.audience) throw new Provider.errors.InvalidTarget();
          return {
            scope: 'orders:read',
            audience: input.audience,
            accessTokenTTL: 300,
            accessTokenFormat: 'jwt',
            jwt: { sign: { alg: 'ES256' } },
          };
        },
      },
    },
  });
  provider.on('server_error', (_ctx, err) => console.error('oidc-provider server_error', err));
  const callback = provider.callback();
  server.on('request', (req, res) => {
    if (!req.url.startsWith('/interaction/')) return callback(req, res);
    interaction(provider, req, res).catch((err) => {
      if (!res.headersSent) html(res, 400, `<p>${escape(err.name ?? 'Error')}</p>`);
      else res.destroy();
    });
  });
  process.stdout.write(JSON.stringify({ port, pid: process.pid, issuer, codeClientId: clientId }) + '\n');
});
process.on('SIGTERM', () => server.close(() => process.exit(0)));
