import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { connectionTls, envNameFor, loadConfig } from '../../src/config/index.js';
import { isGatehouseError } from '../../src/core/index.js';

function file(text: string, name = 'gatehouse.yaml'): string {
  const dir = mkdtempSync(join(tmpdir(), 'gh-config-'));
  const path = join(dir, name);
  writeFileSync(path, text);
  return path;
}

function errorOf(fn: () => unknown): Error & { code?: string } {
  try {
    fn();
  } catch (err) {
    return err as Error & { code?: string };
  }
  throw new Error('expected an error');
}

describe('loadConfig', () => {
  it('gives embedded defaults with no file', () => {
    const config = loadConfig();
    expect(config.storage.kind).toBe('sqlite');
    expect(config.dataDir).toBe('./.gatehouse');
    expect(config.http.headersTimeout).toBe(10_000);
    expect(config.http.connectionsCheckingInterval).toBe(1000);
    expect(config.pki.listenerCertTtl).toBe(24 * 3600_000);
    expect(config.keyring.maxEncryptionsPerVersion).toBe(3865470566);
    expect(Object.isFrozen(config.storage)).toBe(true);
  });

  it('reads YAML and JSON files and parses durations', () => {
    const yaml = loadConfig({ file: file('http:\n  headersTimeout: 5s\nstorage:\n  kind: sqlite\n') });
    expect(yaml.http.headersTimeout).toBe(5000);
    const json = loadConfig({ file: file('{"pki": {"listenerCertTtl": "1h"}}', 'c.json') });
    expect(json.pki.listenerCertTtl).toBe(3_600_000);
  });

  it('names the key, the value and what was expected on a bad value', () => {
    const err = errorOf(() => loadConfig({ file: file('storage:\n  kind: mysql\n') }));
    expect(isGatehouseError(err, 'ERR_CONFIG_INVALID')).toBe(true);
    expect(err.message).toContain('storage.kind');
    expect(err.message).toContain('"mysql"');
    expect(err.message).toContain('sqlite');
  });

  it('refuses unknown keys, naming them', () => {
    const err = errorOf(() => loadConfig({ file: file('storage:\n  kindd: sqlite\n') }));
    expect(err.message).toContain('unknown key storage.kindd');
  });

  it('refuses wrong types and impossible values', () => {
    expect(errorOf(() => loadConfig({ file: file('listen:\n  admin:\n    port: 70000\n') })).message).toContain(
      'listen.admin.port',
    );
    expect(errorOf(() => loadConfig({ file: file('http:\n  bodyLimit: lots\n') })).message).toContain('http.bodyLimit');
    expect(errorOf(() => loadConfig({ file: file('http:\n  requestTimeout: soon\n') })).message).toContain(
      'expected a duration',
    );
  });

  it('refuses an intermediate lifetime that leaves no time to publish the next intermediate before it signs', () => {
    // Prepared at half of 2d, the next one would have to sign at once (a leaf lives 24h): refused at load.
    const err = errorOf(() => loadConfig({ overrides: { pki: { intermediateTtl: '2d' } } }));
    expect(err.code).toBe('ERR_CONFIG_INVALID');
    expect(err.message).toContain('pki.intermediateTtl');
    expect(err.message).toContain('published before it signs');
    expect(
      errorOf(() => loadConfig({ overrides: { pki: { intermediateTtl: '3d', listenerCertTtl: '2d' } } })).message,
    ).toContain('pki.intermediateTtl');
    expect(loadConfig({ overrides: { pki: { intermediateTtl: '3d' } } }).pki.intermediateTtl).toBe(3 * 86_400_000);
  });

  it('takes pki.allowedDnsNames as exact names or *.suffix patterns (unset by default)', () => {
    expect(loadConfig().pki.allowedDnsNames).toBeUndefined();
    const allowed = ['api.internal', '*.svc.cluster.local'];
    expect(loadConfig({ overrides: { pki: { allowedDnsNames: allowed } } }).pki.allowedDnsNames).toEqual(allowed);
    for (const bad of ['*', 'a.*.b', 'API.internal', 'x..y', '*.']) {
      const err = errorOf(() => loadConfig({ overrides: { pki: { allowedDnsNames: [bad] } } }));
      expect(err.message, bad).toContain('pki.allowedDnsNames');
    }
  });

  it('requires a URL for postgres', () => {
    const err = errorOf(() => loadConfig({ overrides: { storage: { kind: 'postgres' } } }));
    expect(err.message).toContain('storage.postgres.url');
  });

  it('identity.issuer: https, no query or fragment, one value without a trailing slash for every consumer', () => {
    const issuerOf = (issuer: string) => loadConfig({ overrides: { identity: { issuer } } }).identity.issuer;
    expect(loadConfig().identity.issuer).toBeUndefined();
    expect(issuerOf('https://id.example.com')).toBe('https://id.example.com');
    expect(issuerOf('https://id.example.com/')).toBe('https://id.example.com');
    expect(issuerOf('https://id.example.com/tenant-a//')).toBe('https://id.example.com/tenant-a');
    expect(loadConfig({ env: { GATEHOUSE_IDENTITY__ISSUER: 'https://id.example.com/' } }).identity.issuer).toBe(
      'https://id.example.com',
    );
    const refused: Array<[string, string]> = [
      ['http://id.example.com', 'https'],
      ['http://127.0.0.1:8443', 'https'],
      ['ftp://id.example.com', 'https'],
      ['https://id.example.com?tenant=a', 'query or fragment'],
      ['https://id.example.com/?', 'query or fragment'],
      ['https://id.example.com/#top', 'query or fragment'],
      ['id.example.com', 'identity.issuer'],
    ];
    for (const [issuer, words] of refused) {
      const err = errorOf(() => loadConfig({ overrides: { identity: { issuer } } }));
      expect(isGatehouseError(err, 'ERR_CONFIG_INVALID'), issuer).toBe(true);
      expect(err.message, issuer).toContain('identity.issuer');
      expect(err.message, issuer).toContain(words);
    }
  });

  it('listen.certificateNames takes DNS names and IP addresses, never a wildcard or a URL', () => {
    const namesOf = (certificateNames: string[]) =>
      loadConfig({ overrides: { listen: { certificateNames } } }).listen.certificateNames;
    expect(loadConfig().listen.certificateNames).toEqual([]);
    expect(namesOf(['identity.example.com', '10.0.0.7', '2001:db8::1'])).toEqual([
      'identity.example.com',
      '10.0.0.7',
      '2001:db8::1',
    ]);
    for (const name of ['*.example.com', 'https://identity.example.com', 'Identity.Example.com', '']) {
      const err = errorOf(() => namesOf([name]));
      expect(isGatehouseError(err, 'ERR_CONFIG_INVALID'), name).toBe(true);
      expect(err.message, name).toContain('listen.certificateNames');
    }
  });

  it('identity.signIn.refreshGraceWindow is at most 5 minutes (a longer one would disable refresh reuse detection)', () => {
    const graceOf = (refreshGraceWindow: string) =>
      loadConfig({ overrides: { identity: { signIn: { refreshGraceWindow } } } }).identity.signIn.refreshGraceWindow;
    expect(loadConfig().identity.signIn.refreshGraceWindow).toBe(0);
    expect(graceOf('10s')).toBe(10_000);
    expect(graceOf('5m')).toBe(300_000);
    for (const refreshGraceWindow of ['300001ms', '6m', '90d']) {
      const err = errorOf(() => loadConfig({ overrides: { identity: { signIn: { refreshGraceWindow } } } }));
      expect(isGatehouseError(err, 'ERR_CONFIG_INVALID'), refreshGraceWindow).toBe(true);
      expect(err.message).toContain('identity.signIn.refreshGraceWindow');
      expect(err.message).toContain('at most 5m');
    }
  });

  it('rotation overlaps of client secrets and API keys are at most 30 days', () => {
    expect(
      loadConfig({ overrides: { identity: { secretRotationOverlap: '30d' } } }).identity.secretRotationOverlap,
    ).toBe(30 * 86_400_000);
    for (const overrides of [
      { identity: { secretRotationOverlap: '31d' } },
      { identity: { apiKeys: { rotationOverlap: '99y' } } },
    ]) {
      const err = errorOf(() => loadConfig({ overrides }));
      expect(isGatehouseError(err, 'ERR_CONFIG_INVALID')).toBe(true);
      expect(err.message).toMatch(/identity\.(secretRotationOverlap|apiKeys\.rotationOverlap)/);
      expect(err.message).toContain('at most 30d');
    }
  });

  it('applies GATEHOUSE_* environment overrides and names the variable on error', () => {
    const config = loadConfig({
      env: { GATEHOUSE_STORAGE__KIND: 'postgres', GATEHOUSE_STORAGE__POSTGRES__URL: 'postgres://db/x', PATH: '/bin' },
    });
    expect(config.storage.kind).toBe('postgres');
    expect(config.storage.postgres.url).toBe('postgres://db/x');
    const err = errorOf(() => loadConfig({ env: { GATEHOUSE_HTTP__HEADERS_TIMEOUT: 'never' } }));
    expect(err.message).toContain('GATEHOUSE_HTTP__HEADERS_TIMEOUT');
    expect(envNameFor('http.headersTimeout')).toBe('GATEHOUSE_HTTP__HEADERS_TIMEOUT');
  });

  it('blames an unknown key on the environment variable that set it, not on the file', () => {
    const config = file('log:\n  level: info\n');
    const err = errorOf(() => loadConfig({ file: config, env: { GATEHOUSE_LISTEN__ADMN__PORT: '0' } }));
    expect(isGatehouseError(err, 'ERR_CONFIG_INVALID')).toBe(true);
    expect(err.message).toBe(
      'config: unknown key listen.admn (from GATEHOUSE_LISTEN__ADMN__PORT) (see docs/configuration.md)',
    );
    expect(err.message).not.toContain(config);
    // A top-level typo (an option the CLI has, written as a variable) names its variable too.
    expect(errorOf(() => loadConfig({ env: { GATEHOUSE_ROOT_KEY_FILE: '/run/key' } })).message).toContain(
      'unknown key rootKeyFile (from GATEHOUSE_ROOT_KEY_FILE)',
    );
    // A key the file misspells is still blamed on the file.
    const typo = file('log:\n  levl: debug\n');
    expect(errorOf(() => loadConfig({ file: typo })).message).toContain(`unknown key log.levl in ${typo}`);
  });

  it('reads list and object overrides written as JSON, and names a variable that is not valid JSON', () => {
    const config = loadConfig({
      env: {
        GATEHOUSE_GATEWAY__TRUSTED_PROXIES: '["10.0.0.0/8", "192.0.2.1/32"]',
        GATEHOUSE_PKI__ALLOWED_DNS_NAMES: '["*.svc.example.com"]',
      },
    });
    expect(config.gateway.trustedProxies).toEqual(['10.0.0.0/8', '192.0.2.1/32']);
    expect(config.pki.allowedDnsNames).toEqual(['*.svc.example.com']);
    const err = errorOf(() => loadConfig({ env: { GATEHOUSE_GATEWAY__TRUSTED_PROXIES: '[10.0.0.0/8' } }));
    expect(err.code).toBe('ERR_CONFIG_INVALID');
    expect(err.message).toContain('GATEHOUSE_GATEWAY__TRUSTED_PROXIES');
  });

  it('reports unreadable and malformed files', () => {
    expect(errorOf(() => loadConfig({ file: '/nonexistent/gatehouse.yaml' })).code).toBe('ERR_CONFIG_UNREADABLE');
    expect(errorOf(() => loadConfig({ file: file('a: [1,\n') })).code).toBe('ERR_CONFIG_UNREADABLE');
    expect(errorOf(() => loadConfig({ file: file('- 1\n- 2\n') })).code).toBe('ERR_CONFIG_INVALID');
  });

  it('lets explicit overrides win over file and environment', () => {
    const config = loadConfig({
      file: file('dataDir: /from/file\n'),
      env: { GATEHOUSE_DATA_DIR: '/from/env' },
      overrides: { dataDir: '/from/flag' },
    });
    expect(config.dataDir).toBe('/from/flag');
  });
});

describe('connectionTls', () => {
  it('requires TLS off loopback in auto mode', () => {
    expect(connectionTls('postgres://127.0.0.1:5432/test', 'auto')).toEqual({ tls: false, insecure: false });
    expect(connectionTls('redis://localhost:6379', 'auto')).toEqual({ tls: false, insecure: false });
    expect(connectionTls('postgres://db.internal:5432/x', 'auto')).toEqual({ tls: true, insecure: false });
    expect(connectionTls('postgres://db.internal:5432/x', 'disable')).toEqual({ tls: false, insecure: true });
    expect(connectionTls('postgres://[::1]:5432/x', 'require')).toEqual({ tls: true, insecure: false });
  });
});
