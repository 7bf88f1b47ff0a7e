/**
 * The knowledge graph over real evidence: SBOMs, scans and provenance made by ssf's own
 * analysis and attest code, signed into a real factory (the graph is written in the same
 * transaction as each statement), then queried; rescans against a real OSV database.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { systemClock } from '../core/index.js';
import { testBackends } from '../store/testing.js';
import { Factory, initFactory } from '../factory/index.js';
import { SLSA_PROVENANCE_V1, makeProvenance, makeStatement } from '../attest/index.js';
import { PREDICATE, SCANNER, VulnDb, readLockfile, toCycloneDx, vulnsPredicate, type Sbom } from '../analysis/index.js';
import { decideDeploy, recordDeployment } from '../admission/index.js';
import { loadBuiltinPolicy } from '../policy/index.js';
import { rescan } from '../operate/index.js';
import { GraphQueries, rebuildGraph } from './index.js';

const TD = 'graph.test.internal';
const PASS = 'graph test passphrase';
const root = fileURLToPath(new URL('../../../', import.meta.url));
let tmp: string;
let f: Factory;
let q: GraphQueries;
const A = `sha256:${'a1'.repeat(32)}`;
const B = `sha256:${'b2'.repeat(32)}`;
let sbomA: Sbom;
let sbomB: Sbom;
let provenanceLog = -1;

function osv(id: string, name: string, fixed: string, modified: string, aliases: string[] = [], severity = 'HIGH'): string {
  return JSON.stringify({ schema_version: '1.6.0', id, modified, published: modified, aliases, summary: `${id} in ${name}`,
    affected: [{ package: { ecosystem: 'npm', name }, ranges: [{ type: 'SEMVER', events: [{ introduced: '0' }, { fixed }] }] }],
    database_specific: { severity } });
}

async function sign(statement: ReturnType<typeof makeStatement>, path: string[]): Promise<number> {
  const identity = await f.issueIdentity(path);
  const [r] = f.attest([{ statement, identity }]);
  return r?.logIndex ?? -1;
}

for (const backend of testBackends()) describe(backend.name, { skip: backend.skip }, () => {
  before(async () => {
    tmp = mkdtempSync(join(tmpdir(), 'ssf-graph-'));
    await initFactory({ dir: join(tmp, '.ssf'), trustDomain: TD, clock: systemClock, passphrase: PASS, ...(backend.name === 'postgres' ? { store: backend.location() } : {}) });
    f = Factory.open(join(tmp, '.ssf'));
    q = new GraphQueries(f.db);
    sbomA = readLockfile(join(root, 'src/analysis/lockfile/testdata/npm-small/package-lock-v3.json'));
    // B: the same project with chalk upgraded and ms (top level) removed.
    sbomB = { ...sbomA, components: sbomA.components.filter((c) => c.purl !== 'pkg:npm/ms@2.1.3').map((c) => (c.name === 'chalk' ? { ...c, version: '4.1.2', purl: 'pkg:npm/chalk@4.1.2', ref: 'pkg:npm/chalk@4.1.2' } : c)) };
    sbomB = { ...sbomB, dependencies: sbomB.dependencies.map((d) => ({ ref: d.ref === 'pkg:npm/chalk@2.4.2' ? 'pkg:npm/chalk@4.1.2' : d.ref, dependsOn: d.dependsOn.filter((x) => x !== 'pkg:npm/ms@2.1.3').map((x) => (x === 'pkg:npm/chalk@2.4.2' ? 'pkg:npm/chalk@4.1.2' : x)) })).filter((d) => d.ref !== 'pkg:npm/ms@2.1.3') };
    const run = '20261202-000000-abcdef';
    const sbomTask = ['run', run, 'task', 'sbom', 'node', 'n1'];
    await sign(makeStatement([{ name: 'a.tgz', digest: { sha256: A.slice(7) } }], PREDICATE.cyclonedx, toCycloneDx(sbomA)), sbomTask);
    await sign(makeStatement([{ name: 'b.tgz', digest: { sha256: B.slice(7) } }], PREDICATE.cyclonedx, toCycloneDx(sbomB)), ['run', '20261202-000001-bbbbbb', 'task', 'sbom', 'node', 'n1']);
    await sign(makeStatement([{ name: 'workspace/out', digest: { sha256: 'cd'.repeat(32) } }], 'https://in-toto.io/attestation/link/v0.3', { name: 'sbom', command: [], materials: [], byproducts: {}, environment: {} }), sbomTask);
    const prov = makeProvenance({
      buildType: 'https://ssf.invalid/buildtypes/pipeline/v1',
      externalParameters: { pipeline: { name: 'small', uri: 'file:///p.yaml', digest: { sha256: 'ef'.repeat(32) } } },
      resolvedDependencies: [
        { name: 'source', uri: 'git+file:///src/small', digest: { sha256: '12'.repeat(32), gitCommit: '3'.repeat(40) } },
        { name: 'node_modules/ms', uri: 'pkg:npm/ms@2.1.3', digest: { sha512: 'ab'.repeat(64) } },
      ],
      builderId: `spiffe://${TD}/factory/builder`, invocationId: run,
    });
    provenanceLog = await sign(makeStatement([{ name: 'a.tgz', digest: { sha256: A.slice(7) } }], SLSA_PROVENANCE_V1, prov), ['factory', 'builder']);
    await recordDeployment(f, { cluster: 'prod-eu', namespace: 'shop', kind: 'Deployment', name: 'small', digest: A, image: `registry.example/small@${A}` });
    await recordDeployment(f, { cluster: 'prod-eu', namespace: 'shop', kind: 'Deployment', name: 'small-next', digest: B });
  });

  after(() => {
    f.close();
    rmSync(tmp, { recursive: true, force: true });
  });

  test('provenance of a digest: run, pipeline, tasks and their identities, source, materials, deployments; each with its log index', () => {
    const t = q.provenance(A);
    assert.equal(t.runs.length, 1);
    assert.equal(t.runs[0]?.id, '20261202-000000-abcdef');
    assert.equal(t.runs[0]?.pipeline?.name, 'small');
    assert.equal(t.runs[0]?.evidence.logIndex, provenanceLog);
    assert.deepEqual(t.runs[0]?.tasks.map((x) => [x.name, x.identity]), [['sbom', `spiffe://${TD}/run/20261202-000000-abcdef/task/sbom/node/n1`]]);
    assert.deepEqual(t.sources.map((s) => s.uri), [`git+file:///src/small@${'3'.repeat(40)}`]);
    assert.deepEqual(t.materials.map((m) => m.purl), ['pkg:npm/ms@2.1.3']);
    assert.deepEqual(t.deployments.map((d) => d.deployment), ['prod-eu/shop/Deployment/small']);
    assert.ok(t.attestations.some((x) => x.predicateType === PREDICATE.cyclonedx && x.signer?.includes('/task/sbom/')));
    assert.throws(() => q.provenance(`sha256:${'0'.repeat(64)}`), { code: 'ARTIFACT_NOT_FOUND' });
  });

  test('blast radius: any version, an exact version and a semver range; deployments reached', () => {
    const any = q.blastRadius('pkg:npm/ms');
    assert.deepEqual(any.components.map((c) => c.purl).sort(), ['pkg:npm/ms@2.0.0', 'pkg:npm/ms@2.1.3']);
    assert.deepEqual(any.artifacts.map((x) => x.digest), [A, B]);
    assert.deepEqual(any.deployments.map((d) => d.deployment).sort(), ['prod-eu/shop/Deployment/small', 'prod-eu/shop/Deployment/small-next']);
    const exact = q.blastRadius('pkg:npm/ms@2.1.3');
    assert.deepEqual(exact.artifacts.map((x) => x.digest), [A]);
    const chalkOld = q.blastRadius('pkg:npm/chalk', '<3');
    assert.deepEqual(chalkOld.artifacts.map((x) => x.digest), [A]);
    assert.throws(() => q.blastRadius('lodash'), { code: 'USAGE' });
    assert.throws(() => q.blastRadius('pkg:npm/ms', 'not a range'), { code: 'USAGE' });
  });

  test('every depends-on edge joins two components its own statement contains, so blast radius needs no walk along them', () => {
    const n = (sql: string): number => Number((f.db.prepare(sql).get() as { n: number }).n);
    assert.ok(n('SELECT COUNT(*) AS n FROM g_dep') > 0);
    assert.equal(n("SELECT COUNT(*) AS n FROM g_edge WHERE verb = 'depends-on'"), 0, 'depends-on edges are kept in g_dep');
    for (const end of ['src', 'dst']) {
      assert.equal(n(`SELECT COUNT(*) AS n FROM g_dep d WHERE
        NOT EXISTS (SELECT 1 FROM g_edge c WHERE c.verb = 'contains' AND c.dst = d.${end} AND c.log_index = d.log_index)`), 0, `a depends-on ${end} without a contains edge of the same statement`);
    }
    // ms@2.0.0 is only a transitive dependency (under debug) in both SBOMs
    const nested = q.blastRadius('pkg:npm/ms@2.0.0');
    assert.deepEqual(nested.artifacts.map((x) => [x.digest, x.via, x.how]), [[A, ['pkg:npm/ms@2.0.0'], 'contains'], [B, ['pkg:npm/ms@2.0.0'], 'contains']]);
  });

  test('diff of two SBOMs: changed and removed components', () => {
    const d = q.diff(A, B);
    // ms@2.1.3 went and ms@2.0.0 (nested under debug) stayed: the package's versions changed
    assert.deepEqual(d.changed, [{ name: 'pkg:npm/chalk', from: '2.4.2', to: '4.1.2' }, { name: 'pkg:npm/ms', from: '2.0.0,2.1.3', to: '2.0.0' }]);
    assert.deepEqual(d.added, []);
    assert.deepEqual(d.removed, []);
    const back = q.diff(B, A);
    assert.deepEqual(back.changed.map((c) => c.name), ['pkg:npm/chalk', 'pkg:npm/ms']);
  });

  test('rescan: findings from a real OSV database become signed scans; affected follows aliases and respects VEX; incremental on a new advisory', async () => {
    const adv = join(tmp, 'adv');
    writeFileSync(`${adv}-1.json`, osv('GHSA-test-ms00-0001', 'ms', '2.1.0', '2026-11-01T00:00:00Z', ['CVE-2026-1111']));
    const vdb = VulnDb.open(f.layout.vulnDb);
    await vdb.import(`${adv}-1.json`);
    vdb.close();
    const first = await rescan(f);
    assert.equal(first.full, true);
    // ms@2.0.0 (under debug) is affected, in both artifacts
    assert.deepEqual(first.newFindings.map((x) => [x.artifact, x.vulnerability, x.purl]).sort(), [[A, 'GHSA-test-ms00-0001', 'pkg:npm/ms@2.0.0'], [B, 'GHSA-test-ms00-0001', 'pkg:npm/ms@2.0.0']]);
    assert.equal(first.statementsSigned, 2);
    assert.deepEqual(first.atRisk.map((x) => x.deployment).sort(), ['prod-eu/shop/Deployment/small', 'prod-eu/shop/Deployment/small-next']);
    // by alias, as the CVE
    const byCve = q.affected('CVE-2026-1111');
    assert.deepEqual(byCve.artifacts.map((x) => x.digest).sort(), [A, B]);
    // a VEX statement about B, naming it as OpenVEX examples do (a pkg:oci purl): not affected
    await sign(makeStatement([{ name: 'vex', digest: { sha256: 'fe'.repeat(32) } }], PREDICATE.openvex, {
      '@context': 'https://openvex.dev/ns/v0.2.0', '@id': 'urn:x', author: 'test', timestamp: '2026-12-01T00:00:00Z', version: 1, expires: new Date(Date.now() + 86_400_000).toISOString(),
      statements: [{ vulnerability: { name: 'GHSA-test-ms00-0001' }, products: [{ '@id': `pkg:oci/small@${B.replace(':', '%3A')}?repository_url=registry.example/shop` }], status: 'not_affected', justification: 'vulnerable_code_not_in_execute_path' }],
    }), ['evidence', 'vex']);
    const withVex = q.affected('GHSA-test-ms00-0001');
    assert.deepEqual(withVex.artifacts.map((x) => x.digest), [A]);
    assert.deepEqual(withVex.suppressed.map((x) => x.digest), [B]);
    assert.deepEqual(withVex.deployments.map((d) => d.deployment), ['prod-eu/shop/Deployment/small']);
    // The deploy gate reads the newest state: the rescan's finding denies A at a high threshold;
    // B is allowed, its finding suppressed by the VEX signed after the scan.
    const threshold = { ...loadBuiltinPolicy('deploy-vulnerability-threshold'), overrides: { threshold: 'high' } };
    const gateA = await decideDeploy(f, [threshold], A, { dryRun: true });
    assert.equal(gateA.decision.allowed, false);
    assert.match(JSON.stringify(gateA.decision.policies[0]?.rules), /GHSA-test-ms00-0001 \(high\) in pkg:npm\/ms@2\.0\.0/);
    const gateB = await decideDeploy(f, [threshold], B, { dryRun: true });
    assert.equal(gateB.decision.allowed, true, JSON.stringify(gateB.decision.policies[0]?.rules));
    // nothing changed: an incremental rescan evaluates nothing
    const idle = await rescan(f);
    assert.equal(idle.full, false);
    assert.equal(idle.advisoriesChanged, 0);
    assert.equal(idle.artifactsEvaluated, 0);
    // a new advisory for chalk < 3: only artifacts containing chalk are evaluated, only A is affected
    writeFileSync(`${adv}-2.json`, osv('GHSA-test-chlk-0002', 'chalk', '3.0.0', '2026-11-20T00:00:00Z', [], 'CRITICAL'));
    const vdb2 = VulnDb.open(f.layout.vulnDb);
    await vdb2.import(`${adv}-2.json`);
    vdb2.close();
    const next = await rescan(f);
    assert.equal(next.advisoriesChanged, 1);
    assert.equal(next.artifactsEvaluated, 2);
    assert.deepEqual(next.newFindings.map((x) => [x.artifact, x.vulnerability]), [[A, 'GHSA-test-chlk-0002']]);
    assert.deepEqual(q.affected('GHSA-test-chlk-0002').artifacts.map((x) => x.digest), [A]);
    // the first advisory is still open for A in its newest scan
    assert.deepEqual(q.affected('GHSA-test-ms00-0001').artifacts.map((x) => x.digest), [A]);
    // the advisory is withdrawn/fixed: a changed record resolves the finding
    writeFileSync(`${adv}-3.json`, osv('GHSA-test-chlk-0002', 'chalk', '0.0.1', '2026-11-25T00:00:00Z', [], 'CRITICAL'));
    const vdb3 = VulnDb.open(f.layout.vulnDb);
    await vdb3.import(`${adv}-3.json`);
    vdb3.close();
    const resolved = await rescan(f);
    assert.deepEqual(resolved.resolvedFindings.map((x) => [x.artifact, x.vulnerability]), [[A, 'GHSA-test-chlk-0002']]);
    assert.deepEqual(q.affected('GHSA-test-chlk-0002').artifacts, []);
    // A VEX about the package in every artifact, naming the CVE alias in lower case (as authors
    // write it): both artifacts are answered for, by the id and by its alias.
    const vexLog = await sign(makeStatement([{ name: 'vex-ms', digest: { sha256: 'fd'.repeat(32) } }], PREDICATE.openvex, {
      '@context': 'https://openvex.dev/ns/v0.2.0', '@id': 'urn:y', author: 'test', timestamp: '2026-12-02T00:00:00Z', version: 1, expires: new Date(Date.now() + 86_400_000).toISOString(),
      statements: [{ vulnerability: { name: 'cve-2026-1111' }, products: [{ '@id': 'pkg:npm/ms@2.0.0' }], status: 'not_affected', justification: 'vulnerable_code_not_present' }],
    }), ['evidence', 'vex']);
    for (const id of ['GHSA-test-ms00-0001', 'CVE-2026-1111']) {
      const all = q.affected(id);
      assert.deepEqual(all.artifacts, [], id);
      assert.deepEqual(all.deployments, [], id);
      assert.deepEqual(all.suppressed.map((x) => [x.digest, x.logIndex]).sort(), [[A, vexLog], [B, vexLog]], id);
    }
  });

  test('rescan matches components of other ecosystems too: a Go module (SEMVER range, v-prefixed version), a Maven artifact (versions list), a Python package (ECOSYSTEM range in PEP 440 order)', async () => {
    const C = `sha256:${'c3'.repeat(32)}`;
    const comp = (ecosystem: string, name: string, version: string, purl: string): Sbom['components'][number] => ({ ref: purl, ecosystem, name, version, purl, hashes: [], scope: 'required', paths: [] });
    const sbomC: Sbom = { ...sbomA, components: [
      comp('Go', 'github.com/acme/lib', 'v1.2.0', 'pkg:golang/github.com/acme/lib@v1.2.0'),
      comp('Maven', 'org.acme:parser', '2.0.1', 'pkg:maven/org.acme/parser@2.0.1'),
      comp('Go', 'github.com/acme/safe', 'v1.0.0', 'pkg:golang/github.com/acme/safe@v1.0.0'),
      comp('PyPI', 'django', '4.2rc1', 'pkg:pypi/django@4.2rc1'),
      comp('PyPI', 'requests', '2.31', 'pkg:pypi/requests@2.31'),
      comp('PyPI', 'zope-interface', '5.0.0', 'pkg:pypi/zope-interface@5.0.0'),
    ], dependencies: [] };
    await sign(makeStatement([{ name: 'c.tar', digest: { sha256: C.slice(7) } }], PREDICATE.cyclonedx, toCycloneDx(sbomC)), ['run', '20261202-000002-cccccc', 'task', 'sbom', 'node', 'n1']);
    const adv = join(tmp, 'adv-eco');
    writeFileSync(`${adv}-go.json`, JSON.stringify({ schema_version: '1.6.0', id: 'GO-2026-0001', modified: '2026-11-30T00:00:00Z', summary: 'lib',
      affected: [{ package: { ecosystem: 'Go', name: 'github.com/acme/lib' }, ranges: [{ type: 'SEMVER', events: [{ introduced: '0' }, { fixed: '1.3.0' }] }] },
        { package: { ecosystem: 'Go', name: 'github.com/acme/safe' }, ranges: [{ type: 'SEMVER', events: [{ introduced: '0' }, { fixed: '0.9.0' }] }] }] }));
    writeFileSync(`${adv}-mvn.json`, JSON.stringify({ schema_version: '1.6.0', id: 'GHSA-test-mvn0-0001', modified: '2026-11-30T00:00:00Z', summary: 'parser',
      affected: [{ package: { ecosystem: 'Maven', name: 'org.acme:parser' }, versions: ['2.0.0', '2.0.1'] }] }));
    // PEP 440: 4.2rc1 is below 4.2 (not affected); 2.31 is between 2.3 and 2.32.0 (affected).
    writeFileSync(`${adv}-py.json`, JSON.stringify({ schema_version: '1.6.0', id: 'PYSEC-2026-0001', modified: '2026-11-30T00:00:00Z', summary: 'py',
      affected: [{ package: { ecosystem: 'PyPI', name: 'Django' }, ranges: [{ type: 'ECOSYSTEM', events: [{ introduced: '4.2' }, { fixed: '4.2.16' }] }] },
        { package: { ecosystem: 'PyPI', name: 'requests' }, ranges: [{ type: 'ECOSYSTEM', events: [{ introduced: '2.3' }, { fixed: '2.32.0' }] }] }] }));
    const vdb = VulnDb.open(f.layout.vulnDb);
    await vdb.import(`${adv}-go.json`);
    await vdb.import(`${adv}-mvn.json`);
    await vdb.import(`${adv}-py.json`);
    vdb.close();
    // Incremental: the three new advisories reach C only, through its components' names.
    const r = await rescan(f);
    assert.equal(r.full, false);
    assert.equal(r.artifactsEvaluated, 1);
    assert.deepEqual(r.newFindings.map((x) => [x.artifact, x.vulnerability, x.purl]).sort(), [
      [C, 'GHSA-test-mvn0-0001', 'pkg:maven/org.acme/parser@2.0.1'],
      [C, 'GO-2026-0001', 'pkg:golang/github.com/acme/lib@v1.2.0'],
      [C, 'PYSEC-2026-0001', 'pkg:pypi/requests@2.31'],
    ]);
    assert.deepEqual(q.affected('GO-2026-0001').artifacts.map((x) => [x.digest, x.purls]), [[C, ['pkg:golang/github.com/acme/lib@v1.2.0']]]);
    // An advisory naming the package as its project spells it (zope.interface) picks, in an
    // incremental rescan, the SBOM that names it in PEP 503 form (zope-interface).
    writeFileSync(`${adv}-zope.json`, JSON.stringify({ schema_version: '1.6.0', id: 'PYSEC-2026-0002', modified: '2026-12-01T00:00:00Z', summary: 'zope',
      affected: [{ package: { ecosystem: 'PyPI', name: 'zope.interface' }, ranges: [{ type: 'ECOSYSTEM', events: [{ introduced: '0' }, { fixed: '5.0.1' }] }] }] }));
    const vdb2 = VulnDb.open(f.layout.vulnDb);
    await vdb2.import(`${adv}-zope.json`);
    vdb2.close();
    const z = await rescan(f);
    assert.equal(z.full, false);
    assert.equal(z.artifactsEvaluated, 1);
    assert.deepEqual(z.newFindings.map((x) => [x.artifact, x.vulnerability, x.purl]), [[C, 'PYSEC-2026-0002', 'pkg:pypi/zope-interface@5.0.0']]);
    // An advisory new to the database but modified long before its newest record (a second
    // source imported later) is a change for the next incremental rescan all the same.
    writeFileSync(`${adv}-old.json`, JSON.stringify({ schema_version: '1.6.0', id: 'PYSEC-2019-0001', modified: '2019-06-01T00:00:00Z', summary: 'old',
      affected: [{ package: { ecosystem: 'PyPI', name: 'Django' }, versions: ['4.2rc1'] }] }));
    const vdb3 = VulnDb.open(f.layout.vulnDb);
    await vdb3.import(`${adv}-old.json`);
    vdb3.close();
    const old = await rescan(f);
    assert.equal(old.full, false);
    assert.deepEqual(old.newFindings.map((x) => [x.artifact, x.vulnerability, x.purl]), [[C, 'PYSEC-2019-0001', 'pkg:pypi/django@4.2rc1']]);
    // Another database file in its place (import numbers start over): the next rescan is full.
    const { renameSync } = await import('node:fs');
    renameSync(f.layout.vulnDb, `${f.layout.vulnDb}.kept`);
    for (const x of ['-wal', '-shm']) rmSync(`${f.layout.vulnDb}${x}`, { force: true });
    try {
      const fresh = VulnDb.open(f.layout.vulnDb);
      await fresh.import(`${adv}-old.json`);
      fresh.close();
      assert.equal((await rescan(f)).full, true);
    } finally {
      for (const x of ['', '-wal', '-shm']) rmSync(`${f.layout.vulnDb}${x}`, { force: true });
      renameSync(`${f.layout.vulnDb}.kept`, f.layout.vulnDb);
    }
    // The file back (its own id again), but a watermark ahead of its numbers, as after
    // restoring a backup: full again, never a gap.
    const back = VulnDb.open(f.layout.vulnDb);
    const id = back.databaseId();
    back.close();
    f.graph.setState('rescan.changes-through', `${id}:999`);
    assert.equal((await rescan(f)).full, true);
    f.graph.setState('rescan.changes-through', `${id}:not-a-number`);
    assert.equal((await rescan(f)).full, true);
    assert.equal((await rescan(f)).full, false);
  });

  test('affected merges the findings recorded under an id and under its alias: one answer per artifact, in digest order, with both packages and the higher severity', async () => {
    // Two databases' records of one vulnerability, each naming the other as an alias: the
    // GHSA on ms (in A and B), the CVE on chalk (in A only). A's scan records A under both ids.
    const adv = join(tmp, 'adv-merge');
    writeFileSync(`${adv}-ghsa.json`, osv('GHSA-test-mrg0-0001', 'ms', '2.1.0', '2026-12-01T00:00:00Z', ['CVE-2026-2222'], 'HIGH'));
    writeFileSync(`${adv}-cve.json`, osv('CVE-2026-2222', 'chalk', '3.0.0', '2026-12-01T00:00:00Z', ['GHSA-test-mrg0-0001'], 'CRITICAL'));
    const vdb = VulnDb.open(f.layout.vulnDb);
    await vdb.import(`${adv}-ghsa.json`);
    await vdb.import(`${adv}-cve.json`);
    vdb.close();
    await rescan(f);
    for (const id of ['GHSA-test-mrg0-0001', 'CVE-2026-2222']) {
      const r = q.affected(id);
      assert.deepEqual(r.artifacts.map((x) => x.digest), [A, B].sort(), id);
      const a = r.artifacts.find((x) => x.digest === A);
      const b = r.artifacts.find((x) => x.digest === B);
      assert.deepEqual(a?.purls, ['pkg:npm/chalk@2.4.2', 'pkg:npm/ms@2.0.0'], id);
      assert.equal(a?.severity, 'critical', id);
      assert.deepEqual(b?.purls, ['pkg:npm/ms@2.0.0'], id);
      assert.equal(b?.severity, 'high', id);
      assert.deepEqual(r.deployments.map((d) => [d.artifact, d.deployment]).sort(), [[A, 'prod-eu/shop/Deployment/small'], [B, 'prod-eu/shop/Deployment/small-next']].sort(), id);
    }
  });

  test('signed-by: everything an identity signed in a window; revoking it marks those edges', async () => {
    const builder = `spiffe://${TD}/factory/builder`;
    const all = q.signedBy(builder, new Date(0), new Date(Date.now() + 60_000));
    assert.ok(all.attestations.some((x) => x.logIndex === provenanceLog && x.subjects.includes(A)));
    assert.equal(q.signedBy(builder, new Date(0), new Date(1000)).attestations.length, 0);
    const glob = q.signedBy(`spiffe://${TD}/run/*/task/sbom/*`, new Date(0), new Date(Date.now() + 60_000));
    assert.ok(glob.attestations.length >= 3);
    const n = f.revoke(f.loadRootKey(PASS), { kind: 'identity', value: builder, reason: 'keyCompromise' });
    assert.ok(n.entries.length > 0);
    const after = q.signedBy(builder, new Date(0), new Date(Date.now() + 60_000));
    assert.ok(after.attestations.every((x) => x.revoked === true));
    // the revoked provenance's material edge no longer counts in the blast radius
    const r = q.blastRadius('pkg:npm/ms@2.1.3');
    assert.ok(r.artifacts.every((x) => x.how === 'contains'));
  });

  test('a removal record ends a deployment for that digest until it is deployed again', async () => {
    const next = 'prod-eu/shop/Deployment/small-next';
    const deployed = (): string[] => q.blastRadius('pkg:npm/ms@2.0.0').deployments.map((d) => d.deployment).sort();
    assert.deepEqual(deployed(), ['prod-eu/shop/Deployment/small', next]);
    // A removal (or deployment) statement signed by anyone but the deployment identities counts for nothing.
    const forged = (removed: boolean, name: string): ReturnType<typeof makeStatement> => makeStatement([{ name: 'b', digest: { sha256: B.slice(7) } }], 'https://ssf.invalid/attestations/deployment/v1',
      { deployment: { cluster: 'prod-eu', namespace: 'shop', kind: 'Deployment', name }, ...(removed ? { removed: true } : {}), recordedAt: '2026-12-02T00:00:00Z' });
    await sign(forged(true, 'small-next'), ['cli', 'attest']);
    await sign(forged(false, 'forged'), ['cli', 'attest']);
    assert.deepEqual(deployed(), ['prod-eu/shop/Deployment/small', next]);
    const removal = await recordDeployment(f, { cluster: 'prod-eu', namespace: 'shop', kind: 'Deployment', name: 'small-next', digest: B }, { removed: true });
    assert.deepEqual(deployed(), ['prod-eu/shop/Deployment/small']);
    assert.deepEqual(q.provenance(B).deployments, []);
    // the removal is evidence like any other: signed, logged, in the graph with its log index
    const edge = f.db.prepare("SELECT e.log_index FROM g_edge e JOIN g_node d ON d.id = e.dst WHERE e.verb = 'removed-from' AND d.key = ? ORDER BY e.log_index DESC").get(next) as { log_index: number };
    assert.equal(Number(edge.log_index), removal.logIndex);
    // deployed again: counts again (the newest record wins)
    const again = await recordDeployment(f, { cluster: 'prod-eu', namespace: 'shop', kind: 'Deployment', name: 'small-next', digest: B });
    assert.deepEqual(deployed(), ['prod-eu/shop/Deployment/small', next]);
    assert.deepEqual(q.provenance(B).deployments.map((d) => [d.deployment, d.logIndex]), [[next, again.logIndex]]);
  });

  test('diff compares each artifact\'s newest SBOM, not the union of every SBOM about it', async () => {
    const before = q.diff(A, B);
    assert.deepEqual(before.changed.map((c) => c.name), ['pkg:npm/chalk', 'pkg:npm/ms']);
    // A second SBOM about A (the same bytes rebuilt from B's lockfile, say): A's newest now lists what B's does.
    const log = await sign(makeStatement([{ name: 'a.tgz', digest: { sha256: A.slice(7) } }], PREDICATE.cyclonedx, toCycloneDx(sbomB)), ['run', '20261202-000003-dddddd', 'task', 'sbom', 'node', 'n1']);
    const after = q.diff(A, B);
    assert.equal(after.fromSbom, log);
    assert.ok(after.toSbom >= 0 && after.toSbom !== log);
    assert.deepEqual([after.added, after.removed, after.changed], [[], [], []]);
  });

  test('rebuild derives the same edges from the stored evidence', () => {
    const n = (sql: string): number => Number((f.db.prepare(sql).get() as { n: number }).n);
    const count = (): number => n('SELECT COUNT(*) AS n FROM g_edge') + n('SELECT COUNT(*) AS n FROM g_dep');
    const revoked = (): number => n('SELECT COUNT(*) AS n FROM g_edge WHERE revoked_at IS NOT NULL') + n('SELECT COUNT(*) AS n FROM g_dep WHERE revoked_at IS NOT NULL');
    const before = count();
    const rb = revoked();
    const r = rebuildGraph(f.graph);
    assert.equal(r.edges, before);
    assert.equal(count(), before);
    assert.equal(revoked(), rb);
  });
});
