import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { rmSync } from 'node:fs';
import { createInterface, type Interface } from 'node:readline';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateSigningKey } from '../../src/crypto/index.js';
import { AUDIENCE, ISSUER, compileResource, jwksOf, mint, startFakeIssuer, type FakeIssuer } from './helpers.js';

const INTERVAL_MS = 200;
const TIMEOUT_MS = 1000;
/** The documented bound (docs/verifier.md): poll interval + fetch time. */
const STALENESS_BOUND_MS = INTERVAL_MS + TIMEOUT_MS;

const key = generateSigningKey('EdDSA', 'k1');
let issuer: FakeIssuer;
let dist: string;
let child: ChildProcessWithoutNullStreams;
let lines: Interface;
const pending: Array<(line: string) => void> = [];

function next(): Promise<string> {
  return new Promise((resolve) => pending.push(resolve));
}
async function ask(token: string): Promise<number> {
  const answer = next();
  child.stdin.write(`${token}\n`);
  return Number(await answer);
}

beforeAll(async () => {
  issuer = await startFakeIssuer();
  dist = compileResource();
  const options = {
    issuer: ISSUER,
    audience: AUDIENCE,
    keys: jwksOf(key),
    ca: issuer.ca,
    feedUrl: `${issuer.url}/revocations`,
    feedToken: issuer.feedToken,
    intervalMs: INTERVAL_MS,
    timeoutMs: TIMEOUT_MS,
  };
  child = spawn(process.execPath, [
    new URL('./fixtures/child_verifier.mjs', import.meta.url).pathname,
    dist,
    JSON.stringify(options),
  ]);
  lines = createInterface({ input: child.stdout });
  lines.on('line', (line) => pending.shift()?.(line));
  child.stderr.on('data', (d: Buffer) => process.stderr.write(d));
  expect(await next()).toBe('ready');
}, 60_000);

afterAll(async () => {
  child?.stdin.end();
  child?.kill();
  await issuer?.close();
  if (dist) rmSync(dist, { recursive: true, force: true });
});

describe('revocation across two processes', () => {
  it('the child refuses a token within poll interval + fetch time after the parent revokes it', async () => {
    const now = Math.floor(Date.now() / 1000);
    const token = mint(key, now, { jti: 'revoke-me', exp: now + 600 });
    expect(await ask(token)).toBe(200);
    expect(await ask(token)).toBe(200); // now cached in the child
    const revokedAt = performance.now();
    issuer.revocations.push({ jti: 'revoke-me', exp: now + 600 });
    let status = 200;
    while (status === 200 && performance.now() - revokedAt < 10_000) {
      await new Promise((r) => setTimeout(r, 25));
      status = await ask(token);
    }
    const observed = performance.now() - revokedAt;
    expect(status).toBe(401);
    // Reported, not asserted as a timing bound beyond the generous loop limit (no timing assertions in tests).
    console.info(`revocation seen after ${Math.round(observed)} ms (documented bound ${STALENESS_BOUND_MS} ms)`);
    expect(await ask(mint(key, now, { jti: 'other' }))).toBe(200);
  });
});
