import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { configSchema } from '../../../src/config/index.js';
import { inspectRequest, type WafInput } from '../../../src/gateway/index.js';

/** The thresholds published in docs/waf.md. */
const MIN_DETECTION = 0.95;
const MAX_FALSE_POSITIVES = 0.01;

interface Row {
  input: WafInput;
  label: 'attack' | 'benign';
  family: string;
}

function load(name: string): Row[] {
  const text = readFileSync(join(import.meta.dirname, '..', 'corpus', name), 'utf8');
  return text
    .trim()
    .split('\n')
    .map((line) => JSON.parse(line) as Row);
}

const waf = configSchema.parse({
  gateway: {
    upstreams: [{ name: 'app', hosts: ['http://127.0.0.1:1'] }],
    routes: [{ name: 'app', pathPrefix: '/', upstream: 'app' }],
  },
}).gateway.routes[0]!.waf;

describe('WAF corpus (default rules of a route)', () => {
  const attacks = load('attacks.jsonl');
  const benign = load('benign.jsonl');

  it('holds at least 200 labelled attacks and 200 benign inputs', () => {
    expect(attacks.length).toBeGreaterThanOrEqual(200);
    expect(benign.length).toBeGreaterThanOrEqual(200);
    expect(attacks.every((r) => r.label === 'attack')).toBe(true);
    expect(benign.every((r) => r.label === 'benign')).toBe(true);
  });

  it(`detects at least ${MIN_DETECTION * 100} % of attacks and flags at most ${MAX_FALSE_POSITIVES * 100} % of benign inputs`, () => {
    const missed = attacks.filter((r) => inspectRequest(waf, r.input) === undefined);
    const flagged = benign
      .map((r) => ({ r, v: inspectRequest(waf, r.input) }))
      .filter((x) => x.v !== undefined)
      .map((x) => `${x.r.family} ${x.v!.rule} ${JSON.stringify(x.r.input).slice(0, 120)}`);
    const detection = 1 - missed.length / attacks.length;
    const falsePositives = flagged.length / benign.length;
    console.log(
      `WAF corpus: detection ${(detection * 100).toFixed(1)} % (${attacks.length - missed.length}/${attacks.length}), ` +
        `false positives ${(falsePositives * 100).toFixed(1)} % (${flagged.length}/${benign.length})`,
    );
    for (const m of missed) console.log(`missed ${m.family} ${JSON.stringify(m.input).slice(0, 160)}`);
    for (const f of flagged) console.log(`false positive ${f}`);
    expect(detection).toBeGreaterThanOrEqual(MIN_DETECTION);
    expect(falsePositives).toBeLessThanOrEqual(MAX_FALSE_POSITIVES);
  });

  it('names the expected rule for each attack family', () => {
    const expected: Record<string, string[]> = {
      sqli: ['sqli'],
      xss: ['xss'],
      traversal: ['path_traversal'],
      nul: ['nul_byte'],
      scanner: ['scanner'],
      smuggling: ['smuggling_cl_te'],
    };
    for (const r of attacks) {
      const family = r.family.split('/')[0]!;
      const rules = expected[family];
      if (!rules) continue;
      expect({ family: r.family, rule: inspectRequest(waf, r.input)?.rule }).toEqual({
        family: r.family,
        rule: expect.toBeOneOf(rules),
      });
    }
  });
});

describe('XSS signatures after normalization', () => {
  it('still match script hidden by comments, control characters, plus signs and split words', () => {
    const query = (q: string) => inspectRequest(waf, { method: 'GET', path: '/search', query: q })?.rule;
    expect(query('q=' + encodeURIComponent('docu ment.cookie'))).toBe('xss');
    expect(query('q=' + encodeURIComponent('win\tdow . location'))).toBe('xss');
    expect(query('q=' + encodeURIComponent('div{-moz- bind+ing:url(x)}'))).toBe('xss');
    expect(query('q=' + encodeURIComponent('<scr/**/ipt>'))).toBe('xss');
    expect(query('q=' + encodeURIComponent('java\u0001script:alert(1)'))).toBe('xss');
    expect(inspectRequest(waf, { method: 'GET', path: '/a/%3Cscript%3E' })?.rule).toBe('xss');
    expect(inspectRequest(waf, { method: 'GET', path: '/orders/42' })).toBeUndefined();
  });
});
