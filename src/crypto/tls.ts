import type { ConnectionOptions, TlsOptions } from 'node:tls';
import { GatehouseError } from '../core/index.js';
import { TICKET_KEYS_BYTES } from './ticket_keys.js';

/**
 * The three TLS 1.3 AEAD cipher suites gatehouse offers, strongest first. TLS 1.2 and older are never negotiated, so
 * no TLS 1.2 cipher list exists at all.
 *
 * @example
 * tls.createSecureContext({ ciphers: TLS13_CIPHERSUITES, minVersion: 'TLSv1.3' });
 */
export const TLS13_CIPHERSUITES = 'TLS_AES_256_GCM_SHA384:TLS_AES_128_GCM_SHA256:TLS_CHACHA20_POLY1305_SHA256';

/** Key-exchange groups, in preference order. */
const ECDH_CURVE = 'X25519:P-256:P-384';

/** What {@link serverTlsOptions} needs. */
export interface ServerTlsInput {
  /** PEM chain, leaf first. */
  cert: string | Buffer;
  /** PEM private key (PKCS#8). */
  key: string | Buffer;
  /** PEM trust anchors for client certificates (replaces the Mozilla roots). */
  ca?: string | Buffer | Array<string | Buffer>;
  /** Ask for a client certificate (mutual TLS). */
  requestCert?: boolean;
  /**
   * 48 bytes, kept the same across `setSecureContext` swaps so that session resumption survives certificate renewal.
   */
  ticketKeys?: Buffer;
}

/** What {@link clientTlsOptions} needs. */
export interface ClientTlsInput {
  /** PEM trust anchors for the server (replaces the Mozilla roots). */
  ca: string | Buffer | Array<string | Buffer>;
  /** PEM client chain for mutual TLS, leaf first. */
  cert?: string | Buffer;
  /** PEM client key for mutual TLS. */
  key?: string | Buffer;
  /** SNI and the host name checked against the server certificate. */
  servername?: string;
}

const VERSIONS = { minVersion: 'TLSv1.3', maxVersion: 'TLSv1.3' } as const;

/**
 * Options for `https.createServer` / `tls.createServer` (and for `server.setSecureContext`, which must get the same
 * protocol settings on every swap): TLS 1.3 only, the three AEAD suites, X25519/P-256/P-384, client preference order.
 *
 * With `requestCert`, unauthorized client certificates are rejected (fail closed). Under TLS 1.3 such a rejection
 * reaches the client only as a closed socket; code that must log a reason (the mesh sidecar) overrides
 * `rejectUnauthorized: false` and checks `socket.authorized` itself.
 *
 * @example
 * const server = https.createServer(serverTlsOptions({ cert: issued.certPem, key: issued.keyPem }), handler);
 * server.setSecureContext(serverTlsOptions({ cert: renewed.certPem, key: renewed.keyPem, ticketKeys }));
 */
export function serverTlsOptions(input: ServerTlsInput): TlsOptions {
  if (input.ticketKeys !== undefined && input.ticketKeys.length !== TICKET_KEYS_BYTES) {
    throw new GatehouseError('ERR_TLS_CONFIG', { detail: `ticketKeys must be ${TICKET_KEYS_BYTES} bytes` });
  }
  const options: TlsOptions = {
    ...VERSIONS,
    ciphers: TLS13_CIPHERSUITES,
    ecdhCurve: ECDH_CURVE,
    honorCipherOrder: false,
    cert: input.cert,
    key: input.key,
  };
  if (input.ca !== undefined) options.ca = input.ca;
  if (input.requestCert) {
    options.requestCert = true;
    options.rejectUnauthorized = true;
  }
  if (input.ticketKeys !== undefined) options.ticketKeys = input.ticketKeys;
  return options;
}

/**
 * Options for `tls.connect`, `https.request` or undici's `connect`: TLS 1.3 only, the three AEAD suites, the server
 * verified against `ca` alone, optionally a client certificate for mutual TLS.
 *
 * @example
 * const socket = tls.connect({ host: '127.0.0.1', port, ...clientTlsOptions({ ca: bundlePem, servername: 'localhost' }) });
 */
export function clientTlsOptions(input: ClientTlsInput): ConnectionOptions {
  if ((input.cert === undefined) !== (input.key === undefined)) {
    throw new GatehouseError('ERR_TLS_CONFIG', { detail: 'a client certificate needs both cert and key' });
  }
  const options: ConnectionOptions = {
    ...VERSIONS,
    ciphers: TLS13_CIPHERSUITES,
    ecdhCurve: ECDH_CURVE,
    rejectUnauthorized: true,
    ca: input.ca,
  };
  if (input.cert !== undefined) options.cert = input.cert;
  if (input.key !== undefined) options.key = input.key;
  if (input.servername !== undefined) options.servername = input.servername;
  return options;
}

/** Plain words for the handshake failures peers cause most, by Node's error code. */
const HANDSHAKE_REASONS: Record<string, string> = {
  ERR_SSL_UNSUPPORTED_PROTOCOL: 'the client offered only TLS versions below 1.3 (this listener speaks TLS 1.3 only)',
  ERR_SSL_NO_SHARED_CIPHER: 'no TLS 1.3 cipher suite in common',
  ERR_SSL_TLSV13_ALERT_CERTIFICATE_REQUIRED: 'the client sent no certificate',
  ERR_SSL_HTTP_REQUEST: 'the client spoke plain HTTP to a TLS port',
  ECONNRESET: 'the client reset the connection during the handshake',
};

/**
 * Why a TLS handshake failed, in words, for the log line of a `tlsClientError`.
 *
 * @example
 * handshakeFailureReason('ERR_SSL_UNSUPPORTED_PROTOCOL'); // 'the client offered only TLS versions below 1.3 ...'
 */
export function handshakeFailureReason(code: string | undefined): string {
  return HANDSHAKE_REASONS[code ?? ''] ?? 'TLS handshake failed';
}
