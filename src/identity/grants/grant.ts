import type { Client } from '../clients/client.js';
import type { CertificateConfirmation } from '../clients/client_certificate.js';

/** What a grant handler gets: the authenticated client, the request's parameters, the time and the issuer. */
export interface GrantContext {
  client: Client;
  params: ReadonlyMap<string, string>;
  /** Every value of `resource` (RFC 8707 allows it to repeat). */
  resources: readonly string[];
  now: number;
  issuer: string;
  address: string;
  /** The `cnf` of the connection's client certificate: access tokens issued here are bound to it (RFC 8705 §3). */
  confirmation?: CertificateConfirmation;
}

/** A successful token response (RFC 6749 §5.1). */
export interface TokenResponse {
  access_token: string;
  token_type: 'Bearer';
  expires_in: number;
  scope?: string;
  refresh_token?: string;
  [extra: string]: unknown;
}

/**
 * One grant type: a small registry entry, registered in app/compose (never by import side effects).
 * `parameters` are the grant's own parameters (documentation and metadata).
 *
 * @example
 * const registry = new Map([[grant.grantType, grant]]);
 */
export interface Grant {
  grantType: string;
  parameters: readonly string[];
  handle(context: GrantContext): Promise<TokenResponse> | TokenResponse;
}
