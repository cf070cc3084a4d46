import { describe, expect, it } from 'vitest';
import { Histogram, Counter, Registry } from 'prom-client';
import { RequestStats, labelValue } from '../../src/core/index.js';

const REQ = { name: 'x_requests_total', help: 'Requests.' };
const DUR = { name: 'x_duration_seconds', help: 'Durations.' };
const BOUNDS = [0.001, 0.01, 0.1, 1];

describe('RequestStats', () => {
  it('writes the same exposition prom-client writes for the same observations', async () => {
    const registry = new Registry();
    const counter = new Counter({ ...REQ, labelNames: ['route', 'status'], registers: [registry] });
    const histogram = new Histogram({ ...DUR, labelNames: ['route'], buckets: BOUNDS, registers: [registry] });
    const stats = new RequestStats(REQ, DUR, BOUNDS);
    const observations: Array<[string, number, number]> = [
      ['a', 200, 0.0005],
      ['a', 200, 0.001], // on a bound: counted in that bucket (le)
      ['a', 429, 0.05],
      ['b "quoted" \\ route\nx', 502, 3],
      ['a', 200, 0.5],
    ];
    for (const [route, status, seconds] of observations) {
      stats.record(route, status, seconds);
      counter.labels(route, String(status)).inc();
      histogram.labels(route).observe(seconds);
    }
    const sortLines = (text: string) =>
      text
        .trim()
        .split('\n')
        .filter((l) => l !== '' && !l.startsWith('#'))
        .sort();
    expect(sortLines(stats.text())).toEqual(sortLines(await registry.metrics()));
    expect(stats.text()).toContain(`# TYPE ${DUR.name} histogram`);
    expect(stats.text()).toContain(`# TYPE ${REQ.name} counter`);
  });

  it('writes the labels a key maps to, escaped, before status and after le', () => {
    const stats = new RequestStats(REQ, DUR, [0.1], (key) => {
      const [listener, route] = key.split(' ');
      return `listener="${labelValue(listener ?? '')}",route="${labelValue(route ?? '')}"`;
    });
    stats.record('kms /v1/keys/"x"', 200, 0.05);
    stats.record('kms /v1/keys/"x"', 200, 0.5);
    const lines = stats.text().split('\n');
    expect(lines).toContain(`${REQ.name}{listener="kms",route="/v1/keys/\\"x\\"",status="200"} 2`);
    expect(lines).toContain(`${DUR.name}_bucket{le="0.1",listener="kms",route="/v1/keys/\\"x\\""} 1`);
    expect(lines).toContain(`${DUR.name}_bucket{le="+Inf",listener="kms",route="/v1/keys/\\"x\\""} 2`);
    expect(lines).toContain(`${DUR.name}_count{listener="kms",route="/v1/keys/\\"x\\""} 2`);
  });

  it('writes only the family headers before any request', () => {
    const text = new RequestStats(REQ, DUR, BOUNDS).text();
    expect(text.trim().split('\n')).toEqual([
      `# HELP ${REQ.name} Requests.`,
      `# TYPE ${REQ.name} counter`,
      `# HELP ${DUR.name} Durations.`,
      `# TYPE ${DUR.name} histogram`,
    ]);
  });
});
