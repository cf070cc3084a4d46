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
