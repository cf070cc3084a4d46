// The load generator, run in its own process so that it never shares an event loop with a server under test.
// argv[2] = JSON { url, connections, seconds, method, headers, body, rate? } (rate: autocannon -R, requests/s over
// all connections); prints one JSON line with the results.
import autocannon from 'autocannon';

const spec = JSON.parse(process.argv[2]);
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
