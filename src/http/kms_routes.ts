import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { GatehouseError, type Logger } from '../core/index.js';
import { checkKeyName } from '../kms/index.js';
import { kmsAudit } from './kms_audit.js';
import { runTransit, type ItemResult } from './kms_batch.js';
import { guarded, keyParamOf, type AuditFields } from './kms_call.js';
import { Base64Text, JSON_MEDIA_TYPE, transitJson } from './kms_json.js';
import { registerKmsKeyRoutes } from './kms_key_routes.js';
import type { KmsAuthorizer, KmsOperations } from './kms_port.js';
import {
  base64Field,
  checkFields,
  contextField,
  textField,
  transitBody,
  type TransitBody,
  type TransitItem,
} from './kms_request.js';

/** What the transit routes need: the operations, the authorization port, a logger for audit, the batch limit. */
export interface KmsRoutesOptions {
  ops: KmsOperations;
  authorizer: KmsAuthorizer;
  logger: Logger;
  /** Config `kms.maxBatchItems`. */
  maxBatchItems: number;
}

const MAX_AUDITED_CONTEXT_KEYS = 16;

/** The fields of one item (or single-item body); anything else is refused, never ignored. */
const ENCRYPT_FIELDS: ReadonlySet<string> = new Set([
  'plaintext',
  'context',
  'reference',
  'partial_failure_response_code',
]);
const CIPHERTEXT_FIELDS: ReadonlySet<string> = new Set([
  'ciphertext',
  'context',
  'reference',
  'partial_failure_response_code',
]);
const DATAKEY_FIELDS: ReadonlySet<string> = new Set(['context']);

/** The distinct context key names of a call's items (never their values), for the audit line. */
function contextKeysOf(body: TransitBody): string[] {
  const keys = new Set<string>();
  for (const item of body.items) {
    const context = item.raw?.context;
    if (typeof context !== 'object' || context === null) continue;
    for (const key of Object.keys(context)) {
      if (keys.size >= MAX_AUDITED_CONTEXT_KEYS) return [...keys];
      keys.add(key.slice(0, 64));
    }
  }
  return [...keys];
}

/**
 * The KMS transit API (Vault transit shapes) on the KMS listener: key management (see kms_key_routes.ts) and
 * `POST /v1/transit/{encrypt,decrypt,rewrap}/:name` with `batch_input`, and
 * `POST /v1/transit/datakey/{plaintext,wrapped}/:name`. Every call is authorized through `authorizer` and audited.
 *
 * @example
 * registerKmsRoutes(server.app, { ops, authorizer, logger, maxBatchItems: config.kms.maxBatchItems });
 */
export function registerKmsRoutes(app: FastifyInstance, options: KmsRoutesOptions): void {
  const { ops, authorizer } = options;
  const audit = kmsAudit(options.logger);
  const deps = { authorizer, audit };
  registerKmsKeyRoutes(app, { ops, authorizer, audit });

  const transit =
    (operation: string, handle: (name: string, item: TransitItem) => Promise<ItemResult>) =>
    async (request: FastifyRequest, reply: FastifyReply) => {
      const name = keyParamOf(request);
      const fields: AuditFields = { key: name };
      const outcome = await guarded(
        deps,
        request,
        reply,
        `transit.${operation}`,
        `kms:${operation}:${name}`,
        fields,
        async () => {
          checkKeyName(name);
          const body = transitBody(request.body, options.maxBatchItems);
          fields.batchSize = body.items.length;
          fields.contextKeys = contextKeysOf(body);
          const out = await runTransit(body, (item) => handle(name, item));
          fields.versions = out.versions;
          fields.failed = out.errors.length;
          if (out.errors.length > 0) {
            fields.result = out.errors.length === body.items.length ? (out.errors[0] as string) : 'partial';
          }
          return out;
        },
      );
      return reply.code(outcome.status).type(JSON_MEDIA_TYPE).send(transitJson(outcome.body));
    };

  app.post(
    '/v1/transit/encrypt/:name',
    transit('encrypt', async (name, item) => {
      checkFields(item.raw, ENCRYPT_FIELDS);
      const plaintext = base64Field(item.raw, 'plaintext');
      const sealed = await ops.encrypt(name, plaintext, contextField(item.raw));
      return {
        fields: { ciphertext: new Base64Text(sealed.ciphertext), key_version: sealed.keyVersion },
        keyVersion: sealed.keyVersion,
      };
    }),
  );
  app.post(
    '/v1/transit/decrypt/:name',
    transit('decrypt', async (name, item) => {
      checkFields(item.raw, CIPHERTEXT_FIELDS);
      const ciphertext = textField(item.raw, 'ciphertext');
      const opened = await ops.decrypt(name, ciphertext, contextField(item.raw));
      const fields = { plaintext: new Base64Text(opened.plaintext.toString('base64')) };
      opened.plaintext.fill(0);
      return { fields, keyVersion: opened.keyVersion };
    }),
  );
  app.post(
    '/v1/transit/rewrap/:name',
    transit('rewrap', async (name, item) => {
      checkFields(item.raw, CIPHERTEXT_FIELDS);
      const ciphertext = textField(item.raw, 'ciphertext');
      const sealed = await ops.rewrap(name, ciphertext, contextField(item.raw));
      return {
        fields: { ciphertext: new Base64Text(sealed.ciphertext), key_version: sealed.keyVersion },
        keyVersion: sealed.keyVersion,
      };
    }),
  );

  for (const kind of ['plaintext', 'wrapped'] as const) {
    const permission = kind === 'plaintext' ? 'datakey-plaintext' : 'datakey';
    app.post(`/v1/transit/datakey/${kind}/:name`, async (request, reply) => {
      const name = keyParamOf(request);
      const fields: AuditFields = { key: name, batchSize: 1 };
      const data = await guarded(
        deps,
        request,
        reply,
        `transit.datakey.${kind}`,
        `kms:${permission}:${name}`,
        fields,
        async () => {
          checkKeyName(name);
          const body: unknown = request.body ?? {};
          if (typeof body !== 'object' || body === null || Array.isArray(body)) {
            throw new GatehouseError('ERR_HTTP_BAD_REQUEST', {
              message: 'Invalid request: body: expected a JSON object',
            });
          }
          const raw = body as Record<string, unknown>;
          checkFields(raw, DATAKEY_FIELDS);
          const context = contextField(raw);
          fields.contextKeys = Object.keys(context).slice(0, MAX_AUDITED_CONTEXT_KEYS);
          const key = await ops.dataKey(name, context, { plaintext: kind === 'plaintext' });
          fields.versions = [key.keyVersion];
          const out: Record<string, unknown> = { ciphertext: key.ciphertext, key_version: key.keyVersion };
          if (kind === 'plaintext' && key.plaintext) {
            out.plaintext = key.plaintext.toString('base64');
            key.plaintext.fill(0);
          }
          return out;
        },
      );
      return reply.send({ data });
    });
  }
}
