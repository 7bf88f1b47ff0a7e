import { compare as pep440Compare, valid as pep440Valid } from '@renovatebot/pep440';
import { compareParsed, parseSemver, type SemVer } from './semver.js';

/**
 * Version orderings that OSV ranges are evaluated in: a range's boundaries and a component's
 * version are parsed once by the range's ordering, then compared parsed. `SEMVER` ranges are
 * SemVer 2.0 in every ecosystem; an `ECOSYSTEM` range is in its ecosystem's own ordering,
 * where ssf knows one (the OSV schema's ecosystem table).
 */
export interface VersionOrdering {
  /** Named in warnings: `… is not a <name> version`. */
  readonly name: string;
  /** The version parsed for compare; undefined when it is not a version of this ordering. */
  parse(raw: string): unknown;
  /** Negative, zero or positive, for two values parse returned. */
  compare(a: unknown, b: unknown): number;
}

export const SEMVER_ORDER: VersionOrdering = {
  name: 'SemVer 2.0',
  parse: parseSemver,
  compare: (a, b) => compareParsed(a as SemVer, b as SemVer),
};

/**
 * PEP 440, the ordering of Python package versions (PyPI): epochs (`1!2.0`), pre-releases
 * (`1.0a1 < 1.0b2 < 1.0rc1 < 1.0`), post-releases (`1.0 < 1.0.post1`), development releases
 * (`1.0.dev1 < 1.0a1`), local versions (`1.0+ubuntu1 > 1.0`), and the spellings PEP 440
 * normalises (`1.0-RC1` = `1.0rc1`, a leading `v`). Parsed and compared by @renovatebot/pep440,
 * Renovate's port of the `packaging` library's rules; the parsed value is the version text,
 * which that library parses again on each compare.
 */
export const PEP440_ORDER: VersionOrdering = {
  name: 'PEP 440',
  parse: (raw) => (raw.length <= 256 && pep440Valid(raw) !== null ? raw : undefined),
  compare: (a, b) => pep440Compare(a as string, b as string),
};

/**
 * The ordering of an `ECOSYSTEM` range in `ecosystem` (without a `:<release>` suffix), or
 * undefined when ssf knows none (its ranges are then skipped with a warning).
 */
export function ecosystemOrdering(ecosystem: string): VersionOrdering | undefined {
  switch (ecosystem) {
    case 'npm':
      return SEMVER_ORDER;
    case 'PyPI':
      return PEP440_ORDER;
    default:
      return undefined;
  }
}

/** The ordering a component's version is read in for warnings and sorting: its ecosystem's, else SemVer. */
export function componentOrdering(ecosystem: string): VersionOrdering {
  return ecosystemOrdering(ecosystem) ?? SEMVER_ORDER;
}
