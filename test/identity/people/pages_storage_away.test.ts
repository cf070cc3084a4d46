import { afterEach, describe, expect, it } from 'vitest';
import { ManualClock } from '../../../src/core/index.js';
import { storeThatCanGoAway } from '../../support/store_away.js';
import { REDIRECT, peopleHarness, type PeopleHarness } from './harness.js';

/**
 * The sign-in pages while the storage is away (a replica lost PostgreSQL) answer 503 "Temporarily unavailable", logged
 * as a warning, and work again once it is back; they answered 500 "Something went wrong", logged as an error.
 */
let h: PeopleHarness | undefined;
let close: (() => Promise<void>) | undefined;
afterEach(async () => {
  await h?.close();
  await close?.();
  h = undefined;
});

describe('sign-in pages while the storage is away', () => {
  it('answer 503 Temporarily unavailable, then recover', async () => {
    const clock = new ManualClock(Date.now());
    const { store, setAway } = storeThatCanGoAway(clock);
    close = () => store.close();
    h = await peopleHarness({}, { store, clock });
    const query = new URLSearchParams({
      client_id: 'ghc_not_cached',
      redirect_uri: REDIRECT,
      response_type: 'code',
      scope: 'orders:read',
      state: 'st-1',
      code_challenge: 'E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM',
      code_challenge_method: 'S256',
    });
    const url = `/oauth2/authorize?${query.toString()}`;

    setAway(true);
    const away = await h.browser().get(url);
    expect(away.status).toBe(503);
    expect(away.body).toContain('Temporarily unavailable');
    expect(away.headers['cache-control']).toBe('no-store');
    expect(h.logger.lines.some((l) => l.level === 'error')).toBe(false);
    expect(h.logger.lines.some((l) => l.level === 'warn' && l.msg === 'sign-in page failed')).toBe(true);

    setAway(false);
    const back = await h.browser().get(url);
    expect(back.status).toBe(400); // an unknown client, now that the store can say so
  });
});
