import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { MemoryLeases } from '../../src/adapters/index.js';
import type { PlatformCore } from '../../src/app/compose.js';
import { dataDirPaths } from '../../src/app/data_dir.js';
import { ROOT_ROTATION_LEASE, rotateRootKey } from '../../src/app/root_rotation.js';
import type { ResolvedRootKey } from '../../src/app/root_key_source.js';
import { GatehouseError, MemoryLogger, isGatehouseError } from '../../src/core/index.js';
import { RootKey } from '../../src/kms/index.js';
import { tempDir } from '../support/tmp.js';

type Outcome = 'commits' | 'fails' | 'commits-then-fails' | 'fails-unreachable';

/**
 * A core whose keyring re-seals as `outcome` says: the store's root key is `stored`, a failure after the commit is a
 * connection lost on COMMIT, and `fails-unreachable` leaves the store unable to say which key it is sealed under.
 */
function fakeCore(current: RootKey, outcome: Outcome, leases = new MemoryLeases()) {
  const state = { stored: current.fingerprint(), current: current.fingerprint(), adopted: 0, unreachable: false };
  const keyring = {
    rootFingerprint: () => state.current,
    storedRootFingerprint: async () => {
      if (state.unreachable) throw new GatehouseError('ERR_STORE_UNAVAILABLE');
      return state.stored;
    },
    rotateRoot: async (next: RootKey) => {
      if (outcome === 'fails') throw new GatehouseError('ERR_STORE_CONFLICT');
      if (outcome === 'fails-unreachable') {
        state.unreachable = true;
        throw new GatehouseError('ERR_STORE_UNAVAILABLE');
      }
      state.stored = next.fingerprint();
      if (outcome === 'commits-then-fails') throw new GatehouseError('ERR_STORE_UNAVAILABLE');
      state.current = next.fingerprint();
      return { keys: 0, secrets: 0 };
    },
    adoptRoot: async (next: RootKey) => {
      state.adopted += 1;
      state.current = next.fingerprint();
      return true;
    },
  };
  return { core: { keyring, leases } as unknown as PlatformCore, state, leases };
}

async function codeOf(promise: Promise<unknown>): Promise<string | undefined> {
  try {
    await promise;
  } catch (err) {
    return isGatehouseError(err) ? err.code : String(err);
  }
  return undefined;
}

describe('rotateRootKey and its .next file', () => {
  const dirs: Array<{ remove(): void }> = [];
  afterEach(() => {
    while (dirs.length) dirs.pop()?.remove();
  });

  const setup = () => {
    const tmp = tempDir('gh-rootfiles-');
    dirs.push(tmp);
    const dir = tmp.dir;
    const file = join(dir, 'root.key');
    const current = RootKey.generate();
    writeFileSync(file, `${current.toText()}\n`, { mode: 0o600 });
    const rootKey: ResolvedRootKey = { key: current, source: 'flag-file', file };
    return { file, next: `${file}.next`, current, rootKey, paths: dataDirPaths(dir), logger: new MemoryLogger() };
  };

  it('renames its .next over the key file only after the re-seal committed', async () => {
    const s = setup();
    const { core, state } = fakeCore(s.current, 'commits');
    const result = await rotateRootKey({ core, rootKey: s.rootKey, paths: s.paths, logger: s.logger });
    expect(result.fingerprint).toBe(state.stored);
    expect(RootKey.parse(readFileSync(s.file, 'utf8')).fingerprint()).toBe(state.stored);
    expect(s.rootKey.key.fingerprint()).toBe(state.stored);
    expect(existsSync(s.next)).toBe(false);
  });

  it('removes its own .next when the re-seal certainly did not commit, and keeps the key file', async () => {
    const s = setup();
    const { core } = fakeCore(s.current, 'fails');
    expect(await codeOf(rotateRootKey({ core, rootKey: s.rootKey, paths: s.paths, logger: s.logger }))).toBe(
      'ERR_STORE_CONFLICT',
    );
    expect(existsSync(s.next)).toBe(false);
    expect(readFileSync(s.file, 'utf8').trim()).toBe(s.current.toText());
    expect(s.rootKey.key).toBe(s.current);
  });

  it('finishes a re-seal that committed although the store reported an error', async () => {
    const s = setup();
    const { core, state } = fakeCore(s.current, 'commits-then-fails');
    const result = await rotateRootKey({ core, rootKey: s.rootKey, paths: s.paths, logger: s.logger });
    expect(state.adopted).toBe(1);
    expect(result.fingerprint).toBe(state.stored);
    expect(RootKey.parse(readFileSync(s.file, 'utf8')).fingerprint()).toBe(state.stored);
    expect(existsSync(s.next)).toBe(false);
  });

  it('keeps the .next when the store cannot tell whether the re-seal committed', async () => {
    const s = setup();
    const { core } = fakeCore(s.current, 'fails-unreachable');
    expect(await codeOf(rotateRootKey({ core, rootKey: s.rootKey, paths: s.paths, logger: s.logger }))).toBe(
      'ERR_STORE_UNAVAILABLE',
    );
    expect(existsSync(s.next)).toBe(true);
    expect(readFileSync(s.file, 'utf8').trim()).toBe(s.current.toText());
    expect(s.logger.lines.some((l) => l['event'] === 'root_rotation_unknown')).toBe(true);
    expect(JSON.stringify(s.logger.lines)).not.toContain(readFileSync(s.next, 'utf8').trim());
  });

  it('writes nothing while another rotation holds the lease, or when a rotation made elsewhere was not adopted', async () => {
    const s = setup();
    const busy = fakeCore(s.current, 'commits');
    const held = await busy.leases.tryAcquire(ROOT_ROTATION_LEASE);
    expect(await codeOf(rotateRootKey({ core: busy.core, rootKey: s.rootKey, paths: s.paths, logger: s.logger }))).toBe(
      'ERR_LEASE_HELD',
    );
    expect(existsSync(s.next)).toBe(false);
    await held?.release();

    const behind = fakeCore(s.current, 'commits');
    behind.state.stored = RootKey.generate().fingerprint();
    expect(
      await codeOf(rotateRootKey({ core: behind.core, rootKey: s.rootKey, paths: s.paths, logger: s.logger })),
    ).toBe('ERR_ROOT_KEY_NOT_HELD');
    expect(existsSync(s.next)).toBe(false);
    // The lease was given back both times.
    expect(await behind.leases.tryAcquire(ROOT_ROTATION_LEASE)).toBeDefined();
  });
});
