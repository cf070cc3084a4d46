import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { resolveRootKey } from '../../src/app/root_key_source.js';
import { dataDirPaths, isGatehouseError, MemoryLogger } from '../../src/core/index.js';
import { tempDir } from '../support/tmp.js';

const tmp = tempDir('gh-root-key-source-');
afterAll(() => tmp.remove());

function refusal(run: () => unknown): Error {
  try {
    run();
  } catch (err) {
    expect(isGatehouseError(err, 'ERR_ROOT_KEY_INVALID')).toBe(true);
    return err as Error;
  }
  throw new Error('expected ERR_ROOT_KEY_INVALID');
}

describe('where a malformed root key came from', () => {
  const paths = dataDirPaths(join(tmp.dir, 'data'));
  const secretish = 'c2VjcmV0LWJ1dC1ub3QtYS1rZXk=';

  it('names GATEHOUSE_ROOT_KEY, and never what it held', () => {
    const err = refusal(() => resolveRootKey({ env: secretish }, paths, new MemoryLogger()));
    expect(err.message).toContain('GATEHOUSE_ROOT_KEY');
    expect(err.message).toContain('64 hex digits or base64');
    expect(err.message).not.toContain(secretish);
  });

  it('names the --root-key-file file', () => {
    const file = join(tmp.dir, 'bad.key');
    writeFileSync(file, `${secretish}\n`, { mode: 0o600 });
    const err = refusal(() => resolveRootKey({ file }, paths, new MemoryLogger()));
    expect(err.message).toContain(file);
    expect(err.message).not.toContain(secretish);
  });
});
