/**
 * The registry of every error code gatehouse emits. docs/errors.md is generated from this table
 * (`npm run docs:errors`) and CI fails when it is stale. Codes are stable: never rename one, add a new one.
 */
export const ERROR_CODES = {
  ERR_INTERNAL: {
    status: 500,
    message: 'Internal error',
    doc: 'A bug: something failed that should not. The log has the detail.',
  },
  ERR_CONFIG_INVALID: {
    status: 400,
    message: 'Invalid configuration',
    doc: 'The configuration file or an environment override failed validation; the message names the key, the value and what was expected.',
  },
  ERR_CONFIG_UNREADABLE: {
    status: 400,
    message: 'Configuration file cannot be read',
    doc: 'The file named by --config does not exist, cannot be read or is not valid YAML/JSON.',
  },
  ERR_DATADIR_LOCKED: {
    status: 409,
    message: 'The data directory is in use by another gatehouse process',
    doc: 'Another `gatehouse up` holds DIR/lock.',
  },
  ERR_DATADIR_INVALID: {
    status: 500,
    message: 'The data directory is incomplete or corrupt',
    doc: 'DIR exists but is not a complete gatehouse data directory, or one of its files is damaged.',
  },
  ERR_NOT_RUNNING: {
    status: 503,
    message: 'gatehouse is not running',
    doc: 'An admin command found nothing running on the data directory (exit code 3).',
  },
  ERR_PORT_IN_USE: {
    status: 500,
    message: 'A configured port is already in use',
    doc: 'A listener could not bind its address.',
  },
  ERR_ROOT_KEY_MISSING: {
    status: 500,
    message: 'No root key was found',
    doc: 'The data directory has sealed data but neither DIR/root.key, --root-key-file nor GATEHOUSE_ROOT_KEY supplies its root key.',
  },
  ERR_ROOT_KEY_INVALID: {
    status: 500,
    message: 'The root key is malformed',
    doc: 'A root key must be 32 bytes, given as 64 hex digits or 43/44 base64 characters.',
  },
  ERR_ROOT_KEY_WRONG: {
    status: 500,
    message: 'The root key does not open this data directory',
    doc: 'The root key supplied is not the one the data was sealed with.',
  },
  ERR_ROOT_KEY_NOT_ROTATABLE: {
    status: 409,
    message: 'This root key cannot be rotated by the server',
    doc: 'The root key came from GATEHOUSE_ROOT_KEY, which the server cannot rewrite; start with --root-key-file to rotate.',
  },
  ERR_SEAL_CORRUPT: {
    status: 500,
    message: 'Sealed data failed authentication',
    doc: 'A sealed blob was altered or truncated.',
  },
  ERR_STORE_CONFLICT: {
    status: 409,
    message: 'The record was changed concurrently',
    doc: 'A conditional write lost to another writer (expected version or absence did not hold).',
  },
  ERR_STORE_NOT_FOUND: {
    status: 404,
    message: 'No such record',
    doc: 'A conditional write named a record that does not exist.',
  },
  ERR_STORE_UNAVAILABLE: {
    status: 503,
    message: 'Storage is unavailable',
    doc: 'The database could not be reached or refused the operation.',
  },
  ERR_STORE_CORRUPT: {
    status: 500,
    message: 'The database is corrupt or not a gatehouse database',
    doc: 'SQLite reported corruption, or the schema is newer than this version understands.',
  },
  ERR_LEASE_HELD: {
    status: 409,
    message: 'The lease is held by another process',
    doc: 'A scheduled job found its lease held elsewhere.',
  },
  ERR_KMS_KEY_NOT_FOUND: {
    status: 404,
    message: 'No such key',
    doc: 'The named KMS key does not exist (or is deleted).',
  },
  ERR_KMS_KEY_EXISTS: { status: 409, message: 'A key with that name already exists', doc: 'Key names are unique.' },
  ERR_KMS_KEY_DELETED: {
    status: 409,
    message: 'The key is deleted',
    doc: 'The key is soft-deleted; restore it first.',
  },
  ERR_KMS_KEY_NAME_INVALID: {
    status: 400,
    message: 'Invalid key name',
    doc: 'Key names are 1-128 characters of letters, digits, `.`, `_` and `-`, starting with a letter or digit.',
  },
  ERR_KMS_KEY_TYPE_UNSUPPORTED: {
    status: 400,
    message: 'Unsupported key type',
    doc: 'Key types are aes256-gcm96 and chacha20-poly1305.',
  },
  ERR_KMS_VERSION_INVALID: {
    status: 400,
    message: 'Invalid key version',
    doc: 'The version does not exist, or is below min_decryption_version / min_encryption_version.',
  },
  ERR_KMS_CONFIG_INVALID: {
    status: 400,
    message: 'Invalid key configuration',
    doc: 'min_encryption_version must be 0 or at least min_decryption_version, and neither may exceed the latest version.',
  },
  ERR_KMS_DELETION_NOT_ALLOWED: {
    status: 409,
    message: 'Deletion is not allowed for this key',
    doc: 'Set deletion_allowed on the key first.',
  },
  ERR_KMS_TRIM_INVALID: {
    status: 400,
    message: 'Cannot trim versions still in use',
    doc: 'trim drops versions below both minimum versions, and needs both to be set.',
  },
  ERR_KMS_DECRYPT_FAILED: {
    status: 400,
    message: 'Decryption failed',
    doc: 'The ciphertext, its context or its key version did not authenticate. Fixed message on purpose.',
  },
  ERR_PKI_CA_INVALID: {
    status: 500,
    message: 'The certificate authority is invalid',
    doc: 'The stored CA certificates or keys are inconsistent or expired.',
  },
  ERR_PKI_NAME_INVALID: {
    status: 400,
    message: 'Invalid certificate name',
    doc: 'A trust domain, SPIFFE ID path, DNS name or IP address given to the CA is malformed.',
  },
  ERR_TLS_CONFIG: {
    status: 500,
    message: 'Invalid TLS configuration',
    doc: 'A TLS context could not be built from the certificate and key.',
  },
  ERR_ADMIN_UNAUTHORIZED: {
    status: 401,
    message: 'Missing or invalid admin token',
    doc: 'The admin API needs `Authorization: Bearer <DIR/admin.token>`.',
  },
  ERR_HTTP_NOT_FOUND: { status: 404, message: 'Not found', doc: 'No route matches the path.' },
  ERR_HTTP_BAD_REQUEST: {
    status: 400,
    message: 'Bad request',
    doc: 'The request is malformed: body, content type or parameters.',
  },
  ERR_HTTP_PAYLOAD_TOO_LARGE: {
    status: 413,
    message: 'Request body too large',
    doc: 'The body exceeds the listener limit `http.bodyLimitBytes`.',
  },
  ERR_HTTP_METHOD_NOT_ALLOWED: {
    status: 405,
    message: 'Method not allowed',
    doc: 'The route exists but not for this method.',
  },
  ERR_RATE_LIMITED: {
    status: 429,
    message: 'Too many requests',
    doc: 'A rate limit was exceeded; Retry-After says when to try again.',
  },
  ERR_CIRCUIT_OPEN: {
    status: 503,
    message: 'Upstream circuit is open',
    doc: 'The circuit breaker for the upstream is open; Retry-After says when a trial is due.',
  },
} as const satisfies Record<string, { status: number; message: string; doc: string }>;

/** A stable error code. */
export type ErrorCode = keyof typeof ERROR_CODES;
