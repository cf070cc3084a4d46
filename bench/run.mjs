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
for (const file of suites) {
  console.error(`bench: ${file} ...`);
  const mod = await import(join(here, 'suites', file));
  for (const row of await mod.run()) {
    const subject = row.results[0];
    lines.push(
      `### ${row.bench} (target ${row.target})`,
      '',
      '| implementation | ops/s | gatehouse ÷ this |',
      '|---|---|---|',
    );
    for (const r of row.results)
      lines.push(`| ${r.name} | ${fmt(r.opsPerSec)} | ${r.name === subject.name ? '—' : r.ratio.toFixed(2) + '×'} |`);
    const worst = Math.min(...row.results.slice(1).map((r) => r.ratio));
    const pass = worst >= row.need;
    if (!pass) failed++;
    lines.push('', `Result: ${worst.toFixed(2)}× — ${pass ? 'meets' : 'MISSES'} the target.`, '');
    console.error(`  ${row.bench}: ${worst.toFixed(2)}× (${pass ? 'ok' : 'MISS'})`);
  }
}
const file = join(here, 'RESULTS.md');
const header = '# Benchmark results\n\nNewest first. Ratios, not absolute times: the machine is shared and noisy.\n\n';
const previous = existsSync(file) ? readFileSync(file, 'utf8').replace(header, '') : '';
writeFileSync(file, header + lines.join('\n') + '\n' + previous);
console.error(`bench: results written to bench/RESULTS.md${failed ? ` (${failed} target(s) missed)` : ''}`);
