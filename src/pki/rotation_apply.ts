import { randomId } from '../core/index.js';
import { createIntermediate } from './intermediate.js';
import { exportPkcs8, importSigningKey } from './keys.js';
import type { SecretVault } from './ports.js';
import type { RotationStep } from './rotation.js';
import { intermediateKeySecret, type AuthorityRecord } from './state.js';
import { x509 } from './x509.js';

function bump(record: AuthorityRecord): number {
  return (record.bundleSequence ?? 1) + 1;
}

async function prepare(
  record: AuthorityRecord,
  vault: SecretVault,
  now: number,
  ttlMs: number,
  activateAt: number,
): Promise<AuthorityRecord> {
  const active = record.intermediates.find((i) => i.id === record.activeIntermediateId);
  const rootRecord = record.roots.find((r) => r.id === active?.rootId) ?? record.roots[0];
  if (!rootRecord) throw new Error('no root');
  const rootKeyDer = await vault.getSecret(rootRecord.keySecret);
  if (!rootKeyDer) throw new Error(`the vault has no key ${rootRecord.keySecret}`);
  const made = await createIntermediate({
    trustDomain: record.trustDomain,
    root: { certificate: new x509.X509Certificate(rootRecord.certPem), privateKey: await importSigningKey(rootKeyDer) },
    now,
    ttlMs,
  });
  const id = randomId(12);
  await vault.putSecret(intermediateKeySecret(id), await exportPkcs8(made.keys.privateKey));
  const cert = made.certificate;
  return {
    ...record,
    intermediates: [
      ...record.intermediates,
      {
        id,
        certPem: cert.toString('pem'),
        serialNumber: cert.serialNumber,
        notBefore: cert.notBefore.getTime(),
        notAfter: cert.notAfter.getTime(),
        keySecret: intermediateKeySecret(id),
        rootId: rootRecord.id,
      },
    ],
    next: { intermediateId: id, activateAt },
    bundleSequence: bump(record),
  };
}

/**
 * Applies one {@link RotationStep} to the CA record and returns the new record (the caller writes it with a version
 * precondition). `prepare` makes a new intermediate under the same root (roots stay stable) and seals its key;
 * `activate` makes it the signer and schedules the former one's retirement; `retire` drops an intermediate from the
 * record and the bundle (its sealed key stays in the vault: keys are never destroyed by accident).
 *
 * @example
 * const updated = await applyRotationStep(record, step, { vault, now, intermediateTtlMs });
 */
export async function applyRotationStep(
  record: AuthorityRecord,
  step: RotationStep,
  context: { vault: SecretVault; now: number; intermediateTtlMs: number },
): Promise<AuthorityRecord> {
  switch (step.kind) {
    case 'prepare':
      return prepare(record, context.vault, context.now, context.intermediateTtlMs, step.activateAt);
    case 'activate': {
      const { next: _next, ...rest } = record;
      void _next;
      return {
        ...rest,
        activeIntermediateId: step.intermediateId,
        retiring: [
          ...(record.retiring ?? []),
          { intermediateId: record.activeIntermediateId, retireAt: step.retireOldAt },
        ],
        bundleSequence: bump(record),
      };
    }
    case 'retire':
      return {
        ...record,
        intermediates: record.intermediates.filter((i) => i.id !== step.intermediateId),
        retiring: (record.retiring ?? []).filter((r) => r.intermediateId !== step.intermediateId),
        bundleSequence: bump(record),
      };
  }
}
