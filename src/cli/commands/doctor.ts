import { Command } from 'commander';
import { print } from '../output.js';
import { adminFlags, withAdmin, type AdminFlags } from './with_admin.js';

/** The exit code of `gatehouse doctor` when it found something at warning or above (the report is on stdout). */
export const DOCTOR_FINDINGS_EXIT_CODE = 4;

interface Finding {
  check: string;
  severity: 'critical' | 'warning' | 'notice';
  summary: string;
  fix: string;
  subjects?: string[];
}

interface Report {
  checked_at: string;
  findings: Finding[];
  passed: string[];
}

const plural = (n: number, word: string) => `${n} ${word}${n === 1 ? '' : 's'}`;

/** The human form of a report: a count line, then each finding with its subjects and fix. */
export function formatReport(report: Report): string {
  const count = (severity: Finding['severity']) => report.findings.filter((f) => f.severity === severity).length;
  const passed = `${plural(report.passed.length, 'check')} passed`;
  if (report.findings.length === 0) return `gatehouse doctor: no findings (${passed})`;
  const head = `gatehouse doctor: ${count('critical')} critical, ${plural(count('warning'), 'warning')}, ${plural(count('notice'), 'notice')} (${passed})`;
  const blocks = report.findings.map((f) =>
    [
      `${f.severity.toUpperCase().padEnd(8)}  ${f.check}`,
      `  ${f.summary}`,
      ...(f.subjects ?? []).map((s) => `    - ${s}`),
      `  fix: ${f.fix}`,
    ].join('\n'),
  );
  return [head, ...blocks].join('\n\n');
}

/**
 * `gatehouse doctor`: audits the running deployment's security posture (files, configuration, CA, clients, keys,
 * gateway routes) and prints the findings. Exits 4 when one is critical or a warning, 0 otherwise.
 */
export function doctorCommand(): Command {
  return adminFlags(
    new Command('doctor').description(
      `audit the running deployment's security posture (exit ${DOCTOR_FINDINGS_EXIT_CODE} when something is critical or a warning)`,
    ),
  ).action(async (flags: AdminFlags) =>
    withAdmin(flags, async (client, output) => {
      const report = await client.call<Report>('GET', '/v1/doctor');
      print(output, report, formatReport);
      if (report.findings.some((f) => f.severity !== 'notice')) process.exitCode = DOCTOR_FINDINGS_EXIT_CODE;
    }),
  );
}
