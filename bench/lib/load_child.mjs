// The load generator, run in its own process so that it never shares an event loop with a server under test.
// argv[2] = JSON (or @FILE holding it) { url, connections, seconds, method, headers, body, rate? } (rate: autocannon -R, requests/s over
// all connections); prints one JSON line with the results.
import { readFileSync } from 'node:fs';
import autocannon from 'autocannon';

const arg = process.argv[2];
const spec = JSON.parse(arg.startsWith('@') ? readFileSync(arg.slice(1), 'utf8') : arg);
const result = await autocannon({
  url: spec.url,
  connections: spec.connections,
  duration: spec.seconds,
  method: spec.method ?? 'POST',
  headers: spec.headers ?? {},
  body: spec.body,
  pipelining: 1,
  ...(spec.rate ? { overallRate: spec.rate } : {}),
});
const ok = result['2xx'];
process.stdout.write(
  JSON.stringify({
    okPerSec: ok / result.duration,
    p99Ms: result.latency.p99,
    p50Ms: result.latency.p50,
    meanMs: result.latency.mean,
    ok,
    non2xx: result.non2xx,
    errors: result.errors,
    timeouts: result.timeouts,
  }) + '\n',
);
