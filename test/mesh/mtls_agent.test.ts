import { request } from 'undici';
import { afterEach, describe, expect, it } from 'vitest';
import { createMtlsAgent } from '../../src/mesh/index.js';
import { id, mtlsPair, TD } from './helpers.js';

const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  while (cleanups.length) await cleanups.pop()?.();
});

describe('createMtlsAgent (library mode, client side)', () => {
  it('sends no request on a connection made with the old SVID once it is renewed; closes the old connections', async () => {
    const { client, port } = await mtlsPair(cleanups, (_req, res, peer) =>
      res.end(JSON.stringify({ caller: peer?.spiffeId, hash: peer?.fingerprint })),
    );
    const agent = createMtlsAgent({ identity: client, trustDomain: TD, expect: id('backend') });
    const call = async () => {
      const res = await request(`https://127.0.0.1:${port}/x`, { dispatcher: agent });
      return (await res.body.json()) as { caller: string; hash: string };
    };
    const first = await call();
    expect(first.caller).toBe(id('frontend'));
    expect((await call()).hash).toBe(first.hash); // the same kept-alive connection
    await client.renewNow();
    const after = await call();
    expect(after.caller).toBe(id('frontend'));
    expect(after.hash).not.toBe(first.hash); // a new connection, with the renewed certificate
    expect((await call()).hash).toBe(after.hash);
    await agent.close();
    await expect(call()).rejects.toThrow();
  });
});
