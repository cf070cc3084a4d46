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
  ERR_OUTPUT_FILE: {
    status: 400,
    message: 'Cannot write the output file',
    doc: "A CLI command's `--out FILE` cannot be written: its directory does not exist or is not writable, or FILE is a directory; or the `--out DIR` of `ca issue` is (or lies under) a file or cannot be created or written. Checked before the command asks the server for anything; nothing is written. Also when writing FILE fails half way (a full disk): the temporary file is removed, FILE is left as it was.",
  },
  ERR_INPUT_FILE: {
    status: 400,
    message: 'Cannot read the input file',
    doc: "A file a CLI command reads (`object put --in FILE`, `client create --jwks-file FILE`, the archive of `restore`) does not exist, cannot be read, or is not what the option expects (JSON for `--jwks-file`). Checked before the command asks the server for anything; the message never quotes the file's content.",
  },
  ERR_DATADIR_LOCKED: {
    status: 409,
    message: 'The data directory is in use by another gatehouse process',
    doc: 'Another `gatehouse up` holds DIR/lock.',
  },
  ERR_DATADIR_INVALID: {
    status: 500,
    message: 'The data directory is incomplete or corrupt',
    doc: 'DIR exists but is not a complete gatehouse data directory, or one of its files is damaged (`gatehouse backup`: the file of an object is missing, named in the message; no archive is written). Also `gatehouse up` or `restore` on a directory a restore did not finish (`restore.incomplete`): remove it and restore again.',
  },
  ERR_STORE_NOT_INITIALIZED: {
    status: 500,
    message: 'The storage holds no initialized gatehouse',
    doc: 'A component started alone (`gatehouse identity|kms|ca`) found no initialized gatehouse in its storage (SQLite data directory or PostgreSQL schema): run `gatehouse up --config FILE` once on the same storage to create the keyring, the CA and the signing keys.',
  },
  ERR_NOT_RUNNING: {
    status: 503,
    message: 'gatehouse is not running',
    doc: 'An admin command found nothing running on the data directory (exit code 3).',
  },
  ERR_TRANSFER_ABORTED: {
    status: 502,
    message: 'The server ended the transfer before it was complete',
    doc: 'A CLI command streaming an answer from the running gatehouse (`backup`, `object get`, `object rewrap`) lost it half way: the server aborted it (a failure after the answer started, e.g. while writing the archive) or stopped. Nothing was written to `--out`; the server log says why. Run the command again (`object rewrap` resumes).',
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
  ERR_ROOT_KEY_NOT_HELD: {
    status: 503,
    message: 'The data is sealed under a root key this process does not hold yet',
    doc: 'The data was re-sealed under a new root key (`gatehouse kms root rotate` through another process) and this process still holds the previous one. Nothing is damaged: a component started alone or another `gatehouse up` replica adopts the new key by itself once its root key source holds it (re-read every 5 s and on SIGHUP: write the new key into its `--root-key-file`); with `GATEHOUSE_ROOT_KEY`, restart it with the new key. Retry meanwhile (docs/operations.md, root key rotation).',
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
    doc: 'A scheduled job, a bucket rewrap or a root key rotation found its lease held elsewhere (one root key rotation at a time across replicas: wait for the running one to finish).',
  },
  ERR_KMS_KEY_NOT_FOUND: {
    status: 404,
    message: 'No such key',
    doc: 'The named KMS key does not exist (a soft-deleted key is ERR_KMS_KEY_DELETED).',
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
  ERR_KMS_CONTEXT_INVALID: {
    status: 400,
    message: 'Invalid encryption context',
    doc: 'The encryption context must be an object of at most 64 string pairs with non-empty keys, at most 8 KiB encoded.',
  },
  ERR_KMS_SEGMENT_SIZE_INVALID: {
    status: 400,
    message: 'Invalid stream segment size',
    doc: 'Stream segment sizes are whole numbers of bytes from 1 KiB to 16 MiB (default 64 KiB).',
  },
  ERR_KMS_KEY_MISMATCH: {
    status: 400,
    message: 'The ciphertext belongs to another key',
    doc: 'A transit `decrypt/:name` or `rewrap/:name` call got a ciphertext whose header names a different key.',
  },
  ERR_KMS_BATCH_TOO_LARGE: {
    status: 413,
    message: 'Too many batch items',
    doc: 'A transit `batch_input` holds more items than `kms.maxBatchItems`.',
  },
  ERR_KMS_UNAUTHORIZED: {
    status: 401,
    message: 'Missing or invalid credentials',
    doc: 'A KMS API call came without valid credentials (`Authorization: Bearer ...`).',
  },
  ERR_KMS_FORBIDDEN: {
    status: 403,
    message: 'Not allowed',
    doc: 'The caller is authenticated but lacks the permission (`kms:encrypt:<key>`, `kms:admin`, ...) for this call.',
  },
  ERR_WORKLOAD_CERTIFICATE_REFUSED: {
    status: 401,
    message: 'The client certificate is not accepted',
    doc: 'A call to the KMS or object API came without `Authorization` or API key but with a client certificate that is not a valid X.509-SVID of the platform CA now (chain, SVID rules, expiry, `gatehouse ca revoke`), or whose SPIFFE ID is held by no client or by several (`gatehouse client create --spiffe-id`). The log line names the reason. Never treated as anonymous.',
  },
  ERR_OBJECT_NAME_INVALID: {
    status: 400,
    message: 'Invalid bucket or object name',
    doc: 'Bucket names are 1-63 lowercase letters, digits and dashes; object keys are 1-1024 bytes of UTF-8 without NUL.',
  },
  ERR_OBJECT_KEY_FORBIDDEN: {
    status: 403,
    message: 'Not allowed to use this KMS key for the bucket',
    doc: "A `PUT /v1/objects/<bucket>/<key>?key_name=<name>` (`gatehouse object put --key`) named a KMS key other than the bucket's default `bucket-<bucket>`: besides `object:write:<bucket>` that needs `kms:encrypt:<name>` (or `admin`), and `admin` when the key does not exist yet (the object API would create it).",
  },
  ERR_OBJECT_NOT_FOUND: {
    status: 404,
    message: 'No such bucket or object',
    doc: 'The bucket or the object key does not exist (objects are created by `gatehouse object put`).',
  },
  ERR_OBJECT_ON_OTHER_NODE: {
    status: 503,
    message: "The object's file is on another node",
    doc: 'Replicas of `gatehouse up` on one PostgreSQL schema share the object metadata, but each keeps object files in its own data directory: this replica has no file for an object another node wrote (or restored). The message names that node (`<hostname>:<dataDir>`, recorded in the object\'s metadata). Send object requests to that node, i.e. keep the object store on one node (docs/operations.md, "Objects on replicas").',
  },
  ERR_BACKUP_INVALID: {
    status: 400,
    message: 'The backup archive is invalid',
    doc: 'A backup archive failed verification: unknown format, missing entry, a SHA-256 that does not match the manifest, or (restore given the root key) a manifest whose HMAC does not verify.',
  },
  ERR_BACKUP_UNAUTHENTICATED: {
    status: 400,
    message: 'The backup archive cannot be authenticated',
    doc: 'Restore refuses an archive it cannot authenticate (no root key given, or a format-1 archive without a manifest HMAC) unless `--allow-unauthenticated` says to trust the archive storage.',
  },
  ERR_BACKUP_ROOT_KEY_CHANGED: {
    status: 409,
    message: 'The root key was rotated while the backup ran; run it again',
    doc: 'The record snapshot of `gatehouse backup` is sealed under another root key than the one this process holds (a `gatehouse kms root rotate` committed on another replica that this one has not adopted yet, which it does within seconds). No archive is written: run the backup again.',
  },
  ERR_RESTORE_TARGET_IN_USE: {
    status: 409,
    message: 'The restore target is not an empty data directory',
    doc: '`gatehouse restore` writes only into a new data directory: not initialized, not locked, with an empty store.',
  },
  ERR_PKI_CA_INVALID: {
    status: 500,
    message: 'The certificate authority is invalid',
    doc: 'The stored CA certificates or keys are inconsistent or expired (an expired root, or an expired active intermediate whose root cannot sign a new one; an expired intermediate under a valid root is replaced at start, see docs/ca.md).',
  },
  ERR_PKI_NAME_INVALID: {
    status: 400,
    message: 'Invalid certificate name',
    doc: 'A trust domain, SPIFFE ID path, DNS name or IP address given to the CA is malformed.',
  },
  ERR_PKI_CSR_INVALID: {
    status: 400,
    message: 'Invalid certificate signing request',
    doc: 'The CSR sent to the CA is not PKCS#10 DER/PEM, is not alone (trailing data after its DER or after its PEM END line, or more than one PEM block), its key is not EC P-256 or Ed25519, or its signature does not verify; the problem title names which.',
  },
  ERR_PKI_JOIN_TOKEN_INVALID: {
    status: 401,
    message: 'Invalid join token',
    doc: 'The join token given to `POST /v1/ca/sign` is unknown, expired, already used (tokens are single use) or voided by a revocation of its SPIFFE ID.',
  },
  ERR_PKI_UNAUTHENTICATED: {
    status: 401,
    message: 'A bootstrap credential or client certificate is required',
    doc: 'The CA endpoint needs a join token, an access token (`/v1/ca/sign`) or a valid client SVID over mTLS (`/v1/ca/renew`).',
  },
  ERR_PKI_FORBIDDEN: {
    status: 403,
    message: 'This credential may not hold this SPIFFE ID',
    doc: 'The join token, access token or client certificate is bound to another SPIFFE ID than the one requested.',
  },
  ERR_PKI_DNS_NAME_NOT_ALLOWED: {
    status: 403,
    message: 'This DNS name may not be put in a workload certificate',
    doc: 'A DNS name asked of `POST /v1/ca/sign` (or kept by `/v1/ca/renew`) is `localhost` or `*.localhost` (the platform listeners use it), looks like an IP address, or is outside `pki.allowedDnsNames` when that list is set. See docs/ca.md.',
  },
  ERR_PKI_REVOKED: {
    status: 403,
    message: 'This identity is revoked',
    doc: 'The SPIFFE ID was revoked (`gatehouse ca revoke`): its certificates issued before then cannot renew, and while its deny-list entry lives (`pki.maxSvidTtl` + 1 min) it cannot enroll again, by join token or access token, nor get a new join token; the problem title then says when the entry ends. See docs/ca.md#revocation.',
  },
  ERR_PKI_BOOTSTRAP_UNAVAILABLE: {
    status: 501,
    message: 'Access tokens are not accepted as CA bootstrap credentials yet',
    doc: 'No identity server is wired to verify access tokens for the CA; use a join token (`gatehouse ca join-token`).',
  },
  ERR_PKI_RATE_LIMITED: {
    status: 429,
    message: 'Too many requests to the CA; try again later',
    doc: 'A limit of the CA listener was reached (`pki.limits`: enrollments or refused bootstrap credentials per source address, renewals per address or per SPIFFE ID). Retry-After says, in whole seconds, when to try again; a join token refused this way is not used up. The mesh sidecar and the gateway wait that long and retry. See docs/ca.md#limits.',
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
  ERR_ADMIN_FORBIDDEN: {
    status: 403,
    message: 'Not allowed',
    doc: 'The admin or object API caller is authenticated (access token or API key) but lacks the scope: `admin` for the admin API, `object:read:<bucket>` / `object:write:<bucket>` for objects.',
  },
  ERR_HTTP_NOT_FOUND: { status: 404, message: 'Not found', doc: 'No route matches the path.' },
  ERR_HTTP_BAD_REQUEST: {
    status: 400,
    message: 'Bad request',
    doc: 'The request is malformed: body, content type or parameters (on our own APIs also a path segment over 512 characters or a malformed percent-escape in the path); at the gateway, a mesh sidecar or `createMtlsServer`, a request target that is not origin-form, holds a fragment or a raw backslash in its path, or has a malformed percent-escape in its path (the sidecar adds `reason: "invalid_target"`).',
  },
  ERR_HTTP_PAYLOAD_TOO_LARGE: {
    status: 413,
    message: 'Request body too large',
    doc: 'The body exceeds the listener limit `http.bodyLimit` (on the gateway also a chunked body, as it arrives).',
  },
  ERR_HTTP_REQUEST_TIMEOUT: {
    status: 408,
    message: 'Request not received in time',
    doc: 'An HTTP/2 request to the gateway whose body did not arrive whole within `http.requestTimeout`, or to a mesh sidecar within 60 s (its outbound port: 300 s); a gRPC call\'s only after that long without a frame (HTTP/1.1 connections get the listener\'s bare 408 and are closed); the stream is then reset. See docs/gateway.md "HTTP/2", docs/mesh.md "HTTP/2 and gRPC".',
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
  ERR_GATEWAY_WAF_BLOCKED: {
    status: 403,
    message: 'Request blocked by a WAF rule',
    doc: 'A WAF rule of the route refused the request; the problem body names the rule (`waf_rule`). See docs/waf.md.',
  },
  ERR_GATEWAY_SOURCE_DENIED: {
    status: 403,
    message: 'Requests from this address are not allowed on this route',
    doc: 'The client address (the socket peer, or X-Forwarded-For behind a trusted proxy) is in the route\'s `sources.deny`, or outside its `sources.allow`. Checked before the WAF rules and authentication; nothing reached the upstream. See docs/gateway.md "Source address lists".',
  },
  ERR_GATEWAY_CORS_REFUSED: {
    status: 403,
    message: 'CORS preflight refused',
    doc: 'A CORS preflight (OPTIONS with Access-Control-Request-Method) asked for an origin, method or request header the route\'s `cors` policy does not allow; `detail` names which. The gateway answered it; nothing reached the upstream. See docs/gateway.md "CORS".',
  },
  ERR_GATEWAY_UPGRADE_UNSUPPORTED: {
    status: 501,
    message: 'The gateway does not carry this protocol upgrade or tunnel',
    doc: 'A request asked the gateway to switch protocols in a way it does not carry: the method `CONNECT`, an `Upgrade` to any protocol but `websocket` (`h2c` alone is ignored as HTTP allows), or a WebSocket handshake on a route without `websocket: true`. Nothing reached the upstream. See docs/gateway.md "WebSocket".',
  },
  ERR_GATEWAY_ROUTE_UNKNOWN: {
    status: 404,
    message: 'The gateway has no route of that name',
    doc: 'A cache purge (`gatehouse admin purge-cache --route NAME`, `POST /v1/gateway/cache/purge`) named a route the gateway configuration in force does not have; nothing was purged.',
  },
  ERR_GATEWAY_TUNNELS_FULL: {
    status: 503,
    message: 'Too many WebSocket tunnels to the upstream',
    doc: 'A WebSocket handshake found `tunnels.max` tunnels of its upstream open or being opened (`x-gatehouse-overloaded: true`); nothing reached the upstream. See docs/gateway.md "WebSocket".',
  },
  ERR_GATEWAY_OVERLOADED: {
    status: 503,
    message: 'Upstream is overloaded',
    doc: 'The gateway reached the upstream maximum of concurrent requests and its queue is full (`x-gatehouse-overloaded: true`).',
  },
  ERR_GATEWAY_UPSTREAM_FAILED: {
    status: 502,
    message: 'Upstream failed',
    doc: 'The gateway could not reach the upstream, or the connection failed before a response.',
  },
  ERR_GATEWAY_UPSTREAM_TIMEOUT: {
    status: 504,
    message: 'Upstream timed out',
    doc: 'The upstream did not answer within its `timeout`.',
  },
  ERR_GATEWAY_NOT_CACHED: {
    status: 504,
    message: 'No stored response can answer an only-if-cached request',
    doc: 'The request said `Cache-Control: only-if-cached` (RFC 9111 §5.2.1.7) on a route with `cache.enabled`, and the gateway holds no response it may use now (none stored, stale, or `no-cache` asked as well); the upstream was not asked. See docs/gateway-cache.md.',
  },
  ERR_GATEWAY_RANGE_NOT_SATISFIABLE: {
    status: 416,
    message: 'None of the requested byte ranges exists',
    doc: 'A GET with a valid `Range: bytes=...` was answered from the gateway cache, and no range of it starts inside the stored representation; `Content-Range: bytes */LENGTH` gives its length. See docs/gateway-cache.md.',
  },
  ERR_GATEWAY_LIMITER_UNAVAILABLE: {
    status: 503,
    message: 'Rate limiting is temporarily unavailable',
    doc: 'A global (Redis) rate limit of a route configured `failure: closed` could not be decided; retry later.',
  },
  ERR_JWS_MALFORMED: {
    status: 401,
    message: 'Malformed token',
    doc: 'A compact JWS is not three unpadded base64url parts with JSON object header and payload, or exceeds the size bound.',
  },
  ERR_JWS_INVALID: {
    status: 401,
    message: 'Invalid token signature',
    doc: "The JWS signature does not verify, its `alg` differs from the key's pinned algorithm, or its header carries `jwk`, `jku`, `x5u`, `x5c` or `crit`. Fixed message on purpose.",
  },
  ERR_JWK_INVALID: {
    status: 400,
    message: 'Invalid JSON Web Key',
    doc: 'A JWK lacks `alg` or `kid`, has an `alg` inconsistent with its `kty`/`crv`, holds private members, or is an RSA key under 2048 bits; or an exported signing key is damaged.',
  },
  ERR_TOKEN_MISSING: {
    status: 401,
    message: 'Authentication required',
    doc: 'A protected resource was called without a bearer token or API key (RFC 6750 §3.1: no error code).',
  },
  ERR_TOKEN_REQUEST_INVALID: {
    status: 400,
    message: 'Malformed authorization request',
    doc: 'The request carries credentials in an unusable form: several credentials, or an `Authorization` header that is not `Bearer <token>` (RFC 6750 `invalid_request`).',
  },
  ERR_TOKEN_INVALID: {
    status: 401,
    message: 'Invalid access token',
    doc: 'The access token or API key is malformed, expired, revoked, not yet valid, for another issuer or audience, not an `at+jwt`, its signature fails, or it is bound to a client certificate (RFC 8705 `cnf`) the request does not present, at the verifier or a sidecar with `bindTokens` (RFC 6750 `invalid_token`). Fixed message on purpose.',
  },
  ERR_TOKEN_INSUFFICIENT_SCOPE: {
    status: 403,
    message: 'Insufficient scope',
    doc: 'The token is valid but lacks a scope or role the route requires (RFC 6750 `insufficient_scope`).',
  },
  ERR_VERIFIER_UNAVAILABLE: {
    status: 503,
    message: 'Token verification is temporarily unavailable',
    doc: 'The verifier could not reach the issuer (JWKS or introspection) to decide; it fails closed. Retry later.',
  },
  ERR_OAUTH_INVALID_REQUEST: {
    status: 400,
    message: 'The request is missing a parameter, repeats one or is otherwise malformed',
    doc: 'OAuth `invalid_request` (RFC 6749 §5.2): missing or repeated parameter, wrong content type, oversized body, malformed Authorization header.',
  },
  ERR_OAUTH_INVALID_CLIENT: {
    status: 401,
    message: 'Client authentication failed',
    doc: 'OAuth `invalid_client`: unknown client, wrong secret or assertion, a client certificate without the registered SAN URI (tls_client_auth; no certificate at all, or the listener without mTLS), or an auth method the client is not registered for. 401 with a `Basic` challenge (`error="invalid_client"`) when the client used the `Authorization` header, else 400 without a challenge (RFC 6749 §5.2). Fixed message on purpose.',
  },
  ERR_OAUTH_INVALID_GRANT: {
    status: 400,
    message: 'The grant is invalid, expired or revoked',
    doc: 'OAuth `invalid_grant` (RFC 6749 §5.2).',
  },
  ERR_OAUTH_UNAUTHORIZED_CLIENT: {
    status: 400,
    message: 'The client may not use this grant type',
    doc: 'OAuth `unauthorized_client`: the grant type is not registered for the client.',
  },
  ERR_OAUTH_UNSUPPORTED_GRANT_TYPE: {
    status: 400,
    message: 'Unsupported grant type',
    doc: 'OAuth `unsupported_grant_type`: the server does not know this `grant_type`.',
  },
  ERR_OAUTH_INVALID_SCOPE: {
    status: 400,
    message: 'The requested scope is invalid or exceeds what the client may request',
    doc: 'OAuth `invalid_scope`: a scope not granted to the client, or not registered on the target API.',
  },
  ERR_OAUTH_INVALID_TARGET: {
    status: 400,
    message: 'The requested resource is invalid or not allowed for this client',
    doc: "OAuth `invalid_target` (RFC 8707): `resource` is not an absolute URI, not one of the client's audiences, or the client has no default audience.",
  },
  ERR_OAUTH_THROTTLED: {
    status: 429,
    message: 'Too many requests; try again later',
    doc: 'OAuth `temporarily_unavailable` with 429 and Retry-After: too many failed client authentications (per client or per source address) or a token request flood. Limits: `identity.limits.*`.',
  },
  ERR_IDENTITY_CLIENT_NOT_FOUND: {
    status: 404,
    message: 'No such client',
    doc: 'The admin API or CLI named a client_id that does not exist.',
  },
  ERR_IDENTITY_CLIENT_INVALID: {
    status: 400,
    message: 'Invalid client registration',
    doc: 'A client registration is inconsistent (unknown grant, scope not registered on any API, audience not registered, auth method that does not fit the client type, missing JWKS for private_key_jwt, ...); the message says which.',
  },
  ERR_IDENTITY_API_NOT_FOUND: {
    status: 404,
    message: 'No such API',
    doc: 'The admin API or CLI named an API audience that is not registered.',
  },
  ERR_IDENTITY_API_EXISTS: {
    status: 409,
    message: 'An API with that audience already exists',
    doc: 'API audiences are unique.',
  },
  ERR_IDENTITY_API_INVALID: {
    status: 400,
    message: 'Invalid API registration',
    doc: 'The audience is not an absolute URI, or a scope name or description is malformed; the message says which.',
  },
  ERR_IDENTITY_SIGNING_KEY_UNAVAILABLE: {
    status: 503,
    message: 'No token signing key is available',
    doc: 'The identity server has no active signing key (its sealed key could not be loaded). The log has the detail.',
  },
  ERR_IDENTITY_API_KEY_NOT_FOUND: {
    status: 404,
    message: 'No such API key',
    doc: 'The admin API or CLI named an API key id that does not exist.',
  },
  ERR_IDENTITY_API_KEY_INVALID: {
    status: 400,
    message: 'Invalid API key request',
    doc: 'An API key request is inconsistent (malformed scope, expiry not in the future, overlap out of range, key already revoked); the message says which.',
  },
  ERR_OAUTH_ACCESS_DENIED: {
    status: 400,
    message: 'The resource owner denied the request',
    doc: 'OAuth `access_denied` (RFC 6749 §4.1.2.1): the person chose "Deny", or the account may not use this client.',
  },
  ERR_OAUTH_UNSUPPORTED_RESPONSE_TYPE: {
    status: 400,
    message: 'Unsupported response type',
    doc: 'OAuth `unsupported_response_type`: only `code` is served; `token` only with identity.signIn.legacyImplicit and a client created with --legacy-implicit.',
  },
  ERR_OAUTH_LOGIN_REQUIRED: {
    status: 400,
    message: 'Sign-in required',
    doc: 'OAuth `login_required`: `prompt=none` was asked but nobody is signed in (or the session is older than `max_age`).',
  },
  ERR_OAUTH_CONSENT_REQUIRED: {
    status: 400,
    message: 'Consent required',
    doc: 'OAuth `consent_required`: `prompt=none` was asked but the person has not allowed these scopes for this client.',
  },
  ERR_OAUTH_AUTHORIZATION_PENDING: {
    status: 400,
    message: 'The person has not yet approved this device',
    doc: 'OAuth `authorization_pending` (RFC 8628 §3.5): poll again after `interval` seconds.',
  },
  ERR_OAUTH_SLOW_DOWN: {
    status: 400,
    message: 'Polling too fast; wait 5 seconds more between polls',
    doc: 'OAuth `slow_down` (RFC 8628 §3.5), at the token endpoint only: a poll came before `interval` elapsed (or raced another poll); the interval grows by 5 s for this and every later poll.',
  },
  ERR_OAUTH_EXPIRED_TOKEN: {
    status: 400,
    message: 'The device code has expired',
    doc: 'OAuth `expired_token` (RFC 8628 §3.5): the device authorization outlived `identity.device.codeTtl`; start again.',
  },
  ERR_OAUTH_DEVICE_CAPACITY: {
    status: 503,
    message: 'Too many devices are waiting for approval; try again later',
    doc: "OAuth `temporarily_unavailable` (RFC 6749 §4.1.2.1) with 503 and Retry-After (`identity.device.interval` seconds), from the device authorization endpoint: `identity.device.maxPending` device authorizations are pending, so no new one is started until some are decided or expire. A server-wide limit, not this client's rate (that is `ERR_OAUTH_THROTTLED`, 429).",
  },
  ERR_IDENTITY_DEVICE_CODE_UNKNOWN: {
    status: 400,
    message: 'That code is not valid; check it and try again',
    doc: 'The device page was given a user code that is unknown, expired or already used (counted against `identity.device.failedEntry*`).',
  },
  ERR_IDENTITY_DEVICE_CODE_THROTTLED: {
    status: 429,
    message: 'Too many wrong codes; try again later',
    doc: 'Too many failed user code entries for this account, from this address or in total (`identity.device.failedEntry*`); answered with Retry-After.',
  },
  ERR_IDENTITY_USER_NOT_FOUND: {
    status: 404,
    message: 'No such user',
    doc: 'The admin API or CLI named a username that does not exist.',
  },
  ERR_IDENTITY_USER_EXISTS: {
    status: 409,
    message: 'A user with that username already exists',
    doc: 'Usernames are unique (compared after Unicode NFC normalisation and lower-casing).',
  },
  ERR_IDENTITY_USER_INVALID: {
    status: 400,
    message: 'Invalid user',
    doc: 'A username (1-64 letters, digits, `.`, `_`, `-`, `@`), role name or password (8-1024 characters) is malformed; the message says which.',
  },
  ERR_IDENTITY_SIGN_IN_FAILED: {
    status: 401,
    message: 'Wrong username or password',
    doc: 'Sign-in failed: unknown user, wrong password or disabled account. Fixed message on purpose (usernames are not revealed).',
  },
  ERR_IDENTITY_SIGN_IN_THROTTLED: {
    status: 429,
    message: 'Too many sign-in attempts; try again later',
    doc: 'Too many failed sign-ins for this username or from this address (`identity.signIn.failedLoginPer*`); checked before any hashing.',
  },
  ERR_IDENTITY_SESSIONS_THROTTLED: {
    status: 429,
    message: 'Too many sign-in pages were opened from your network; try again later',
    doc: 'Too many new browser sessions (sign-in pages visited without a session cookie) from this address (`identity.signIn.newSessionsPerAddress`); answered with Retry-After.',
  },
  ERR_IDENTITY_PASSWORD_BUSY: {
    status: 503,
    message: 'Sign-in is busy; try again in a moment',
    doc: 'The bounded password-hash queue is full (`identity.signIn.hashQueue`); the request is refused at once instead of waiting.',
  },
  ERR_IDENTITY_CSRF: {
    status: 403,
    message: 'The form expired or was not sent by this site; reload the page',
    doc: 'A sign-in, consent or logout form arrived without the CSRF token of the browser session (forged, stale or cross-site).',
  },
  ERR_MESH_FORBIDDEN: {
    status: 403,
    message: 'The caller is not allowed by the mesh policy',
    doc: 'A sidecar (or `createMtlsServer`) refused the call: a DENY policy matched, no ALLOW policy matched, or the caller has no valid mTLS identity. The problem body names the `reason` and policy. See docs/mesh.md.',
  },
  ERR_MESH_UNKNOWN_SERVICE: {
    status: 404,
    message: 'No mesh upstream by that name',
    doc: "The local app called its sidecar's outbound side with a Host that names no upstream in `sidecar.outbound.upstreams`.",
  },
  ERR_MESH_UPSTREAM_FAILED: {
    status: 502,
    message: 'The mesh upstream failed',
    doc: "The peer sidecar (or the local app, on the inbound side) could not be reached or its identity was refused; the sidecar's log has the reason.",
  },
  ERR_MESH_UPSTREAM_TIMEOUT: {
    status: 504,
    message: 'The mesh upstream timed out',
    doc: "The peer sidecar (outbound side: `sidecar.outbound.upstreams[].timeout`) or the local app (inbound side: `sidecar.inbound.timeout`) did not send its response headers, or the next body chunk, within its timeout (15 s by default). The problem body names the `upstream` on the outbound side; the sidecar's log says which. See docs/mesh.md.",
  },
  ERR_MESH_UPGRADE_UNSUPPORTED: {
    status: 501,
    message: 'The sidecar does not carry this protocol upgrade or tunnel',
    doc: 'A request reached a sidecar with the method `CONNECT`, with an `Upgrade` to any protocol but `websocket` (`h2c` alone is ignored as HTTP allows), with `Upgrade` but without `Connection: upgrade`, or with a WebSocket handshake while `sidecar.websocket` is false. Nothing reached the app or the peer. See docs/mesh.md "WebSocket".',
  },
  ERR_MESH_GRPC_NEEDS_HTTP2: {
    status: 502,
    message: 'gRPC needs HTTP/2 to the next hop',
    doc: 'A gRPC call (`Content-Type: application/grpc…`) reached a sidecar whose next hop speaks HTTP/1.1, which cannot carry its trailers: on the outbound side an upstream without `protocol: h2`, on the inbound side `sidecar.inbound.appProtocol: http1`. Nothing reached the next hop. See docs/mesh.md "HTTP/2 and gRPC".',
  },
  ERR_MESH_TUNNELS_FULL: {
    status: 503,
    message: 'Too many WebSocket tunnels through the sidecar',
    doc: 'A WebSocket handshake found `sidecar.tunnels.max` tunnels open or being opened on its side of the sidecar (inbound from peers, or outbound from the app); nothing reached the app or the peer. See docs/mesh.md "WebSocket".',
  },
  ERR_MESH_IDENTITY_UNAVAILABLE: {
    status: 503,
    message: 'The sidecar holds no valid certificate',
    doc: 'The SVID expired before it could be renewed (CA unreachable); the sidecar stops serving and re-bootstraps with its join token.',
  },
} as const satisfies Record<string, { status: number; message: string; doc: string }>;

/** A stable error code. */
export type ErrorCode = keyof typeof ERROR_CODES;
