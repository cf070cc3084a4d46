// Issue 3 benchmark: a 1 GiB object through ObjectStore.put and .read (FsObjectFiles, real Envelopes, the segment
// size gatehouse up uses) against a bare loop doing the same disk and cipher work (AES-256-GCM on 1 MiB chunks, write,
// fsync; then read back and decrypt). Resident memory growth of the gatehouse side is sampled during the run.
import { createCipheriv, createDecipheriv, randomBytes, randomFillSync } from 'node:crypto';
import { open, mkdtemp, rm, statfs } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { setInterval, clearInterval } from 'node:timers';
import { join } from 'node:path';
import { Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { MemoryRecordStore, FsObjectFiles } from '../../dist/adapters/index.js';
import { silentLogger, systemClock } from '../../dist/core/index.js';
import { EnvelopeObjectCipher, Envelopes, Keyring, ObjectStore, RootKey } from '../../dist/kms/index.js';

const MiB = 1024 * 1024;
const TOTAL = Number(process.env.BENCH_STREAM_MIB ?? 1024) * MiB;
const chunk = randomFillSync(Buffer.allocUnsafe(MiB));

/** TOTAL bytes in 1 MiB chunks (the same buffer each time: the source costs nothing on either side). */
const source = () =>
  Readable.from(
    (function* () {
      for (let sent = 0; sent < TOTAL; sent += MiB) yield chunk;
    })(),
    { objectMode: false },
  );

async function bare(dir) {
  const key = randomBytes(32);
  const path = join(dir, 'bare.bin');
  const out = await open(path, 'w', 0o600);
  for (let i = 0; i < TOTAL / MiB; i++) {
    const iv = randomBytes(12);
    const c = createCipheriv('aes-256-gcm', key, iv);
    const body = c.update(chunk);
    c.final();
    await out.writev([iv, body, c.getAuthTag()]);
  }
  await out.sync();
  await out.close();
  const input = await open(path, 'r');
  const record = Buffer.allocUnsafe(12 + MiB + 16);
  for (let i = 0; i < TOTAL / MiB; i++) {
    const { bytesRead } = await input.read(record, 0, record.length);
    if (bytesRead !== record.length) throw new Error('short read');
    const d = createDecipheriv('aes-256-gcm', key, record.subarray(0, 12));
    d.setAuthTag(record.subarray(12 + MiB));
    d.update(record.subarray(12, 12 + MiB));
    d.final();
  }
  await input.close();
  await rm(path);
}

async function gatehouse(store, n) {
  const info = await store.put('bench', `big-${n}`, source());
  if (info.size !== TOTAL) throw new Error(`stored ${info.size} bytes`);
  const { plaintext } = await store.read('bench', `big-${n}`);
  let seen = 0;
  await pipeline(
    plaintext,
    new Writable({
      write(c, _e, done) {
        seen += c.length;
        done();
      },
    }),
  );
  if (seen !== TOTAL) throw new Error(`read ${seen} bytes`);
  await store.remove('bench', `big-${n}`);
}

export async function run() {
  const bench = `${TOTAL / MiB} MiB object through ObjectStore put + read`;
  const target = '≥ 0.5× bare throughput, resident memory growth < 64 MiB';
  const dir = await mkdtemp(join(tmpdir(), 'gh-bench-objects-'));
  try {
    const fs = await statfs(dir);
    const free = fs.bavail * fs.bsize;
    if (free < 3 * 1024 * MiB) {
      return [{ bench, target, todo: `skipped: ${Math.floor(free / MiB)} MiB free in ${tmpdir()}, 3 GiB needed` }];
    }
    const records = new MemoryRecordStore({ clock: systemClock });
    const keyring = await Keyring.open({ store: records, root: RootKey.generate(), clock: systemClock });
    await keyring.createKey('objects', {});
    const cipher = new EnvelopeObjectCipher(new Envelopes({ keys: keyring, clock: systemClock }), keyring);
    const files = new FsObjectFiles(join(dir, 'objects'));
    const store = new ObjectStore({ records, files, cipher, clock: systemClock, logger: silentLogger });
    await store.bucket('bench', { keyName: 'objects', create: true });

    const samples = { gatehouse: [], bare: [] };
    let peakGrowth = 0;
    for (let round = 0; round < 2; round++) {
      const order = round % 2 === 0 ? ['gatehouse', 'bare'] : ['bare', 'gatehouse'];
      for (const which of order) {
        const before = process.memoryUsage().rss;
        let peak = before;
        const timer = setInterval(() => (peak = Math.max(peak, process.memoryUsage().rss)), 25);
        const start = process.hrtime.bigint();
        if (which === 'gatehouse') await gatehouse(store, round);
        else await bare(dir);
        const seconds = Number(process.hrtime.bigint() - start) / 1e9;
        clearInterval(timer);
        peak = Math.max(peak, process.memoryUsage().rss);
        if (which === 'gatehouse') peakGrowth = Math.max(peakGrowth, peak - before);
        samples[which].push((2 * TOTAL) / MiB / seconds);
        console.error(
          `    ${which}: ${((2 * TOTAL) / MiB / seconds).toFixed(0)} MiB/s, rss +${((peak - before) / MiB).toFixed(1)} MiB`,
        );
      }
    }
    const mean = (xs) => xs.reduce((a, b) => a + b, 0) / xs.length;
    const g = mean(samples.gatehouse);
    const b = mean(samples.bare);
    const growthMiB = peakGrowth / MiB;
    return [
      {
        bench,
        target,
        results: [
          { name: 'gatehouse ObjectStore put + read (MiB/s of plaintext, both directions)', opsPerSec: g, ratio: 1 },
          { name: 'bare AES-256-GCM 1 MiB chunks, write + fsync, read + decrypt', opsPerSec: b, ratio: g / b },
        ],
        checks: [
          { label: 'throughput', value: g / b, need: 0.5 },
          { label: 'peak RSS growth (MiB ÷ 64)', value: growthMiB / 64, need: 1, atMost: true },
        ],
        note: `Peak resident memory growth during a gatehouse put + read: ${growthMiB.toFixed(1)} MiB. The "ops/s" column is MiB/s here; 2 alternating rounds, means.`,
      },
    ];
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
