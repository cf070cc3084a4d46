import { spawn } from 'node:child_process';
import { rmSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { expect } from 'vitest';
import { compileSources } from './compile_src.js';

const FIXTURE = fileURLToPath(new URL('../resource/fixtures/child_verifier.mjs', import.meta.url));

/** What the child's verifier is made with (test/resource/fixtures/child_verifier.mjs reads these). */
export interface ChildVerifierOptions {
  issuer: string;
  audience: string;
  /** The issuer's public JWKs. */
  keys: unknown[];
  /** The CA (PEM) the child trusts for the feed. */
  ca: string;
  /** The revocation feed it polls, with this bearer credential, every `intervalMs`. */
  feedUrl: string;
  feedToken: string;
  intervalMs: number;
  timeoutMs: number;
}

/** A verifier embedded in a second process, asked over its stdin. */
export interface ChildVerifier {
  /** The status the child answers for `token`: 200, or its bearer challenge's status. */
  ask(token: string): Promise<number>;
  /**
   * Asks again every 25 ms while the answer is 200 and less than 10 s passed since `since` (a `performance.now()`);
   * the last answer.
   */
  askWhileAccepted(token: string, since: number): Promise<number>;
  /** Ends the child and removes the sources compiled for it. */
  close(): void;
}

/**
 * Compiles src/resource, starts test/resource/fixtures/child_verifier.mjs with `options` and expects its "ready" (the
 * child's stderr goes to the test's).
 *
 * @example
 * const verifier = await startChildVerifier({ issuer, audience, keys, ca, feedUrl, feedToken, intervalMs, timeoutMs });
 * expect(await verifier.ask(token)).toBe(200);
 * verifier.close();
 */
export async function startChildVerifier(options: ChildVerifierOptions): Promise<ChildVerifier> {
  const dist = compileSources('resource');
  const child = spawn(process.execPath, [FIXTURE, dist, JSON.stringify(options)]);
  const pending: Array<(line: string) => void> = [];
  const next = () => new Promise<string>((resolve) => pending.push(resolve));
  createInterface({ input: child.stdout }).on('line', (line) => pending.shift()?.(line));
  child.stderr.on('data', (d: Buffer) => process.stderr.write(d));
  const close = () => {
    child.stdin.end();
    child.kill();
    rmSync(dist, { recursive: true, force: true });
  };
  try {
    expect(await next()).toBe('ready');
  } catch (err) {
    close();
    throw err;
  }
  const ask = async (token: string) => {
    const answer = next();
    child.stdin.write(`${token}\n`);
    return Number(await answer);
  };
  return {
    ask,
    async askWhileAccepted(token, since) {
      let status = 200;
      while (status === 200 && performance.now() - since < 10_000) {
        await new Promise((r) => setTimeout(r, 25));
        status = await ask(token);
      }
      return status;
    },
    close,
  };
}
