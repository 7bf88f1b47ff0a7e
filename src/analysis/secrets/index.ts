/** Secrets: well-known credential formats and random-looking secret assignments (docs/secrets.md). */
export { SECRET_RULES, HIGH_ENTROPY_RULE, fingerprint, shannonEntropy, type SecretRule } from './rules.js';
export { scanText, ENTROPY } from './scan.js';
export { loadAllowlist, type Allowlist } from './allowlist.js';
export { scanSecrets, SCAN_DEFAULTS, SECRETS_MANIFEST_HEADER, type ScanSecretsOptions } from './tree.js';
