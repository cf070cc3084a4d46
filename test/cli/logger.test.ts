import { describe, expect, it } from 'vitest';
import { createLogger } from '../../src/cli/logger.js';

/** Collects the JSON lines pino writes (synchronously, to a plain `write` destination). */
function capture() {
  const lines: string[] = [];
  return { lines, destination: { write: (line: string) => void lines.push(line) } };
}

/** The field names of one JSON line, in order, duplicates included (JSON.parse would keep the last silently). */
function fieldNames(line: string): string[] {
  return [...line.matchAll(/[{,]"([^"]+)":/g)].map((m) => m[1]!);
}

// `gatehouse up` wrote `{"component":"mesh","sidecar":"backend","component":"identity",...}`: pino writes the bindings
// of every child level as they come. Strict JSON parsers (Elasticsearch by default) refuse such lines.
describe('the CLI process logger', () => {
  it('a child binding replaces its parent binding of the same name: one field per name', () => {
    const { lines, destination } = capture();
    const logger = createLogger('info', destination);
    logger
      .child({ component: 'mesh', sidecar: 'backend' })
      .child({ component: 'identity' })
      .info({ serial: 'x' }, 'SVID');
    expect(lines).toHaveLength(1);
    const names = fieldNames(lines[0]!);
    expect(names.filter((n) => n === 'component')).toHaveLength(1);
    expect(JSON.parse(lines[0]!)).toMatchObject({
      component: 'identity',
      sidecar: 'backend',
      serial: 'x',
      msg: 'SVID',
    });
  });

  it('a call field replaces a binding of the same name; other bindings stay; levels below the threshold are dropped', () => {
    const { lines, destination } = capture();
    const logger = createLogger('info', destination).child({ component: 'storage', listener: 'admin' });
    logger.warn({ component: 'migrations', version: 3 }, 'migrated');
    logger.debug({ component: 'x' }, 'hidden');
    logger.error({ reason: 'r' }, 'plain');
    expect(lines).toHaveLength(2);
    for (const line of lines) expect(new Set(fieldNames(line)).size).toBe(fieldNames(line).length);
    expect(JSON.parse(lines[0]!)).toMatchObject({ component: 'migrations', listener: 'admin', version: 3, level: 40 });
    expect(JSON.parse(lines[1]!)).toMatchObject({ component: 'storage', listener: 'admin', reason: 'r', level: 50 });
  });

  it('still redacts secrets, in call fields and nested ones', () => {
    const { lines, destination } = capture();
    createLogger('info', destination)
      .child({ component: 'c' })
      .info({ token: 't0k', client: { secret: 's3c' } }, 'm');
    expect(lines[0]).not.toContain('t0k');
    expect(lines[0]).not.toContain('s3c');
    expect(JSON.parse(lines[0]!)).toMatchObject({ token: '[redacted]', client: { secret: '[redacted]' } });
  });
});
