/** How a command prints: human-readable text, or exactly one JSON document with --json. */
export interface Output {
  json: boolean;
}

export function print(output: Output, value: unknown, human: (value: never) => string): void {
  if (output.json) process.stdout.write(JSON.stringify(value) + '\n');
  else process.stdout.write(human(value as never) + '\n');
}

/** A two-column table for human output. */
export function table(rows: Array<[string, unknown]>): string {
  const width = Math.max(...rows.map(([k]) => k.length));
  return rows.map(([k, v]) => `${k.padEnd(width)}  ${v === undefined || v === null ? '-' : String(v)}`).join('\n');
}

/**
 * Rows as aligned columns for human output: every column but the last padded to its widest cell, two spaces apart.
 *
 * @example
 * columns([['orders', 'aes256-gcm96', 'v3'], ['billing-archive', 'chacha20-poly1305', 'v1']]);
 */
export function columns(rows: ReadonlyArray<readonly string[]>): string {
  const widths: number[] = [];
  for (const row of rows) row.forEach((cell, i) => (widths[i] = Math.max(widths[i] ?? 0, cell.length)));
  return rows
    .map((row) =>
      row
        .map((cell, i) => (i === row.length - 1 ? cell : cell.padEnd(widths[i] ?? 0)))
        .join('  ')
        .trimEnd(),
    )
    .join('\n');
}
