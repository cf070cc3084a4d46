import { afterEach, describe, expect, it } from 'vitest';
import { PASSWORD, deviceHarness, phoneSignIn, seedDevice, type DeviceHarness, type Phone } from './harness.js';

let h: DeviceHarness | undefined;
afterEach(async () => {
  await h?.close();
  h = undefined;
});

const tight = { rate: 1, period: '1h', burst: 1 };

async function signedIn(harness: DeviceHarness, username: string, address: string) {
  if (!(await harness.identity.people.users.find(username))) {
    await harness.identity.people.users.create({ username, password: PASSWORD, roles: [] });
  }
  const phone = harness.phone(address);
  const form = await phoneSignIn(phone, '/oauth2/device', username);
  return { phone, csrf: form.inputs.csrf as string };
}

const enter = (who: { phone: Phone; csrf: string }, code: string) =>
  who.phone.post('/oauth2/device', { csrf: who.csrf, user_code: code });

describe('device page: sign-in first, CSRF, and limits on wrong codes', () => {
  it('shows the sign-in form, never a code lookup, to an anonymous visitor; refuses a missing CSRF token', async () => {
    h = await deviceHarness();
    const clientId = await seedDevice(h);
    const started = await h.post('/oauth2/device_authorization', { client_id: clientId });
    const anonymous = await h.phone().post('/oauth2/device', { user_code: started.json.user_code as string });
    expect(anonymous.status).toBe(200);
    expect(anonymous.body).toContain('>Sign in</button>');
    expect(anonymous.body).not.toContain('Living Room TV');
    const ada = await signedIn(h, 'ada', '198.51.100.7');
    const forged = await ada.phone.post('/oauth2/device', { user_code: started.json.user_code as string });
    expect(forged.status).toBeGreaterThanOrEqual(400);
    expect(forged.body).not.toContain('>Allow</button>');
    const wrongPassword = await h.phone().get('/oauth2/device');
    const refused = await h.phone().post('/oauth2/device/login', {
      csrf: wrongPassword.inputs.csrf as string,
      username: 'ada',
      password: 'not the password',
    });
    expect(refused.status).toBeGreaterThanOrEqual(400);
  });

  it('per account: after the budget, wrong and right codes alike get 429 with Retry-After', async () => {
    h = await deviceHarness({ device: { failedEntryPerAccount: { rate: 1, period: '1h', burst: 2 } } });
    const clientId = await seedDevice(h);
    const started = await h.post('/oauth2/device_authorization', { client_id: clientId });
    const ada = await signedIn(h, 'ada', '198.51.100.7');
    for (let i = 0; i < 3; i++) {
      const wrong = await enter(ada, 'bcdf-ghjk');
      expect(wrong.status).toBe(400);
      expect(wrong.body).toContain('not valid');
    }
    const throttled = await enter(ada, started.json.user_code as string);
    expect(throttled.status).toBe(429);
    expect(Number(throttled.headers['retry-after'])).toBeGreaterThan(0);
    const bob = await signedIn(h, 'bob', '198.51.100.7');
    const fine = await enter(bob, started.json.user_code as string);
    expect(fine.status).toBe(200);
    expect(fine.body).toContain('>Allow</button>');
  });

  it('per address: another account from the same address is refused, from another address it is not', async () => {
    h = await deviceHarness({ device: { failedEntryPerAddress: tight } });
    await seedDevice(h);
    const ada = await signedIn(h, 'ada', '198.51.100.7');
    expect((await enter(ada, 'BCDFGHJK')).status).toBe(400);
    expect((await enter(ada, 'BCDFGHJK')).status).toBe(400);
    const bobHere = await signedIn(h, 'bob', '198.51.100.7');
    expect((await enter(bobHere, 'BCDFGHJK')).status).toBe(429);
    const bobThere = await signedIn(h, 'bob', '198.51.100.99');
    expect((await enter(bobThere, 'BCDFGHJK')).status).toBe(400);
  });

  it('globally: wrong codes from many accounts and addresses share one budget', async () => {
    h = await deviceHarness({ device: { failedEntryGlobal: tight } });
    await seedDevice(h);
    expect((await enter(await signedIn(h, 'ada', '198.51.100.1'), 'BCDFGHJK')).status).toBe(400);
    expect((await enter(await signedIn(h, 'bob', '198.51.100.2'), 'BCDFGHJK')).status).toBe(400);
    const carol = await enter(await signedIn(h, 'carol', '198.51.100.3'), 'BCDFGHJK');
    expect(carol.status).toBe(429);
    expect(carol.body).toContain('Too many wrong codes');
  });
});
