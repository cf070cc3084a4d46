import { describe, expect, it } from 'vitest';
import { normalizeRequestTarget } from '../../src/core/index.js';

describe('normalizeRequestTarget', () => {
  it('returns a target that needs no change as the same string', () => {
    for (const t of ['/', '/orders/42', '/a/b?x=1&y=2', '/.well-known/jwks.json', '/a.b/c..d/']) {
      expect(normalizeRequestTarget(t)).toBe(t);
    }
  });

  it('decodes escapes of unreserved characters and uppercases the others (RFC 3986 §6.2.2)', () => {
    expect(normalizeRequestTarget('/%61dmin/%7Euser')).toBe('/admin/~user');
    expect(normalizeRequestTarget('/a%2fb%5cc%20d')).toBe('/a%2Fb%5Cc%20d');
    expect(normalizeRequestTarget('/%7e/x?q=%7e%3d&r=%41')).toBe('/~/x?q=%7e%3d&r=%41');
  });

  it('merges slashes and removes dot segments, also when the dots were escaped', () => {
    expect(normalizeRequestTarget('//admin//x')).toBe('/admin/x');
    expect(normalizeRequestTarget('/./admin/x')).toBe('/admin/x');
    expect(normalizeRequestTarget('/x/../admin/x')).toBe('/admin/x');
    expect(normalizeRequestTarget('/x/%2e%2E/admin')).toBe('/admin');
    expect(normalizeRequestTarget('/../../etc/passwd')).toBe('/etc/passwd');
    expect(normalizeRequestTarget('/a/b/..')).toBe('/a/');
    expect(normalizeRequestTarget('/a/.')).toBe('/a/');
    expect(normalizeRequestTarget('/a//../b')).toBe('/b');
    expect(normalizeRequestTarget('/a/..b/.c')).toBe('/a/..b/.c');
  });

  it('keeps encoded slashes encoded: a%2F..%2F stays one segment', () => {
    expect(normalizeRequestTarget('/static/..%2f..%2fadmin')).toBe('/static/..%2F..%2Fadmin');
  });

  it('leaves the query byte for byte as sent (an upstream may check a signature over it)', () => {
    expect(normalizeRequestTarget('/x?a=%%414&b=%7e')).toBe('/x?a=%%414&b=%7e');
    expect(normalizeRequestTarget('//x?100%&p=/../a')).toBe('/x?100%&p=/../a');
  });

  it('refuses targets that are not origin-form or whose path has a malformed escape', () => {
    for (const t of ['*', 'http://evil.example/admin', '', '/a%zz', '/a%4', '/a%', '/admin#', '/admin#/x', '/x?a#b']) {
      expect(normalizeRequestTarget(t)).toBeUndefined();
    }
    for (const t of ['/admin\\users', '/public\\..\\admin/x']) {
      expect(normalizeRequestTarget(t)).toBeUndefined();
    }
  });

  it('is idempotent', () => {
    const samples = ['//x/./%61dmin/../b%2fc?q=%7e%3d', '/a/b/..', '/%2e%2e/%2E/x', '/x?a=%%41', '/x?q=a\\b'];
    for (const t of samples) {
      const once = normalizeRequestTarget(t)!;
      expect(normalizeRequestTarget(once)).toBe(once);
    }
  });
});
