import { Agent, request, type Dispatcher } from 'undici';
import { ERROR_CODES, GatehouseError, type ErrorCode } from '../core/index.js';
import type { CertificateAuthorityClient, IssuedCertificate, SvidMaterial, TrustBundle } from '../mesh/index.js';
import type { RevokedIdentity } from '../pki/index.js';

interface SvidAnswer {
  spiffe_id: string;
  certificate_chain: string;
  serial_number: string;
  not_before: string;
  not_after: string;
}

const MAX_ANSWER_BYTES = 256 * 1024;
/** The longest Retry-After taken from the CA (a larger one is read as this). */
const MAX_RETRY_AFTER_SECONDS = 3600;

/** Retry-After in whole seconds (the CA sends no dates), bounded; undefined when absent or malformed. */
function retryAfterSeconds(header: string | string[] | undefined): number | undefined {
  const value = Array.isArray(header) ? header[0] : header;
  if (value === undefined || !/^\d{1,9}$/.test(value.trim())) return undefined;
  return Math.min(MAX_RETRY_AFTER_SECONDS, Math.max(1, Number(value.trim())));
}

function issued(answer: SvidAnswer): IssuedCertificate {
  return {
    spiffeId: answer.spiffe_id,
    chainPem: answer.certificate_chain,
    serialNumber: answer.serial_number,
    notBefore: Date.parse(answer.not_before),
    notAfter: Date.parse(answer.not_after),
  };
}

/**
 * The mesh's CA client over HTTPS (TLS 1.3) to the CA listener of a running gatehouse: `POST /v1/ca/sign` with the
 * join token, `POST /v1/ca/renew` over mTLS with the current SVID, bundle and deny list. Problem answers become
 * GatehouseErrors with their code; a 429 (or 503) with Retry-After also carries `retryAfterSeconds` (at most an hour),
 * which the mesh's IdentitySource waits before it tries again.
 *
 * @example
 * const client = new HttpCaClient({ url: 'https://127.0.0.1:8445', bundlePem: readFileSync(bundleFile, 'utf8') });
 */
export class HttpCaClient implements CertificateAuthorityClient {
  private readonly agent: Agent;

  constructor(private readonly options: { url: string; bundlePem: string; timeoutMs?: number }) {
    this.agent = new Agent({ connect: { ca: options.bundlePem, minVersion: 'TLSv1.3' } });
  }

  async sign(csrPem: string, credential: string, spiffeId?: string): Promise<IssuedCertificate> {
    const body = { csr: csrPem, join_token: credential, ...(spiffeId === undefined ? {} : { spiffe_id: spiffeId }) };
    return issued(await this.call<SvidAnswer>('POST', '/v1/ca/sign', body));
  }

  async renew(csrPem: string, current: SvidMaterial): Promise<IssuedCertificate> {
    const mtls = new Agent({
      connect: { ca: this.options.bundlePem, cert: current.chainPem, key: current.keyPem, minVersion: 'TLSv1.3' },
    });
    try {
      return issued(await this.call<SvidAnswer>('POST', '/v1/ca/renew', { csr: csrPem }, mtls));
    } finally {
      await mtls.close();
    }
  }

  async bundle(): Promise<TrustBundle> {
    const spiffe = await this.call<{ spiffe_sequence: number; spiffe_refresh_hint: number }>(
      'GET',
      '/v1/ca/bundle.json',
    );
    const pem = await this.call<string>('GET', '/v1/ca/bundle.pem');
    return { pem, sequence: spiffe.spiffe_sequence, refreshHintMs: spiffe.spiffe_refresh_hint * 1000 };
  }

  async denyList(): Promise<RevokedIdentity[]> {
    const answer = await this.call<{ entries: Array<{ spiffe_id: string; revoked_at: string; expires_at: string }> }>(
      'GET',
      '/v1/ca/denylist',
    );
    return answer.entries.map((e) => ({
      spiffeId: e.spiffe_id,
      revokedAt: Date.parse(e.revoked_at),
      expiresAt: Date.parse(e.expires_at),
    }));
  }

  async close(): Promise<void> {
    await this.agent.close();
  }

  private async call<T>(method: 'GET' | 'POST', path: string, body?: object, dispatcher?: Dispatcher): Promise<T> {
    let res: Dispatcher.ResponseData;
    try {
      res = await request(new URL(path, this.options.url), {
        method,
        dispatcher: dispatcher ?? this.agent,
        headersTimeout: this.options.timeoutMs ?? 10_000,
        bodyTimeout: this.options.timeoutMs ?? 10_000,
        ...(body ? { body: JSON.stringify(body), headers: { 'content-type': 'application/json' } } : {}),
      });
    } catch (err) {
      const why = (err as Error).message;
      throw new GatehouseError('ERR_MESH_UPSTREAM_FAILED', {
        message: `the CA at ${this.options.url} cannot be reached: ${why}`,
        detail: `CA unreachable: ${why}`,
      });
    }
    const text = await res.body.text();
    if (text.length > MAX_ANSWER_BYTES)
      throw new GatehouseError('ERR_MESH_UPSTREAM_FAILED', { detail: 'CA answer too large' });
    if (res.statusCode >= 400) {
      let code: ErrorCode = 'ERR_MESH_UPSTREAM_FAILED';
      let title: string | undefined;
      try {
        const problem = JSON.parse(text) as { code?: unknown; title?: unknown };
        if (typeof problem.code === 'string' && problem.code in ERROR_CODES) code = problem.code as ErrorCode;
        if (typeof problem.title === 'string') title = problem.title.slice(0, 300);
      } catch {
        // not a problem body
      }
      // The CA's public title says why (e.g. which field of the request it refused); the caller logs or prints it.
      const refusal = new GatehouseError(code, {
        message: `the CA refused ${method} ${path} (${res.statusCode}${code === 'ERR_MESH_UPSTREAM_FAILED' ? '' : ` ${code}`}): ${title ?? ERROR_CODES[code].message}`,
        detail: `CA ${path} answered ${res.statusCode}`,
      });
      // A limit of the CA (429) says when to try again: the caller waits that long (IdentitySource does).
      const retry = retryAfterSeconds(res.headers['retry-after']);
      if (retry !== undefined && (res.statusCode === 429 || res.statusCode === 503)) {
        throw Object.assign(refusal, { retryAfterSeconds: retry });
      }
      throw refusal;
    }
    return (path.endsWith('.pem') ? text : JSON.parse(text)) as T;
  }
}
