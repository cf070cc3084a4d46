#!/usr/bin/env node
// Prints docs/configuration.md and docs/errors.md, or with --check fails when the committed files are stale.
import { readFileSync, writeFileSync } from 'node:fs';
import { renderConfigurationDoc } from './docs.js';
import { renderErrorsDoc } from './errors_doc.js';

const targets: Array<[string, () => string]> = [
  ['docs/configuration.md', renderConfigurationDoc],
  ['docs/errors.md', renderErrorsDoc],
];
const mode = process.argv[2];
let stale = 0;
for (const [file, render] of targets) {
  const text = render();
  if (mode === '--check') {
    let current: string;
    try {
      current = readFileSync(file, 'utf8');
    } catch {
      current = '';
    }
    if (current !== text) {
      console.error(`${file} is stale: run npm run docs`);
      stale++;
    }
  } else if (mode === '--write') {
    writeFileSync(file, text);
  }
}
if (mode !== '--check' && mode !== '--write') {
  console.error('usage: docs_cli --check | --write');
  process.exit(2);
}
process.exit(stale ? 1 : 0);
