import type { OsvAdvisory } from './osv.js';
import { SEMVER_ORDER, ecosystemOrdering, type VersionOrdering } from './ordering.js';

/**
 * The OSV schema's evaluation algorithm ("Evaluation" in ossf/osv-schema docs/schema.md),
 * with every boundary parsed once ahead of time:
 *
 *   IsVulnerable: some affected[] entry for the package lists v in `versions`, or some range
 *   has v before its limits and, walking its events sorted by version (introduced "0" first),
 *   the last event that applies to v is an `introduced` (v >= introduced), not a
 *   `fixed` (v >= fixed) or `last_affected` (v > last_affected).
 */

export type EventKind = 'introduced' | 'fixed' | 'last_affected';

export interface CompiledEvent {
  readonly kind: EventKind;
  readonly raw: string;
  /** Parsed by the range's ordering; undefined only for `introduced: "0"`, which sorts before every version. */
  readonly v: unknown;
}

export interface CompiledRange {
  readonly type: string;
  /** SemVer 2.0 for `SEMVER` ranges; the ecosystem's for `ECOSYSTEM` ones (ordering.ts). */
  readonly order: VersionOrdering;
  /** Sorted by version, stable for equal versions (the record's order decides ties). */
  readonly events: readonly CompiledEvent[];
  /** undefined: no limit events (an implicit `*`), or a `*` limit among them. */
  readonly limits: readonly unknown[] | undefined;
  readonly limitRaw: readonly string[];
}

export interface CompiledAffected {
  readonly index: number;
  readonly ecosystem: string;
  readonly name: string;
  readonly versions: ReadonlySet<string>;
  readonly ranges: readonly CompiledRange[];
}

export interface CompiledAdvisory {
  readonly advisory: OsvAdvisory;
  readonly affected: readonly CompiledAffected[];
  /** Parts of the record that were skipped, one line each, prefixed with the advisory id. */
  readonly warnings: readonly string[];
}

const NO_VERSIONS: ReadonlySet<string> = new Set();

/**
 * A package name as the ecosystem compares names. PyPI names are case-insensitive and treat
 * runs of `-`, `_` and `.` alike (PEP 503 normalisation): OSV writes the name as the project
 * spells it (`Django`), a purl in lower case (`pkg:pypi/django`). Other ecosystems compare
 * names exactly.
 */
export function packageNameKey(ecosystem: string, name: string): string {
  return baseEcosystem(ecosystem) === 'PyPI' ? name.toLowerCase().replace(/[-_.]+/g, '-') : name;
}

/** The ecosystem without a `:<release>` suffix (OSV allows `Debian:11`, `Maven:https://…`). */
export function baseEcosystem(ecosystem: string): string {
  const i = ecosystem.indexOf(':');
  return i < 0 ? ecosystem : ecosystem.slice(0, i);
}

function cmpEvent(order: VersionOrdering, a: CompiledEvent, b: CompiledEvent): number {
  if (a.v === undefined) return b.v === undefined ? 0 : -1;
  if (b.v === undefined) return 1;
  return order.compare(a.v, b.v);
}

/** Pre-parses one advisory for matching; problems become warnings, never exceptions. */
export function compileAdvisory(a: OsvAdvisory): CompiledAdvisory {
  const warnings: string[] = [];
  const warn = (s: string): void => {
    warnings.push(`${a.id}: ${s}`);
  };
  let gitWarned = false;
  const affected: CompiledAffected[] = [];
  (a.affected ?? []).forEach((aff, i) => {
    if (!aff.package) return; // an entry without a package names no package version
    const { ecosystem, name } = aff.package;
    const ranges: CompiledRange[] = [];
    (aff.ranges ?? []).forEach((r, j) => {
      const where = `affected[${i}].ranges[${j}]`;
      if (r.type === 'GIT') {
        if (!gitWarned) warn('GIT ranges name commits, not package versions; skipped');
        gitWarned = true;
        return;
      }
      if (r.type !== 'SEMVER' && r.type !== 'ECOSYSTEM') {
        warn(`${where}: unknown range type ${JSON.stringify(r.type.slice(0, 40))}; skipped`);
        return;
      }
      const order = r.type === 'SEMVER' ? SEMVER_ORDER : ecosystemOrdering(baseEcosystem(ecosystem));
      if (!order) {
        warn(`${where}: no version ordering known for ecosystem ${JSON.stringify(ecosystem.slice(0, 40))}; range skipped`);
        return;
      }
      const events: CompiledEvent[] = [];
      const limits: unknown[] = [];
      const limitRaw: string[] = [];
      let star = false;
      r.events.forEach((e, k) => {
        const keys = Object.keys(e);
        const key = keys[0];
        if (keys.length !== 1 || key === undefined) {
          warn(`${where}.events[${k}]: an event must have exactly one of introduced, fixed, last_affected, limit; skipped`);
          return;
        }
        const raw = e[key] as string;
        if (key === 'limit') {
          limitRaw.push(raw);
          if (raw.includes('*')) {
            star = true;
            return;
          }
          const v = order.parse(raw);
          if (v !== undefined) limits.push(v);
          else warn(`${where}.events[${k}]: limit ${JSON.stringify(raw.slice(0, 60))} is not a ${order.name} version; skipped`);
          return;
        }
        if (key !== 'introduced' && key !== 'fixed' && key !== 'last_affected') {
          warn(`${where}.events[${k}]: unknown event ${JSON.stringify(key.slice(0, 40))}; skipped`);
          return;
        }
        if (key === 'introduced' && raw === '0') {
          events.push({ kind: key, raw, v: undefined });
          return;
        }
        const v = order.parse(raw);
        if (v !== undefined) events.push({ kind: key, raw, v });
        else warn(`${where}.events[${k}]: ${key} ${JSON.stringify(raw.slice(0, 60))} is not a ${order.name} version; skipped`);
      });
      if (!events.some((e) => e.kind === 'introduced')) warn(`${where}: no usable introduced event; the range matches nothing`);
      events.sort((x, y) => cmpEvent(order, x, y)); // Array.prototype.sort is stable
      // Every limit event that failed to parse was dropped; with none left the implicit `*` applies.
      ranges.push({ type: r.type, order, events, limits: star || limits.length === 0 ? undefined : limits, limitRaw });
    });
    const versions = aff.versions === undefined || aff.versions.length === 0 ? NO_VERSIONS : new Set(aff.versions);
    affected.push({ index: i, ecosystem, name, versions, ranges });
  });
  return { advisory: a, affected, warnings };
}

/** The result of evaluating one range, when it matched. */
export interface RangeMatch {
  readonly description: string;
  /** `fixed` events of the range above the version. */
  readonly fixed: CompiledEvent[];
}

/** IncludedInRanges for a single range, following the OSV pseudo-code literally; `v` is the version parsed by the range's ordering. */
export function evaluateRange(r: CompiledRange, v: unknown): RangeMatch | undefined {
  const cmp = r.order.compare;
  if (r.limits !== undefined && !r.limits.some((l) => cmp(v, l) < 0)) return undefined; // BeforeLimits
  let vulnerable = false;
  let from = -1;
  const ev = r.events;
  for (let i = 0; i < ev.length; i++) {
    const e = ev[i] as CompiledEvent;
    if (e.kind === 'introduced') {
      if (e.v === undefined || cmp(v, e.v) >= 0) {
        vulnerable = true;
        from = i;
      }
    } else if (e.kind === 'fixed') {
      if (cmp(v, e.v) >= 0) vulnerable = false;
    } else if (cmp(v, e.v) > 0) {
      vulnerable = false;
    }
  }
  if (!vulnerable) return undefined;
  const intro = ev[from] as CompiledEvent;
  let upper: CompiledEvent | undefined;
  for (let i = from + 1; i < ev.length; i++) {
    const e = ev[i] as CompiledEvent;
    if (e.kind !== 'introduced') {
      upper = e;
      break;
    }
  }
  let description = `${r.type} range: introduced ${intro.raw}`;
  if (upper) description += `, ${upper.kind} ${upper.raw}`;
  if (r.limitRaw.length > 0) description += `, limit ${r.limitRaw.join(' ')}`;
  const fixed: CompiledEvent[] = [];
  for (const e of ev) if (e.kind === 'fixed' && cmp(e.v, v) > 0) fixed.push(e);
  return { description, fixed };
}

/** The outcome of IsVulnerable for one package version. */
export interface AffectsResult {
  affected: boolean;
  matchedBy: string;
  fixed: string[];
  /** Indexes of the affected[] entries that matched. */
  entries: number[];
}

/**
 * IsVulnerable over the compiled entries of one package. `semver` is the version parsed as
 * SemVer 2.0 (undefined when it is not one), which the caller may have cached; a range in
 * another ordering parses the version itself. A range whose ordering cannot read the version
 * does not match: only `versions` lists can.
 */
export function evaluateEntries(
  entries: readonly CompiledAffected[],
  version: string,
  semver: unknown,
): AffectsResult {
  let matchedBy = '';
  const fixed = new Map<string, { v: unknown; order: VersionOrdering }>();
  const hit: number[] = [];
  // The version in each other ordering a range asks for, parsed once (most ranges are SemVer).
  let parsedBy: Map<VersionOrdering, unknown> | undefined;
  const parsedIn = (order: VersionOrdering): unknown => {
    if (order === SEMVER_ORDER) return semver;
    parsedBy ??= new Map();
    if (!parsedBy.has(order)) parsedBy.set(order, order.parse(version));
    return parsedBy.get(order);
  };
  for (const aff of entries) {
    let matched = false;
    for (const r of aff.ranges) {
      const v = parsedIn(r.order);
      if (v === undefined) continue;
      const m = evaluateRange(r, v);
      if (!m) continue;
      if (!matched && matchedBy === '') matchedBy = m.description;
      matched = true;
      for (const f of m.fixed) fixed.set(f.raw, { v: f.v, order: r.order });
    }
    if (aff.versions.has(version)) {
      if (matchedBy === '') matchedBy = 'versions list';
      matched = true;
    }
    if (matched) hit.push(aff.index);
  }
  const sorted = fixed.size < 2 ? [...fixed.keys()] : [...fixed].sort((x, y) => (x[1].order === y[1].order ? x[1].order.compare(x[1].v, y[1].v) : 0) || (x[0] < y[0] ? -1 : x[0] > y[0] ? 1 : 0)).map((x) => x[0]);
  return { affected: hit.length > 0, matchedBy, fixed: sorted, entries: hit };
}

/** Sorts version strings by precedence in an ordering (SemVer 2.0 unless given), unparseable ones last in string order. */
export function sortVersions(vs: string[], order: VersionOrdering = SEMVER_ORDER): string[] {
  const parsed = vs.map((s) => ({ s, v: order.parse(s) }));
  parsed.sort((a, b) => {
    if (a.v !== undefined && b.v !== undefined) return order.compare(a.v, b.v) || (a.s < b.s ? -1 : a.s > b.s ? 1 : 0);
    if (a.v !== undefined) return -1;
    if (b.v !== undefined) return 1;
    return a.s < b.s ? -1 : a.s > b.s ? 1 : 0;
  });
  return parsed.map((p) => p.s);
}

/**
 * The pure OSV evaluation for one package version: is `ecosystem`/`name`@`version` affected by
 * advisory `a`, why, and which versions fix it. Withdrawn advisories affect nothing.
 */
export function affects(
  a: OsvAdvisory,
  ecosystem: string,
  name: string,
  version: string,
): { affected: boolean; matchedBy: string; fixed: string[] } {
  if (a.withdrawn !== undefined) return { affected: false, matchedBy: '', fixed: [] };
  const c = compileAdvisory(a);
  const entries = c.affected.filter((e) => e.ecosystem === ecosystem && packageNameKey(e.ecosystem, e.name) === packageNameKey(ecosystem, name));
  const r = evaluateEntries(entries, version, SEMVER_ORDER.parse(version));
  return { affected: r.affected, matchedBy: r.matchedBy, fixed: r.fixed };
}
