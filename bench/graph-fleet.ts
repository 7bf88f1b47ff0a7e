/**
 * A deterministic synthetic fleet for the knowledge-graph benchmark (bench/graph.ts): a shared
 * pool of npm packages with a popularity skew, one CycloneDX 1.6 SBOM of ~1,000 components per
 * artifact (built by ssf's own `toCycloneDx` from an `Sbom` model), and OSV advisories over
 * the pool. Artifact `i` is generated from its own seed, so a worker thread can build the
 * documents while the main thread ingests them, and every run builds the same fleet.
 */
import { createHash } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { toCycloneDx, type Component, type Dependency, type Sbom } from '../src/analysis/index.js';

/** Nearest-rank quantile. */
export function quantile(xs: readonly number[], q: number): number {
  const s = [...xs].sort((a, b) => a - b);
  if (s.length === 0) return NaN;
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil(q * s.length) - 1))] as number;
}

/** A deterministic pseudo-random stream (mulberry32). */
export function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export interface PoolPackage {
  /** Popularity rank: 0 is in nearly every SBOM. */
  readonly rank: number;
  readonly name: string;
  /** Ascending semver versions; the fleet uses only these. */
  readonly versions: readonly string[];
  /** Probability that an SBOM includes the package. */
  readonly p: number;
  readonly license: string;
}

export interface Pool {
  readonly packages: readonly PoolPackage[];
  readonly versions: number;
  /** Expected distinct package names per SBOM (sum of p). */
  readonly expectedNames: number;
}

export const POOL_NAMES = 8000;
/** Distinct package names per SBOM, on average; a few packages appear in two versions, giving ~1,000 components. */
const NAMES_PER_SBOM = 960;
/** Chance that a package with several versions appears in a second version in the same SBOM (a nested node_modules copy). */
const SECOND_VERSION = 0.05;
const LICENSES = ['MIT', 'MIT', 'MIT', 'ISC', 'Apache-2.0', 'BSD-3-Clause', 'BSD-2-Clause', '(MIT OR Apache-2.0)'];

export function purlOf(name: string, version?: string): string {
  const n = name.startsWith('@') ? `%40${name.slice(1)}` : name;
  return version === undefined ? `pkg:npm/${n}` : `pkg:npm/${n}@${version}`;
}

/**
 * 8,000 package names and ~20,000 versions. Popular packages have more versions. The chance
 * that an SBOM includes the package of rank r is min(0.97, C / (r + 30)), C chosen so that an
 * SBOM has ~960 names: the top ~150 packages are in 97% of SBOMs, rank 1,000 in ~17%, the
 * last ones in ~2%.
 */
export function makePool(): Pool {
  const rand = rng(7);
  const weight = (r: number, c: number): number => Math.min(0.97, c / (r + 30));
  let lo = 1;
  let hi = 10000;
  for (let k = 0; k < 60; k++) {
    const mid = (lo + hi) / 2;
    let s = 0;
    for (let r = 0; r < POOL_NAMES; r++) s += weight(r, mid);
    if (s < NAMES_PER_SBOM) lo = mid;
    else hi = mid;
  }
  const c = (lo + hi) / 2;
  const packages: PoolPackage[] = [];
  let versions = 0;
  let expectedNames = 0;
  for (let r = 0; r < POOL_NAMES; r++) {
    const name = r % 7 === 3 ? `@scope${r % 61}/pkg-${r}` : `pkg-${r}`;
    const m = Math.max(1, Math.round(1 + 20 / (1 + r / 150)));
    let major = 1 + (r % 5);
    let minor = Math.floor(rand() * 5);
    let patch = Math.floor(rand() * 4);
    const vs: string[] = [];
    for (let k = 0; k < m; k++) {
      vs.push(`${major}.${minor}.${patch}`);
      const u = rand();
      if (u < 0.6) patch++;
      else if (u < 0.9) { minor++; patch = 0; }
      else { major++; minor = 0; patch = 0; }
    }
    const p = weight(r, c);
    expectedNames += p;
    versions += m;
    packages.push({ rank: r, name, versions: vs, p, license: LICENSES[r % LICENSES.length] as string });
  }
  return { packages, versions, expectedNames };
}

/** sha256 hex of artifact `i` of the fleet. */
export function artifactHex(i: number): string {
  return createHash('sha256').update(`ssf-bench-graph-artifact-${i}`).digest('hex');
}

/** The run that built artifact `i` (a factory run id: date-time-hex). */
export function runIdOf(i: number): string {
  return `20261202-${String(Math.floor(i / 60) % 240000).padStart(6, '0')}-${(i & 0xffffff).toString(16).padStart(6, '0')}`;
}

const integrityCache = new Map<string, string>();
function integrity(purl: string): string {
  let h = integrityCache.get(purl);
  if (!h) {
    h = createHash('sha512').update(purl).digest('hex');
    integrityCache.set(purl, h);
  }
  return h;
}

/** How many dependencies a component declares: 0 for 30%, 1–3 for ~47%, 4–12 for the rest; ~2.4 on average. */
function depCount(u: number, v: number): number {
  if (u < 0.30) return 0;
  if (u < 0.50) return 1;
  if (u < 0.65) return 2;
  if (u < 0.77) return 3;
  if (u < 0.92) return 4 + Math.floor(v * 3);
  return 7 + Math.floor(v * 6);
}

/**
 * The SBOM model of artifact `i`: packages drawn from the pool by popularity, versions skewed
 * to the newest (each older version half as likely), 20% dev scope, a sha512 integrity each;
 * dependency edges from less popular to more popular packages in the same SBOM (a DAG), and
 * the root depends on every component nothing else depends on.
 */
export function sbomOf(pool: Pool, i: number): Sbom {
  const rand = rng(1_000_003 + i * 7919);
  const comps: Component[] = [];
  const pick = (pkg: PoolPackage, avoid?: number): number => {
    const m = pkg.versions.length;
    let j = 0;
    while (j < m - 1 && rand() < 0.5) j++;
    let idx = m - 1 - j;
    if (avoid !== undefined && idx === avoid) idx = idx > 0 ? idx - 1 : idx + 1;
    return idx;
  };
  const add = (pkg: PoolPackage, idx: number, nested?: string): void => {
    const version = pkg.versions[idx] as string;
    const purl = purlOf(pkg.name, version);
    comps.push({
      ref: purl, ecosystem: 'npm', name: pkg.name, version, purl,
      hashes: [{ alg: 'SHA-512', hex: integrity(purl) }], license: pkg.license,
      scope: rand() < 0.2 ? 'dev' : 'required',
      paths: [nested ? `node_modules/${nested}/node_modules/${pkg.name}` : `node_modules/${pkg.name}`],
    });
  };
  for (const pkg of pool.packages) {
    if (rand() >= pkg.p) continue;
    const idx = pick(pkg);
    add(pkg, idx);
    if (pkg.versions.length > 1 && rand() < SECOND_VERSION) add(pkg, pick(pkg, idx), comps[Math.floor(rand() * comps.length)]?.name ?? 'x');
  }
  // comps are in popularity order; a component depends only on more popular ones (earlier).
  const dependencies: Dependency[] = [];
  const hasDependent = new Uint8Array(comps.length);
  for (let t = 1; t < comps.length; t++) {
    const d = Math.min(t, depCount(rand(), rand()));
    if (d === 0) continue;
    const targets = new Set<number>();
    for (let tries = 0; targets.size < d && tries < d * 4; tries++) targets.add(Math.floor(t * rand() * rand()));
    for (const x of targets) hasDependent[x] = 1;
    dependencies.push({ ref: (comps[t] as Component).ref, dependsOn: [...targets].map((x) => (comps[x] as Component).ref) });
  }
  const rootRef = `app-${i}`;
  dependencies.push({ ref: rootRef, dependsOn: comps.filter((_, k) => hasDependent[k] === 0).map((c) => c.ref) });
  return {
    root: { ref: rootRef, name: `fleet-app-${i}`, version: `1.${i % 50}.0` },
    components: comps, dependencies,
    source: { kind: 'npm-lockfile', file: 'package-lock.json', digest: `sha256:${artifactHex(i)}`, version: '3' },
    warnings: [],
  };
}

/** The CycloneDX 1.6 JSON text of artifact `i`'s SBOM, with counts for the report. */
export function cyclonedxOf(pool: Pool, i: number): { text: string; components: number; edges: number } {
  const sbom = sbomOf(pool, i);
  const doc = toCycloneDx(sbom, { timestamp: new Date('2026-12-02T00:00:00Z') });
  const edges = sbom.dependencies.reduce((a, d) => a + (d.ref.startsWith('pkg:') ? d.dependsOn.length : 0), 0);
  return { text: JSON.stringify(doc), components: sbom.components.length, edges };
}

const VECTORS = ['CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H', 'CVSS:3.1/AV:N/AC:H/PR:N/UI:R/S:U/C:L/I:L/A:N', 'CVSS:3.1/AV:L/AC:L/PR:L/UI:N/S:U/C:N/I:N/A:H', 'CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:H/VI:H/VA:H/SC:N/SI:N/SA:N', 'CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:N/I:N/A:H'];

export interface AdvisorySpec {
  readonly id: string;
  readonly alias?: string;
  readonly pkg: PoolPackage;
  /** Reaches versions the fleet uses (others concern only versions older than any in the pool). */
  readonly live: boolean;
  /** For live ones: versions below this index of pkg.versions are affected; length: no fix. */
  readonly fixedAt: number;
  /** Expected share of the fleet's SBOMs with an affected version. */
  readonly expectedShare: number;
}

export function advisoryId(i: number): string {
  return `GHSA-gr${(i >>> 10).toString(36).padStart(2, '0')}-${((i >>> 5) & 31).toString(36).padStart(4, '0')}-${(i & 31).toString(36).padStart(4, '0')}`;
}

/**
 * `n` advisories over the pool, shaped like GitHub's npm advisories: each names a pool
 * package chosen by popularity (the most used packages have the most advisories, as in npm),
 * 70% with a CVE alias. Most concern only versions older than any the fleet uses (introduced
 * 0 or an old version, fixed before the pool's oldest); `live` of them reach versions in use,
 * fixed in one of the pool's versions or not fixed at all.
 */
export function advisorySpecs(pool: Pool, n: number, live: number): AdvisorySpec[] {
  const rand = rng(4242);
  const cum: number[] = [];
  let s = 0;
  for (const p of pool.packages) cum.push((s += p.p + 0.01));
  const choose = (): PoolPackage => {
    const u = rand() * s;
    let lo = 0;
    let hi = cum.length - 1;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if ((cum[mid] as number) < u) lo = mid + 1;
      else hi = mid;
    }
    return pool.packages[lo] as PoolPackage;
  };
  const out: AdvisorySpec[] = [];
  const liveEvery = n / live;
  for (let i = 0; i < n; i++) {
    const pkg = choose();
    const isLive = Math.floor(i / liveEvery) !== Math.floor((i + 1) / liveEvery);
    const m = pkg.versions.length;
    const fixedAt = isLive ? 1 + Math.floor(rand() * m) : 0;
    // P(version index < fixedAt) when the newest is chosen with 1/2, the next with 1/4, …
    const expectedShare = isLive ? pkg.p * (fixedAt >= m ? 1 : 0.5 ** (m - fixedAt)) : 0;
    out.push({ id: advisoryId(i), ...(rand() < 0.7 ? { alias: `CVE-2025-${String(20000 + i)}` } : {}), pkg, live: isLive, fixedAt, expectedShare });
  }
  return out;
}

/** The OSV record of an advisory; `modified` is its modification time, `change` a later edit. */
export function osvRecord(a: AdvisorySpec, i: number, modified: string, change?: 'widen' | 'withdraw'): Record<string, unknown> {
  const rand = rng(99 + i);
  const vs = a.pkg.versions;
  const oldest = vs[0] as string;
  const [maj] = oldest.split('.').map(Number) as [number];
  let events: Record<string, string>[];
  if (a.live || change === 'widen') {
    const fixedAt = change === 'widen' ? vs.length : a.fixedAt;
    events = fixedAt >= vs.length ? [{ introduced: '0' }] : [{ introduced: '0' }, { fixed: vs[fixedAt] as string }];
  } else {
    // Older than anything the fleet uses: fixed at or before the pool's oldest version.
    const shape = rand();
    events = shape < 0.5 ? [{ introduced: '0' }, { fixed: oldest }]
      : shape < 0.8 ? [{ introduced: `${Math.max(0, maj - 1)}.0.0` }, { fixed: `${Math.max(0, maj - 1)}.${1 + Math.floor(rand() * 9)}.${Math.floor(rand() * 9)}` }]
        : [{ introduced: '0.1.0' }, { last_affected: `0.${2 + Math.floor(rand() * 7)}.${Math.floor(rand() * 9)}` }];
  }
  const affected: Record<string, unknown>[] = [{ package: { ecosystem: 'npm', name: a.pkg.name, purl: purlOf(a.pkg.name) }, ranges: [{ type: 'SEMVER', events }] }];
  if (!a.live && rand() < 0.1) affected.push({ package: { ecosystem: 'npm', name: a.pkg.name }, versions: [`0.0.${1 + Math.floor(rand() * 9)}`] });
  const vector = VECTORS[i % VECTORS.length] as string;
  return {
    schema_version: '1.6.0', id: a.id, modified, published: '2024-01-01T00:00:00Z',
    ...(change === 'withdraw' ? { withdrawn: modified } : {}),
    aliases: a.alias ? [a.alias] : [], summary: `Synthetic advisory ${i} for ${a.pkg.name}`,
    severity: [{ type: vector.startsWith('CVSS:4') ? 'CVSS_V4' : 'CVSS_V3', score: vector }], affected,
    database_specific: { severity: ['CRITICAL', 'HIGH', 'MODERATE', 'LOW'][i % 4] },
  };
}

/** Writes advisories as one OSV JSON file each, 100 per directory, as in the OSV per-ecosystem export. */
export function writeAdvisories(dir: string, specs: readonly AdvisorySpec[], modifiedOf: (i: number) => string, which?: ReadonlyMap<number, 'widen' | 'withdraw'>): number {
  let n = 0;
  const made = new Set<string>();
  specs.forEach((a, i) => {
    if (which && !which.has(i)) return;
    const sub = join(dir, String(i % 100));
    if (!made.has(sub)) { mkdirSync(sub, { recursive: true }); made.add(sub); }
    writeFileSync(join(sub, `${a.id}.json`), JSON.stringify(osvRecord(a, i, modifiedOf(i), which?.get(i))));
    n++;
  });
  return n;
}
