import type { Finding, Sbom, Severity, VulnDbInfo, VulnReport } from '../model.js';
import { cvss, preloadCvss, type CvssVersion } from './cvss.js';
import { compileAdvisory, evaluateEntries, packageNameKey, sortVersions, type CompiledAdvisory, type CompiledAffected } from './evaluate.js';
import { compareTimestamps, type OsvAdvisory } from './osv.js';
import { componentOrdering, SEMVER_ORDER, type VersionOrdering } from './ordering.js';
import type { SemVer } from './semver.js';

/** Advisories held in memory, pre-parsed and indexed by (ecosystem, name), ready to match SBOMs. */
export interface AdvisoryIndex {
  readonly info: VulnDbInfo;
  readonly size: number;
  match(sbom: Sbom): VulnReport;
}

interface Candidate {
  readonly advisory: CompiledAdvisory;
  readonly entries: readonly CompiledAffected[];
  /** Filled on first match: the advisory's aliases, sorted, without its id. */
  aliases?: string[];
  /** Filled on first match: severity per set of matched entries (usually one). */
  severities?: Map<string, Scored>;
}

const VERSION_PREFERENCE: Record<CvssVersion, number> = { '4.0': 4, '3.1': 3, '3.0': 2, '2.0': 1 };

const TEXT_SEVERITY: Record<string, Severity> = {
  NONE: 'none',
  LOW: 'low',
  MODERATE: 'medium',
  MEDIUM: 'medium',
  HIGH: 'high',
  CRITICAL: 'critical',
};

interface Scored {
  severity: Severity;
  score?: number;
  vector?: string;
}

function bestVector(list: readonly { type: string; score: string }[] | undefined): Scored | undefined {
  let best: { pref: number; score: number; vector: string; severity: Severity } | undefined;
  for (const s of list ?? []) {
    if (!s.type.startsWith('CVSS_')) continue;
    const c = cvss(s.score);
    if (!c) continue;
    const pref = VERSION_PREFERENCE[c.version];
    if (!best || pref > best.pref || (pref === best.pref && c.score > best.score)) {
      best = { pref, score: c.score, vector: s.score, severity: c.severity };
    }
  }
  return best && { severity: best.severity, score: best.score, vector: best.vector };
}

function textSeverity(databaseSpecific: unknown): Severity | undefined {
  if (typeof databaseSpecific !== 'object' || databaseSpecific === null) return undefined;
  const s = (databaseSpecific as { severity?: unknown }).severity;
  return typeof s === 'string' ? TEXT_SEVERITY[s.toUpperCase()] : undefined;
}

/**
 * Severity of a match: a CVSS vector of the matched affected[] entries, else of the advisory
 * (CVSS 4.0 before 3.1 before 3.0 before 2.0, the higher score among equals), scored here;
 * else the database's own severity word (GHSA: LOW / MODERATE / HIGH / CRITICAL); else unknown.
 */
export function severityOf(a: OsvAdvisory, matchedEntries: readonly number[]): Scored {
  const entries = matchedEntries.map((i) => a.affected?.[i]).filter((e) => e !== undefined);
  const entryLevel = bestVector(entries.flatMap((e) => e.severity ?? []));
  if (entryLevel) return entryLevel;
  const top = bestVector(a.severity);
  if (top) return top;
  for (const e of entries) {
    const t = textSeverity(e.database_specific);
    if (t) return { severity: t };
  }
  return { severity: textSeverity(a.database_specific) ?? 'unknown' };
}

const RANK: Record<Severity, number> = { unknown: 0, none: 1, low: 2, medium: 3, high: 4, critical: 5 };

/** Is `a` a higher severity than `b`? Computed scores beat words; then the word's rank. */
function higher(a: Scored, b: Scored): boolean {
  if (a.score !== undefined && b.score !== undefined) return a.score > b.score;
  if (a.score !== undefined) return true;
  if (b.score !== undefined) return false;
  return RANK[a.severity] > RANK[b.severity];
}

function idPreference(id: string): number {
  if (id.startsWith('GHSA-')) return 0;
  if (id.startsWith('CVE-')) return 2;
  return 1;
}

function byString(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/**
 * Merges findings for one component that describe the same vulnerability: ids and aliases
 * form groups (OSV aliases are symmetric and transitive). A group reports one finding under
 * its GHSA id when it has one, with every other id as an alias and the highest severity; the
 * fixed versions of the group in `order`, the ordering of the component's ecosystem.
 */
export function mergeAliases(findings: readonly Finding[], order: VersionOrdering = SEMVER_ORDER): Finding[] {
  if (findings.length < 2) return [...findings];
  const parent = new Map<string, string>();
  const find = (x: string): string => {
    let r = x;
    for (let p = parent.get(r); p !== undefined && p !== r; p = parent.get(r)) r = p;
    parent.set(x, r);
    return r;
  };
  const union = (a: string, b: string): void => {
    if (!parent.has(a)) parent.set(a, a);
    if (!parent.has(b)) parent.set(b, b);
    const ra = find(a);
    const rb = find(b);
    if (ra !== rb) parent.set(ra, rb);
  };
  for (const f of findings) {
    union(f.id, f.id);
    for (const al of f.aliases) union(f.id, al);
  }
  const groups = new Map<string, Finding[]>();
  for (const f of findings) {
    const root = find(f.id);
    const g = groups.get(root);
    if (g) g.push(f);
    else groups.set(root, [f]);
  }
  const out: Finding[] = [];
  for (const g of groups.values()) {
    if (g.length === 1) {
      out.push(g[0] as Finding);
      continue;
    }
    const sorted = [...g].sort((x, y) => idPreference(x.id) - idPreference(y.id) || byString(x.id, y.id));
    const primary = sorted[0] as Finding;
    let worst: Finding = primary;
    for (const f of sorted) if (higher(f, worst)) worst = f;
    const ids = new Set<string>();
    const fixed = new Set<string>();
    let modified = primary.modified;
    for (const f of g) {
      ids.add(f.id);
      for (const al of f.aliases) ids.add(al);
      for (const x of f.fixed) fixed.add(x);
      if (compareTimestamps(f.modified, modified) > 0) modified = f.modified;
    }
    ids.delete(primary.id);
    const merged: Finding = {
      id: primary.id,
      aliases: [...ids].sort(byString),
      component: primary.component,
      severity: worst.severity,
      fixed: sortVersions([...fixed], order),
      matchedBy: primary.matchedBy,
      modified,
    };
    const summary = primary.summary ?? sorted.find((f) => f.summary !== undefined)?.summary;
    if (summary !== undefined) merged.summary = summary;
    if (worst.score !== undefined) merged.score = worst.score;
    if (worst.vector !== undefined) merged.vector = worst.vector;
    if (primary.published !== undefined) merged.published = primary.published;
    out.push(merged);
  }
  return out;
}

/** The in-memory index behind VulnDb.load(). */
export class MemoryAdvisoryIndex implements AdvisoryIndex {
  readonly info: VulnDbInfo;
  readonly size: number;
  private readonly byPackage = new Map<string, Candidate[]>();
  private readonly versions = new Map<string, SemVer | null>();

  /** Builds an index from advisories; withdrawn ones are left out, they never match. */
  constructor(advisories: Iterable<OsvAdvisory>, info: VulnDbInfo) {
    this.info = info;
    let n = 0;
    for (const a of advisories) {
      if (a.withdrawn !== undefined) continue;
      n++;
      const c = compileAdvisory(a);
      const perPackage = new Map<string, CompiledAffected[]>();
      for (const e of c.affected) {
        const key = `${e.ecosystem}\0${packageNameKey(e.ecosystem, e.name)}`;
        const list = perPackage.get(key);
        if (list) list.push(e);
        else perPackage.set(key, [e]);
      }
      for (const [key, entries] of perPackage) {
        const list = this.byPackage.get(key);
        const cand: Candidate = { advisory: c, entries };
        if (list) list.push(cand);
        else this.byPackage.set(key, [cand]);
      }
    }
    this.size = n;
    if (n > 0) preloadCvss();
  }

  private parsed(version: string): SemVer | undefined {
    let v = this.versions.get(version);
    if (v === undefined) {
      v = (SEMVER_ORDER.parse(version) as SemVer | undefined) ?? null;
      if (this.versions.size > 100_000) this.versions.clear();
      this.versions.set(version, v);
    }
    return v ?? undefined;
  }

  /** Matches every component of the SBOM; findings sorted by (component purl, id), without VEX. */
  match(sbom: Sbom): VulnReport {
    const findings: Finding[] = [];
    const warnings = new Set<string>();
    for (const comp of sbom.components) {
      const cands = this.byPackage.get(`${comp.ecosystem}\0${packageNameKey(comp.ecosystem, comp.name)}`);
      if (!cands) continue;
      // Go modules are versioned v1.2.3; OSV records them without the v (the Go vulnerability database's convention).
      const version = comp.ecosystem === 'Go' && /^v\d/.test(comp.version) ? comp.version.slice(1) : comp.version;
      const parsed = this.parsed(version);
      // Read in the ordering of the component's ecosystem (PEP 440 for PyPI, else SemVer 2.0).
      const order = componentOrdering(comp.ecosystem);
      const readable = (o: VersionOrdering): boolean => (o === SEMVER_ORDER ? parsed : o.parse(version)) !== undefined;
      if (!readable(order)) {
        warnings.add(`${comp.purl}: version ${JSON.stringify(comp.version)} is not ${order.name}; only explicit versions lists were checked`);
      }
      // A candidate's range in another ordering (a SEMVER range of a PyPI package) that cannot
      // read the version is skipped for it: said too, never silently.
      for (const cand of cands) {
        for (const e of cand.entries) {
          for (const r of e.ranges) {
            if (r.order !== order && !readable(r.order)) warnings.add(`${comp.purl}: version ${JSON.stringify(comp.version)} is not ${r.order.name}; ${cand.advisory.advisory.id}'s ${r.type} range was skipped for it`);
          }
        }
      }
      const own: Finding[] = [];
      for (const cand of cands) {
        if (cand.advisory.warnings.length > 0) for (const w of cand.advisory.warnings) warnings.add(w);
        let r = evaluateEntries(cand.entries, version, parsed);
        // a versions list written with Go's v matches too
        if (!r.affected && version !== comp.version) r = evaluateEntries(cand.entries, comp.version, undefined);
        if (!r.affected) continue;
        const a = cand.advisory.advisory;
        cand.aliases ??= [...new Set(a.aliases ?? [])].filter((x) => x !== a.id).sort(byString);
        cand.severities ??= new Map();
        const key = r.entries.join(',');
        let sev = cand.severities.get(key);
        if (!sev) {
          sev = severityOf(a, r.entries);
          cand.severities.set(key, sev);
        }
        const f: Finding = {
          id: a.id,
          aliases: [...cand.aliases],
          component: { ref: comp.ref, name: comp.name, version: comp.version, purl: comp.purl },
          severity: sev.severity,
          fixed: r.fixed,
          matchedBy: r.matchedBy,
          modified: a.modified,
        };
        if (a.summary !== undefined) f.summary = a.summary;
        if (sev.score !== undefined) f.score = sev.score;
        if (sev.vector !== undefined) f.vector = sev.vector;
        if (a.published !== undefined) f.published = a.published;
        own.push(f);
      }
      findings.push(...mergeAliases(own, order));
    }
    findings.sort((x, y) => byString(x.component.purl, y.component.purl) || byString(x.id, y.id) || byString(x.component.ref, y.component.ref));
    return { db: this.info, sbom: sbom.source.digest, findings, warnings: [...warnings] };
  }
}
