// The outbound side's pools across reloads: an unchanged upstream keeps its pool, its requests in flight and its
// retry budget (a reload during an incident must not hand out a whole budget of retries again).
import { afterEach, describe, expect, it } from 'vitest';
import { MemoryLogger, systemClock } from '../../src/core/index.js';
import type { IdentitySource } from '../../src/mesh/index.js';
import { PeerChecker } from '../../src/mesh/peer_check.js';
import { UpstreamPools, type MeshUpstream } from '../../src/mesh/upstream_pools.js';
import { TD, id } from './helpers.js';

describe('UpstreamPools.replace', () => {
  let pools: UpstreamPools | undefined;
  afterEach(async () => {
    await pools?.destroy();
    pools = undefined;
  });

  const start = () => {
    // Nothing here connects: the identity is only subscribed to for renewals.
    const identity = { onChange: () => () => {} } as unknown as IdentitySource;
    const checker = new PeerChecker({ trustDomain: TD, clock: systemClock, denyList: () => [] });
    pools = new UpstreamPools({
      identity,
      checker,
      stats: { connected: 0, resumed: 0, refused: 0 },
      logger: new MemoryLogger(),
    });
    return pools;
  };
  const backend: MeshUpstream = { name: 'backend', address: '127.0.0.1:9', spiffeId: id('backend') };

  it('keeps the entry of an unchanged upstream: its pool, requests in flight and retries under way', () => {
    const p = start();
    p.replace([backend]);
    const before = p.get('backend')!;
    before.inFlight = 5;
    expect(before.retry.reserve(before.inFlight)).toBe(true);
    expect(p.replace([{ ...backend }])).toEqual([]);
    const after = p.get('backend')!;
    expect(after).toBe(before);
    expect(after.pool).toBe(before.pool);
    expect(after.inFlight).toBe(5);
    expect(after.retry.retriesInFlight).toBe(1);
  });

  it('new retry settings: the same pool and requests in flight, a new policy', () => {
    const p = start();
    p.replace([backend]);
    const before = p.get('backend')!;
    const { pool, retry } = before;
    before.inFlight = 2;
    retry.reserve(2);
    p.replace([{ ...backend, retries: { attempts: 1, on: ['connect-failure'], budget: 0.5 } }]);
    const after = p.get('backend')!;
    expect(after.pool).toBe(pool);
    expect(after.inFlight).toBe(2);
    expect(after.retry).not.toBe(retry);
    expect(after.retry.attempts).toBe(1);
    expect(after.retry.retriesInFlight).toBe(0);
    expect(after.upstream.retries?.budget).toBe(0.5);
  });

  it('a changed address: a new pool and entry, the old pool retired', () => {
    const p = start();
    p.replace([backend]);
    const before = p.get('backend')!;
    before.inFlight = 1;
    expect(p.replace([{ ...backend, address: '127.0.0.1:10' }])).toEqual(['backend']);
    const after = p.get('backend')!;
    expect(after).not.toBe(before);
    expect(after.pool).not.toBe(before.pool);
    expect(after.inFlight).toBe(0);
    expect(before.inFlight).toBe(1); // requests in flight on the old pool settle on the old entry
  });

  it('a removed upstream: gone, its pool retired', () => {
    const p = start();
    p.replace([backend, { ...backend, name: 'other' }]);
    expect(p.replace([backend])).toEqual(['other']);
    expect(p.get('other')).toBeUndefined();
    expect(p.get('backend')).toBeDefined();
  });
});
