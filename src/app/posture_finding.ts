import type { PostureFacts } from './posture_facts.js';

/**
 * How bad a finding is. critical: exploitable or failing now (a secret others can read, a CA about to expire);
 * warning: weaker than gatehouse's strict default, or hygiene that is overdue; notice: worth knowing, nothing to fix.
 */
export type Severity = 'critical' | 'warning' | 'notice';

/** One thing `gatehouse doctor` found. */
export interface Finding {
  /** The check's stable name (docs/operations.md lists them). */
  check: string;
  severity: Severity;
  /** What is wrong, in one sentence. */
  summary: string;
  /** What to do about it. */
  fix: string;
  /** The clients, keys, routes or files concerned. */
  subjects?: string[];
}

/** The answer of `GET /v1/doctor`. */
export interface PostureReport {
  checkedAt: number;
  findings: Finding[];
  /** Checks that found nothing. */
  passed: string[];
}

/** A check of `gatehouse doctor`: a pure function of the facts. */
export interface Check {
  name: string;
  run(facts: PostureFacts): Omit<Finding, 'check'>[];
}

export const DAY_MS = 86_400_000;

/** A finding without its check's name (auditPosture adds it); `subjects` only when there are some. */
export const finding = (
  severity: Severity,
  summary: string,
  fix: string,
  subjects?: string[],
): Omit<Finding, 'check'> => ({ severity, summary, fix, ...(subjects && subjects.length > 0 ? { subjects } : {}) });
