import { describe, expect, it } from 'vitest';
import { columns } from '../../src/cli/output.js';

describe('columns', () => {
  it('pads every column but the last to its widest cell, two spaces apart, without trailing blanks', () => {
    const text = columns([
      ['orders', 'aes256-gcm96', 'v3', ''],
      ['billing-archive', 'chacha20-poly1305', 'v12', '(deleted)'],
    ]);
    expect(text.split('\n')).toEqual([
      'orders           aes256-gcm96       v3',
      'billing-archive  chacha20-poly1305  v12  (deleted)',
    ]);
  });

  it('prints nothing for no rows', () => {
    expect(columns([])).toBe('');
  });
});
