import { spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Agent, request, type Dispatcher } from 'undici';
import { afterEach, describe, expect, it } from 'vitest';
import { MemoryLogger, systemClock } from '../../src/core/index.js';
import { createMtlsAgent, createMtlsServer, IdentitySource, type MtlsListener } from '../../src/mesh/index.js';
import { CLI, exitOf, waitForOutput } from '../support/cli.js';
import { sidecarWorkspace, type CaService } from './ca_service.js';
import { id, TD } from './helpers.js';
import { constantLoad } from './load.js';

const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  while (cleanups.length) await cleanups.pop()?.();
});

async function identity(ca: CaService, sa: string): Promise<IdentitySource> {
  const source = new IdentitySource({
    client: ca.client(),
    credential: () => ca.joinToken(id(sa)),
    clock: systemClock,
    logger: new MemoryLogger(),
  });
  await source.start();
  cleanups.push(() => source.stop());
  return source;
}

/** A peer service in library mode that answers with its own name. */
async function peer(ca: CaService, sa: string): Promise<string> {
  const server: MtlsListener = createMtlsServer({
    identity: await identity(ca, sa),
    trustDomain: TD,
    logger: new MemoryLogger(),
    handler: (_req, res) => res.end(sa),
  });
  const { port } = await server.listen('127.0.0.1', 0);
  cleanups.push(() => server.close());
  return `127.0.0.1:${port}`;
}

describe('gatehouse sidecar: SIGHUP reload (built CLI)', () => {
  it('swaps policies, peers and limits keeping connections; refuses a bad file and a fixed setting', async () => {
    const { dir, ca, ordersId, tokenFile, app } = await sidecarWorkspace('gh-sidecar-reload-', cleanups);
    const [payA, payB] = [await peer(ca, 'payments-a'), await peer(ca, 'payments-b')];

    const file = join(dir, 'sidecar.json');
    const write = (o: { payments: [string, string]; allow: string; perCaller?: object; app?: string }) =>
      writeFileSync(
        file,
        JSON.stringify({
          trustDomain: TD,
          log: { level: 'warn' },
          sidecar: {
            spiffeId: ordersId,
            joinTokenFile: tokenFile,
            ca: { url: ca.url, bundleFile: ca.bundleFile },
            inbound: { port: 0, app: o.app ?? app.address },
            outbound: { port: 0, upstreams: [{ name: 'payments', address: o.payments[0], spiffeId: o.payments[1] }] },
            policies: [{ name: 'one-caller', action: 'ALLOW', rules: [{ from: [{ principals: [o.allow] }] }] }],
            limits: o.perCaller ? { perCaller: o.perCaller } : {},
          },
        }),
      );
    write({ payments: [payA, id('payments-a')], allow: id('web') });
    const child = spawn(process.execPath, [CLI, 'sidecar', '--config', file], {
      env: { PATH: process.env.PATH ?? '/usr/bin:/bin' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    cleanups.push(() => void child.kill('SIGKILL'));
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (out += d.toString()));
    const [, inboundPort] = await waitForOutput(() => out, /inbound \(mTLS\)\s+[\d.]+:(\d+)/);
    const [, outboundPort] = await waitForOutput(() => out, /outbound \(HTTP\)\s+[\d.]+:(\d+)/);
    const inbound = `https://127.0.0.1:${inboundPort}/orders`;
    const outbound = `http://127.0.0.1:${outboundPort}/pay`;

    // Callers of the sidecar (mTLS, one kept-alive connection each) and the local app's calls out (plain HTTP).
    // A connection the sidecar closes shows up as a 'disconnect' event of the agent that held it.
    let disconnects = 0;
    const agentOf = async (sa: 'web' | 'other') => {
      const agent = createMtlsAgent({ identity: await identity(ca, sa), trustDomain: TD, expect: ordersId });
      agent.on('disconnect', () => disconnects++);
      cleanups.push(() => agent.close());
      return agent;
    };
    const web = await agentOf('web');
    const other = await agentOf('other');
    const call = async (dispatcher: Dispatcher) => {
      const res = await request(inbound, { dispatcher });
      const body = await res.body.text();
      return { status: res.statusCode, body };
    };
    const local = new Agent({ connections: 1 });
    cleanups.push(() => local.close());
    local.on('disconnect', () => disconnects++);
    const pay = async () => {
      const res = await request(outbound, { dispatcher: local, headers: { host: 'payments' } });
      return `${res.statusCode} ${await res.body.text()}`;
    };
    const hup = async (pattern: RegExp) => {
      const mark = out.length;
      child.kill('SIGHUP');
      await waitForOutput(() => out.slice(mark), pattern);
    };

    // v1: web allowed, payments is payments-a.
    const first = await call(web);
    expect(first.status).toBe(200);
    expect(
      (JSON.parse(first.body) as { headers: Record<string, string> }).headers['x-forwarded-client-cert'],
    ).toContain(`URI=${id('web')}`);
    expect((await call(other)).status).toBe(403);
    expect(await pay()).toBe('200 payments-a');

    // v2 under constant load through the outbound side: payments moves, only "other" is allowed, one request a
    // minute per caller.
    const load = constantLoad(outbound, { host: 'payments', workers: 2 });
    write({ payments: [payB, id('payments-b')], allow: id('other'), perCaller: { rate: 1, per: '1m' } });
    await hup(/configuration reloaded/);
    expect(await pay()).toBe('200 payments-b');
    const during = await load.stop();
    expect(during.failures).toEqual([]);
    expect(during.ok).toBeGreaterThan(0);
    const denied = await call(web);
    expect(denied.status).toBe(403);
    expect(JSON.parse(denied.body)).toMatchObject({ code: 'ERR_MESH_FORBIDDEN', reason: 'no_allow_matched' });
    expect((await call(other)).status).toBe(200);
    expect((await call(other)).status).toBe(429);
    // Nobody was disconnected: the callers' kept-alive mTLS connections and the app's connection all survived.
    expect(disconnects).toBe(0);

    // A file that does not validate is refused; the running configuration stays (web is over its limit of one a
    // minute now: 429 before the policy is even asked; payments stays payments-b).
    writeFileSync(file, JSON.stringify({ trustDomain: TD, sidecar: { ca: { url: ca.url }, policies: [{ x: 1 }] } }));
    await hup(/sidecar_reload_failed/);
    expect((await call(web)).status).toBe(429);
    expect(await pay()).toBe('200 payments-b');

    // A setting that needs a restart is refused too, naming it; nothing of that file is applied.
    write({ payments: [payA, id('payments-a')], allow: id('web'), app: '127.0.0.1:1' });
    await hup(/sidecar_reload_failed.*sidecar\.inbound.*restart/);
    expect((await call(web)).status).toBe(429);
    expect(await pay()).toBe('200 payments-b');
    expect(disconnects).toBe(0);

    child.kill('SIGTERM');
    expect(await exitOf(child)).toBe(0);
  }, 60_000);
});
