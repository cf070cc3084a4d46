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

  // The redaction paths matched `token`, `secret`, `password`, `plaintext` at the top level and one level down only:
  // `{ request: { client: { secret } } }` or `{ refresh_token }` were written in clear.
  it('redacts secret fields at any depth and under every name the platform gives secrets, without touching the caller', () => {
    const { lines, destination } = capture();
    const fields = {
      request: { client: { secret: 'deep-s3c' }, headers: { authorization: 'Bearer h34der', cookie: 'c00kie' } },
      items: [{ refresh_token: 'r3fresh' }, { nested: [{ apiKey: 'ghk_4pik3y' }] }],
      client_secret: 'ghcs_cl13nt',
      accessToken: 'eyJ4cc3ss',
      device_code: 'd3vice',
      join_token: 'ghj_j01n',
      privateKey: '-----BEGIN PRIVATE KEY-----',
      key: 'top-level-k3y',
      nested: { key: 'a-key-name', key_name: 'orders' },
      code: 'ERR_X',
      accessTokens: 2,
    };
    const before = JSON.stringify(fields);
    createLogger('info', destination).child({ component: 'c', admin_token: 'gha_b1nd1ng' }).info(fields, 'm');
    expect(JSON.stringify(fields)).toBe(before);
    expect(lines).toHaveLength(1);
    for (const secret of [
      'deep-s3c',
      'h34der',
      'c00kie',
      'r3fresh',
      'ghk_4pik3y',
      'ghcs_cl13nt',
      'eyJ4cc3ss',
      'd3vice',
      'ghj_j01n',
      'PRIVATE KEY',
      'top-level-k3y',
      'gha_b1nd1ng',
    ]) {
      expect(lines[0]).not.toContain(secret);
    }
    expect(JSON.parse(lines[0]!)).toMatchObject({
      component: 'c',
      admin_token: '[redacted]',
      request: { client: { secret: '[redacted]' }, headers: { authorization: '[redacted]', cookie: '[redacted]' } },
      items: [{ refresh_token: '[redacted]' }, { nested: [{ apiKey: '[redacted]' }] }],
      key: '[redacted]',
      // names, codes and counts stay readable
      nested: { key: 'a-key-name', key_name: 'orders' },
      code: 'ERR_X',
      accessTokens: 2,
    });
  });

  it('leaves errors to the error serializer', () => {
    const { lines, destination } = capture();
    createLogger('info', destination).error({ err: new Error('boom'), token: 't0k' }, 'failed');
    expect(JSON.parse(lines[0]!)).toMatchObject({ err: { type: 'Error', message: 'boom' }, token: '[redacted]' });
  });
});
