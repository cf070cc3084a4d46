import { GatehouseError } from '../core/index.js';
import type { KmsContext } from './kms_port.js';

/** One item of a transit call: the single-item body, or one entry of `batch_input`. */
export interface TransitItem {
  /** The raw JSON item, null when it is not an object (validated lazily, so that one bad item fails alone). */
  raw: Record<string, unknown> | null;
  reference: string | undefined;
}

/** A transit request body, normalized: one item or a batch. */
export interface TransitBody {
  items: TransitItem[];
  batch: boolean;
  partialFailureCode: number;
}

const MAX_CONTEXT_PAIRS = 64;
const MAX_CONTEXT_TEXT = 1024;
const MAX_REFERENCE = 256;

function bad(message: string): GatehouseError {
  return new GatehouseError('ERR_HTTP_BAD_REQUEST', { message });
}

function notAnObject(): GatehouseError {
  return bad('Invalid request: batch item: expected a JSON object');
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/**
 * Splits a transit body into items: `{ batch_input: [...] }` or one item at the top level. Checks the batch length
 * against `maxBatchItems` (ERR_KMS_BATCH_TOO_LARGE) and `partial_failure_response_code`; item fields are checked
 * later, one item at a time.
 *
 * @example
 * const { items, batch } = transitBody(request.body, 1000);
 */
export function transitBody(body: unknown, maxBatchItems: number): TransitBody {
  if (!isObject(body)) throw bad('Invalid request: body: expected a JSON object');
  if (body.batch_input !== undefined) checkFields(body, BATCH_FIELDS, 'body');
  const code = body.partial_failure_response_code;
  if (code !== undefined && (typeof code !== 'number' || !Number.isInteger(code) || code < 200 || code > 599)) {
    throw bad('Invalid request: partial_failure_response_code: expected an HTTP status 200-599');
  }
  const partialFailureCode = (code as number | undefined) ?? 400;
  if (body.batch_input === undefined) {
    return { items: [{ raw: body, reference: undefined }], batch: false, partialFailureCode };
  }
  const input = body.batch_input;
  if (!Array.isArray(input) || input.length === 0) {
    throw bad('Invalid request: batch_input: expected a non-empty array');
  }
  if (input.length > maxBatchItems) {
    throw new GatehouseError('ERR_KMS_BATCH_TOO_LARGE', {
      message: `Too many batch items: ${input.length} (at most ${maxBatchItems})`,
    });
  }
  const items: TransitItem[] = new Array<TransitItem>(input.length);
  for (let i = 0; i < input.length; i++) {
    const raw: unknown = input[i];
    const item = isObject(raw) ? raw : {};
    const reference = typeof item.reference === 'string' ? item.reference.slice(0, MAX_REFERENCE) : undefined;
    items[i] = { raw: isObject(raw) ? raw : null, reference };
  }
  return { items, batch: true, partialFailureCode };
}

const BATCH_FIELDS: ReadonlySet<string> = new Set(['batch_input', 'partial_failure_response_code']);

/** Why a field that Vault transit or AWS KMS callers send is refused here, instead of being ignored silently. */
const FIELD_HINTS: Readonly<Record<string, string>> = {
  associated_data: 'bind associated data with context, an object of strings',
  key_version: 'encrypt uses the latest key version and rewrap the newest; min_encryption_version does not apply',
  bits: 'data keys are 256 bits',
  nonce: 'nonces are always random',
};

/**
 * Refuses fields an item (or body) does not define (ERR_HTTP_BAD_REQUEST naming the first one): a field a caller
 * relies on must never be dropped silently (Vault's `associated_data` would leave the data unbound).
 *
 * @example
 * checkFields(item.raw, new Set(['plaintext', 'context', 'reference']));
 */
export function checkFields(raw: Record<string, unknown> | null, allowed: ReadonlySet<string>, where?: string): void {
  if (raw === null) throw notAnObject();
  for (const name of Object.keys(raw)) {
    if (allowed.has(name)) continue;
    const shown = JSON.stringify(name.slice(0, 64));
    const hint = Object.hasOwn(FIELD_HINTS, name) ? ` (${FIELD_HINTS[name]})` : '';
    throw bad(`Invalid request: ${where === undefined ? '' : `${where}: `}unknown field ${shown}${hint}`);
  }
}

/**
 * A base64 field of an item, decoded (strict, canonical base64 with padding; empty allowed only when `allowEmpty`).
 *
 * @example
 * const plaintext = base64Field(item.raw, 'plaintext');
 */
export function base64Field(raw: Record<string, unknown> | null, field: string, allowEmpty = true): Buffer {
  if (raw === null) throw notAnObject();
  const value = raw[field];
  if (typeof value !== 'string') throw bad(`Invalid request: ${field}: expected a base64 string`);
  // Decoding and re-encoding is the strict check (canonical base64 with padding) and is cheaper than a regex.
  const bytes = Buffer.from(value, 'base64');
  if (bytes.toString('base64') !== value || (!allowEmpty && value.length === 0)) {
    throw bad(`Invalid request: ${field}: not valid base64`);
  }
  return bytes;
}

/**
 * A `gh1:` ciphertext text field of an item (its contents are checked by the envelope library).
 *
 * @example
 * const ciphertext = textField(item.raw, 'ciphertext');
 */
export function textField(raw: Record<string, unknown> | null, field: string): string {
  if (raw === null) throw notAnObject();
  const value = raw[field];
  if (typeof value !== 'string' || value.length === 0) {
    throw bad(`Invalid request: ${field}: expected a non-empty string`);
  }
  return value;
}

/**
 * The item's encryption context: an object of string values (at most 64 pairs, 1 KiB per key or value), or `{}`.
 *
 * @example
 * const context = contextField(item.raw); // { tenant: 'acme' }
 */
export function contextField(raw: Record<string, unknown> | null): KmsContext {
  if (raw === null) throw notAnObject();
  const value = raw.context;
  if (value === undefined) return {};
  return checkContext(value);
}

/**
 * Checks an encryption context given as an object of strings.
 *
 * @example
 * checkContext({ tenant: 'acme' });
 */
export function checkContext(value: unknown): KmsContext {
  if (!isObject(value)) throw bad('Invalid request: context: expected an object of strings');
  const entries = Object.entries(value);
  if (entries.length > MAX_CONTEXT_PAIRS) throw bad(`Invalid request: context: at most ${MAX_CONTEXT_PAIRS} pairs`);
  // No prototype: a `__proto__` key is kept as a pair (bound like any other), never taken as the object's prototype.
  const context: KmsContext = Object.create(null) as KmsContext;
  for (const [key, inner] of entries) {
    if (typeof inner !== 'string') throw bad('Invalid request: context: every value must be a string');
    if (key.length === 0 || key.length > MAX_CONTEXT_TEXT || inner.length > MAX_CONTEXT_TEXT) {
      throw bad(`Invalid request: context: keys are 1-${MAX_CONTEXT_TEXT} characters, values at most that`);
    }
    context[key] = inner;
  }
  return context;
}
