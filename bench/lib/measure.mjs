// Side-by-side measurement: subject and anchor run in alternating rounds in the same process, so that the noise of
// a shared machine hits both alike. We report medians and the ratio of medians; never absolute targets.
import { cpus } from 'node:os';
import { existsSync, readFileSync } from 'node:fs';

const now = () => Number(process.hrtime.bigint()) / 1e6;

/** Runs `op` (sync or async) for about `ms` milliseconds; returns operations per second. */
async function round(op, ms) {
  let count = 0;
  const start = now();
  let elapsed = 0;
  const probe = op();
  const isAsync = probe && typeof probe.then === 'function';
  if (isAsync) await probe;
  count++;
  while (elapsed < ms) {
    if (isAsync) {
      for (let i = 0; i < 32; i++) await op();
    } else {
      for (let i = 0; i < 32; i++) op();
    }
    count += 32;
    elapsed = now() - start;
  }
  return (count * 1000) / elapsed;
}

/** The median of a list of numbers. */
export const median = (values) => {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
};

/**
 * Compares `subject` with one or more anchors. Returns rows { name, opsPerSec, ratio } where ratio = subject / anchor.
 * @param {{ name: string, subject: () => unknown, anchors: Record<string, () => unknown>, rounds?: number, roundMs?: number }} spec
 */
export async function compare(spec) {
  const rounds = spec.rounds ?? 7;
  const roundMs = spec.roundMs ?? 700;
  const all = { [spec.name]: spec.subject, ...spec.anchors };
  const samples = Object.fromEntries(Object.keys(all).map((k) => [k, []]));
  for (const [, op] of Object.entries(all)) await round(op, 200); // warm up
  for (let r = 0; r < rounds; r++) {
    const order = r % 2 === 0 ? Object.entries(all) : Object.entries(all).reverse();
    for (const [k, op] of order) samples[k].push(await round(op, roundMs));
  }
  const subject = median(samples[spec.name]);
  return Object.entries(samples).map(([k, s]) => ({ name: k, opsPerSec: median(s), ratio: subject / median(s) }));
}

export function machine() {
  const cpu = cpus();
  return `${cpu.length} × ${cpu[0]?.model ?? 'unknown CPU'}, Node ${process.version}, ${new Date().toISOString().slice(0, 10)}`;
}

export const fmt = (n) => (n >= 100 ? Math.round(n).toLocaleString('en-US') : n.toFixed(2));

/**
 * CPU time (ms, user + system) process `pid` has used so far, from /proc (Linux; 10 ms ticks); undefined elsewhere or
 * when the process is gone. Server CPU per operation is less sensitive than throughput to other load on the machine.
 */
export function cpuMs(pid) {
  if (!pid || !existsSync(`/proc/${pid}/stat`)) return undefined;
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
  return (Number(fields[11]) + Number(fields[12])) * 10; // utime + stime, in 100 Hz ticks
}
