// The open-loop load generator of the overload benchmark, in its own process. argv[2] = JSON { url, connections,
// seconds, rate, method, headers, warm? }. Requests are sent on a fixed schedule (`rate` per second, evenly spaced) whether
// or not earlier ones have been answered, over an undici Pool of `connections` keep-alive connections; latency is
// measured from the scheduled send time, so queueing in the generator counts (no coordinated omission). autocannon's
// -R sends each second's quota as a burst at the start of the second, which a rate limiter with a small burst
// rejects even below its rate, hence this generator. Prints one JSON line: counts by class and the latency
// percentiles of the 2xx answers alone (the admitted requests) and of every answer.
import { setTimeout as sleep } from 'node:timers/promises';
import { Pool } from 'undici';

const spec = JSON.parse(process.argv[2]);
const url = new URL(spec.url);
const pool = new Pool(url.origin, {
  connections: spec.connections,
  pipelining: 1,
  connect: { rejectUnauthorized: false },
});
const admitted = [];
const all = [];
let limited = 0;
let other = 0;
let errors = 0;
const now = () => Number(process.hrtime.bigint()) / 1e6;

async function send(scheduledAt) {
  try {
    const res = await pool.request({
      path: url.pathname + url.search,
      method: spec.method ?? 'GET',
      headers: spec.headers ?? {},
    });
    await res.body.dump();
    const latency = now() - scheduledAt;
    all.push(latency);
    if (res.statusCode >= 200 && res.statusCode < 300) admitted.push(latency);
    else if (res.statusCode === 429) limited++;
    else other++;
  } catch {
    errors++;
  }
}

// Open every connection before the clock starts (keep-alive clients hold theirs), so that TLS handshakes made while
// the schedule runs are not counted as request latency. The warm-up requests carry no Authorization header: the
// gateway answers them 401 before its rate limit, so they spend no limiter budget.
if (spec.warm) {
  const headers = Object.fromEntries(
    Object.entries(spec.headers ?? {}).filter(([name]) => name.toLowerCase() !== 'authorization'),
  );
  await Promise.all(
    Array.from({ length: spec.connections }, () =>
      pool.request({ path: url.pathname + url.search, method: 'GET', headers }).then((res) => res.body.dump()),
    ),
  );
}

const start = now();
const total = Math.round(spec.rate * spec.seconds);
const pending = [];
let sent = 0;
while (sent < total) {
  const elapsed = now() - start;
  const due = Math.min(total, Math.floor((elapsed * spec.rate) / 1000) + 1);
  while (sent < due) {
    pending.push(send(start + (sent * 1000) / spec.rate));
    sent++;
  }
  await sleep(1);
}
await Promise.all(pending);
const duration = (now() - start) / 1000;
await pool.close();
const pct = (list, p) => {
  const sorted = [...list].sort((a, b) => a - b);
  return sorted.length ? Number(sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * p))].toFixed(2)) : NaN;
};
process.stdout.write(
  JSON.stringify({
    offeredPerSec: sent / spec.seconds,
    admittedPerSec: admitted.length / spec.seconds,
    seconds: duration,
    admitted: admitted.length,
    limited,
    other,
    errors,
    p50Ms: pct(admitted, 0.5),
    meanMs: admitted.length ? Number((admitted.reduce((a, b) => a + b, 0) / admitted.length).toFixed(3)) : NaN,
    p99Ms: pct(admitted, 0.99),
    allP99Ms: pct(all, 0.99),
  }) + '\n',
);
