import type { LicenseFinding, LicenseReport, Sbom } from '../model.js';
import { normalizeLicense } from './normalize.js';
import { licenseAllowed, type LicensePolicy } from './policy.js';

/**
 * The licence report for every component of an SBOM. Without a policy a valid expression is
 * `unlisted` and a missing or invalid one `unknown`. A corrected declaration (spdx-correct's
 * guess for a non-SPDX string) is never `allowed`: the guess may be wrong, so it stays
 * `unknown` until the package declares an SPDX expression (it can still be `denied`).
 */
export function evaluateLicenses(sbom: Sbom, policy?: LicensePolicy): LicenseReport {
  // Most components share a handful of declarations: normalise and decide each one once.
  const seen = new Map<string | undefined, ReturnType<typeof normalizeLicense>>();
  const decided = new Map<string, ReturnType<typeof licenseAllowed>>();
  const findings: LicenseFinding[] = sbom.components.map((c) => {
    let n = seen.get(c.license);
    if (!n) seen.set(c.license, (n = normalizeLicense(c.license)));
    const component = { ref: c.ref, name: c.name, version: c.version, purl: c.purl };
    const base = { component, ...(c.license !== undefined ? { declared: c.license } : {}) };
    if (n.expression === undefined) return { ...base, status: 'unknown', problems: [...n.problems] };
    const expr = { ...base, expression: n.expression };
    if (!policy) return { ...expr, status: n.corrected ? 'unknown' : 'unlisted', problems: [...n.problems] };
    let d = decided.get(n.expression);
    if (!d) decided.set(n.expression, (d = licenseAllowed(n.expression, policy)));
    if (d.status === 'allowed' && n.corrected) {
      return { ...expr, status: 'unknown', problems: [...n.problems, `${d.why}, but only as a guess; the package must declare it as SPDX to count as allowed`] };
    }
    return { ...expr, status: d.status, problems: d.status === 'allowed' ? [...n.problems] : [...n.problems, d.why] };
  });
  return { sbom: sbom.source.digest, ...(policy?.digest ? { policy: policy.digest } : {}), findings };
}
