/**
 * Evidence benchmarks: SBOM generation against `npm sbom --package-lock-only` on a real
 * ~1,200-entry lockfile, and OSV matching of 1,000 components against 20,000 synthetic
 * advisories (import, load and match times reported separately).
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { VulnDb, readSbomInput, toCycloneDx, type Component, type Sbom } from '../src/analysis/index.js';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const FIXTURE = join(ROOT, 'bench', 'fixtures', 'sbom-1200');

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)] ?? NaN;
}

function timeMs(fn: () => void): number {
  const t0 = process.hrtime.bigint();
  fn();
  return Number(process.hrtime.bigint() - t0) / 1e6;
}

/** A deterministic pseudo-random stream, so that every run generates the same fleet. */
function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export async function benchSbom(opts: { quick: boolean }): Promise<string[]> {
  const out: string[] = [];
  const runs = opts.quick ? 3 : 5;
  const lock = join(FIXTURE, 'package-lock.json');
  let sbom: Sbom | undefined;
  const inproc = median(Array.from({ length: runs + 2 }, () => timeMs(() => { sbom = readSbomInput(lock); toCycloneDx(sbom); })).slice(2));
  const entries = Object.keys((JSON.parse(execFileSync('cat', [lock], { encoding: 'utf8', maxBuffer: 64 << 20 })) as { packages: object }).packages).length - 1;
  const cli = median(Array.from({ length: runs }, () => timeMs(() => {
    execFileSync(process.execPath, [join(ROOT, 'bin', 'ssf.js'), 'sbom', FIXTURE, '--output', '/dev/null'], { stdio: 'ignore' });
  })));
  let npmMs = NaN;
  let npmSet: Set<string> | undefined;
  const probe = spawnSync('npm', ['--version'], { encoding: 'utf8' });
  if (probe.status === 0) {
    npmMs = median(Array.from({ length: runs }, () => timeMs(() => {
      const r = spawnSync('npm', ['sbom', '--package-lock-only', '--sbom-format', 'cyclonedx'], { cwd: FIXTURE, encoding: 'utf8', maxBuffer: 64 << 20 });
      if (r.status === 0) npmSet = new Set(((JSON.parse(r.stdout) as { components?: { name: string; group?: string; version: string }[] }).components ?? []).map((c) => `${c.group ? `${c.group}/` : ''}${c.name}@${c.version}`));
    })));
  }
  const ours = new Set((sbom?.components ?? []).map((c: Component) => `${c.name}@${c.version}`));
  const same = npmSet ? ours.size === npmSet.size && [...ours].every((x) => npmSet?.has(x)) : undefined;
  out.push(`lockfile: ${entries} entries, ${ours.size} unique components; npm sbom: ${npmSet ? `${npmSet.size} (${same ? 'same set' : 'DIFFERENT set'})` : 'not available'}`);
  out.push(`ssf in-process (parse + CycloneDX 1.6): ${inproc.toFixed(1)} ms | npm sbom --package-lock-only: ${npmMs.toFixed(0)} ms | ratio ${(npmMs / inproc).toFixed(1)}x (goal ≥ 10x)`);
  out.push(`ssf sbom as a command (process start included): ${cli.toFixed(0)} ms | npm sbom: ${npmMs.toFixed(0)} ms | ratio ${(npmMs / cli).toFixed(1)}x`);
  return out;
}

const VERSIONS = ['0.1.0', '0.2.3', '1.0.0', '1.2.0', '1.4.7', '2.0.0', '2.1.1', '3.0.0-beta.1', '3.0.0', '3.5.2', '4.0.0', '4.17.20', '4.17.21', '5.1.0', '6.0.0', '7.3.8', '8.0.1', '9.2.0', '10.0.0', '12.1.4'];
const VECTORS = ['CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H', 'CVSS:3.1/AV:N/AC:H/PR:N/UI:R/S:U/C:L/I:L/A:N', 'CVSS:3.1/AV:L/AC:L/PR:L/UI:N/S:U/C:N/I:N/A:H', 'CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:H/VI:H/VA:H/SC:N/SI:N/SA:N', 'CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:N/I:N/A:H'];

/** 20,000 advisories over a pool of 6,000 package names, shaped like GitHub's npm advisories. */
function writeAdvisories(dir: string, n: number, names: string[], rand: () => number): void {
  for (let i = 0; i < n; i++) {
    const id = `GHSA-bnch-${(i >>> 8).toString(36).padStart(4, '0')}-${(i & 255).toString(36).padStart(4, '0')}`;
    const name = names[Math.floor(rand() * names.length)] as string;
    const a = Math.floor(rand() * (VERSIONS.length - 2));
    const b = a + 1 + Math.floor(rand() * (VERSIONS.length - a - 1));
    const shape = rand();
    const events: Record<string, string>[] = shape < 0.5 ? [{ introduced: '0' }, { fixed: VERSIONS[b] as string }]
      : shape < 0.8 ? [{ introduced: VERSIONS[a] as string }, { fixed: VERSIONS[b] as string }]
        : [{ introduced: VERSIONS[a] as string }, { last_affected: VERSIONS[b] as string }];
    const affected: Record<string, unknown>[] = [{ package: { ecosystem: 'npm', name }, ranges: [{ type: 'SEMVER', events }] }];
    if (rand() < 0.1) affected.push({ package: { ecosystem: 'npm', name }, versions: [VERSIONS[Math.floor(rand() * VERSIONS.length)]] });
    const adv = {
      schema_version: '1.6.0', id, modified: `2024-0${1 + (i % 9)}-1${i % 10}T00:00:00Z`, published: '2023-01-01T00:00:00Z',
      aliases: rand() < 0.7 ? [`CVE-2024-${10000 + i}`] : [], summary: `Synthetic advisory ${i} for ${name}`,
      severity: [{ type: VECTORS[i % VECTORS.length]?.startsWith('CVSS:4') ? 'CVSS_V4' : 'CVSS_V3', score: VECTORS[i % VECTORS.length] }], affected,
    };
    const sub = join(dir, String(i % 100));
    if (i < 100) mkdirSync(sub, { recursive: true });
    writeFileSync(join(sub, `${id}.json`), JSON.stringify(adv));
  }
}

export async function benchMatch(opts: { quick: boolean }): Promise<string[]> {
  const out: string[] = [];
  const base = mkdtempSync(join(tmpdir(), 'ssf-bench-osv-'));
  try {
    const rand = rng(42);
    const names = Array.from({ length: 6000 }, (_, i) => (i % 7 === 0 ? `@scope${i % 50}/pkg-${i}` : `pkg-${i}`));
    const n = 20000;
    writeAdvisories(join(base, 'osv'), n, names, rand);
    const db = VulnDb.open(join(base, 'osv.db'));
    let t0 = process.hrtime.bigint();
    const stats = await db.import(join(base, 'osv'));
    const importMs = Number(process.hrtime.bigint() - t0) / 1e6;
    t0 = process.hrtime.bigint();
    const index = db.load(['npm']);
    const loadMs = Number(process.hrtime.bigint() - t0) / 1e6;
    db.close();
    const components: Component[] = Array.from({ length: 1000 }, (_, i) => {
      const name = names[Math.floor(rand() * names.length)] as string;
      const version = VERSIONS[Math.floor(rand() * VERSIONS.length)] as string;
      const purl = `pkg:npm/${name.replace('@', '%40')}@${version}`;
      return { ref: `${purl}#${i}`, ecosystem: 'npm', name, version, purl, hashes: [], scope: 'required', paths: [`node_modules/${name}`] };
    });
    const sbom: Sbom = { root: { ref: 'root', name: 'fleet-app', version: '1.0.0' }, components, dependencies: [], source: { kind: 'npm-lockfile', digest: 'sha256:' + '0'.repeat(64) }, warnings: [] };
    let findings = 0;
    const times = Array.from({ length: opts.quick ? 5 : 11 }, () => timeMs(() => { findings = index.match(sbom).findings.length; }));
    const first = times[0] ?? NaN;
    out.push(`database: ${stats.added} advisories imported from a directory in ${(importMs / 1000).toFixed(2)} s; load into memory ${loadMs.toFixed(0)} ms`);
    out.push(`match 1,000 components: first ${first.toFixed(1)} ms, median ${median(times.slice(1)).toFixed(1)} ms (goal ≤ 50 ms after load); ${findings} findings`);
  } finally {
    rmSync(base, { recursive: true, force: true });
  }
  return out;
}
