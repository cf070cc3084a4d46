import { describe, expect, it } from 'vitest';
import { principalFromClaims } from '../../src/resource/index.js';
import { TokenCache } from '../../src/resource/token_cache.js';

const principal = (sub: string) => principalFromClaims('jwt', { sub, client_id: 'c', scope: 'a' }, 'k1');
const entry = (sub: string, expiresAt = 10_000) => ({ principal: principal(sub), expiresAt, jti: sub });
/** A JWT-sized key: `prefix` then 300 characters, ending in `tail`. */
const longKey = (prefix: string, tail: string) => `${prefix}.${'x'.repeat(300 - tail.length)}${tail}`;

describe('TokenCache', () => {
  it('answers a key only while it is valid, and evicts the oldest at the bound', () => {
    const cache = new TokenCache(2);
    const [a, b, c] = ['a', 'b', 'c'].map((n) => longKey('eyJhbGciOiJFUzI1NiJ9', `sig-${n}`.padEnd(40, n)));
    cache.set(a!, entry('alice', 1_000));
    expect(cache.get(a!, 999)?.principal.sub).toBe('alice');
    expect(cache.get(a!, 1_000)).toBeUndefined(); // at its expiry: gone
    expect(cache.size).toBe(0);
    cache.set(a!, entry('alice'));
    cache.set(b!, entry('bob'));
    cache.set(c!, entry('carol')); // evicts a
    expect(cache.get(a!, 0)).toBeUndefined();
    expect(cache.get(b!, 0)?.principal.sub).toBe('bob');
    expect(cache.get(c!, 0)?.principal.sub).toBe('carol');
    cache.delete(b!);
    expect(cache.get(b!, 0)).toBeUndefined();
  });

  it('never answers for another key that shares its last characters', () => {
    const cache = new TokenCache(10);
    const tail = 'S'.repeat(40);
    const first = longKey('eyJhbGciOiJFUzI1NiJ9.first', tail);
    const other = longKey('eyJhbGciOiJFUzI1NiJ9.other', tail);
    cache.set(first, entry('alice'));
    expect(cache.get(other, 0)).toBeUndefined(); // same tail, another token
    cache.delete(other); // forgets nothing that is not `other`
    expect(cache.get(first, 0)?.principal.sub).toBe('alice');
    cache.set(other, entry('mallory')); // a verified token sharing the tail replaces the entry
    expect(cache.get(first, 0)).toBeUndefined();
    expect(cache.get(other, 0)?.principal.sub).toBe('mallory');
  });

  it('keeps short keys (API-key digests) whole', () => {
    const cache = new TokenCache(10);
    cache.set('k:abc', entry('svc'));
    expect(cache.get('k:abc', 0)?.principal.sub).toBe('svc');
    expect(cache.get('k:abd', 0)).toBeUndefined();
  });
});
