import type { Socket } from 'node:net';
import type { Readable } from 'node:stream';

/** Encryption context: non-secret key/value pairs bound to a ciphertext as associated data. */
export type KmsContext = Record<string, string>;

/** One encryption's result: the `gh1:` ciphertext text and the key version that made it. */
export interface KmsCiphertext {
  /** The text form (`gh1:` + standard base64): no character JSON escapes (it is copied into answers unescaped). */
  ciphertext: string;
  keyVersion: number;
}

/** A fresh data key: its wrapped form always, its plaintext only when asked for. */
export interface KmsDataKey extends KmsCiphertext {
  plaintext?: Buffer;
}

/** What a streamed envelope's header says: which key and version sealed it. */
export interface KmsStreamHeader {
  keyName: string;
  keyVersion: number;
}

/**
 * What the transit routes need from the platform; `app/kms_operations.ts` implements it on the keyring and the
 * envelope library. Key-management results are returned as JSON-ready snake_case objects.
 */
export interface KmsOperations {
  keys: {
    create(name: string, options: { type?: 'aes256-gcm96' | 'chacha20-poly1305' }): Promise<unknown>;
    get(name: string): Promise<unknown>;
    list(): Promise<unknown[]>;
    configure(
      name: string,
      change: { minDecryptionVersion?: number; minEncryptionVersion?: number; deletionAllowed?: boolean },
    ): Promise<unknown>;
    rotate(name: string): Promise<unknown>;
    delete(name: string): Promise<unknown>;
    restore(name: string): Promise<unknown>;
    trim(name: string, minAvailableVersion: number): Promise<unknown>;
  };
  encrypt(key: string, plaintext: Buffer, context: KmsContext): Promise<KmsCiphertext>;
  /** Decrypts a ciphertext of `key` (ERR_KMS_KEY_MISMATCH when its header names another key). */
  decrypt(key: string, ciphertext: string, context: KmsContext): Promise<{ plaintext: Buffer; keyVersion: number }>;
  /** Re-encrypts a ciphertext of `key` to its newest version; the plaintext never leaves the KMS. */
  rewrap(key: string, ciphertext: string, context: KmsContext): Promise<KmsCiphertext>;
  dataKey(key: string, context: KmsContext, options: { plaintext: boolean }): Promise<KmsDataKey>;
  streams: {
    /** Envelope-encrypts a plaintext stream; `output` streams as it is produced, `header` says the version used. */
    encrypt(key: string, context: KmsContext, source: Readable): { output: Readable; header: Promise<KmsStreamHeader> };
    /**
     * Plaintext of authenticated segments only; `output` errors (never ends cleanly) on any failure. `header`
     * resolves once the envelope header is read (or rejects, for a malformed one).
     */
    decrypt(context: KmsContext, source: Readable): { output: Readable; header: Promise<KmsStreamHeader> };
    /** Authenticates every segment without releasing plaintext (ERR_KMS_DECRYPT_FAILED otherwise). */
    verify(context: KmsContext, source: Readable): Promise<KmsStreamHeader>;
    /** Re-wraps the header's data key to the newest key version and streams the segments through. */
    rewrap(context: KmsContext, source: Readable): { output: Readable; header: Promise<KmsStreamHeader> };
  };
}

/**
 * Authorization of KMS calls. Permissions: `kms:encrypt:<key>`, `kms:decrypt:<key>`, `kms:rewrap:<key>`,
 * `kms:datakey:<key>` (wrapped only), `kms:datakey-plaintext:<key>` and `kms:admin` (key management). Deny by default:
 * throw ERR_KMS_UNAUTHORIZED without valid credentials and ERR_KMS_FORBIDDEN when they do not carry the permission.
 *
 * @example
 * const { principal } = await authorizer.authorize(request.headers, `kms:encrypt:${name}`);
 */
export interface KmsAuthorizer {
  /**
   * `socket` is the request's connection, for callers that authenticate with a client certificate (mutual TLS).
   * `client` names the OAuth client a workload certificate acted as, for the audit line.
   */
  authorize(
    headers: Record<string, string | string[] | undefined>,
    permission: string,
    socket?: Socket,
  ): Promise<{ principal: string; client?: string }>;
}
