import { SEVERITY_RANK, type Finding, type LicenseFinding, type LicenseReport, type SecretReport, type Severity, type VulnReport } from './model.js';
import { vexSuppresses } from './vex/index.js';

/**
 * The gate rules that `--fail-on` (CLI) and `failOn` (pipeline tasks) apply. One place, so a
 * finding gates the same way wherever it is read: a VEX status of not_affected or fixed
 * suppresses it; anything else (affected, under_investigation, no VEX) counts.
 */
export type VulnThreshold = Exclude<Severity, 'unknown'>;
export const VULN_THRESHOLDS: readonly VulnThreshold[] = ['none', 'low', 'medium', 'high', 'critical'];

/** Findings at or above the threshold that no VEX suppresses. `none` never gates. */
export function gatingVulns(report: VulnReport, threshold: VulnThreshold): Finding[] {
  if (threshold === 'none') return [];
  const min = SEVERITY_RANK[threshold];
  return report.findings.filter((f) => !vexSuppresses(f) && SEVERITY_RANK[f.severity] >= min);
}

export type LicenseThreshold = 'denied' | 'unknown' | 'none';
export const LICENSE_THRESHOLDS: readonly LicenseThreshold[] = ['denied', 'unknown', 'none'];

/** denied: denied licences gate; unknown: also missing or non-SPDX declarations. */
export function gatingLicenses(report: LicenseReport, threshold: LicenseThreshold): LicenseFinding[] {
  if (threshold === 'none') return [];
  return report.findings.filter((f) => f.status === 'denied' || (threshold === 'unknown' && f.status === 'unknown'));
}

/** Every finding an allowlist did not suppress gates, unless the threshold is none. */
export function gatingSecrets(report: SecretReport, threshold: 'any' | 'none'): number {
  return threshold === 'none' ? 0 : report.findings.length;
}
