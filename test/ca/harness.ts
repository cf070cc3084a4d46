import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { SessionTicketKeys } from '../../src/crypto/index.js';
import { prepareCaListener, type CaListener } from '../../src/app/ca_listener.js';
import { platformRequestStats } from '../../src/http/index.js';
import type { PlatformCore } from '../../src/app/index.js';
import { Scheduler } from '../../src/app/scheduler.js';
import { MemoryLeases } from '../../src/adapters/index.js';
import { loadConfig, type ConfigInput } from '../../src/config/index.js';
import { MemoryLogger } from '../../src/core/index.js';
import type { Authority } from '../../src/pki/index.js';
import { exec, fixture, type Fixture } from '../pki/helpers.js';
import { tempDir } from '../support/tmp.js';

/** A CA listener on 127.0.0.1:0 over an in-memory CA whose ManualClock starts at the real time. */
export interface CaHarness {
  url: string;
  port: number;
  dir: string;
  f: Fixture;
  authority: Authority;
  ca: CaListener;
  logger: MemoryLogger;
  bundleFile: string;
  /** Makes `name.key` (P-256) and `name.csr` in the temp dir; returns the CSR PEM. */
  csr(name: string): Promise<string>;
  /** curl against the listener, trusting the bundle; returns HTTP status and body (status 0: no HTTP answer). */
  curl(
    path: string,
    options?: { json?: unknown; cert?: string; key?: string; header?: string },
  ): Promise<{
    status: number;
    body: string;
    output: string;
  }>;
  /** Log lines with this message. */
  lines(msg: string): Array<Record<string, unknown>>;
  /** The listener's request metrics (Prometheus text). */
  metricsText(): string;
  close(): Promise<void>;
}

/** `overrides.pki.limits`: the CA's rate limits for this harness (default: the configured defaults). */
export async function caHarness(overrides: { pki?: NonNullable<ConfigInput['pki']> } = {}): Promise<CaHarness> {
  const tmp = tempDir('gh-ca-');
  const f = fixture(Date.now());
  const logger = new MemoryLogger();
  const authority = await f.open({ logger });
  const config = loadConfig({ overrides: { dataDir: tmp.dir, listen: { ca: { port: 0 } }, ...overrides } });
  const core = {
    config,
    clock: f.clock,
    logger,
    records: f.store,
    leases: new MemoryLeases(),
    keyring: undefined as never,
    authority,
    requestStats: platformRequestStats(),
    close: async () => {},
  } satisfies PlatformCore;
  const bundleFile = join(tmp.dir, 'trust-bundle.pem');
  await writeFile(bundleFile, authority.trustBundlePem());
  const ca = await prepareCaListener({
    core,
    trustBundleFile: bundleFile,
    ticketKeys: new SessionTicketKeys(),
    ready: () => true,
  });
  const scheduler = new Scheduler(core.leases, logger);
  const url = await ca.listen(scheduler);
  const port = Number(new URL(url).port);
  let n = 0;
  return {
    url,
    port,
    dir: tmp.dir,
    f,
    authority,
    ca,
    logger,
    bundleFile,
    async csr(name) {
      const res = await exec('openssl', [
        'req',
        '-new',
        '-newkey',
        'ec',
        '-pkeyopt',
        'ec_paramgen_curve:P-256',
        '-nodes',
        '-keyout',
        join(tmp.dir, `${name}.key`),
        '-out',
        join(tmp.dir, `${name}.csr`),
        '-subj',
        '/CN=workload',
      ]);
      if (res.code !== 0) throw new Error(res.output);
      return readFile(join(tmp.dir, `${name}.csr`), 'utf8');
    },
    async curl(path, options = {}) {
      const args = [
        '-sS',
        '--tlsv1.3',
        '--cacert',
        bundleFile,
        '-w',
        '\n%{http_code}',
        `https://localhost:${port}${path}`,
      ];
      args.push('--resolve', `localhost:${port}:127.0.0.1`);
      if (options.json !== undefined) {
        const file = join(tmp.dir, `body-${n++}.json`);
        await writeFile(file, JSON.stringify(options.json));
        args.push('-H', 'content-type: application/json', '--data-binary', `@${file}`);
      }
      if (options.cert) args.push('--cert', options.cert);
      if (options.key) args.push('--key', options.key);
      if (options.header) args.push('-H', options.header);
      const res = await exec('curl', args);
      const lines = res.output.trimEnd().split('\n');
      const status = Number(lines.pop());
      return { status: Number.isFinite(status) ? status : 0, body: lines.join('\n'), output: res.output };
    },
    lines: (msg) => logger.lines.filter((l) => l.msg === msg),
    metricsText: () => core.requestStats.text(),
    async close() {
      await scheduler.stop();
      await ca.close();
      tmp.remove();
    },
  };
}
