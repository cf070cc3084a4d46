// npm run soak: the long reliability runs of the mesh (docs/mesh.md "Reliability"), each SOAK_SECONDS (default 120)
// of constant load through two sidecars (frontend → backend) on loopback:
//   rotation    every SVID renewed every second (forced-renew hook): zero failed requests, >= 95 % resumed handshakes
//               on the backend sidecar.
//   ca-restart  the sidecars renew against the CA listener over HTTPS (SVIDs of 60 s renewed about every 3 s); every
//               30 s the CA is stopped for 10 s and started again from its stored state on the same port: zero failed
//               requests, no SVID expired, both sidecars renewed again after every restart.
//   ca-rotation full CA rotations back to back (prepare + publish, activate, retire the old intermediate; time
//               compressed: activation 5 s after publication, retirement 10 s after activation): zero failed requests,
//               both sidecars on the new intermediate and rid of the old one after each rotation.
// SOAK_SCENARIOS=rotation,ca-restart picks some (default: all three, one after the other). Bounded: each stops by
// itself. Needs the build: npm run build first. The 15-second variants run in npm test (test/mesh/rotation.test.ts,
// ca_restart.test.ts, ca_rotation_load.test.ts).
import { X509Certificate } from 'node:crypto';
import { existsSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';

const root = new URL('../dist/', import.meta.url);
if (!existsSync(new URL('mesh/index.js', root))) {
  console.error('soak: dist/ is missing; run npm run build first');
  process.exit(2);
}
const { InProcessCaClient } = await import(new URL('app/mesh_ca_client.js', root).href);
const { Revocations } = await import(new URL('pki/index.js', root).href);
const { systemClock } = await import(new URL('core/index.js', root).href);
const { caService, constantLoad, sidecarPair, spiffeId, until } = await import('./lib/mesh_soak.mjs');

const SECONDS = Math.max(5, Math.min(3600, Number(process.env.SOAK_SECONDS ?? 120)));
const SCENARIOS = (process.env.SOAK_SCENARIOS ?? 'rotation,ca-restart,ca-rotation').split(',').map((s) => s.trim());
const DAY = 86_400_000;

const progress = (name, s, load, extra = '') =>
  console.log(`${name} ${s}s: ${load.ok} ok, ${load.failed} failed${extra}`);

/** Every SVID renewed every second through an in-process CA. */
async function rotation() {
  const ca = await caService();
  const client = new InProcessCaClient({
    authority: ca.authority,
    revocations: new Revocations(ca.store, systemClock, DAY),
    clock: systemClock,
    redeem: async (t) => t,
  });
  const pair = await sidecarPair({ client: () => client, credential: (sa) => spiffeId(sa) });
  const load = constantLoad(pair.url, { host: 'backend' });
  let rotations = 0;
  for (let s = 1; s <= SECONDS; s++) {
    await sleep(1_000);
    await Promise.all([pair.backend.renewNow(), pair.frontend.renewNow()]);
    rotations++;
    if (s % 10 === 0) {
      const { inbound } = pair.backend.stats();
      progress('rotation', s, load, `, ${inbound.resumed}/${inbound.admitted} resumed`);
    }
  }
  await load.stop();
  const { inbound } = pair.backend.stats();
  await pair.stop();
  await ca.close();
  const rate = inbound.admitted === 0 ? 0 : inbound.resumed / inbound.admitted;
  return {
    pass: load.failed === 0 && rate >= 0.95,
    rotations_per_sidecar: rotations,
    requests_ok: load.ok,
    requests_failed: load.failed,
    failures: Object.fromEntries(load.failures),
    handshakes: inbound.admitted,
    resumed: inbound.resumed,
    resumption_rate: Number(rate.toFixed(4)),
    refused: inbound.refused,
  };
}

/** The CA stopped for 10 s every 30 s while the sidecars renew against it about every 3 s. */
async function caRestart() {
  const ca = await caService({ svidTtlMs: 60_000, maxSvidTtlMs: 60_000 });
  const pair = await sidecarPair({
    client: () => ca.client(),
    credential: (sa) => ca.joinToken(spiffeId(sa)),
    renewAtFraction: 0.05,
    renewJitterFraction: 0.01,
  });
  const sidecars = [pair.backend, pair.frontend];
  const load = constantLoad(pair.url, { host: 'backend' });
  const started = Date.now();
  const elapsed = () => Math.round((Date.now() - started) / 1000);
  let restarts = 0;
  let recovered = 0;
  // At least one restart, then more while another 30 s cycle fits.
  do {
    await sleep(10_000);
    await ca.stop();
    await sleep(10_000);
    await ca.start();
    restarts++;
    const generations = sidecars.map((s) => s.identity.current?.generation ?? 0);
    try {
      await until(
        () => sidecars.every((s, i) => (s.identity.current?.generation ?? 0) > generations[i]),
        'both sidecars renewing after the restart',
        20_000,
      );
      recovered++;
    } catch (err) {
      console.log(`ca-restart: ${err.message}`);
    }
    progress('ca-restart', elapsed(), load, `, restart ${restarts}, recovered ${recovered}`);
  } while (Date.now() - started + 30_000 <= SECONDS * 1000);
  await load.stop();
  const counts = (what) => pair.logs.backend.count(what) + pair.logs.frontend.count(what);
  const result = {
    pass:
      load.failed === 0 &&
      restarts > 0 &&
      recovered === restarts &&
      counts('SVID expired: stopped serving; re-bootstrapping') === 0,
    restarts,
    recovered_after_restart: recovered,
    failed_renewal_attempts: counts('SVID renewal failed; retrying'),
    svids_expired: counts('SVID expired: stopped serving; re-bootstrapping'),
    requests_ok: load.ok,
    requests_failed: load.failed,
    failures: Object.fromEntries(load.failures),
    refused: pair.backend.stats().inbound.refused,
  };
  await pair.stop();
  await ca.close();
  return result;
}

/** Full CA rotations, one after the other, each followed by both sidecars. */
async function caRotation() {
  const ca = await caService(
    { svidTtlMs: 60_000, maxSvidTtlMs: 60_000, activationDelayMs: 5_000, maxLeafTtlMs: 10_000 },
    { bundleRefreshHint: '1s' },
  );
  const pair = await sidecarPair({
    client: () => ca.client(),
    credential: (sa) => ca.joinToken(spiffeId(sa)),
    renewAtFraction: 0.05,
    renewJitterFraction: 0.01,
  });
  const sidecars = [pair.backend, pair.frontend];
  const fingerprints = (pem) =>
    (pem.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g) ?? []).map(
      (c) => new X509Certificate(c).fingerprint256,
    );
  const signerOf = (s) => fingerprints(s.identity.current?.chainPem ?? '')[1];
  const trusts = (s, fp) => fingerprints(s.identity.bundle.pem).includes(fp);
  const load = constantLoad(pair.url, { host: 'backend' });
  const started = Date.now();
  let rotations = 0;
  let failed = '';
  try {
    // At least one rotation, then more while another (about 20 s) fits.
    do {
      const before = fingerprints(ca.authority.trustBundlePem());
      const old = before[before.length - 1];
      const steps = [];
      steps.push(...(await ca.listener.admin.rotate()).steps);
      const fresh = fingerprints(ca.authority.trustBundlePem()).find((fp) => !before.includes(fp));
      await until(() => sidecars.every((s) => trusts(s, fresh)), 'the new intermediate in both bundles');
      await until(() => Date.now() >= ca.authority.status().next.activateAt, 'activation');
      steps.push(...(await ca.listener.admin.rotate()).steps);
      await until(() => sidecars.every((s) => signerOf(s) === fresh), 'both sidecars renewed onto it');
      await until(() => Date.now() >= ca.authority.status().retiring[0].retireAt, 'retirement');
      steps.push(...(await ca.listener.admin.rotate()).steps);
      await until(() => sidecars.every((s) => !trusts(s, old)), 'the old intermediate gone from both bundles');
      if (steps.join() !== 'prepare,activate,retire') throw new Error(`unexpected steps ${steps.join()}`);
      rotations++;
      progress('ca-rotation', Math.round((Date.now() - started) / 1000), load, `, ${rotations} rotations`);
    } while (Date.now() - started + 20_000 <= SECONDS * 1000);
  } catch (err) {
    failed = err.message;
  }
  await load.stop();
  const result = {
    pass: load.failed === 0 && rotations > 0 && failed === '',
    rotations,
    ...(failed ? { error: failed } : {}),
    requests_ok: load.ok,
    requests_failed: load.failed,
    failures: Object.fromEntries(load.failures),
    refused: pair.backend.stats().inbound.refused,
  };
  await pair.stop();
  await ca.close();
  return result;
}

const runs = { rotation, 'ca-restart': caRestart, 'ca-rotation': caRotation };
const unknown = SCENARIOS.filter((s) => !(s in runs));
if (unknown.length > 0) {
  console.error(`soak: unknown scenario ${unknown.join(', ')} (known: ${Object.keys(runs).join(', ')})`);
  process.exit(2);
}
let pass = true;
for (const name of SCENARIOS) {
  console.log(`soak: ${name}, ${SECONDS} s`);
  const result = await runs[name]();
  console.log(JSON.stringify({ scenario: name, seconds: SECONDS, ...result }, null, 2));
  pass &&= result.pass;
}
console.log(pass ? 'soak: PASS' : 'soak: FAIL (see the scenarios above)');
process.exit(pass ? 0 : 1);
