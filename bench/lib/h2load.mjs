// h2load (Debian nghttp2-client) as a load generator for the HTTP/2 suites: one run, every request required to
// succeed with a 2xx (a broken target must not pass as a slow one).
import { execFile, spawnSync } from 'node:child_process';
import { promisify } from 'node:util';

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
