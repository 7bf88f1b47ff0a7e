import { SsfError } from '../../core/index.js';

/**
 * SemVer 2.0.0 parsing and precedence (semver.org section 11), written out so that matching
 * can pre-parse every advisory boundary once and compare without allocating.
 */

/** A parsed SemVer 2.0.0 version; build metadata is dropped because it never affects precedence. */
export interface SemVer {
  readonly major: number;
  readonly minor: number;
  readonly patch: number;
  /** Pre-release identifiers; numeric ones keep their digits as text (compared by length, then lexically). */
  readonly pre: readonly string[];
  /** For each pre-release identifier: is it numeric? */
  readonly preNumeric: readonly boolean[];
}

// The regular expression semver.org publishes for SemVer 2.0.0, without named groups.
const SEMVER_RE =
  /^(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)(?:-((?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*)(?:\.(?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*))*))?(?:\+([0-9a-zA-Z-]+(?:\.[0-9a-zA-Z-]+)*))?$/;

const MAX_LENGTH = 256;
const NONE: readonly string[] = Object.freeze([]);
const NONE_NUMERIC: readonly boolean[] = Object.freeze([]);

/**
 * Parses a SemVer 2.0.0 string (no leading `v`, no spaces); undefined when it is not one.
 * Major, minor and patch above 2^53-1 are refused: npm's own parser refuses them too, so no
 * npm version can carry them.
 */
export function parseSemver(s: string): SemVer | undefined {
  if (s.length > MAX_LENGTH) return undefined;
  const m = SEMVER_RE.exec(s);
  if (!m) return undefined;
  const major = Number(m[1]);
  const minor = Number(m[2]);
  const patch = Number(m[3]);
  if (!Number.isSafeInteger(major) || !Number.isSafeInteger(minor) || !Number.isSafeInteger(patch)) return undefined;
  if (m[4] === undefined) return { major, minor, patch, pre: NONE, preNumeric: NONE_NUMERIC };
  const pre = m[4].split('.');
  return { major, minor, patch, pre, preNumeric: pre.map((p) => /^\d+$/.test(p)) };
}

function compareNumericText(a: string, b: string): number {
  // Numeric identifiers have no leading zeros, so a longer one is larger: exact for any length.
  if (a.length !== b.length) return a.length < b.length ? -1 : 1;
  return a < b ? -1 : a > b ? 1 : 0;
}

/** SemVer 2.0.0 precedence of two parsed versions: negative, zero or positive. */
export function compareParsed(a: SemVer, b: SemVer): number {
  if (a.major !== b.major) return a.major < b.major ? -1 : 1;
  if (a.minor !== b.minor) return a.minor < b.minor ? -1 : 1;
  if (a.patch !== b.patch) return a.patch < b.patch ? -1 : 1;
  const ap = a.pre;
  const bp = b.pre;
  // A version without pre-release identifiers has higher precedence than one with them.
  if (ap.length === 0 || bp.length === 0) return ap.length === bp.length ? 0 : ap.length === 0 ? 1 : -1;
  const n = Math.min(ap.length, bp.length);
  for (let i = 0; i < n; i++) {
    const x = ap[i] as string;
    const y = bp[i] as string;
    if (x === y) continue;
    const xn = a.preNumeric[i] === true;
    const yn = b.preNumeric[i] === true;
    if (xn && yn) return compareNumericText(x, y);
    // Numeric identifiers always have lower precedence than alphanumeric ones.
    if (xn !== yn) return xn ? -1 : 1;
    // Alphanumeric identifiers compare lexically in ASCII sort order.
    return x < y ? -1 : 1;
  }
  return ap.length === bp.length ? 0 : ap.length < bp.length ? -1 : 1;
}

/**
 * SemVer 2.0.0 precedence of two version strings (prerelease ordering, build metadata
 * ignored). INPUT_MALFORMED when either is not a SemVer 2.0.0 version.
 */
export function compareSemver(a: string, b: string): number {
  const pa = parseSemver(a);
  const pb = parseSemver(b);
  if (!pa) throw new SsfError('INPUT_MALFORMED', `${JSON.stringify(a.slice(0, 80))} is not a SemVer 2.0.0 version; give MAJOR.MINOR.PATCH[-PRERELEASE][+BUILD]`);
  if (!pb) throw new SsfError('INPUT_MALFORMED', `${JSON.stringify(b.slice(0, 80))} is not a SemVer 2.0.0 version; give MAJOR.MINOR.PATCH[-PRERELEASE][+BUILD]`);
  const c = compareParsed(pa, pb);
  return c < 0 ? -1 : c > 0 ? 1 : 0;
}
