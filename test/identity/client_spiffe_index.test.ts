import { describe, expect, it } from 'vitest';
import { ManualClock } from '../../src/core/index.js';
import { ClientSpiffeIndex, type Client } from '../../src/identity/index.js';

const ORDERS = 'spiffe://gatehouse.test/ns/shop/sa/orders';
const BILLING = 'spiffe://gatehouse.test/ns/shop/sa/billing';

const client = (clientId: string, spiffeIds?: string[]): Client =>
  ({ clientId, scopes: [], ...(spiffeIds ? { spiffeIds } : {}) }) as unknown as Client;

describe('ClientSpiffeIndex', () => {
  it('finds the clients holding a SPIFFE ID from one snapshot, reloaded after the TTL or on invalidate', async () => {
    const clock = new ManualClock(1_000_000);
    let clients = [client('a', [ORDERS]), client('b'), client('c', [ORDERS, BILLING])];
    let loads = 0;
    const index = new ClientSpiffeIndex({
      clock,
      ttlMs: 5000,
      load: async () => {
        loads += 1;
        return clients;
      },
    });
    expect((await index.clientsOf(ORDERS)).map((c) => c.clientId)).toEqual(['a', 'c']);
    expect((await index.clientsOf(BILLING)).map((c) => c.clientId)).toEqual(['c']);
    expect(await index.clientsOf('spiffe://gatehouse.test/ns/shop/sa/none')).toEqual([]);
    expect(loads).toBe(1);

    clients = [client('d', [BILLING])];
    clock.advance(4999);
    expect((await index.clientsOf(BILLING)).map((c) => c.clientId)).toEqual(['c']);
    clock.advance(1);
    expect((await index.clientsOf(BILLING)).map((c) => c.clientId)).toEqual(['d']);
    expect(loads).toBe(2);

    clients = [];
    index.invalidate();
    expect(await index.clientsOf(BILLING)).toEqual([]);
    expect(loads).toBe(3);
  });

  it('a change made while a load runs is not hidden behind the snapshot of that load', async () => {
    const clock = new ManualClock(0);
    let release: (clients: Client[]) => void = () => undefined;
    let loads = 0;
    const index = new ClientSpiffeIndex({
      clock,
      ttlMs: 5000,
      load: () => {
        loads += 1;
        return loads === 1
          ? new Promise<Client[]>((resolve) => (release = resolve))
          : Promise.resolve([client('new', [ORDERS])]);
      },
    });
    const first = index.clientsOf(ORDERS);
    index.invalidate(); // a client was created while the first load ran
    release([]);
    expect(await first).toEqual([]);
    expect((await index.clientsOf(ORDERS)).map((c) => c.clientId)).toEqual(['new']);
    expect(loads).toBe(2);
  });
});
