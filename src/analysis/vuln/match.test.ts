import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Finding } from '../model.js';
import { VulnDb, parseAdvisory, type OsvAdvisory } from './index.js';
import { MemoryAdvisoryIndex, mergeAliases, severityOf } from './match.js';
import { OSV_VECTORS, npmComponent, sbomOf } from './testing.js';

const INFO = { digest: `sha256:${'00'.repeat(32)}`, date: '2024-01-01T00:00:00Z', advisories: 0 };

function real(id: string): OsvAdvisory {
  return parseAdvisory(readFileSync(join(OSV_VECTORS, 'advisories', `${id}.json`), 'utf8'));
}

function osv(id: string, extra: Record<string, unknown> = {}, name = 'lodash'): OsvAdvisory {
  return parseAdvisory(
    JSON.stringify({
      id,
      modified: '2024-01-01T00:00:00Z',
      affected: [{ package: { ecosystem: 'npm', name }, ranges: [{ type: 'ECOSYSTEM', events: [{ introduced: '0' }, { fixed: '4.17.21' }] }] }],
      ...extra,
    }),
  );
}

test('severity: the published GHSA vectors, scored here', () => {
  const expected: Record<string, [number, string]> = {
    'GHSA-35jh-r3h4-6jhm': [7.2, 'high'],
    'GHSA-3h5v-q93c-6h6q': [7.5, 'high'],
    'GHSA-9c47-m6qq-7p4h': [7.1, 'high'],
    'GHSA-c2qf-rxjj-qqgw': [5.3, 'medium'],
    'GHSA-p6mc-m468-83gw': [7.4, 'high'],
    'GHSA-p8p7-x288-28g6': [6.1, 'medium'],
    'GHSA-xvch-5gv4-984h': [9.8, 'critical'],
  };
  for (const [id, [score, severity]] of Object.entries(expected)) {
    const a = real(id);
    assert.deepEqual(severityOf(a, [0]), { score, severity, vector: a.severity?.[0]?.score }, id);
  }
});

test('severity: affected-level vectors first, v4 before v3.1 before v3.0, then the database word, then unknown', () => {
  const v31 = { type: 'CVSS_V3', score: 'CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H' }; // 9.8
  const v30 = { type: 'CVSS_V3', score: 'CVSS:3.0/AV:N/AC:L/PR:N/UI:N/S:U/C:L/I:N/A:N' }; // 5.3
  const v4 = { type: 'CVSS_V4', score: 'CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:P/VC:N/VI:N/VA:N/SC:L/SI:L/SA:N' }; // 5.3
  assert.deepEqual(severityOf(osv('A', { severity: [v31, v4] }), [0]), { score: 5.3, severity: 'medium', vector: v4.score });
  assert.deepEqual(severityOf(osv('A', { severity: [v30, v31] }), [0]), { score: 9.8, severity: 'critical', vector: v31.score });
  const entryLevel = osv('A', { severity: [v4] });
  (entryLevel.affected?.[0] as { severity?: unknown }).severity = [v30];
  assert.deepEqual(severityOf(entryLevel, [0]), { score: 5.3, severity: 'medium', vector: v30.score });
  assert.deepEqual(severityOf(osv('A', { severity: [{ type: 'CVSS_V3', score: 'nonsense' }], database_specific: { severity: 'MODERATE' } }), [0]), {
    severity: 'medium',
  });
  assert.deepEqual(severityOf(osv('A', { database_specific: { severity: 'CRITICAL' } }), [0]), { severity: 'critical' });
  assert.deepEqual(severityOf(osv('A', { severity: [{ type: 'Ubuntu', score: 'high' }] }), [0]), { severity: 'unknown' });
  assert.deepEqual(severityOf(osv('A'), [0]), { severity: 'unknown' });
});

test('a GHSA and a CVE record of the same vulnerability give one finding under the GHSA id', () => {
  const ghsa = real('GHSA-35jh-r3h4-6jhm'); // aliases CVE-2021-23337, CVSS 3.1 7.2
  const cve = osv('CVE-2021-23337', {
    aliases: ['GHSA-35jh-r3h4-6jhm', 'SNYK-JS-LODASH-1040724'],
    severity: [{ type: 'CVSS_V3', score: 'CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H' }], // 9.8
    modified: '2024-05-01T00:00:00Z',
    summary: 'from NVD',
  });
  const unrelated = real('GHSA-p6mc-m468-83gw');
  const idx = new MemoryAdvisoryIndex([cve, ghsa, unrelated], INFO);
  const r = idx.match(sbomOf([npmComponent('lodash', '4.17.15')]));
  assert.deepEqual(
    r.findings.map((f) => [f.id, f.aliases, f.severity, f.score]),
    [
      ['GHSA-35jh-r3h4-6jhm', ['CVE-2021-23337', 'SNYK-JS-LODASH-1040724'], 'critical', 9.8],
      ['GHSA-p6mc-m468-83gw', ['CVE-2020-8203'], 'high', 7.4],
    ],
  );
  const merged = r.findings[0] as Finding;
  assert.equal(merged.summary, 'Command Injection in lodash', 'the GHSA record speaks for the group');
  assert.equal(merged.modified, '2024-05-01T00:00:00Z', 'the newest of the group');
  assert.equal(merged.vector, 'CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H');
  assert.deepEqual(merged.fixed, ['4.17.21']);
  assert.equal(merged.vex, undefined);
  // Only the CVE record matches a version the GHSA record does not: no merge, the CVE stands alone.
  const cveOnly = osv('CVE-2021-23337', { aliases: ['GHSA-35jh-r3h4-6jhm'] }, 'lodash');
  (cveOnly.affected?.[0]?.ranges?.[0]?.events as Record<string, string>[])[1] = { fixed: '5.0.0' };
  const r2 = new MemoryAdvisoryIndex([cveOnly, ghsa], INFO).match(sbomOf([npmComponent('lodash', '4.17.21')]));
  assert.deepEqual(r2.findings.map((f) => [f.id, f.aliases]), [['CVE-2021-23337', ['GHSA-35jh-r3h4-6jhm']]]);
});

test('alias groups are transitive; without a GHSA id the smallest non-CVE id leads', () => {
  const base = { component: { ref: 'r', name: 'p', version: '1.0.0', purl: 'pkg:npm/p@1.0.0' }, fixed: [], matchedBy: 'x', modified: '2024-01-01T00:00:00Z' };
  const out = mergeAliases([
    { ...base, id: 'CVE-1', aliases: ['OSV-2'], severity: 'low', score: 2 },
    { ...base, id: 'PYSEC-3', aliases: ['OSV-2'], severity: 'unknown' },
    { ...base, id: 'OSV-2', aliases: [], severity: 'high' },
    { ...base, id: 'CVE-9', aliases: [], severity: 'medium' },
  ]);
  assert.deepEqual(
    out.map((f) => [f.id, f.aliases, f.severity]),
    [
      ['OSV-2', ['CVE-1', 'PYSEC-3'], 'low'], // a computed score beats a word, even a higher word
      ['CVE-9', [], 'medium'],
    ],
  );
});

test('report: findings sorted by (purl, id), db info and SBOM digest carried, warnings for the packages scanned', () => {
  const git = osv('OSV-GIT', {
    affected: [{ package: { ecosystem: 'npm', name: 'ws' }, ranges: [{ type: 'GIT', repo: 'https://example.invalid/ws', events: [{ introduced: '0' }] }] }],
  });
  const elsewhere = osv('OSV-ELSEWHERE', {
    affected: [{ package: { ecosystem: 'npm', name: 'not-in-sbom' }, ranges: [{ type: 'WEIRD', events: [{ introduced: '0' }] }] }],
  });
  const withdrawn = osv('GHSA-0000-0000-0000', { withdrawn: '2024-01-02T00:00:00Z' });
  const advisories = ['GHSA-35jh-r3h4-6jhm', 'GHSA-3h5v-q93c-6h6q', 'GHSA-9c47-m6qq-7p4h', 'GHSA-c2qf-rxjj-qqgw', 'GHSA-p6mc-m468-83gw', 'GHSA-p8p7-x288-28g6', 'GHSA-xvch-5gv4-984h'].map(real);
  const idx = new MemoryAdvisoryIndex([...advisories, git, elsewhere, withdrawn], INFO);
  assert.equal(idx.size, 9, 'the withdrawn record is not loaded');
  const sbom = sbomOf([
    npmComponent('ws', '7.5.9'),
    npmComponent('semver', '7.5.2'), // fixed
    npmComponent('minimist', '1.2.5'),
    npmComponent('@cypress/request', '2.88.11'),
    npmComponent('lodash', '4.17.20'),
    npmComponent('json5', 'not.a.version'),
    npmComponent('left-pad', '1.3.0'), // no advisories
  ]);
  const r = idx.match(sbom);
  assert.deepEqual(r.db, INFO);
  assert.equal(r.sbom, sbom.source.digest);
  assert.deepEqual(
    r.findings.map((f) => [f.component.purl, f.id, f.matchedBy, f.fixed]),
    [
      ['pkg:npm/%40cypress/request@2.88.11', 'GHSA-p8p7-x288-28g6', 'ECOSYSTEM range: introduced 0, last_affected 2.88.11', []],
      ['pkg:npm/lodash@4.17.20', 'GHSA-35jh-r3h4-6jhm', 'ECOSYSTEM range: introduced 0, fixed 4.17.21', ['4.17.21']],
      ['pkg:npm/minimist@1.2.5', 'GHSA-xvch-5gv4-984h', 'ECOSYSTEM range: introduced 1.0.0, fixed 1.2.6', ['1.2.6']],
      ['pkg:npm/ws@7.5.9', 'GHSA-3h5v-q93c-6h6q', 'ECOSYSTEM range: introduced 7.0.0, fixed 7.5.10', ['7.5.10']],
    ],
  );
  const ws = r.findings[3] as Finding;
  assert.deepEqual(
    { aliases: ws.aliases, severity: ws.severity, score: ws.score, published: ws.published, modified: ws.modified, summary: ws.summary },
    {
      aliases: ['CVE-2024-37890'],
      severity: 'high',
      score: 7.5,
      published: '2024-06-17T19:09:10Z',
      modified: '2024-06-17T19:09:12Z',
      summary: 'ws affected by a DoS when handling a request with many HTTP headers',
    },
  );
  assert.deepEqual(r.warnings, [
    'OSV-GIT: GIT ranges name commits, not package versions; skipped',
    'pkg:npm/json5@not.a.version: version "not.a.version" is not SemVer 2.0; only explicit versions lists were checked',
  ]);
});

test('matching through the database: load(), then match many SBOMs', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'ssf-vuln-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const db = VulnDb.open(join(dir, 'osv.db'));
  t.after(() => db.close());
  await db.import(join(OSV_VECTORS, 'advisories'));
  const cve = join(dir, 'cve.json');
  writeFileSync(
    cve,
    JSON.stringify({
      id: 'CVE-2021-44906',
      modified: '2022-01-01T00:00:00Z',
      aliases: ['GHSA-xvch-5gv4-984h'],
      affected: [{ package: { ecosystem: 'npm', name: 'minimist' }, ranges: [{ type: 'SEMVER', events: [{ introduced: '0' }, { fixed: '1.2.6' }] }] }],
    }),
  );
  await db.import(cve);
  const idx = db.load(['npm']);
  const one = idx.match(sbomOf([npmComponent('minimist', '1.2.5')]));
  assert.deepEqual(one.findings.map((f) => [f.id, f.aliases]), [['GHSA-xvch-5gv4-984h', ['CVE-2021-44906']]]);
  // 0.9.0 is outside the GHSA ranges but inside the CVE record's: the CVE record reports it.
  const two = idx.match(sbomOf([npmComponent('minimist', '0.9.0')]));
  assert.deepEqual(two.findings.map((f) => [f.id, f.aliases]), [['CVE-2021-44906', ['GHSA-xvch-5gv4-984h']]]);
  assert.deepEqual(one.db, db.info());
});

test('PyPI names match as PyPI compares them: any case, and -, _ and . alike (OSV writes Django, a purl django)', () => {
  const adv = parseAdvisory(JSON.stringify({
    id: 'PYSEC-0000-1', modified: '2024-01-01T00:00:00Z',
    affected: [
      { package: { ecosystem: 'PyPI', name: 'Django' }, ranges: [{ type: 'SEMVER', events: [{ introduced: '0' }, { fixed: '4.2.1' }] }] },
      { package: { ecosystem: 'PyPI', name: 'zope.interface' }, versions: ['5.0.0'] },
    ],
  }));
  const py = (name: string, version: string): ReturnType<typeof npmComponent> => ({ ...npmComponent(name, version), ecosystem: 'PyPI', purl: `pkg:pypi/${name}@${version}`, ref: `pkg:pypi/${name}@${version}` });
  const r = new MemoryAdvisoryIndex([adv], INFO).match(sbomOf([py('django', '4.2.0'), py('Django', '4.2.1'), py('zope-interface', '5.0.0'), py('zope_interface', '5.0.1')]));
  assert.deepEqual(r.findings.map((x) => x.component.purl).sort(), ['pkg:pypi/django@4.2.0', 'pkg:pypi/zope-interface@5.0.0']);
  // npm names stay exact: another case is another package.
  const n = new MemoryAdvisoryIndex([osv('GHSA-x', {}, 'lodash')], INFO).match(sbomOf([npmComponent('Lodash', '4.17.20')]));
  assert.deepEqual(n.findings, []);
});

test('an SBOM of Python packages matches PyPI ECOSYSTEM ranges in PEP 440 order; a version PEP 440 cannot read is named in a warning', () => {
  const adv = parseAdvisory(JSON.stringify({
    id: 'PYSEC-0000-2', modified: '2024-01-01T00:00:00Z',
    affected: [{ package: { ecosystem: 'PyPI', name: 'requests' }, ranges: [{ type: 'ECOSYSTEM', events: [{ introduced: '2.3' }, { fixed: '2.32.0' }] }] }],
  }));
  const py = (name: string, version: string): ReturnType<typeof npmComponent> => ({ ...npmComponent(name, version), ecosystem: 'PyPI', purl: `pkg:pypi/${name}@${version}`, ref: `pkg:pypi/${name}@${version}` });
  // 2.31 and 2.32.0rc1 are not SemVer; 2.4.post1 is PEP 440 only too.
  const r = new MemoryAdvisoryIndex([adv], INFO).match(sbomOf([py('requests', '2.31'), py('requests', '2.32.0rc1'), py('requests', '2.4.post1'), py('requests', '2.32.0'), py('requests', '2.2.1'), py('requests', 'head')]));
  assert.deepEqual(r.findings.map((x) => x.component.purl).sort(), ['pkg:pypi/requests@2.31', 'pkg:pypi/requests@2.32.0rc1', 'pkg:pypi/requests@2.4.post1']);
  assert.deepEqual(r.findings.map((x) => x.fixed), [['2.32.0'], ['2.32.0'], ['2.32.0']]);
  assert.ok(r.warnings.includes('pkg:pypi/requests@head: version "head" is not PEP 440; only explicit versions lists were checked'), r.warnings.join('\n'));
  assert.ok(!r.warnings.some((w) => w.includes('2.31')), r.warnings.join('\n'));
});

test('a range in another ordering than the component\'s that cannot read its version is named in a warning, not skipped silently', () => {
  const adv = parseAdvisory(JSON.stringify({
    id: 'PYSEC-0000-3', modified: '2024-01-01T00:00:00Z',
    affected: [{ package: { ecosystem: 'PyPI', name: 'flask' }, ranges: [{ type: 'SEMVER', events: [{ introduced: '0' }, { fixed: '3.0.0' }] }] }],
  }));
  const c = { ...npmComponent('flask', '2.0'), ecosystem: 'PyPI', purl: 'pkg:pypi/flask@2.0', ref: 'pkg:pypi/flask@2.0' };
  const r = new MemoryAdvisoryIndex([adv], INFO).match(sbomOf([c]));
  assert.deepEqual(r.findings, []);
  assert.ok(r.warnings.includes('pkg:pypi/flask@2.0: version "2.0" is not SemVer 2.0; PYSEC-0000-3\'s SEMVER range was skipped for it'), r.warnings.join('\n'));
});
