// HTTP targets measured side by side: each server runs in its own child process, the load generator (autocannon) in
// another, with the same connections and duration for every target, targets alternating over several rounds.
import { setTimeout, clearTimeout } from 'node:timers';
import { spawn, execFile } from 'node:child_process';
import { once } from 'node:events';
import { createInterface } from 'node:readline';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { cpuMs, median } from './measure.mjs';

const here = dirname(fileURLToPath(import.meta.url));
const run = promisify(execFile);

/**
 * Starts `node <script>` with `input` (JSON) on argv; resolves with the first line the child prints (JSON: at least
 * { port }), the child's pid and a stop() that ends it.
 */
export async function startServer(script, input) {
  // BENCH_NODE_ARGS: extra node flags for every server, for exploration only (e.g. `--cpu-prof --cpu-prof-dir=/tmp/p`
  // writes a V8 CPU profile per server when it stops, `--perf-basic-prof` names JIT frames for `perf`); the figures of
  // such a run are not comparable with others.
  const flags = (process.env.BENCH_NODE_ARGS ?? '').split(' ').filter(Boolean);
  const child = spawn(process.execPath, [...flags, script, JSON.stringify(input)], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const lines = createInterface({ input: child.stdout });
  const timer = setTimeout(() => child.kill('SIGKILL'), 30_000);
  const [first] = await Promise.race([
    once(lines, 'line'),
    once(child, 'exit').then(([code]) => {
      throw new Error(`${script} exited with ${code} before it was ready`);
    }),
  ]);
  clearTimeout(timer);
  const info = JSON.parse(first);
  return {
    pid: child.pid,
    ...info,
    async stop() {
      if (child.exitCode !== null) return;
      child.kill('SIGTERM');
      const t = setTimeout(() => child.kill('SIGKILL'), 5000);
      await once(child, 'exit');
      clearTimeout(t);
    },
  };
}

/**
 * Servers started for one suite, stopped together (last started first): `start(script, input)` is {@link startServer}.
 *
 * @example
 * const servers = serverGroup();
 * try { const backend = await servers.start(join(dir, 'backend.mjs'), {}); ... } finally { await servers.stopAll(); }
 */
export function serverGroup() {
  const started = [];
  return {
    async start(script, input) {
      const s = await startServer(script, input);
      started.push(s);
      return s;
    },
    async stopAll() {
      for (const s of started.reverse()) await s.stop();
    },
  };
}

/** One autocannon run in a separate process against `target` ({ url, headers, body, method }). */
export async function load(target, { connections, seconds }) {
  const spec = JSON.stringify({ ...target, connections, seconds });
  // One argv string may not exceed 128 KiB on Linux: a large spec (a big request body) goes through a file.
  const dir = spec.length > 64 * 1024 ? mkdtempSync(join(tmpdir(), 'gh-load-')) : undefined;
  if (dir) writeFileSync(join(dir, 'spec.json'), spec);
  try {
    const arg = dir ? `@${join(dir, 'spec.json')}` : spec;
    const { stdout } = await run(process.execPath, [join(here, 'load_child.mjs'), arg], { maxBuffer: 1 << 20 });
    return JSON.parse(stdout.trim().split('\n').pop());
  } finally {
    if (dir) rmSync(dir, { recursive: true, force: true });
  }
}

/**
 * Alternates `targets` (name → { url, headers, body, pid? }) over `rounds` rounds of `seconds` each (after a short
 * warm-up of each) and returns rows { name, opsPerSec, p99Ms, ratio, cpuMsPerOp? } with medians; the first target is
 * the subject. `cpuMsPerOp` is the CPU the process `pid` used per answered request over all measured rounds (when a
 * target names its server's pid). A round with errors or non-2xx answers throws: a broken target must not pass as a
 * slow one.
 */
export async function compareHttp({ targets, rounds = 3, seconds = 5, connections = 32, warmupSeconds = 2 }) {
  const names = Object.keys(targets);
  const samples = Object.fromEntries(names.map((n) => [n, { ops: [], p99: [], cpu: 0, ok: 0 }]));
  const spec = (n) => {
    const { pid: _pid, ...rest } = targets[n];
    return rest;
  };
  for (const n of names) await load(spec(n), { connections, seconds: warmupSeconds });
  for (let r = 0; r < rounds; r++) {
    const order = r % 2 === 0 ? names : [...names].reverse();
    for (const n of order) {
      const before = cpuMs(targets[n].pid);
      const res = await load(spec(n), { connections, seconds });
      const after = cpuMs(targets[n].pid);
      if (before !== undefined && after !== undefined) {
        samples[n].cpu += after - before;
        samples[n].ok += res.ok;
      }
      if (res.non2xx > 0 || res.errors > 0 || res.ok === 0) {
        throw new Error(`${n}: ${res.non2xx} non-2xx, ${res.errors} errors, ${res.ok} ok in a round`);
      }
      samples[n].ops.push(res.okPerSec);
      samples[n].p99.push(res.p99Ms);
      console.error(`    ${n}: ${Math.round(res.okPerSec)}/s p99 ${res.p99Ms} ms`);
    }
  }
  const subject = median(samples[names[0]].ops);
  return names.map((n) => ({
    name: n,
    opsPerSec: median(samples[n].ops),
    p99Ms: median(samples[n].p99),
    ratio: subject / median(samples[n].ops),
    ...(samples[n].ok > 0 ? { cpuMsPerOp: samples[n].cpu / samples[n].ok } : {}),
  }));
}
