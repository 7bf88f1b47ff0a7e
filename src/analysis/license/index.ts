/** Licences: SPDX expression normalisation and allow/deny policy evaluation (docs/licenses.md). */
export { normalizeLicense, MAX_DECLARED_LENGTH, type NormalizedLicense } from './normalize.js';
export { loadLicensePolicy, licenseAllowed, type LicensePolicy, type LicenseDecision } from './policy.js';
export { evaluateLicenses } from './evaluate.js';
