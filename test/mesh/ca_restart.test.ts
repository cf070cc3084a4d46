import { createConnection } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { describe, expect, it } from 'vitest';
import type { MemoryLogger } from '../../src/core/index.js';
import { caService } from './ca_service.js';
import { constantLoad, sidecarPair, until, type LoadResult } from './load.js';

/** The `retryInMs` of each failed renewal a sidecar logged, in order. */
const retries = (log: MemoryLogger): number[] =>
  log.lines.filter((l) => l.msg === 'SVID renewal failed; retrying').map((l) => Number(l.retryInMs));

/** Resolves with the error code of a TCP connect to 127.0.0.1:`port` ('connected' when it connects). */
const connectOutcome = (port: number): Promise<string> =>
  new Promise((resolve) => {
    const socket = createConnection(port, '127.0.0.1');
    socket.once('connect', () => {
      socket.destroy();
      resolve('connected');
    });
    socket.once('error', (err: Error & { code?: string }) => resolve(err.code ?? err.message));
  });

describe('the CA restarted under constant load', () => {
  it('serves every request while the CA is down; both sidecars retry with backoff and renew again once it is back', async () => {
    // SVIDs live 60 s (the CA's minimum) and renew at 5 % of that (about every 3 s), so renewals fall due while the
    // CA is down, while the certificates in use stay valid throughout.
    const ca = await caService({ svidTtlMs: 60_000, maxSvidTtlMs: 60_000 });
    const pair = await sidecarPair(ca, { renewAtFraction: 0.05 });
    const { backend, frontend, backendLog, frontendLog } = pair;
    const load = constantLoad(pair.url, { host: 'backend' });
    let result: LoadResult;
    try {
      await until(() => load.ok > 50, 'the first requests');
      await until(() => backend.identity.current!.generation > 1, 'a renewal while the CA is up');

      // Counted before the stop: a renewal may fail (and log its first retry) while the stop is still being checked.
      const failedBefore = { backend: retries(backendLog).length, frontend: retries(frontendLog).length };
      await ca.stop();
      expect(ca.running).toBe(false);
      expect(await connectOutcome(ca.port)).toBe('ECONNREFUSED');
      const heldWhileDown = { backend: backend.identity.current!, frontend: frontend.identity.current! };
      const admittedWhileDown = backend.stats().inbound.admitted;
      // Each sidecar: a renewal falls due (within about 3 s), fails, and is retried 1 s later, failing again.
      await until(
        () =>
          retries(backendLog).length >= failedBefore.backend + 2 &&
          retries(frontendLog).length >= failedBefore.frontend + 2,
        'two failed renewals on each sidecar while the CA is down',
      );
      expect(retries(backendLog).slice(failedBefore.backend, failedBefore.backend + 2)).toEqual([1_000, 2_000]);
      expect(retries(frontendLog).slice(failedBefore.frontend, failedBefore.frontend + 2)).toEqual([1_000, 2_000]);
      // The mesh kept opening (and verifying) new connections with the certificates it holds.
      expect(backend.stats().inbound.admitted).toBeGreaterThan(admittedWhileDown);

      await ca.start();
      const upAt = Date.now();
      expect(await connectOutcome(ca.port)).toBe('connected');
      const generations = {
        backend: backend.identity.current!.generation,
        frontend: frontend.identity.current!.generation,
      };
      await until(
        () =>
          backend.identity.current!.generation > generations.backend &&
          frontend.identity.current!.generation > generations.frontend,
        'both sidecars renewing against the restarted CA',
      );
      expect(backend.identity.current!.serialNumber).not.toBe(heldWhileDown.backend.serialNumber);
      expect(frontend.identity.current!.serialNumber).not.toBe(heldWhileDown.frontend.serialNumber);
      // "while certificates are valid": the ones held through the outage never expired.
      expect(heldWhileDown.backend.notAfter).toBeGreaterThan(upAt);
      expect(heldWhileDown.frontend.notAfter).toBeGreaterThan(upAt);
      await sleep(1_000);
    } finally {
      result = await load.stop();
      await pair.stop();
      await ca.close();
    }
    expect(result.failures).toEqual([]);
    expect(result.ok).toBeGreaterThan(200);
    expect(backend.stats().inbound.refused).toBe(0);
    expect(backendLog.lines.filter((l) => l.msg?.startsWith('SVID expired'))).toEqual([]);
    expect(frontendLog.lines.filter((l) => l.msg?.startsWith('SVID expired'))).toEqual([]);
  }, 60_000);
});
