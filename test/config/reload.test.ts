import { describe, expect, it } from 'vitest';
import { changedKeys, loadConfig } from '../../src/config/index.js';

describe('changedKeys', () => {
  it('names the changed leaves outside the applied sections, comparing lists whole', () => {
    const running = loadConfig();
    const next = loadConfig({
      env: {
        GATEHOUSE_LOG__LEVEL: 'debug',
        GATEHOUSE_LISTEN__CERTIFICATE_NAMES: '["gh.internal"]',
        GATEHOUSE_GATEWAY__TRUSTED_PROXIES: '["10.0.0.0/8"]',
      },
    });
    expect(changedKeys(running, next, ['gateway'])).toEqual(['log.level', 'listen.certificateNames']);
    expect(changedKeys(running, next)).toEqual(['log.level', 'listen.certificateNames', 'gateway.trustedProxies']);
    expect(changedKeys(running, loadConfig(), ['gateway'])).toEqual([]);
  });

  it('names a key that only one side sets', () => {
    const next = loadConfig({ env: { GATEHOUSE_REDIS__URL: 'redis://127.0.0.1:6379' } });
    expect(changedKeys(loadConfig(), next)).toEqual(['redis.url']);
  });
});
