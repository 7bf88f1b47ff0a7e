/**
 * The shared model of the evidence part (src/analysis). Every reader (lockfiles, imported
 * CycloneDX or SPDX documents) produces an `Sbom`; every writer (CycloneDX, SPDX), the
 * vulnerability matcher, the licence evaluator and later the knowledge graph read it.
 * Findings of every kind are plain data here so that the CLI, the pipeline tasks and the
 * reports (in-toto predicates, SARIF) all read the same shape.
 */

/** Where a component sits in the project's dependency graph. */
export type Scope = 'required' | 'optional' | 'dev';

export type HashAlg = 'SHA-1' | 'SHA-256' | 'SHA-384' | 'SHA-512';

export interface Hash {
  alg: HashAlg;
  /** Lower-case hex. */
  hex: string;
}

/** One package, unique by (ecosystem, name, version) within an SBOM. */
export interface Component {
  /** Unique within the SBOM; used as the CycloneDX bom-ref and for dependency edges. */
  ref: string;
  /** Package-manager ecosystem, as OSV names it: `npm` for everything ssf generates itself. */
  ecosystem: string;
  /** Full package name; npm scopes included (`@babel/core`). */
  name: string;
  version: string;
  /** Canonical package URL (`pkg:npm/%40babel/core@7.24.0`). */
  purl: string;
  hashes: Hash[];
  /** The licence as declared by the package (raw text, not normalised); undefined when none. */
  license?: string;
  scope: Scope;
  /** Where the package is installed or locked (lockfile keys, e.g. `node_modules/a/node_modules/b`). */
  paths: string[];
  /** The download URL the lockfile records, when it records one. */
  resolved?: string;
  /** Shipped inside another package's tarball (npm bundleDependencies). */
  bundled?: boolean;
}

/** `ref` depends on each of `dependsOn` (component refs, or the root's ref). */
export interface Dependency {
  ref: string;
  dependsOn: string[];
}

export type SbomSourceKind = 'npm-lockfile' | 'yarn-v1' | 'yarn-berry' | 'pnpm' | 'cyclonedx' | 'spdx';

export interface Sbom {
  /** The project the SBOM describes. Not a member of `components`. */
  root: { ref: string; name: string; version: string; purl?: string };
  components: Component[];
  /** Edges, including the root's direct dependencies; every ref exists. */
  dependencies: Dependency[];
  source: {
    kind: SbomSourceKind;
    /** File name as given (for messages and reports). */
    file?: string;
    /** `sha256:<hex>` of the bytes the SBOM was read from. */
    digest: string;
    /** Format version of the input (lockfileVersion, specVersion, spdxVersion). */
    version?: string;
  };
  /** Non-fatal problems (peer conflicts, missing integrity, skipped entries), one line each. */
  warnings: string[];
}

export type Severity = 'none' | 'low' | 'medium' | 'high' | 'critical' | 'unknown';

/** Ordering for `--fail-on`. A finding without a usable score counts as `high` (fail closed). */
export const SEVERITY_RANK: Readonly<Record<Severity, number>> = { none: 0, low: 1, medium: 2, high: 3, unknown: 3, critical: 4 };

export type VexStatus = 'not_affected' | 'affected' | 'fixed' | 'under_investigation';

/** The VEX statement that decided a finding's status. */
export interface AppliedVex {
  status: VexStatus;
  justification?: string;
  impactStatement?: string;
  actionStatement?: string;
  /** Author of the VEX document. */
  author: string;
  /** The VEX document's @id (OpenVEX) or serialNumber (CycloneDX). */
  document: string;
  /** When the statement stops applying (ISO 8601); undefined: no expiry. */
  expires?: string;
  /** The signer identity, when the VEX came as a verified bundle. */
  signer?: string;
}

/** One advisory matching one component. */
export interface Finding {
  /** The advisory id (OSV `id`, e.g. GHSA-xxxx-xxxx-xxxx). */
  id: string;
  /** Every other id of the same vulnerability (CVE-…, GHSA-…), sorted, without `id`. */
  aliases: string[];
  component: { ref: string; name: string; version: string; purl: string };
  summary?: string;
  severity: Severity;
  /** Computed CVSS base score (not copied from the advisory's text). */
  score?: number;
  /** The CVSS vector the score was computed from. */
  vector?: string;
  /** Versions named as fixes by the ranges that matched. */
  fixed: string[];
  /** Why it matched, e.g. `SEMVER range: introduced 0, fixed 4.17.21` or `versions list`. */
  matchedBy: string;
  published?: string;
  modified: string;
  /** Set when a VEX statement applies; a finding with status not_affected or fixed does not gate. */
  vex?: AppliedVex;
}

export interface VulnDbInfo {
  /** `sha256:<hex>` over the database's content (ids and modified times), stable across machines. */
  digest: string;
  /** The newest `modified` of any advisory in the database (ISO 8601). */
  date: string;
  advisories: number;
  /** Where it was last imported from (path or URL). */
  source?: string;
}

export interface VulnReport {
  db: VulnDbInfo;
  /** Digest of the SBOM that was scanned. */
  sbom: string;
  findings: Finding[];
  warnings: string[];
}

export type LicenseStatus = 'allowed' | 'denied' | 'unknown' | 'unlisted';

export interface LicenseFinding {
  component: { ref: string; name: string; version: string; purl: string };
  /** As the package declared it. */
  declared?: string;
  /** Normalised SPDX expression; undefined when the declaration is not one. */
  expression?: string;
  /**
   * allowed / denied by the policy; unknown: missing or not an SPDX expression;
   * unlisted: a valid expression the policy neither allows nor denies.
   */
  status: LicenseStatus;
  /** One line each: unknown identifiers, corrections applied, which rule denied it. */
  problems: string[];
}

export interface LicenseReport {
  sbom: string;
  /** Digest of the policy applied, when one was given. */
  policy?: string;
  findings: LicenseFinding[];
}

export interface SecretFinding {
  /** Rule id, e.g. `aws-access-key-id`, `high-entropy-assignment`. */
  rule: string;
  /** What it is, e.g. `an AWS access key id`. */
  what: string;
  /** Path relative to the scanned root, `/`-separated. */
  file: string;
  line: number;
  column: number;
  /** `sha256:` of the secret, first 16 hex digits: what an allowlist names. Never the secret. */
  fingerprint: string;
}

export interface SecretReport {
  /** Tree digest of what was scanned, when a tree was scanned. */
  root?: string;
  filesScanned: number;
  findings: SecretFinding[];
  /** Findings an allowlist entry suppressed. */
  suppressed: number;
  /** Skipped files (too large, binary, unreadable), one line each. */
  warnings: string[];
}
