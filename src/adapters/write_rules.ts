import { GatehouseError, RECORD_NAME_LIMITS, type WriteOp } from '../core/index.js';

/** What a stored record looks like to the precondition rules: its version and expiry. */
export interface RecordState {
  version: number;
  expiresAt: number | null;
}

/** The effect of one write operation once its preconditions hold. */
export type WriteOutcome =
  { action: 'put'; version: number; expiresAt: number | null } | { action: 'delete' } | { action: 'none' };

/**
 * True when a record with this expiry is visible at `now`: a record expiring at or before now is gone.
 *
 * @example
 * isLive({ version: 1, expiresAt: 1000 }, 1000); // false
 */
export function isLive(state: RecordState | undefined, now: number): state is RecordState {
  return state !== undefined && (state.expiresAt === null || state.expiresAt > now);
}

/**
 * The precondition and version rules of the RecordStore port, shared by every adapter so that they agree: decides
 * what `op` does to the record currently stored (`current`, expired or not), or throws ERR_STORE_CONFLICT /
 * ERR_STORE_NOT_FOUND. An omitted `expiresAt` keeps a live record's expiry on update and upsert, and means "never"
 * for a new record.
 *
 * @example
 * decideWrite({ op: 'update', collection: 'c', key: 'k', value: 1, expectVersion: 2 }, { version: 2, expiresAt: null }, now);
 * // → { action: 'put', version: 3, expiresAt: null }
 */
export function decideWrite(op: WriteOp, current: RecordState | undefined, now: number): WriteOutcome {
  const live = isLive(current, now) ? current : undefined;
  const where = `${op.collection}/${op.key}`;
  switch (op.op) {
    case 'insert':
      if (live) throw new GatehouseError('ERR_STORE_CONFLICT', { detail: `insert over a live record ${where}` });
      return { action: 'put', version: 1, expiresAt: op.expiresAt ?? null };
    case 'update':
      if (!live) throw new GatehouseError('ERR_STORE_NOT_FOUND', { detail: `update of a missing record ${where}` });
      if (op.expectVersion !== undefined && op.expectVersion !== live.version) {
        throw new GatehouseError('ERR_STORE_CONFLICT', { detail: `stale version for ${where}` });
      }
      return { action: 'put', version: live.version + 1, expiresAt: keptExpiry(op.expiresAt, live) };
    case 'upsert':
      return live
        ? { action: 'put', version: live.version + 1, expiresAt: keptExpiry(op.expiresAt, live) }
        : { action: 'put', version: 1, expiresAt: op.expiresAt ?? null };
    case 'delete':
      if (!live) {
        if (op.expectVersion === undefined) return { action: 'none' };
        throw new GatehouseError('ERR_STORE_NOT_FOUND', { detail: `delete of a missing record ${where}` });
      }
      if (op.expectVersion !== undefined && op.expectVersion !== live.version) {
        throw new GatehouseError('ERR_STORE_CONFLICT', { detail: `stale version for ${where}` });
      }
      return { action: 'delete' };
  }
}

function keptExpiry(given: number | null | undefined, live: RecordState): number | null {
  return given === undefined ? live.expiresAt : given;
}

/**
 * Checks the names, expiries and values of a batch before any adapter touches storage, and returns each value as
 * its JSON text (the form every adapter stores). Throws ERR_INTERNAL (a caller bug) on a bad argument.
 *
 * @example
 * const texts = checkWriteOps([{ op: 'upsert', collection: 'c', key: 'k', value: { a: 1 } }]); // ['{"a":1}']
 */
export function checkWriteOps(ops: readonly WriteOp[]): Array<string | undefined> {
  return ops.map((op) => {
    if (!['insert', 'update', 'upsert', 'delete'].includes(op.op)) throw invalid(`unknown write op ${String(op.op)}`);
    checkName(op.collection, op.key);
    if (op.op === 'delete') {
      checkVersion(op.expectVersion);
      return undefined;
    }
    if (op.op === 'update') checkVersion(op.expectVersion);
    const expiresAt = op.expiresAt;
    if (expiresAt !== undefined && expiresAt !== null && !Number.isSafeInteger(expiresAt)) {
      throw invalid('expiresAt must be an integer number of milliseconds, or null');
    }
    const text = JSON.stringify(op.value);
    if (text === undefined) throw invalid(`the value of ${op.collection}/${op.key} is not JSON`);
    return text;
  });
}

/**
 * Checks a collection name and a key against RECORD_NAME_LIMITS: non-empty, bounded, no control characters.
 *
 * @example
 * checkName('kms_keys', 'orders');
 */
export function checkName(collection: string, key?: string): void {
  checkOne('collection', collection, RECORD_NAME_LIMITS.collection);
  if (key !== undefined) checkOne('key', key, RECORD_NAME_LIMITS.key);
}

/**
 * Checks a counter step: a safe integer.
 *
 * @example
 * checkStep(1);
 */
export function checkStep(by: number): void {
  if (!Number.isSafeInteger(by)) throw invalid('a counter step must be a safe integer');
}

/**
 * Checks a list limit: a non-negative integer when given.
 *
 * @example
 * checkLimit(100);
 */
export function checkLimit(limit: number | undefined): void {
  if (limit !== undefined && (!Number.isSafeInteger(limit) || limit < 0)) {
    throw invalid('a list limit must be a non-negative integer');
  }
}

function checkVersion(version: number | undefined): void {
  if (version !== undefined && (!Number.isSafeInteger(version) || version < 1)) {
    throw invalid('expectVersion must be a positive integer');
  }
}

function checkOne(what: string, name: string, max: number): void {
  // eslint-disable-next-line no-control-regex
  if (typeof name !== 'string' || name.length === 0 || name.length > max || /[\u0000-\u001f\u007f]/.test(name)) {
    throw invalid(`a record ${what} must be 1-${max} printable characters`);
  }
}

function invalid(message: string): GatehouseError {
  return new GatehouseError('ERR_INTERNAL', { message: `record store: ${message}` });
}
