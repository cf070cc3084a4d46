// h2load (Debian nghttp2-client) as a load generator for the HTTP/2 suites: one run, every request required to
// succeed with a 2xx (a broken target must not pass as a slow one).
import { execFile, spawnSync } from 'node:child_process';
import { promisify } from 'node:util';
import { cpuMs, median } from './measure.mjs';

const exec = promisify(execFile);

/** Throws when h2load is not installed. */
export function requireH2load() {
  if (spawnSync('h2load', ['--version']).status !== 0) {
    throw new Error('h2load not found (apt-get install -y nghttp2-client)');
  }
}

/**
 * One h2load run against `url` for `seconds` (after `warmup` s); resolves with { okPerSec, ok }, or throws on any
 * failed, errored or non-2xx request, or when the protocol spoken is not the one asked for (`h1`: HTTP/1.1; else h2,
 * h2c for http:// URLs). `data` names a file sent as every request's body (h2load then POSTs).
 */
export async function h2load(url, { h1 = false, seconds, warmup = 1, connections, streams, headers = {}, data }) {
  const args = [
    ...(h1 ? ['--h1'] : []),
    '-c',
    String(connections),
    '-m',
    String(h1 ? 1 : streams),
    '-t',
    '1',
    '-D',
    String(seconds),
    `--warm-up-time=${warmup}`,
    ...Object.entries(headers).flatMap(([name, value]) => ['-H', `${name}: ${value}`]),
    ...(data ? ['-d', data] : []),
    url,
  ];
  const { stdout } = await exec('h2load', args, { maxBuffer: 1 << 20 });
  const requests = /requests: (\d+) total, \d+ started, (\d+) done, (\d+) succeeded, (\d+) failed, (\d+) errored/.exec(
    stdout,
  );
  const codes = /status codes: (\d+) 2xx, (\d+) 3xx, (\d+) 4xx, (\d+) 5xx/.exec(stdout);
  const protocol = /Application protocol: (\S+)/.exec(stdout)?.[1];
  if (!requests || !codes) throw new Error(`h2load: unreadable output\n${stdout}`);
  const [, , , succeeded, failed, errored] = requests.map(Number);
  const non2xx = Number(codes[2]) + Number(codes[3]) + Number(codes[4]);
  if (failed > 0 || errored > 0 || non2xx > 0 || succeeded === 0) {
    throw new Error(
      `h2load ${url}: ${failed} failed, ${errored} errored, ${non2xx} non-2xx, ${succeeded} ok\n${stdout}`,
    );
  }
  const expected = h1 ? 'http/1.1' : url.startsWith('http://') ? 'h2c' : 'h2';
  if (protocol !== expected) throw new Error(`h2load ${url}: spoke ${protocol}, not ${expected}`);
  return { okPerSec: succeeded / seconds, ok: succeeded };
}

/**
 * Alternates `targets` ({ name, pid? }) over `rounds` rounds of `seconds` each, after one 2 s warm-up run of each,
 * with `load(target, seconds)` (an h2load run); the first target is the subject. Returns rows { name, opsPerSec,
 * ratio } of medians and `cpuUsPerOp(i)`: the CPU target i's process (`pid`) used per answered request over all
 * measured rounds, in µs (undefined without a pid).
 */
export async function alternateRounds({ targets, rounds, seconds, load }) {
  const samples = targets.map(() => ({ ops: [], cpu: 0, ok: 0 }));
  for (const t of targets) await load(t, 2);
  for (let r = 0; r < rounds; r++) {
    for (const t of r % 2 === 0 ? targets : [...targets].reverse()) {
      const i = targets.indexOf(t);
      const before = t.pid === undefined ? undefined : cpuMs(t.pid);
      const res = await load(t, seconds);
      const after = t.pid === undefined ? undefined : cpuMs(t.pid);
      if (before !== undefined && after !== undefined) {
        samples[i].cpu += after - before;
        samples[i].ok += res.ok;
      }
      samples[i].ops.push(res.okPerSec);
      console.error(`    ${t.name}: ${Math.round(res.okPerSec)}/s`);
    }
  }
  const subject = median(samples[0].ops);
  return {
    results: targets.map((t, i) => ({
      name: t.name,
      opsPerSec: median(samples[i].ops),
      ratio: subject / median(samples[i].ops),
    })),
    cpuUsPerOp: (i) => (samples[i].ok ? (samples[i].cpu / samples[i].ok) * 1000 : undefined),
  };
}
