import { X509Certificate } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { describe, expect, it } from 'vitest';
import { ADMIN_TOKEN_CALL } from '../../src/http/index.js';
import type { Sidecar } from '../../src/mesh/index.js';
import { splitPem } from '../pki/helpers.js';
import { caService } from './ca_service.js';
import { constantLoad, sidecarPair, until, type LoadResult } from './load.js';

/** SHA-256 fingerprints of the certificates of a PEM bundle or chain, in order. */
const fingerprints = (pem: string): string[] => splitPem(pem).map((c) => new X509Certificate(c).fingerprint256);
/** The intermediate a sidecar's current SVID chains to (the chain is leaf, then intermediate). */
const signerOf = (sidecar: Sidecar): string | undefined => fingerprints(sidecar.identity.current!.chainPem)[1];
const trusts = (sidecar: Sidecar, fingerprint: string): boolean =>
  fingerprints(sidecar.identity.bundle.pem).includes(fingerprint);

describe('a full CA rotation under constant load', () => {
  it('prepare, publish, activate, retire the old intermediate: the sidecars follow and no request fails', async () => {
    // Time is compressed so the whole rotation fits in about 15 s: the next intermediate signs 2 s after it is
    // published (pki.caActivationDelay, 24 h by default), and the old one leaves the bundle 4 s after that
    // (maxLeafTtl: normally the longest leaf lifetime). SVIDs live 60 s but are renewed about every 3 s, so by then
    // neither sidecar holds one from the old intermediate any more (asserted before retiring). The bundle is
    // refetched every second (pki.bundleRefreshHint).
    const ca = await caService(
      { svidTtlMs: 60_000, maxSvidTtlMs: 60_000, activationDelayMs: 2_000, maxLeafTtlMs: 4_000 },
      { bundleRefreshHint: '1s' },
    );
    const pair = await sidecarPair(ca, { renewAtFraction: 0.05 });
    const { backend, frontend } = pair;
    const both = [backend, frontend];
    const load = constantLoad(pair.url, { host: 'backend' });
    let result: LoadResult;
    try {
      await until(() => load.ok > 50, 'the first requests');
      const [root, oldIntermediate] = fingerprints(ca.authority.trustBundlePem());
      expect(both.map(signerOf)).toEqual([oldIntermediate, oldIntermediate]);
      const sequence = backend.identity.bundle.sequence;

      // 1. prepare + publish (`gatehouse ca rotate`): the new intermediate is in the bundle, not yet signing.
      const prepared = (await ca.listener.admin.rotate(ADMIN_TOKEN_CALL)) as { steps: string[] };
      expect(prepared.steps).toEqual(['prepare']);
      const published = fingerprints(ca.authority.trustBundlePem());
      expect(published.slice(0, 2)).toEqual([root, oldIntermediate]);
      const newIntermediate = published[2]!;
      expect(newIntermediate).toBeDefined();
      await until(() => both.every((s) => trusts(s, newIntermediate)), 'both sidecars trusting the new intermediate');
      expect(backend.identity.bundle.sequence).toBeGreaterThan(sequence);
      expect(both.map(signerOf)).toEqual([oldIntermediate, oldIntermediate]);

      // 2. activate (on schedule): renewals now chain to the new intermediate.
      const activateAt = ca.authority.status().next!.activateAt;
      await until(() => Date.now() >= activateAt, 'the activation time');
      const activated = (await ca.listener.admin.rotate(ADMIN_TOKEN_CALL)) as { steps: string[] };
      expect(activated.steps).toEqual(['activate']);
      await until(
        () => both.every((s) => signerOf(s) === newIntermediate),
        'both sidecars renewed onto the new intermediate',
      );

      // 3. retire the old intermediate: it leaves the bundle, every sidecar drops it.
      const retireAt = ca.authority.status().retiring![0]!.retireAt;
      await until(() => Date.now() >= retireAt, 'the retirement time');
      const retired = (await ca.listener.admin.rotate(ADMIN_TOKEN_CALL)) as { steps: string[] };
      expect(retired.steps).toEqual(['retire']);
      expect(fingerprints(ca.authority.trustBundlePem())).toEqual([root, newIntermediate]);
      await until(() => both.every((s) => !trusts(s, oldIntermediate!)), 'both sidecars dropping the old intermediate');
      const admitted = backend.stats().inbound.admitted;
      await sleep(1_000);
      // New connections keep being verified against the new bundle.
      expect(backend.stats().inbound.admitted).toBeGreaterThan(admitted);
      expect(both.map(signerOf)).toEqual([newIntermediate, newIntermediate]);
    } finally {
      result = await load.stop();
      await pair.stop();
      await ca.close();
    }
    expect(result.failures).toEqual([]);
    expect(result.ok).toBeGreaterThan(200);
    expect(backend.stats().inbound.refused).toBe(0);
    expect(frontend.stats().outbound!.refused).toBe(0);
  }, 60_000);
});
