import { spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { connect } from 'node:tls';
import { afterEach, describe, expect, it } from 'vitest';
import { CLI, exitOf, waitForOutput } from '../support/cli.js';
import { sidecarWorkspace } from './ca_service.js';
import { TD } from './helpers.js';

const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  while (cleanups.length) await cleanups.pop()?.();
});

/** The serial number of the certificate a new TLS connection to `port` is served (as a peer of any kind sees it). */
function servedSerial(port: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host: '127.0.0.1', port, rejectUnauthorized: false, minVersion: 'TLSv1.3' }, () => {
      const serial = socket.getPeerCertificate().serialNumber;
      socket.destroy();
      resolve(serial.toLowerCase());
    });
    socket.once('error', reject);
  });
}

describe('gatehouse sidecar: SIGUSR1 renews the SVID (built CLI)', () => {
  it('serves a certificate with a new serial after SIGUSR1, logs the renewal, opens no debugger; a failed renewal keeps the SVID', async () => {
    const { dir, ca, ordersId, tokenFile, app } = await sidecarWorkspace('gh-sidecar-renew-', cleanups);
    const file = join(dir, 'sidecar.json');
    writeFileSync(
      file,
      JSON.stringify({
        trustDomain: TD,
        log: { level: 'info' },
        sidecar: {
          spiffeId: ordersId,
          joinTokenFile: tokenFile,
          ca: { url: ca.url, bundleFile: ca.bundleFile },
          inbound: { port: 0, app: app.address },
        },
      }),
    );
    const child = spawn(process.execPath, [CLI, 'sidecar', '--config', file], {
      env: { PATH: process.env.PATH ?? '/usr/bin:/bin' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    cleanups.push(() => void child.kill('SIGKILL'));
    let out = '';
    let err = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    const [, port] = await waitForOutput(() => out, /inbound \(mTLS\)\s+[\d.]+:(\d+)/);
    const first = await servedSerial(Number(port));

    for (let round = 0; round < 2; round++) {
      const mark = out.length;
      child.kill('SIGUSR1');
      const [, printed] = await waitForOutput(() => out.slice(mark), /SVID renewed \(serial ([0-9a-fA-F]+), expires /);
      const served = await servedSerial(Number(port));
      expect(served).toBe(printed!.toLowerCase());
      expect(served).not.toBe(first);
    }

    const renewals = err
      .split('\n')
      .filter((line) => line.includes('"sidecar_svid_renewed"'))
      .map((line) => JSON.parse(line) as Record<string, unknown>);
    expect(renewals).toHaveLength(2);
    expect(renewals[0]).toMatchObject({ trigger: 'SIGUSR1', spiffeId: ordersId });
    expect(String(renewals[0]!['previousSerial']).toLowerCase()).toBe(first);
    expect(renewals[1]!['previousSerial']).toBe(renewals[0]!['serial']);
    expect(renewals[1]!['serial']).not.toBe(renewals[0]!['serial']);
    // Node's default for SIGUSR1 would have opened its inspector.
    expect(err + out).not.toContain('Debugger listening');

    // The CA down: the renewal fails with a log line; the sidecar keeps serving the SVID it holds.
    await ca.stop();
    const mark = err.length;
    child.kill('SIGUSR1');
    const [failed] = await waitForOutput(() => err.slice(mark), /.*"sidecar_svid_renew_failed".*/);
    expect(JSON.parse(failed!)).toMatchObject({ trigger: 'SIGUSR1', level: expect.anything() });
    expect(await servedSerial(Number(port))).toBe(String(renewals[1]!['serial']).toLowerCase());

    child.kill('SIGTERM');
    expect(await exitOf(child)).toBe(0);
  }, 60_000);
});
