import { Agent, request } from 'undici';
import { MemoryLogger, systemClock } from '../../src/core/index.js';
import { Sidecar } from '../../src/mesh/index.js';
import type { CaService } from './ca_service.js';
import { closeServer, echoApp, frontendOnly, id, TD } from './helpers.js';

/** What a constant load saw. */
export interface LoadResult {
  ok: number;
  /** One entry per failed request: `status <n>` or the error message. */
  failures: string[];
}

/**
 * Constant closed-loop load: `workers` concurrent requests to `url` (Host `host`), each sent as soon as the previous
 * one finished, until `stop()`.
 *
 * @example
 * const load = constantLoad(`http://127.0.0.1:${port}/load`, { host: 'backend' });
 * const { ok, failures } = await load.stop();
 */
export function constantLoad(url: string, options: { host: string; workers?: number }) {
  const dispatcher = new Agent({ connections: options.workers ?? 4 });
  const result: LoadResult = { ok: 0, failures: [] };
  let running = true;
  const worker = async () => {
    while (running) {
      try {
        const res = await request(url, { headers: { host: options.host }, dispatcher });
        await res.body.dump();
        if (res.statusCode === 200) result.ok++;
        else result.failures.push(`status ${res.statusCode}`);
      } catch (err) {
        result.failures.push((err as Error).message);
      }
    }
  };
  const workers = Array.from({ length: options.workers ?? 4 }, () => worker());
  return {
    get ok() {
      return result.ok;
    },
    async stop(): Promise<LoadResult> {
      running = false;
      await Promise.all(workers);
      await dispatcher.close();
      return result;
    },
  };
}

/**
 * Two sidecars (frontend → backend, only frontend allowed) that bootstrap with join tokens from `ca` and renew
 * against it over HTTPS, the way `gatehouse sidecar` does, in front of two echo apps. The frontend replaces its
 * connections every 5 requests, so that new (and resumed) handshakes happen all the time.
 *
 * @example
 * const pair = await sidecarPair(ca, { renewAtFraction: 0.05 });
 * const load = constantLoad(pair.url, { host: 'backend' });
 */
export async function sidecarPair(ca: CaService, tuning: { renewAtFraction: number; renewJitterFraction?: number }) {
  const backendApp = await echoApp('backend');
  const frontendApp = await echoApp('frontend');
  const start = (sa: string, logger: MemoryLogger, extra: Partial<Parameters<typeof Sidecar.start>[0]>) =>
    Sidecar.start({
      client: ca.client(),
      credential: () => ca.joinToken(id(sa)),
      trustDomain: TD,
      clock: systemClock,
      logger,
      mode: 'STRICT',
      policies: [],
      inbound: { host: '127.0.0.1', port: 0, app: sa === 'backend' ? backendApp.address : frontendApp.address },
      renewAtFraction: tuning.renewAtFraction,
      renewJitterFraction: tuning.renewJitterFraction ?? 0.01,
      ...extra,
    });
  const backendLog = new MemoryLogger();
  const frontendLog = new MemoryLogger();
  const backend = await start('backend', backendLog, { policies: frontendOnly });
  const frontend = await start('frontend', frontendLog, {
    outbound: {
      host: '127.0.0.1',
      port: 0,
      upstreams: [{ name: 'backend', address: `127.0.0.1:${backend.inboundAddress.port}`, spiffeId: id('backend') }],
    },
    maxRequestsPerConnection: 5,
  });
  return {
    backend,
    frontend,
    backendLog,
    frontendLog,
    /** The frontend app's way to the backend: plain HTTP to the frontend sidecar's outbound, Host `backend`. */
    url: `http://127.0.0.1:${frontend.outboundAddress!.port}/load`,
    async stop() {
      await frontend.stop();
      await backend.stop();
      await closeServer(backendApp.server);
      await closeServer(frontendApp.server);
    },
  };
}

/** Polls `condition` every 100 ms until it holds; throws with `what` after `timeoutMs`. */
export async function until(condition: () => boolean, what: string, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}
