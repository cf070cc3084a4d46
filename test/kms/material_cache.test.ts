import { describe, expect, it } from 'vitest';
import { MaterialCache } from '../../src/kms/material_cache.js';
import { KeyedMutex } from '../../src/kms/mutex.js';

describe('MaterialCache', () => {
  it('is bounded and evicts the least recently used entry', () => {
    const cache = new MaterialCache(2);
    cache.put('a', Buffer.from('aa'));
    cache.put('b', Buffer.from('bb'));
    cache.get('a');
    cache.put('c', Buffer.from('cc'));
    expect(cache.size).toBe(2);
    expect(cache.get('b')).toBeUndefined();
    expect(cache.get('a')?.toString()).toBe('aa');
    expect(cache.get('c')?.toString()).toBe('cc');
  });

  it('copies in and out, so callers may wipe what they hold', () => {
    const cache = new MaterialCache(4);
    const original = Buffer.from('secret');
    cache.put('k', original);
    original.fill(0);
    const out = cache.get('k');
    out?.fill(0);
    expect(cache.get('k')?.toString()).toBe('secret');
  });

  it('clears by prefix, and keeps nothing with capacity 0', () => {
    const cache = new MaterialCache(4);
    cache.put('orders:v1', Buffer.from('1'));
    cache.put('orders:v2', Buffer.from('2'));
    cache.put('chat:v1', Buffer.from('3'));
    cache.clear('orders:');
    expect([cache.get('orders:v1'), cache.get('orders:v2'), cache.get('chat:v1')?.toString()]).toEqual([
      undefined,
      undefined,
      '3',
    ]);
    const none = new MaterialCache(0);
    none.put('x', Buffer.from('x'));
    expect(none.size).toBe(0);
  });
});

describe('KeyedMutex', () => {
  it('runs sections with the same key one at a time, in order, and releases after errors', async () => {
    const mutex = new KeyedMutex();
    const events: string[] = [];
    const section =
      (name: string, fail = false) =>
      async () => {
        events.push(`${name}:start`);
        await new Promise((resolve) => setImmediate(resolve));
        events.push(`${name}:end`);
        if (fail) throw new Error('boom');
        return name;
      };
    const results = await Promise.allSettled([
      mutex.run('k', section('a')),
      mutex.run('k', section('b', true)),
      mutex.run('k', section('c')),
    ]);
    expect(events).toEqual(['a:start', 'a:end', 'b:start', 'b:end', 'c:start', 'c:end']);
    expect(results.map((r) => r.status)).toEqual(['fulfilled', 'rejected', 'fulfilled']);
  });

  it('lets different keys overlap', async () => {
    const mutex = new KeyedMutex();
    const events: string[] = [];
    const section = (name: string) => async () => {
      events.push(`${name}:start`);
      await new Promise((resolve) => setImmediate(resolve));
      events.push(`${name}:end`);
    };
    await Promise.all([mutex.run('x', section('x')), mutex.run('y', section('y'))]);
    expect(events.slice(0, 2)).toEqual(['x:start', 'y:start']);
  });
});
