import { generateKeyPairSync } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Agent, request } from 'undici';
import type { Endpoints } from '../../app/index.js';
import { GatehouseError, dataDirPaths, parseDuration, writeFileAtomic } from '../../core/index.js';
import { clientTlsOptions } from '../../crypto/index.js';
import { createCsr } from '../../pki/index.js';
import type { AdminClient } from '../admin_client.js';
import { prepareOutputDirectory } from '../output_directory.js';
import { errorFromAnswer } from '../problem_error.js';

/** What `gatehouse ca issue` asks for. */
export interface IssueOptions {
  spiffeId: string;
  dns: string[];
  ttl?: string;
  out: string;
  joinToken?: string;
}

/** What the CA answers to `POST /v1/ca/sign`. */
interface Signed {
  spiffe_id: string;
  certificate_chain: string;
  bundle: string;
  serial_number: string;
  not_after: string;
}

async function sign(endpoints: Endpoints, body: object): Promise<Signed> {
  const ca = readFileSync(endpoints.trustBundle, 'utf8');
  const agent = new Agent({ connect: { ...clientTlsOptions({ ca }), servername: 'localhost' } });
  try {
    const response = await request(`${endpoints.ca}/v1/ca/sign`, {
      method: 'POST',
      dispatcher: agent,
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(body),
    });
    const text = await response.body.text();
    if (response.statusCode >= 400) throw errorFromAnswer(response.statusCode, text, response.headers['retry-after']);
    return JSON.parse(text) as Signed;
  } finally {
    await agent.close();
  }
}

/**
 * `gatehouse ca issue`: makes an EC P-256 key here, sends only a CSR to the CA listener with a join token (fetched
 * through the admin API unless given), and writes `cert.pem` (leaf then chain), `key.pem` (0600) and `bundle.pem`
 * atomically into `out`, which is created and checked first (ERR_OUTPUT_FILE before anything is asked of the server).
 *
 * @example
 * await issueToDirectory(client, 'DIR', { spiffeId, dns: ['api.internal'], out: './certs' });
 */
export async function issueToDirectory(
  client: AdminClient,
  dataDir: string,
  options: IssueOptions,
): Promise<{ spiffe_id: string; serial_number: string; not_after: string; files: Record<string, string> }> {
  if (options.ttl !== undefined && parseDuration(options.ttl) === undefined) {
    throw new GatehouseError('ERR_HTTP_BAD_REQUEST', { message: `--ttl: expected a duration such as 24h` });
  }
  // Before a join token is spent and a certificate signed: a DIR that cannot take the files is refused now.
  const out = prepareOutputDirectory(options.out);
  const endpoints = JSON.parse(readFileSync(dataDirPaths(dataDir).endpoints, 'utf8')) as Endpoints;
  if (!endpoints.ca)
    throw new GatehouseError('ERR_NOT_RUNNING', { message: 'the running gatehouse has no CA listener' });
  const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const csr = createCsr(privateKey);
  const token =
    options.joinToken ??
    (await client.call<{ token: string }>('POST', '/v1/ca/join-tokens', { spiffe_id: options.spiffeId, ttl: '5m' }))
      .token;
  const signed = await sign(endpoints, {
    csr,
    join_token: token,
    spiffe_id: options.spiffeId,
    ...(options.dns.length > 0 ? { dns_names: options.dns } : {}),
    ...(options.ttl === undefined ? {} : { ttl: options.ttl }),
  });
  const files = { key: join(out, 'key.pem'), cert: join(out, 'cert.pem'), bundle: join(out, 'bundle.pem') };
  writeFileAtomic(files.key, privateKey.export({ type: 'pkcs8', format: 'pem' }) as string, 0o600);
  writeFileAtomic(files.cert, signed.certificate_chain, 0o644);
  writeFileAtomic(files.bundle, signed.bundle, 0o644);
  return { spiffe_id: signed.spiffe_id, serial_number: signed.serial_number, not_after: signed.not_after, files };
}
