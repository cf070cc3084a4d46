import type { PostureFacts } from './posture_facts.js';
import type { Finding, PostureReport, Severity } from './posture_finding.js';
import { IDENTITY_CHECKS } from './posture_identity_checks.js';
import { KMS_AND_GATEWAY_CHECKS } from './posture_gateway_checks.js';
import { PLATFORM_CHECKS } from './posture_platform_checks.js';

export type { Finding, PostureReport, Severity } from './posture_finding.js';
export { API_KEY_MAX_AGE_MS, LONG_ACCESS_TOKEN_MS } from './posture_identity_checks.js';
export { KMS_KEY_MAX_AGE_MS } from './posture_gateway_checks.js';

/** Every check of `gatehouse doctor`, in the order the report lists them (docs/operations.md, "gatehouse doctor"). */
export const POSTURE_CHECKS = [...PLATFORM_CHECKS, ...IDENTITY_CHECKS, ...KMS_AND_GATEWAY_CHECKS];

const RANK: Record<Severity, number> = { critical: 0, warning: 1, notice: 2 };

/**
 * Runs every check on the facts: the findings, most severe first (checks in their listed order within a severity),
 * and the names of the checks that found nothing.
 *
 * @example
 * const report = auditPosture(facts);
 * if (report.findings.some((f) => f.severity !== 'notice')) process.exitCode = 4;
 */
export function auditPosture(facts: PostureFacts): PostureReport {
  const findings: Finding[] = [];
  const passed: string[] = [];
  for (const check of POSTURE_CHECKS) {
    const found = check.run(facts);
    if (found.length === 0) passed.push(check.name);
    for (const f of found) findings.push({ check: check.name, ...f });
  }
  findings.sort((a, b) => RANK[a.severity] - RANK[b.severity]);
  return { checkedAt: facts.now, findings, passed };
}
