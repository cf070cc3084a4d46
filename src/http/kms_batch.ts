import { isGatehouseError, type ErrorCode } from '../core/index.js';
import type { TransitBody, TransitItem } from './kms_request.js';

/**
 * One item's answer: its fields (snake_case; a fresh object, to which a batch adds the item's `reference`), and the
 * key version it used for the audit line.
 */
export interface ItemResult {
  fields: Record<string, unknown>;
  keyVersion: number;
}

/** The answer of a transit call: HTTP status and body, plus what the audit line needs. */
export interface TransitOutcome {
  status: number;
  body: { data: Record<string, unknown> };
  versions: number[];
  /** Error codes of failed items, in order (empty when all succeeded). */
  errors: ErrorCode[];
}

/** Errors that concern the whole call rather than one item: they fail the request even inside a batch. */
const REQUEST_LEVEL = new Set<ErrorCode>([
  'ERR_KMS_KEY_NOT_FOUND',
  'ERR_KMS_KEY_DELETED',
  'ERR_KMS_KEY_NAME_INVALID',
  'ERR_KMS_FORBIDDEN',
  'ERR_KMS_UNAUTHORIZED',
]);

function itemError(err: unknown): { code: ErrorCode; message: string } | undefined {
  if (!isGatehouseError(err) || err.status >= 500 || REQUEST_LEVEL.has(err.code)) return undefined;
  return { code: err.code, message: err.message };
}

/**
 * Runs a transit call's items one after another (order kept; no promise per item beyond the operation itself).
 * A single item's error is thrown (a problem response); in a batch, item errors become `{ error: { code, message } }`
 * entries with the item's `reference` echoed, and the status is 200 when all succeeded, 400 when all failed, and
 * `partial_failure_response_code` (default 400) otherwise, as in Vault. Errors about the key itself (unknown,
 * deleted, forbidden) and internal errors fail the whole call.
 *
 * @example
 * const outcome = await runTransit(body, async (item) => ({ fields: { ciphertext }, keyVersion: 1 }));
 */
export async function runTransit(
  body: TransitBody,
  handle: (item: TransitItem) => Promise<ItemResult>,
): Promise<TransitOutcome> {
  if (!body.batch) {
    const result = await handle(body.items[0] as TransitItem);
    return { status: 200, body: { data: result.fields }, versions: [result.keyVersion], errors: [] };
  }
  const results: Array<Record<string, unknown>> = new Array<Record<string, unknown>>(body.items.length);
  const versions: number[] = [];
  const errors: ErrorCode[] = [];
  for (let i = 0; i < body.items.length; i++) {
    const item = body.items[i] as TransitItem;
    let entry: Record<string, unknown>;
    try {
      const result = await handle(item);
      entry = result.fields;
      if (!versions.includes(result.keyVersion)) versions.push(result.keyVersion);
    } catch (err) {
      const error = itemError(err);
      if (!error) throw err;
      errors.push(error.code);
      entry = { error };
    }
    if (item.reference !== undefined) entry.reference = item.reference;
    results[i] = entry;
  }
  const status = errors.length === 0 ? 200 : errors.length === results.length ? 400 : body.partialFailureCode;
  return { status, body: { data: { batch_results: results } }, versions, errors };
}
