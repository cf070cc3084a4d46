import { describe, expect, it } from 'vitest';
import { ApiKeyIntrospection } from '../../src/app/gateway_api_keys.js';
import { GatehouseError, ManualClock } from '../../src/core/index.js';
import type { GatewayPrincipal } from '../../src/gateway/index.js';
import { newApiKey } from '../../src/identity/index.js';

const principal = (id: string): GatewayPrincipal => ({
  kind: 'api_key',
  sub: id,
  clientId: id,
  scopes: new Set(['demo']),
  roles: [],
  apiKeyId: id,
});

/** An introspection double: `active` keys resolve, others are invalid, `down` makes it unavailable. */
function fakeIssuer(active: Map<string, string>) {
  const state = { calls: 0, down: false, gate: undefined as Promise<void> | undefined };
  const introspect = async (key: string): Promise<GatewayPrincipal> => {
    state.calls += 1;
    await state.gate;
    if (state.down) throw new GatehouseError('ERR_VERIFIER_UNAVAILABLE', { detail: 'down' });
    const id = active.get(key);
    if (id === undefined) throw new GatehouseError('ERR_TOKEN_INVALID', { detail: 'inactive API key' });
    return principal(id);
  };
  return { state, introspect };
}

describe('API keys of a standalone gateway by introspection', () => {
  it('refuses malformed keys (shape, checksum) without asking the identity server', async () => {
    const issuer = fakeIssuer(new Map());
    const keys = new ApiKeyIntrospection({ ...issuer, negativeTtlMs: 5000, maxEntries: 10, clock: new ManualClock(0) });
    const good = newApiKey();
    const badChecksum = `${good.slice(0, -1)}${good.endsWith('A') ? 'B' : 'A'}`;
    for (const k of ['ghk_short', badChecksum, 'not-a-key', `${good}x`]) expect(await keys.verify(k)).toBeUndefined();
    expect(issuer.state.calls).toBe(0);
  });

  it('remembers a refused key for the negative TTL, then asks again', async () => {
    const clock = new ManualClock(1_000_000);
    const key = newApiKey();
    const active = new Map<string, string>();
    const issuer = fakeIssuer(active);
    const keys = new ApiKeyIntrospection({ ...issuer, negativeTtlMs: 5000, maxEntries: 10, clock });
    expect(await keys.verify(key)).toBeUndefined();
    expect(await keys.verify(key)).toBeUndefined();
    expect(issuer.state.calls).toBe(1);
    active.set(key, 'k1'); // created meanwhile: refused until the negative entry expires
    clock.advance(4999);
    expect(await keys.verify(key)).toBeUndefined();
    clock.advance(1);
    expect((await keys.verify(key))?.apiKeyId).toBe('k1');
    expect(issuer.state.calls).toBe(2);
  });

  it('is bounded: the oldest refusals are forgotten first', async () => {
    const clock = new ManualClock(0);
    const issuer = fakeIssuer(new Map());
    const keys = new ApiKeyIntrospection({ ...issuer, negativeTtlMs: 60_000, maxEntries: 3, clock });
    const presented = Array.from({ length: 5 }, () => newApiKey());
    for (const k of presented) {
      expect(await keys.verify(k)).toBeUndefined();
      clock.advance(1);
    }
    expect(keys.refusedSize).toBe(3);
    expect(issuer.state.calls).toBe(5);
    await keys.verify(presented[4]!); // still remembered
    expect(issuer.state.calls).toBe(5);
    await keys.verify(presented[0]!); // forgotten: asked again
    expect(issuer.state.calls).toBe(6);
  });

  it('shares one call between concurrent checks of the same key', async () => {
    const key = newApiKey();
    const issuer = fakeIssuer(new Map([[key, 'k1']]));
    let open: () => void = () => {};
    issuer.state.gate = new Promise<void>((resolve) => (open = resolve));
    const keys = new ApiKeyIntrospection({ ...issuer, negativeTtlMs: 5000, maxEntries: 10, clock: new ManualClock(0) });
    const all = Array.from({ length: 20 }, () => keys.verify(key));
    open();
    const answers = await Promise.all(all);
    expect(answers.every((p) => p?.apiKeyId === 'k1')).toBe(true);
    expect(issuer.state.calls).toBe(1);
  });

  it('fails closed when the identity server cannot answer, and does not cache that', async () => {
    const key = newApiKey();
    const issuer = fakeIssuer(new Map([[key, 'k1']]));
    const keys = new ApiKeyIntrospection({ ...issuer, negativeTtlMs: 5000, maxEntries: 10, clock: new ManualClock(0) });
    issuer.state.down = true;
    await expect(keys.verify(key)).rejects.toMatchObject({ code: 'ERR_VERIFIER_UNAVAILABLE' });
    issuer.state.down = false;
    expect((await keys.verify(key))?.apiKeyId).toBe('k1');
    expect(keys.refusedSize).toBe(0);
  });

  it('bounds the introspections in flight', async () => {
    const issuer = fakeIssuer(new Map());
    let open: () => void = () => {};
    issuer.state.gate = new Promise<void>((resolve) => (open = resolve));
    const keys = new ApiKeyIntrospection({ ...issuer, negativeTtlMs: 5000, maxEntries: 2, clock: new ManualClock(0) });
    const first = [keys.verify(newApiKey()), keys.verify(newApiKey())];
    await expect(keys.verify(newApiKey())).rejects.toMatchObject({ code: 'ERR_VERIFIER_UNAVAILABLE' });
    open();
    expect(await Promise.all(first)).toEqual([undefined, undefined]);
  });
});
