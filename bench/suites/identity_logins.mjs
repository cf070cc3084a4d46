// Issue 5 benchmark: people's sign-in at the HTTP level, no browser.
// 1. 1,000 complete authorization code + PKCE logins against gatehouse and, in alternating rounds, against
//    node-oidc-provider 8 with a minimal interaction doing the same work (bench/servers/oidc_provider_login.mjs): GET
//    the authorization endpoint, the sign-in form (CSRF token from the HTML, a cookie jar per login), POST the password
//    (scrypt ln=17 r=8 p=1 on both), consent "Allow", the redirect with the code (state and iss checked), the token
//    request with the code_verifier, and the access token (ES256, at+jwt) and ID token (RS256, nonce) verified
//    against the server's JWKS. The password hash dominates by design; a scrypt-only loop gives the ceiling.
// 2. 10,000 pending device authorizations polled in parallel (200 in flight, keep-alive): rounds of polls that
//    respect the interval, a deliberate too-fast poll after 500 of them, 500 racing pairs of polls; every answer is
//    checked (authorization_pending, slow_down exactly where due), then 100 devices are approved through the device
//    pages (sign in, code, Allow) and must get verified tokens on their next poll.
// Every server runs in its own child process; the load runs in this process.
import { createHash, randomBytes, scrypt } from 'node:crypto';
import { dirname, join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { URLSearchParams, fileURLToPath } from 'node:url';
import { createLocalJWKSet, jwtVerify } from 'jose';
import { startServer } from '../lib/http_load.mjs';
import { selfSigned } from '../lib/tls.mjs';
import { connectTo, memoryOf } from '../lib/web_client.mjs';

const servers = join(dirname(fileURLToPath(import.meta.url)), '..', 'servers');
const USER = { username: 'ada', password: 'correct horse battery staple' };
const REDIRECT = 'https://app.bench.example/callback';
const AUDIENCE = 'https://orders.bench.example';
const DEVICE_GRANT = 'urn:ietf:params:oauth:grant-type:device_code';
const LOGINS = 1000;
const ANCHOR_LOGINS = 200;
const ROUNDS = 4;
const LOGIN_CONCURRENCY = 16;
const WARMUP_LOGINS = 16;
const DEVICES = 10_000;
const IN_FLIGHT = 200;
const CREATE_IN_FLIGHT = 16;
const APPROVE_EVERY = 100;

const median = (values) => {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
};
const percentile = (values, p) => {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * p))];
};
const mib = (n) => `${n.toFixed(0)} MiB`;

function expect(condition, what) {
  if (!condition) throw new Error(what);
}

/** Runs `fn` over `items` with at most `limit` at once. */
async function parallel(items, limit, fn) {
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(limit, items.length) }, async () => {
      while (next < items.length) await fn(items[next++]);
    }),
  );
}

// ---------------------------------------------------------------------------------------------------------------
// 1. Code + PKCE logins

function authorizationRequest(clientId) {
  const verifier = randomBytes(32).toString('base64url');
  const state = randomBytes(16).toString('base64url');
  const nonce = randomBytes(16).toString('base64url');
  const query = new URLSearchParams({
    response_type: 'code',
    client_id: clientId,
    redirect_uri: REDIRECT,
    scope: 'openid orders:read',
    state,
    nonce,
    code_challenge: createHash('sha256').update(verifier).digest('base64url'),
    code_challenge_method: 'S256',
  });
  return { verifier, state, nonce, query: query.toString() };
}

/** The app's side: checks the redirect, redeems the code with the verifier, verifies both tokens against the JWKS. */
async function redeem(target, request, location) {
  const back = new URL(location);
  expect(back.origin + back.pathname === REDIRECT, `redirected elsewhere: ${back.origin}${back.pathname}`);
  expect(back.searchParams.get('state') === request.state, 'state mismatch');
  expect(back.searchParams.get('iss') === target.issuer, 'iss mismatch');
  const code = back.searchParams.get('code');
  expect(code, `no code: ${back.searchParams.get('error')}`);
  const res = await target.http.postForm(target.tokenPath, {
    grant_type: 'authorization_code',
    code,
    redirect_uri: REDIRECT,
    client_id: target.codeClientId,
    code_verifier: request.verifier,
  });
  expect(res.status === 200, `token endpoint ${res.status} ${res.json.error}`);
  const access = await jwtVerify(res.json.access_token, target.jwks, {
    issuer: target.issuer,
    audience: AUDIENCE,
    typ: 'at+jwt',
    algorithms: ['ES256'],
  });
  expect(access.payload.sub === USER.username, 'access token sub');
  expect(access.payload.client_id === target.codeClientId, 'access token client_id');
  const id = await jwtVerify(res.json.id_token, target.jwks, {
    issuer: target.issuer,
    audience: target.codeClientId,
    algorithms: ['RS256'],
  });
  expect(id.payload.sub === USER.username && id.payload.nonce === request.nonce, 'ID token sub or nonce');
}

/** gatehouse: the sign-in page, the password POST answers the consent page, Allow answers the redirect. */
async function gatehouseLogin(target, timing) {
  const request = authorizationRequest(target.codeClientId);
  const browser = target.http.browser();
  const login = await browser.get(`/oauth2/authorize?${request.query}`);
  expect(login.status === 200 && login.body.includes('>Sign in</button>'), `sign-in page ${login.status}`);
  const t = performance.now();
  const consent = await browser.post('/oauth2/authorize/login', {
    csrf: login.inputs.csrf,
    query: login.inputs.query,
    ...USER,
  });
  timing.password = performance.now() - t;
  expect(consent.status === 200 && consent.body.includes('>Allow</button>'), `consent page ${consent.status}`);
  // "Remember this choice" unticked: the account's consent is not remembered, so every login shows the page.
  const done = await browser.post('/oauth2/authorize/consent', {
    csrf: consent.inputs.csrf,
    query: consent.inputs.query,
    decision: 'allow',
  });
  expect(done.status === 303 && done.location, `after Allow ${done.status}`);
  await redeem(target, request, done.location);
}

const actionOf = (html) => /<form[^>]*action="([^"]+)"/.exec(html)?.[1];

/** node-oidc-provider: /auth redirects to the interaction, which redirects back to /auth/:uid after each prompt. */
async function oidcProviderLogin(target, timing) {
  const request = authorizationRequest(target.codeClientId);
  const browser = target.http.browser();
  const login = await browser.follow(await browser.get(`/auth?${request.query}`));
  expect(login.status === 200 && login.body.includes('>Sign in</button>'), `sign-in page ${login.status}`);
  const t = performance.now();
  const signedIn = await browser.post(actionOf(login.body), { csrf: login.inputs.csrf, ...USER });
  timing.password = performance.now() - t;
  expect(signedIn.status === 303, `after sign-in ${signedIn.status}`);
  const consent = await browser.follow(signedIn);
  expect(consent.status === 200 && consent.body.includes('>Allow</button>'), `consent page ${consent.status}`);
  const confirmed = await browser.post(actionOf(consent.body), { csrf: consent.inputs.csrf, decision: 'allow' });
  const done = await browser.follow(confirmed);
  expect(done.location && !done.location.startsWith(target.http.origin), `after Allow ${done.status}`);
  await redeem(target, request, done.location);
}

/** `count` logins, `LOGIN_CONCURRENCY` at a time. */
async function loginRound(target, count) {
  let next = 0;
  let ok = 0;
  const failures = new Map();
  const latencies = [];
  const rest = [];
  const started = performance.now();
  const worker = async () => {
    while (next < count) {
      next++;
      const t0 = performance.now();
      const timing = {};
      try {
        await target.login(target, timing);
        ok++;
        const total = performance.now() - t0;
        latencies.push(total);
        rest.push(total - timing.password);
      } catch (err) {
        failures.set(err.message, (failures.get(err.message) ?? 0) + 1);
      }
    }
  };
  await Promise.all(Array.from({ length: LOGIN_CONCURRENCY }, worker));
  return { ok, failures, seconds: (performance.now() - started) / 1000, latencies, rest };
}

/** scrypt ln=17 r=8 p=1 alone, 2 at once (the servers' hash concurrency), for `ms`: hashes per second. */
async function scryptCeiling(ms) {
  const N = 2 ** 17;
  const options = { N, r: 8, p: 1, maxmem: 128 * N * 8 + 32 * 1024 ** 2 };
  const salt = randomBytes(16);
  let count = 0;
  const start = performance.now();
  const worker = async () => {
    while (performance.now() - start < ms) {
      await new Promise((resolve, reject) =>
        scrypt(USER.password, salt, 32, options, (err) => (err ? reject(err) : resolve())),
      );
      count++;
    }
  };
  await Promise.all([worker(), worker()]);
  return (count * 1000) / (performance.now() - start);
}

async function loginBench(tls) {
  const input = { ...tls, ...USER, redirectUri: REDIRECT, audience: AUDIENCE };
  const targets = [];
  try {
    const gatehouse = await startServer(join(servers, 'gatehouse_signin.mjs'), input);
    targets.push({
      name: 'gatehouse',
      server: gatehouse,
      login: gatehouseLogin,
      tokenPath: '/oauth2/token',
      logins: LOGINS,
    });
    const oidc = await startServer(join(servers, 'oidc_provider_login.mjs'), input);
    targets.push({
      name: 'node-oidc-provider',
      server: oidc,
      login: oidcProviderLogin,
      tokenPath: '/token',
      logins: ANCHOR_LOGINS,
    });
    for (const t of targets) {
      t.issuer = t.server.issuer;
      t.codeClientId = t.server.codeClientId;
      t.http = connectTo(t.server.port, tls.certPem, LOGIN_CONCURRENCY);
      t.jwks = createLocalJWKSet(await t.http.getJson(t.name === 'gatehouse' ? '/.well-known/jwks.json' : '/jwks'));
      t.rounds = [];
      t.memoryBefore = memoryOf(t.server.pid);
      const warm = await loginRound(t, WARMUP_LOGINS);
      if (warm.ok !== WARMUP_LOGINS) throw new Error(`${t.name} warm-up: ${[...warm.failures.keys()].join('; ')}`);
    }
    for (let r = 0; r < ROUNDS; r++) {
      for (const t of r % 2 === 0 ? targets : [...targets].reverse()) {
        const result = await loginRound(t, t.logins / ROUNDS);
        t.rounds.push(result);
        console.error(`    ${t.name}: ${(result.ok / result.seconds).toFixed(2)} logins/s, ${result.ok} ok`);
      }
    }
    for (const t of targets) t.memoryAfter = memoryOf(t.server.pid);
    const ceiling = await scryptCeiling(8000);
    const summary = (t) => {
      const latencies = t.rounds.flatMap((r) => r.latencies);
      const failures = new Map();
      for (const r of t.rounds) for (const [k, v] of r.failures) failures.set(k, (failures.get(k) ?? 0) + v);
      return {
        ok: t.rounds.reduce((n, r) => n + r.ok, 0),
        failures,
        opsPerSec: median(t.rounds.map((r) => r.ok / r.seconds)),
        p50Ms: latencies.length ? median(latencies) : NaN,
        p99Ms: latencies.length ? Math.round(percentile(latencies, 0.99)) : NaN,
        restMs: median(t.rounds.flatMap((r) => r.rest)),
      };
    };
    const [g, o] = targets.map(summary);
    if (o.ok !== ANCHOR_LOGINS) {
      throw new Error(`the anchor failed logins: ${[...o.failures].map(([k, v]) => `${v}× ${k}`).join('; ')}`);
    }
    const [gt, ot] = targets;
    const failed = [...g.failures].map(([k, v]) => `${v}× ${k}`).join('; ');
    const names = {
      gatehouse: 'gatehouse (sign-in and consent pages, token endpoint)',
      oidc: 'node-oidc-provider 8.8.1 (same flow, minimal interaction, same scrypt)',
      scrypt: 'scrypt ln=17 r=8 p=1 alone, 2 at once (the ceiling)',
    };
    return {
      bench: `${LOGINS.toLocaleString('en-US')} code + PKCE logins over HTTPS (sign-in form with CSRF, password, consent, code, token, JWKS-verified tokens), ${LOGIN_CONCURRENCY} at once`,
      target: `all ${LOGINS.toLocaleString('en-US')} logins succeed; no ratio target (issue 5), figures recorded`,
      results: [
        { name: names.gatehouse, opsPerSec: g.opsPerSec, ratio: 1, p99Ms: g.p99Ms },
        { name: names.oidc, opsPerSec: o.opsPerSec, ratio: g.opsPerSec / o.opsPerSec, p99Ms: o.p99Ms },
        { name: names.scrypt, opsPerSec: ceiling, ratio: g.opsPerSec / ceiling },
      ],
      checks: [{ label: 'gatehouse logins completed', value: g.ok, need: LOGINS, unit: '' }],
      note:
        `Setup: each login is a fresh cookie jar over ${LOGIN_CONCURRENCY} shared keep-alive TLS 1.3 connections (undici 7, the ` +
        `server certificate verified), in this process; each server in its own process on loopback with the same ` +
        `self-signed P-256 certificate, one user and one public client, default settings (gatehouse: memory store, ` +
        `scrypt ln=17 r=8 p=1 with 2 hashes at once). Per login: GET the authorization endpoint (state, nonce, S256 ` +
        `challenge), the sign-in page's CSRF token, POST the password, the consent page's "Allow" (with "Remember this ` +
        `choice" unticked, so every login consents), the redirect (state and iss checked), POST /token with the ` +
        `code_verifier, and the ES256 at+jwt access token and RS256 ID token (nonce) verified with jose against the JWKS ` +
        `fetched once. ${ROUNDS} alternating rounds after ${WARMUP_LOGINS} warm-up logins each: ` +
        `${LOGINS.toLocaleString('en-US')} gatehouse logins (${LOGINS / ROUNDS} a round) and, to keep the run short, ` +
        `${ANCHOR_LOGINS} node-oidc-provider logins (${ANCHOR_LOGINS / ROUNDS} a round); logins/s is the median of the ` +
        `rounds, p99 over all of a server's logins. The password hash ` +
        `dominates by design (OWASP parameters: 128 MiB and, alone, about ${(2 / ceiling).toFixed(2)} s per hash on this machine ` +
        `during the run), so both servers sit near the scrypt-only ceiling. Median time of everything but the password POST: ` +
        `gatehouse ${g.restMs.toFixed(1)} ms, node-oidc-provider ${o.restMs.toFixed(1)} ms (its flow has four more ` +
        `redirects); median login ${g.p50Ms.toFixed(0)} ms and ${o.p50Ms.toFixed(0)} ms (mostly waiting for a hash slot). ` +
        `Server RSS before → after the logins: gatehouse ${mib(gt.memoryBefore.rssMiB)} → ${mib(gt.memoryAfter.rssMiB)} ` +
        `(peak ${mib(gt.memoryAfter.peakMiB)}), node-oidc-provider ${mib(ot.memoryBefore.rssMiB)} → ` +
        `${mib(ot.memoryAfter.rssMiB)} (peak ${mib(ot.memoryAfter.peakMiB)}). node-oidc-provider's devInteractions are ` +
        `not meant for load, hence the minimal interaction of our own (CSRF as an HMAC of the interaction uid).` +
        (failed ? ` gatehouse failures: ${failed}.` : ''),
    };
  } finally {
    for (const t of targets) {
      await t.http?.close();
      await t.server.stop();
    }
  }
}

// ---------------------------------------------------------------------------------------------------------------
// 2. 10,000 pending device codes

async function deviceBench(tls) {
  const server = await startServer(join(servers, 'gatehouse_signin.mjs'), {
    ...tls,
    ...USER,
    redirectUri: REDIRECT,
    audience: AUDIENCE,
  });
  const http = connectTo(server.port, tls.certPem, IN_FLIGHT);
  try {
    const clientId = server.deviceClientId;
    // Open the connections first (one JWKS fetch on each), so that neither the handshakes nor the connections' memory
    // count as the authorizations'.
    const fetched = await Promise.all(Array.from({ length: IN_FLIGHT }, () => http.getJson('/.well-known/jwks.json')));
    const jwks = createLocalJWKSet(fetched[0]);
    const memory = { idle: memoryOf(server.pid) };

    // Create the authorizations.
    const devices = [];
    const createFailures = new Map();
    const thousands = [];
    let started = performance.now();
    let last = started;
    // Fewer in flight than the polls: every start is serialized on the server's CPU anyway, and a deep queue would
    // outlast http.requestTimeout.
    await parallel(
      Array.from({ length: DEVICES }, (_, i) => i),
      CREATE_IN_FLIGHT,
      async (index) => {
        const res = await http
          .postForm('/oauth2/device_authorization', { client_id: clientId, scope: 'orders:read' })
          .catch((err) => ({ status: 0, json: { error: err.code ?? err.message } }));
        if (res.status !== 200) {
          const key = `${res.status} ${res.json.error}`;
          createFailures.set(key, (createFailures.get(key) ?? 0) + 1);
          return;
        }
        if ((devices.length + 1) % 1000 === 0) {
          const now = performance.now();
          thousands.push(1000 / ((now - last) / 1000));
          last = now;
          console.error(`    device authorizations: ${devices.length + 1} at ${Math.round(thousands.at(-1))}/s`);
        }
        devices.push({
          index,
          deviceCode: res.json.device_code,
          userCode: res.json.user_code,
          interval: res.json.interval,
          last: 0,
        });
      },
    );
    const createPerSec = devices.length / ((performance.now() - started) / 1000);
    devices.sort((a, b) => a.index - b.index);
    memory.pending = memoryOf(server.pid);

    // Polls. An on-time poll waits until `interval` seconds after this device's previous answer (the server recorded
    // that poll no later than the answer arrived); a slow_down adds 5 s to the device's interval (RFC 8628 §3.5).
    const tally = { onTime: 0, pending: 0, slowDownOnTime: 0, otherOnTime: new Map(), waits: 0 };
    const fast = { sent: 0, slowDown: 0 };
    const pairs = { sent: 0, exactlyOne: 0, twoPassed: 0 };
    const tokens = { expected: 0, verified: 0, failures: new Map() };
    let latencies = [];
    const poll = async (device) => {
      const t = performance.now();
      const res = await http
        .postForm('/oauth2/token', { grant_type: DEVICE_GRANT, device_code: device.deviceCode, client_id: clientId })
        .catch((err) => ({ status: 0, json: { error: err.code ?? err.message } }));
      device.last = Date.now();
      latencies.push(performance.now() - t);
      if (res.json.error === 'slow_down') device.interval += 5;
      return res;
    };
    const due = async (device) => {
      const wait = device.last + device.interval * 1000 - Date.now();
      if (wait > 0) {
        tally.waits++;
        await sleep(wait + 2);
      }
    };
    const onTime = async (device) => {
      await due(device);
      const res = await poll(device);
      tally.onTime++;
      if (res.status === 400 && res.json.error === 'authorization_pending') tally.pending++;
      else if (res.json.error === 'slow_down') tally.slowDownOnTime++;
      else {
        const key = `${res.status} ${res.json.error ?? 'tokens'}`;
        tally.otherOnTime.set(key, (tally.otherOnTime.get(key) ?? 0) + 1);
      }
      return res;
    };
    const rounds = [];
    const round = async (name, visit) => {
      latencies = [];
      const t0 = performance.now();
      await parallel(devices, IN_FLIGHT, visit);
      const seconds = (performance.now() - t0) / 1000;
      rounds.push({ name, pollsPerSec: latencies.length / seconds, p99Ms: percentile(latencies, 0.99) });
      console.error(`    device polls, ${name}: ${Math.round(latencies.length / seconds)}/s`);
    };
    for (let r = 1; r <= 3; r++) await round(`round ${r}`, onTime);
    // Round 4: every 20th device polls again at once after its on-time poll (too fast: slow_down), and another
    // every 20th sends its on-time poll twice at the same moment (a racing pair: at most one may pass the interval).
    await round('round 4 (too-fast polls and racing pairs)', async (device) => {
      if (device.index % 20 === 10) {
        await due(device);
        pairs.sent++;
        const answers = await Promise.all([poll(device), poll(device)]);
        const errors = answers.map((a) => a.json.error).sort();
        if (errors[0] === 'authorization_pending' && errors[1] === 'slow_down') pairs.exactlyOne++;
        if (errors.filter((e) => e === 'authorization_pending').length > 1) pairs.twoPassed++;
        return;
      }
      await onTime(device);
      if (device.index % 20 === 0) {
        fast.sent++;
        if ((await poll(device)).json.error === 'slow_down') fast.slowDown++;
      }
    });
    memory.polled = memoryOf(server.pid);

    // Approve 100 through the device pages: a phone per device signs in, confirms the code, allows.
    const sample = devices.filter((d) => d.index % APPROVE_EVERY === 55);
    const approvals = { ok: 0, failures: new Map() };
    const approvalMs = [];
    started = performance.now();
    await parallel(sample, 8, async (device) => {
      const t = performance.now();
      try {
        const phone = http.browser();
        const login = await phone.get(`/oauth2/device?user_code=${encodeURIComponent(device.userCode)}`);
        expect(login.status === 200 && login.body.includes('>Sign in</button>'), `device sign-in page ${login.status}`);
        const signedIn = await phone.post('/oauth2/device/login', {
          csrf: login.inputs.csrf,
          user_code: login.inputs.user_code,
          ...USER,
        });
        expect(signedIn.status === 303, `device sign-in ${signedIn.status}`);
        const form = await phone.follow(signedIn);
        expect(form.status === 200 && form.inputs.user_code === device.userCode, `code form ${form.status}`);
        const confirm = await phone.post('/oauth2/device', {
          csrf: form.inputs.csrf,
          user_code: form.inputs.user_code,
        });
        expect(confirm.status === 200 && confirm.body.includes('>Allow</button>'), `confirm page ${confirm.status}`);
        const done = await phone.post('/oauth2/device/consent', {
          csrf: confirm.inputs.csrf,
          user_code: confirm.inputs.user_code,
          decision: 'allow',
        });
        expect(done.status === 200 && done.body.includes('Device connected'), `after Allow ${done.status}`);
        device.approved = true;
        approvals.ok++;
        approvalMs.push(performance.now() - t);
      } catch (err) {
        approvals.failures.set(err.message, (approvals.failures.get(err.message) ?? 0) + 1);
      }
    });
    const approveSeconds = (performance.now() - started) / 1000;

    // The next poll: tokens for the approved, authorization_pending for everyone else.
    await round('round 5 (after the approvals)', async (device) => {
      if (!device.approved) return void (await onTime(device));
      tokens.expected++;
      await due(device);
      const res = await poll(device);
      try {
        expect(res.status === 200, `approved device poll ${res.status} ${res.json.error}`);
        const access = await jwtVerify(res.json.access_token, jwks, {
          issuer: server.issuer,
          audience: AUDIENCE,
          typ: 'at+jwt',
          algorithms: ['ES256'],
        });
        expect(access.payload.sub === USER.username && access.payload.client_id === clientId, 'token claims');
        tokens.verified++;
      } catch (err) {
        tokens.failures.set(err.message, (tokens.failures.get(err.message) ?? 0) + 1);
      }
    });
    memory.after = memoryOf(server.pid);

    const plainRounds = rounds.slice(0, 3);
    const pollsPerSec = median(plainRounds.map((r) => r.pollsPerSec));
    const p99Ms = Math.round(median(plainRounds.map((r) => r.p99Ms)));
    const perPendingKiB = ((memory.pending.rssMiB - memory.idle.rssMiB) * 1024) / DEVICES;
    const listed = (map) => [...map].map(([k, v]) => `${v}× ${k}`).join('; ');
    const problems = [
      createFailures.size ? `device authorization failures: ${listed(createFailures)}` : '',
      tally.otherOnTime.size ? `other answers to on-time polls: ${listed(tally.otherOnTime)}` : '',
      approvals.failures.size ? `approval failures: ${listed(approvals.failures)}` : '',
      tokens.failures.size ? `token failures: ${listed(tokens.failures)}` : '',
    ].filter(Boolean);
    return {
      bench: `${DEVICES.toLocaleString('en-US')} pending device codes polled in parallel (${IN_FLIGHT} in flight, keep-alive TLS 1.3): throughput, memory, slow_down exactness`,
      target:
        'every answer exact (authorization_pending on time, slow_down when too soon, tokens once approved); no ratio target (issue 5)',
      results: [
        {
          name: 'gatehouse token endpoint, device_code polls (memory store)',
          opsPerSec: pollsPerSec,
          ratio: 1,
          p99Ms,
        },
      ],
      checks: [
        { label: 'authorizations created', value: devices.length, need: DEVICES, unit: '' },
        { label: 'on-time polls answered authorization_pending', value: tally.pending, need: tally.onTime, unit: '' },
        { label: 'on-time polls answered slow_down', value: tally.slowDownOnTime, need: 0, atMost: true, unit: '' },
        { label: 'too-fast polls answered slow_down', value: fast.slowDown, need: fast.sent, unit: '' },
        { label: 'racing pairs with exactly one pass', value: pairs.exactlyOne, need: pairs.sent, unit: '' },
        { label: 'approved devices with verified tokens', value: tokens.verified, need: sample.length, unit: '' },
      ],
      note:
        `Setup: gatehouse identity in its own process (memory store, default settings except the operator settings a ` +
        `single-address load needs: the per-address flood guard lifted, identity.device.maxPending 10,000 (default ` +
        `1,000), identity.device.interval 1 s, the minimum, so the rounds measure capacity rather than the interval, and ` +
        `identity.device.codeTtl 30 min (default 10) so that the first codes outlive the creation of the last); ` +
        `one public device client; the load in this process over ${IN_FLIGHT} keep-alive connections (undici 7). ` +
        `${devices.length.toLocaleString('en-US')} device authorizations created (${CREATE_IN_FLIGHT} in flight) at ` +
        `${Math.round(createPerSec)}/s on average, ${Math.round(thousands[0] ?? NaN)}/s for the first 1,000 and ` +
        `${Math.round(thousands.at(-1) ?? NaN)}/s for the last: every start counts the pending codes with a list of up ` +
        `to maxPending records (DeviceAuthorizations.pending()), so a start costs O(pending). Polls/s and p99 are the medians of 3 rounds in which every device polls once, each ` +
        `poll no sooner than its interval after the device's previous answer (${tally.waits} polls waited for it); ` +
        `rounds: ${rounds.map((r) => `${r.name} ${Math.round(r.pollsPerSec)}/s`).join(', ')}. In round 4, ` +
        `${fast.sent} devices polled again at once after their on-time poll (${fast.slowDown} got slow_down) and ` +
        `${pairs.sent} sent two polls at the same moment (${pairs.exactlyOne} pairs with one authorization_pending and ` +
        `one slow_down, ${pairs.twoPassed} with two passes); ${tally.onTime.toLocaleString('en-US')} on-time polls in all, ` +
        `${tally.pending.toLocaleString('en-US')} authorization_pending, ${tally.slowDownOnTime} slow_down. ` +
        `${approvals.ok} of ${sample.length} devices approved through the device pages (a phone each: sign-in with ` +
        `scrypt, code, Allow; 8 at once, ${(approvals.ok / approveSeconds).toFixed(1)}/s, median ` +
        `${approvalMs.length ? median(approvalMs).toFixed(0) : '—'} ms), then round 5: ${tokens.verified} of ` +
        `${tokens.expected} got tokens (ES256 at+jwt verified against the JWKS), the rest authorization_pending. ` +
        `Server RSS: idle ${mib(memory.idle.rssMiB)}, with ${devices.length.toLocaleString('en-US')} pending ` +
        `${mib(memory.pending.rssMiB)} (about ${perPendingKiB.toFixed(1)} KiB per pending authorization), after the ` +
        `polling rounds ${mib(memory.polled.rssMiB)}, at the end ${mib(memory.after.rssMiB)} (peak ${mib(memory.after.peakMiB)}).` +
        (problems.length ? ` ${problems.join('. ')}.` : ''),
    };
  } finally {
    await http.close();
    await server.stop();
  }
}

export async function run() {
  const tls = selfSigned();
  const logins = await loginBench(tls);
  const devices = await deviceBench(tls);
  return [logins, devices];
}
