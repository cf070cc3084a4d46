import { ERROR_CODES } from '../core/index.js';

/** Renders docs/errors.md from the error registry in src/core/error_codes.ts. */
export function renderErrorsDoc(): string {
  const out = [
    '# Error codes',
    '',
    '<!-- Generated from src/core/error_codes.ts by `npm run docs`. Do not edit by hand: CI fails when it is stale. -->',
    '',
    'Every error gatehouse returns or prints carries one of these stable codes. HTTP APIs of our own answer',
    '`application/problem+json` with the code in `code`; OAuth endpoints answer the RFC `error` value as well.',
    '',
    '| code | HTTP status | message | meaning |',
    '|---|---|---|---|',
  ];
  for (const [code, entry] of Object.entries(ERROR_CODES)) {
    out.push(`| \`${code}\` | ${entry.status} | ${entry.message} | ${entry.doc.replace(/\|/g, '\\|')} |`);
  }
  return out.join('\n') + '\n';
}
