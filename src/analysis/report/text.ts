import { SsfError } from '../../core/index.js';
import { SEVERITY_RANK, type Finding, type LicenseReport, type SecretFinding, type SecretReport, type VulnReport } from '../model.js';

/** A secret fingerprint as the scanner writes it; anything else is refused rather than printed. */
const FINGERPRINT = /^sha256:[0-9a-f]{16}$/;

/** Checks a secret finding's fingerprint so that no report ever prints what might be the secret itself. */
export function safeFingerprint(f: SecretFinding): string {
  if (typeof f.fingerprint !== 'string' || !FINGERPRINT.test(f.fingerprint)) {
    throw new SsfError('INPUT_MALFORMED', `secret finding ${clean(f.rule)} at ${clean(f.file)}:${f.line} has a fingerprint that is not sha256:<16 hex>; refusing to print it`);
  }
  return f.fingerprint;
}

/** Replaces control characters (terminal escapes in package names or paths) with `?`. */
export function clean(s: unknown): string {
  // eslint-disable-next-line no-control-regex
  return String(s).replace(/[\u0000-\u001f\u007f-\u009f\u2028\u2029]/g, '?');
}

/** Findings in report order: most severe first, then score, id, package. */
export function sortFindings(fs: readonly Finding[]): Finding[] {
  return [...fs].sort(
    (a, b) =>
      SEVERITY_RANK[b.severity] - SEVERITY_RANK[a.severity] ||
      (b.score ?? -1) - (a.score ?? -1) ||
      cmp(a.id, b.id) ||
      cmp(a.component.purl, b.component.purl),
  );
}

export function cmp(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

function table(header: string[], rows: string[][]): string[] {
  const all = [header, ...rows.map((r) => r.map(clean))];
  const widths = header.map((_, i) => Math.max(...all.map((r) => (r[i] ?? '').length)));
  return all.map((r) =>
    r
      .map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i] ?? 0)))
      .join('  ')
      .trimEnd(),
  );
}

/** The vulnerability findings as aligned text lines, header first; VEX status shown, suppressed ones included. */
export function formatVulnTable(report: VulnReport): string[] {
  const rows = sortFindings(report.findings).map((f) => [
    f.severity.toUpperCase(),
    f.score === undefined ? '-' : f.score.toFixed(1),
    f.id,
    f.component.name,
    f.component.version,
    f.fixed.length > 0 ? f.fixed.join(', ') : '-',
    f.vex ? (f.vex.justification ? `${f.vex.status} (${f.vex.justification})` : f.vex.status) : '-',
  ]);
  return table(['SEVERITY', 'SCORE', 'ID', 'PACKAGE', 'VERSION', 'FIXED IN', 'VEX'], rows);
}

/** The licence findings as aligned text lines, header first. */
export function formatLicenseTable(report: LicenseReport): string[] {
  const order = { denied: 0, unknown: 1, unlisted: 2, allowed: 3 } as const;
  const rows = [...report.findings]
    .sort((a, b) => order[a.status] - order[b.status] || cmp(a.component.name, b.component.name) || cmp(a.component.version, b.component.version))
    .map((f) => [f.status.toUpperCase(), f.component.name, f.component.version, f.expression ?? f.declared ?? '-', f.problems.length > 0 ? f.problems.join('; ') : '-']);
  return table(['STATUS', 'PACKAGE', 'VERSION', 'LICENSE', 'PROBLEMS'], rows);
}

/** The secret findings as aligned text lines, header first: where and what, and the fingerprint, never the secret. */
export function formatSecretTable(report: SecretReport): string[] {
  const rows = [...report.findings]
    .sort((a, b) => cmp(a.file, b.file) || a.line - b.line || a.column - b.column)
    .map((f) => [`${f.file}:${f.line}:${f.column}`, f.rule, f.what, safeFingerprint(f)]);
  return table(['LOCATION', 'RULE', 'WHAT', 'FINGERPRINT'], rows);
}
