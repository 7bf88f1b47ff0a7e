/** Reports: the in-toto vulns predicate, SARIF 2.1.0 and plain-text tables (docs/reports.md). */
export { vulnsPredicate, VULNS_PREDICATE_VERSION } from './predicate.js';
export { toSarif, levelOf, SARIF_SCHEMA_URI, type SarifInput } from './sarif.js';
export { formatVulnTable, formatLicenseTable, formatSecretTable } from './text.js';
