/**
 * The vulnerability part of the evidence: a local OSV advisory database (SQLite), imports
 * from files, directories, zip archives and URLs, exact OSV matching of SBOM components,
 * alias merging and CVSS scoring.
 */
export { parseAdvisory, type OsvAdvisory, type OsvAffected } from './osv.js';
export { VulnDb, type ImportStats } from './db.js';
export type { AdvisoryIndex } from './match.js';
export { affects, baseEcosystem, packageNameKey } from './evaluate.js';
export { cvss } from './cvss.js';
export { compareSemver } from './semver.js';
