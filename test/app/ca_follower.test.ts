import { describe, expect, it } from 'vitest';
import { CaFollower } from '../../src/app/ca_follower.js';
import { MemoryLogger } from '../../src/core/index.js';
import { DAY, fixture } from '../pki/helpers.js';

// A process that does not rotate the CA itself (identity or KMS started alone) used to keep the intermediate it
// loaded at start: after the CA process had rotated past it, that process could no longer renew its own listener
// certificate (ERR_PKI_CA_INVALID) and served an outdated bundle.
describe('CaFollower', () => {
  it('lets a process that never rotates follow rotations made by another one', async () => {
    const f = fixture();
    const rotating = await f.open(); // gatehouse up / the CA: runs the rotation schedule
    const standalone = await f.open(); // the KMS alone on the same storage
    const changes: boolean[] = [];
    const logger = new MemoryLogger();
    const follower = new CaFollower({
      authority: standalone,
      clock: f.clock,
      logger,
      afterRefresh: (c) => void changes.push(c),
    });

    for (let day = 0; day < 400; day++) {
      f.clock.advance(DAY);
      await rotating.rotate();
    }
    expect(rotating.status().intermediate.serialNumber).not.toBe(standalone.status().intermediate.serialNumber);
    await expect(standalone.issueListenerCertificate({ component: 'kms', ttlMs: DAY })).rejects.toMatchObject({
      code: 'ERR_PKI_CA_INVALID',
    });

    expect(await follower.refresh()).toEqual({ changed: true, bundleSequence: rotating.bundleSequence });
    expect(standalone.trustBundlePem()).toBe(rotating.trustBundlePem());
    expect(standalone.status().intermediate.serialNumber).toBe(rotating.status().intermediate.serialNumber);
    const cert = await standalone.issueListenerCertificate({ component: 'kms', ttlMs: DAY });
    expect(cert.notAfter).toBeGreaterThan(f.clock.now());
    expect(await follower.refresh()).toEqual({ changed: false, bundleSequence: rotating.bundleSequence });
    expect(changes).toEqual([true, false]);
    expect(
      logger.lines.filter((l) => l.msg === 'the stored CA changed (rotation elsewhere); following it'),
    ).toHaveLength(1);
  });

  it('refreshes on its own once started', async () => {
    const f = fixture();
    const rotating = await f.open();
    const standalone = await f.open();
    let refreshed = 0;
    const follower = new CaFollower({
      authority: standalone,
      clock: f.clock,
      logger: new MemoryLogger(),
      afterRefresh: () => void refreshed++,
    });
    await rotating.rotate(true);
    follower.start(10);
    for (let i = 0; i < 200 && standalone.bundleSequence !== rotating.bundleSequence; i++) {
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
    follower.stop();
    expect(standalone.bundleSequence).toBe(rotating.bundleSequence);
    expect(refreshed).toBeGreaterThan(0);
  });
});
