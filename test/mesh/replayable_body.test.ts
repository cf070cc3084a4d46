import { once } from 'node:events';
import { PassThrough, Writable } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';
import { describe, expect, it } from 'vitest';
import { ReplayableBody } from '../../src/mesh/index.js';

const whole = (replay: ReplayableBody) =>
  new Promise<Buffer | undefined>((resolve) => replay.whenWhole((bytes) => resolve(bytes)));

async function readAll(stream: NodeJS.ReadableStream): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

describe('ReplayableBody', () => {
  it('keeps the body while it streams and gives it whole once it has ended', async () => {
    const body = new PassThrough();
    const replay = new ReplayableBody(body, { declaredLength: 4 });
    body.write('ab');
    await sleep(1);
    expect(replay.pending).toBe(true);
    expect(replay.bytes).toBeUndefined(); // not ended yet
    body.end('cd');
    expect((await whole(replay))?.toString()).toBe('abcd');
    expect(replay.pending).toBe(false);
    expect(replay.bytes?.toString()).toBe('abcd');
  });

  it('drops a body over its limit: never whole, and a waiter hears so at once', async () => {
    const body = new PassThrough();
    const replay = new ReplayableBody(body, { limit: 10, declaredLength: 10 });
    body.write('0123456789');
    await sleep(1);
    expect(replay.pending).toBe(true);
    const waiting = whole(replay);
    body.write('x'); // one byte over
    expect(await waiting).toBeUndefined();
    expect(replay.pending).toBe(false);
    body.end();
    await sleep(1);
    expect(replay.bytes).toBeUndefined();
    expect(await whole(replay)).toBeUndefined();
  });

  it('is never whole when the body fails or closes before its end (the caller left)', async () => {
    const failing = new PassThrough();
    const replay = new ReplayableBody(failing, { declaredLength: 100 });
    failing.write('part');
    const waiting = whole(replay);
    failing.destroy(new Error('aborted'));
    expect(await waiting).toBeUndefined();
    const closing = new PassThrough();
    const closed = new ReplayableBody(closing, { declaredLength: 100 });
    closing.write('part');
    closing.destroy();
    await once(closing, 'close');
    expect(closed.pending).toBe(false);
    expect(await whole(closed)).toBeUndefined();
  });

  it('detaches a failed attempt that stopped reading, so the rest of the body flows into the copy', async () => {
    const body = new PassThrough({ highWaterMark: 4 });
    const replay = new ReplayableBody(body, { declaredLength: 50_000 });
    // An attempt that reads nothing (a stream the peer refused before its window opened): the pipe holds the body.
    const stalled = new Writable({ highWaterMark: 4, write: () => {} });
    body.pipe(stalled);
    const sent = Buffer.alloc(50_000, 7);
    for (let at = 0; at < sent.length; at += 1_000) body.write(sent.subarray(at, at + 1_000));
    const writing = new Promise<void>((resolve) => body.end(resolve));
    await sleep(5);
    expect(replay.pending).toBe(true); // held back by the stalled attempt
    const bytes = await whole(replay);
    await writing;
    expect(bytes?.equals(sent)).toBe(true);
  });

  it('hands a late reader every chunk, beside the copy (undici reads an HTTP/1.1 body only once connected)', async () => {
    const body = new PassThrough();
    const replay = new ReplayableBody(body);
    const reader = replay.lateReader();
    const sent = Buffer.alloc(100_000, 3); // over the copy's limit: the reader still gets all of it
    body.end(sent);
    await sleep(20); // nobody reads yet
    expect((await readAll(reader)).equals(sent)).toBe(true);
    expect(await whole(replay)).toBeUndefined();
    const small = new PassThrough();
    const kept = new ReplayableBody(small);
    const late = kept.lateReader();
    small.end('hello');
    await sleep(5);
    expect((await readAll(late)).toString()).toBe('hello');
    expect(kept.bytes?.toString()).toBe('hello');
  });

  it("passes the body's error to the late reader, and stops feeding a reader that was closed", async () => {
    const body = new PassThrough();
    const replay = new ReplayableBody(body);
    const reader = replay.lateReader();
    const failed = once(reader, 'error');
    body.destroy(new Error('client aborted'));
    expect(((await failed)[0] as Error).message).toBe('client aborted');
    const next = new PassThrough();
    const again = new ReplayableBody(next, { declaredLength: 10 });
    const closed = again.lateReader();
    closed.destroy(); // the attempt failed: undici closed its body
    await once(closed, 'close');
    next.end('rest of it');
    expect((await whole(again))?.toString()).toBe('rest of it');
  });

  it('waits only for a body of a declared length within the limit, and only while its bytes keep coming', async () => {
    // No declared length (a stream, a gRPC call that may wait on its answer to go on): never waited for.
    const stream = new PassThrough();
    const unknown = new ReplayableBody(stream);
    stream.write('part');
    await sleep(1);
    expect(unknown.pending).toBe(false);
    expect(await whole(unknown)).toBeUndefined();
    stream.end('rest');
    await sleep(1);
    expect(unknown.bytes?.toString()).toBe('partrest'); // still kept for a retry that comes once it has ended
    // Declared over the limit: not waited for either.
    expect(new ReplayableBody(new PassThrough(), { limit: 10, declaredLength: 11 }).pending).toBe(false);
    // Declared and small, but stalled: the wait ends after a second without a byte.
    const stalled = new PassThrough();
    const slow = new ReplayableBody(stalled, { declaredLength: 100 });
    stalled.write('x'.repeat(10));
    expect(await whole(slow)).toBeUndefined();
  });

  it('keeps nothing of a body already read in part, and cuts a late reader whose body closed before its end', async () => {
    const read = new PassThrough();
    read.write('first');
    read.read(); // taken by someone else before the copy was attached
    const partial = new ReplayableBody(read, { declaredLength: 10 });
    read.end('last');
    await sleep(1);
    expect(partial.bytes).toBeUndefined();
    expect(partial.pending).toBe(false);
    const body = new PassThrough();
    const replay = new ReplayableBody(body, { declaredLength: 10 });
    const reader = replay.lateReader();
    const failed = once(reader, 'error');
    body.write('half');
    body.destroy(); // closed without an error and without its end (a caller gone)
    expect(((await failed)[0] as Error).message).toMatch(/closed before its end/);
  });
});
