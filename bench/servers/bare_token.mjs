// Child process: the ceiling of Node itself for a client-credentials token endpoint. node:https (TLS 1.3 only),
// read the form body, parse it, client_secret_basic, SHA-256 of the secret compared in constant time with the stored
// digest, an RFC 9068-shaped JWT signed ES256 with node:crypto, JSON reply. Nothing else (no throttling, no audit).
// POST /oauth2/introspect does the same client check, then verifies the JWT in `token` (ES256, iss, exp) and answers
// the RFC 7662 JSON. With `asyncSign: true` in its argument the signature is computed with node:crypto's callback form
// (libuv's thread pool), as gatehouse's token endpoint does: the same ceiling with the same use of a second core.
import {
  createHash,
  createPrivateKey,
  createPublicKey,
  generateKeyPairSync,
  randomBytes,
  randomUUID,
  sign,
  timingSafeEqual,
  verify,
} from 'node:crypto';
import { createServer } from 'node:https';
import { URLSearchParams } from 'node:url';

const { certPem, keyPem, asyncSign = false } = JSON.parse(process.argv[2]);
const clientId = 'bench';
const secret = randomBytes(32).toString('base64url');
const digest = createHash('sha256').update(secret).digest();
const audience = 'https://orders.test.example';
const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
const key = createPrivateKey(privateKey.export({ format: 'pem', type: 'pkcs8' }));
const publicKey = createPublicKey(key);
const header = Buffer.from(JSON.stringify({ alg: 'ES256', typ: 'at+jwt', kid: 'k1' })).toString('base64url');

function reply(res, status, body) {
  res.writeHead(status, { 'content-type': 'application/json', 'cache-control': 'no-store' });
  res.end(JSON.stringify(body));
}

function introspect(token) {
  const first = token.indexOf('.');
  const second = token.indexOf('.', first + 1);
  const input = Buffer.from(token.slice(0, second));
  const signature = Buffer.from(token.slice(second + 1), 'base64url');
  if (!verify('sha256', input, { key: publicKey, dsaEncoding: 'ieee-p1363' }, signature)) return { active: false };
  const claims = JSON.parse(Buffer.from(token.slice(first + 1, second), 'base64url').toString('utf8'));
  if (claims.iss !== 'https://127.0.0.1' || !(claims.exp * 1000 > Date.now())) return { active: false };
  return { active: true, token_type: 'Bearer', ...claims };
}

const server = createServer({ cert: certPem, key: keyPem, minVersion: 'TLSv1.3' }, (req, res) => {
  const chunks = [];
  req.on('data', (c) => chunks.push(c));
  req.on('end', () => {
    const form = new URLSearchParams(Buffer.concat(chunks).toString('latin1'));
    const auth = req.headers.authorization ?? '';
    const [id, pass] = Buffer.from(auth.slice(6), 'base64').toString('utf8').split(':');
    const given = createHash('sha256')
      .update(decodeURIComponent(pass ?? ''))
      .digest();
    if (decodeURIComponent(id ?? '') !== clientId || !timingSafeEqual(given, digest)) {
      return reply(res, 401, { error: 'invalid_client' });
    }
    if (req.url === '/oauth2/introspect') return reply(res, 200, introspect(form.get('token') ?? ''));
    if (form.get('grant_type') !== 'client_credentials') return reply(res, 400, { error: 'unsupported_grant_type' });
    const now = Math.floor(Date.now() / 1000);
    const scope = form.get('scope') ?? 'orders:read';
    const payload = Buffer.from(
      JSON.stringify({
        iss: 'https://127.0.0.1',
        sub: clientId,
        aud: form.get('resource') ?? audience,
        client_id: clientId,
        scope,
        iat: now,
        exp: now + 300,
        jti: randomUUID(),
      }),
    ).toString('base64url');
    const input = `${header}.${payload}`;
    const answer = (signature) =>
      reply(res, 200, {
        access_token: `${input}.${signature.toString('base64url')}`,
        token_type: 'Bearer',
        expires_in: 300,
        scope,
      });
    const keyInput = { key, dsaEncoding: 'ieee-p1363' };
    if (!asyncSign) return answer(sign('sha256', Buffer.from(input), keyInput));
    sign('sha256', Buffer.from(input), keyInput, (err, signature) => (err ? res.destroy(err) : answer(signature)));
  });
});
server.listen(0, '127.0.0.1', () => {
  process.stdout.write(JSON.stringify({ port: server.address().port, clientId, secret, audience }) + '\n');
});
process.on('SIGTERM', () => server.close(() => process.exit(0)));
