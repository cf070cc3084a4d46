import { ERROR_CODES, type ErrorCode } from './error_codes.js';

/** Options for {@link GatehouseError}. */
export interface GatehouseErrorOptions {
  /** Private detail for logs (never shown to callers; never holds secrets). */
  detail?: string;
  /** A public message that replaces the registry's default one. */
  message?: string;
  /** The RFC `error` value on OAuth protocol endpoints. */
  oauthError?: string;
  cause?: unknown;
}

/**
 * The one error class of gatehouse: a stable `code` from the registry in `error_codes.ts`, the HTTP status, a public
 * message that is safe to show, and a private `detail` for logs.
 *
 * @example
 * throw new GatehouseError('ERR_CONFIG_INVALID', { message: 'storage.kind: expected sqlite|postgres, got "mysql"' });
 */
export class GatehouseError extends Error {
  readonly code: ErrorCode;
  readonly status: number;
  readonly detail: string | undefined;
  readonly oauthError: string | undefined;

  constructor(code: ErrorCode, options: GatehouseErrorOptions = {}) {
    const entry = ERROR_CODES[code];
    super(options.message ?? entry.message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'GatehouseError';
    this.code = code;
    this.status = entry.status;
    this.detail = options.detail;
    this.oauthError = options.oauthError;
  }
}

/** True when `err` is a {@link GatehouseError}, optionally with the given code. */
export function isGatehouseError(err: unknown, code?: ErrorCode): err is GatehouseError {
  return err instanceof GatehouseError && (code === undefined || err.code === code);
}
