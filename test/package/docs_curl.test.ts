import { readdirSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';

const root = resolve(import.meta.dirname, '../..');

/** Every curl command in the shell blocks of README.md and docs/*.md, continuation lines joined. */
function curlCommands(): Array<{ file: string; command: string }> {
  const files = [
    'README.md',
    ...readdirSync(join(root, 'docs'))
      .filter((f) => f.endsWith('.md'))
      .map((f) => `docs/${f}`),
  ];
  const out: Array<{ file: string; command: string }> = [];
  for (const file of files) {
    const blocks = readFileSync(join(root, file), 'utf8').match(/```(?:sh|bash|console)\n[\s\S]*?```/g) ?? [];
    for (const block of blocks) {
      const joined = block.replace(/\\\n\s*/g, ' ');
      for (const line of joined.split('\n')) {
        if (/(^|[\s;|(])curl\s/.test(line)) out.push({ file, command: line.trim() });
      }
    }
  }
  return out;
}

// Our JSON APIs refuse a body that is not application/json (curl's `-d` sends a form type): a copied example that
// leaves the header out gets 400 "Unsupported content type".
describe('curl examples in the docs', () => {
  it('send Content-Type: application/json with every JSON body', () => {
    const commands = curlCommands();
    expect(commands.length).toBeGreaterThan(5);
    const jsonBodies = commands.filter(({ command }) => /(-d|--data(-raw|-binary)?)\s+['"]?\{/.test(command));
    expect(jsonBodies.length).toBeGreaterThan(0);
    for (const { file, command } of jsonBodies) {
      const typed = /content-type: application\/json|\$J\b|--json\s/i.test(command);
      expect(typed, `${file}: ${command}`).toBe(true);
    }
  });
});
