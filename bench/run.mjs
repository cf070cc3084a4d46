// `npm run bench [suite...]`: runs the suites under bench/suites side by side with their anchors and records the
// ratios in bench/RESULTS.md (newest run first). Timed work lives here, never in the tests.
import { existsSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { fmt, machine } from './lib/measure.mjs';

const here = dirname(fileURLToPath(import.meta.url));
if (!existsSync(join(here, '..', 'dist', 'index.js'))) {
  console.error('bench: build first (npm run build)');
  process.exit(2);
}
const wanted = process.argv.slice(2);
const suites = readdirSync(join(here, 'suites'))
  .filter((f) => f.endsWith('.mjs'))
  .filter((f) => wanted.length === 0 || wanted.some((w) => f.startsWith(w)));

const lines = [
  `## Run of ${machine()}`,
  '',
  `Suites: ${suites.join(', ')}. Command: \`npm run bench ${wanted.join(' ')}\`.`,
  '',
];
let failed = 0;
const count = (n) => (Number.isInteger(n) ? n.toLocaleString('en-US') : n.toFixed(2));
for (const file of suites) {
  console.error(`bench: ${file} ...`);
  const mod = await import(join(here, 'suites', file));
  for (const row of await mod.run()) {
    if (row.todo) {
      lines.push(`### ${row.bench} (target ${row.target})`, '', `TODO: ${row.todo}`, '');
      console.error(`  ${row.bench}: TODO`);
      continue;
    }
    const subject = row.results[0];
    const withP99 = row.results.some((r) => r.p99Ms !== undefined);
    lines.push(
      `### ${row.bench} (target ${row.target})`,
      '',
      `| implementation | ops/s | gatehouse ÷ this |${withP99 ? ' p99 ms |' : ''}`,
      `|---|---|---|${withP99 ? '---|' : ''}`,
    );
    for (const r of row.results) {
      const ratio = r.name === subject.name ? '—' : r.ratio.toFixed(2) + '×';
      lines.push(`| ${r.name} | ${fmt(r.opsPerSec)} | ${ratio} |${withP99 ? ` ${r.p99Ms ?? '—'} |` : ''}`);
    }
    // A row passes when every check passes; by default the one check is the worst throughput ratio ≥ need. A check
    // with a `unit` (e.g. '' for a count, ' MiB') shows its value and need with that unit instead of as a ratio (×).
    const checks = row.checks ?? [
      { label: 'throughput', value: Math.min(...row.results.slice(1).map((r) => r.ratio)), need: row.need },
    ];
    const verdicts = checks.map((c) => {
      const ok = c.atMost ? c.value <= c.need : c.value >= c.need;
      const shown = c.unit === undefined ? `${c.value.toFixed(2)}×` : `${count(c.value)}${c.unit}`;
      const need = c.unit === undefined ? `${c.need}×` : `${count(c.need)}${c.unit}`;
      return { ...c, ok, shown, text: `${c.label} ${shown} (${c.atMost ? '≤' : '≥'} ${need})` };
    });
    const pass = verdicts.every((v) => v.ok);
    if (!pass) failed++;
    const summary = verdicts.length === 1 ? verdicts[0].shown : verdicts.map((v) => v.text).join('; ');
    // A row without a target (need 0 and no checks of its own) is informational: no verdict to print.
    const informational = row.checks === undefined && row.need === 0;
    lines.push(
      '',
      informational
        ? `Result: informational (no target); lowest ratio ${summary}.`
        : `Result: ${summary} — ${pass ? 'meets' : 'MISSES'} the target.`,
      '',
    );
    if (row.note) lines.push(row.note, '');
    console.error(`  ${row.bench}: ${summary} (${pass ? 'ok' : 'MISS'})`);
  }
}
// BENCH_RESULTS=FILE writes somewhere else (exploratory runs that should not land in the record).
const file = process.env.BENCH_RESULTS ?? join(here, 'RESULTS.md');
const header = '# Benchmark results\n\nNewest first. Ratios, not absolute times: the machine is shared and noisy.\n\n';
const previous = existsSync(file) ? readFileSync(file, 'utf8').replace(header, '') : '';
writeFileSync(file, header + lines.join('\n') + '\n' + previous);
console.error(`bench: results written to bench/RESULTS.md${failed ? ` (${failed} target(s) missed)` : ''}`);
