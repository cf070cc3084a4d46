import { isGatehouseError, type Logger, type RecordStore, type StoredRecord } from '../core/index.js';
import type { SecretVault } from './ports.js';
import { rotationSteps, type RotationPolicy } from './rotation.js';
import { applyRotationStep } from './rotation_apply.js';
import { AUTHORITY_COLLECTION, AUTHORITY_KEY, type AuthorityRecord } from './state.js';

/** Whether the stored CA can be repaired at `now`: its active intermediate expired, its root valid and its key held. */
async function repairable(record: AuthorityRecord, vault: SecretVault, now: number): Promise<boolean> {
  const active = record.intermediates.find((i) => i.id === record.activeIntermediateId);
  if (!active || active.notAfter > now) return false;
  const root = record.roots.find((r) => r.id === active.rootId);
  if (!root || root.notAfter <= now) return false;
  return (await vault.getSecret(root.keySecret)) !== undefined;
}

/**
 * The CA record with a valid intermediate activated now, by the rotation state machine run to the end: a prepared
 * next intermediate still valid is activated at once; one that expired too is retired and a new one prepared (under
 * the active one's root, activating at once since the old one can no longer sign); then the expired one is retired
 * (its leaves have all expired with it).
 */
async function withFreshIntermediate(
  record: AuthorityRecord,
  context: { vault: SecretVault; now: number; policy: RotationPolicy; intermediateTtlMs: number },
): Promise<AuthorityRecord> {
  const { now } = context;
  const next = record.next && record.intermediates.find((i) => i.id === record.next?.intermediateId);
  if (record.next && (!next || next.notAfter <= now)) {
    const { next: stale, ...rest } = record;
    record = {
      ...rest,
      retiring: [...(record.retiring ?? []), { intermediateId: stale.intermediateId, retireAt: now }],
    };
  } else if (record.next && record.next.activateAt > now) {
    record = { ...record, next: { ...record.next, activateAt: now } }; // prepared and valid: it signs from now
  }
  for (let pass = 0; pass < 8; pass++) {
    const step = rotationSteps(record, now, context.policy, pass === 0 && record.next === undefined)[0];
    if (!step) break;
    record = await applyRotationStep(record, step, context);
  }
  return record;
}

/**
 * Repairs a CA that cannot sign because its active intermediate expired while no rotation ran (the CA was stopped for
 * longer than the rotation overlap): when the root is still valid and its key is in the vault, a new intermediate is
 * created under the root and activated, the record written with a version precondition (a replica repairing at the
 * same time wins once; the other reads its result), and a warn line says so loudly. Otherwise the stored record is
 * returned unchanged, and loading it fails as before (ERR_PKI_CA_INVALID). Leaves of the expired intermediate have
 * expired with it, so nothing still valid loses its chain.
 *
 * @example
 * stored = await replaceExpiredIntermediate({ store, vault, stored, now, policy, intermediateTtlMs, logger });
 */
export async function replaceExpiredIntermediate(input: {
  store: RecordStore;
  vault: SecretVault;
  stored: StoredRecord<AuthorityRecord>;
  now: number;
  policy: RotationPolicy;
  intermediateTtlMs: number;
  logger: Logger;
}): Promise<StoredRecord<AuthorityRecord>> {
  const { store, vault, now, logger } = input;
  let stored = input.stored;
  for (let attempt = 0; attempt < 3 && (await repairable(stored.value, vault, now)); attempt++) {
    const expired = stored.value.intermediates.find((i) => i.id === stored.value.activeIntermediateId);
    const repaired = await withFreshIntermediate(stored.value, { ...input });
    try {
      await store.write([
        {
          op: 'update',
          collection: AUTHORITY_COLLECTION,
          key: AUTHORITY_KEY,
          value: repaired,
          expectVersion: stored.version,
        },
      ]);
      const active = repaired.intermediates.find((i) => i.id === repaired.activeIntermediateId);
      logger.warn(
        {
          event: 'ca_intermediate_replaced',
          expired: expired?.serialNumber,
          expiredAt: expired && new Date(expired.notAfter).toISOString(),
          intermediate: active?.serialNumber,
          notAfter: active && new Date(active.notAfter).toISOString(),
          bundleSequence: repaired.bundleSequence,
        },
        'THE ACTIVE CA INTERMEDIATE HAD EXPIRED: CA rotation did not run in time (was the CA stopped?). A new ' +
          'intermediate was created under the root and activated; certificates signed by the old one had expired with ' +
          'it. Keep the CA (gatehouse up or gatehouse ca) running so that rotation prepares the next intermediate at ' +
          'half of its life, and watch gatehouse ca status for warnings.',
      );
    } catch (err) {
      if (!isGatehouseError(err, 'ERR_STORE_CONFLICT')) throw err;
    }
    const reread = await store.get<AuthorityRecord>(AUTHORITY_COLLECTION, AUTHORITY_KEY);
    if (!reread) return stored;
    stored = reread;
  }
  return stored;
}
