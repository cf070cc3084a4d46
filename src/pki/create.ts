import { randomId } from '../core/index.js';
import { createIntermediate } from './intermediate.js';
import { exportPkcs8 } from './keys.js';
import type { SecretVault } from './ports.js';
import { createRoot, type NewCaCertificate } from './root.js';
import {
  AUTHORITY_FORMAT,
  intermediateKeySecret,
  rootKeySecret,
  type AuthorityRecord,
  type CaCertificateRecord,
} from './state.js';

function describe(id: string, keySecret: string, made: NewCaCertificate): CaCertificateRecord {
  const cert = made.certificate;
  return {
    id,
    certPem: cert.toString('pem'),
    serialNumber: cert.serialNumber,
    notBefore: cert.notBefore.getTime(),
    notAfter: cert.notAfter.getTime(),
    keySecret,
  };
}

/**
 * Makes a brand-new CA (root + intermediate), seals both keys into the vault under fresh names, and returns the
 * record to insert. Nothing is stored in the record store here: the caller inserts with an absence precondition, and
 * if another process won that race, the keys sealed here are simply never referenced.
 *
 * @example
 * const record = await createAuthorityRecord({ trustDomain, vault, now, rootTtlMs, intermediateTtlMs });
 */
export async function createAuthorityRecord(input: {
  trustDomain: string;
  vault: SecretVault;
  now: number;
  rootTtlMs: number;
  intermediateTtlMs: number;
}): Promise<AuthorityRecord> {
  const { trustDomain, vault, now } = input;
  const root = await createRoot({ trustDomain, now, ttlMs: input.rootTtlMs });
  const intermediate = await createIntermediate({
    trustDomain,
    root: { certificate: root.certificate, privateKey: root.keys.privateKey },
    now,
    ttlMs: input.intermediateTtlMs,
  });
  const rootId = randomId(12);
  const intermediateId = randomId(12);
  await vault.putSecret(rootKeySecret(rootId), await exportPkcs8(root.keys.privateKey));
  await vault.putSecret(intermediateKeySecret(intermediateId), await exportPkcs8(intermediate.keys.privateKey));
  return {
    format: AUTHORITY_FORMAT,
    trustDomain,
    createdAt: now,
    roots: [describe(rootId, rootKeySecret(rootId), root)],
    intermediates: [{ ...describe(intermediateId, intermediateKeySecret(intermediateId), intermediate), rootId }],
    activeIntermediateId: intermediateId,
  };
}
