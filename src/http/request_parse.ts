import type { z } from 'zod';
import { GatehouseError, parseDuration } from '../core/index.js';

/**
 * Validates a request part (body, params or query; a missing one counts as `{}`) against a zod schema. The first
 * issue becomes ERR_HTTP_BAD_REQUEST naming where it is (`fallbackWhere` when the issue has no path) and why.
 *
 * @example
 * const { id } = parseRequest(z.strictObject({ id: z.string() }), request.params);
 */
export function parseRequest<T>(schema: z.ZodType<T>, value: unknown, fallbackWhere = 'body'): T {
  const result = schema.safeParse(value ?? {});
  if (!result.success) {
    const issue = result.error.issues[0];
    const where = issue?.path.join('.') || fallbackWhere;
    throw new GatehouseError('ERR_HTTP_BAD_REQUEST', { message: `Invalid request: ${where}: ${issue?.message ?? ''}` });
  }
  return result.data;
}

/**
 * A duration field of a request (`10m`, `24h`) in milliseconds; undefined when absent, ERR_HTTP_BAD_REQUEST naming
 * the field when it is not a duration.
 *
 * @example
 * const overlapMs = parseDurationField(body.overlap, 'overlap');
 */
export function parseDurationField(text: string | undefined, what: string): number | undefined {
  if (text === undefined) return undefined;
  const ms = parseDuration(text);
  if (ms === undefined)
    throw new GatehouseError('ERR_HTTP_BAD_REQUEST', {
      message: `Invalid request: ${what}: expected a duration such as 15m, 24h or 30d`,
    });
  return ms;
}
