/**
 * Evidence tasks in a real run: sbom, scan (with a signed VEX), licenses and secrets read the
 * checked-out source, sign their documents with the task's own identity, and publishing
 * attaches them to the artifact they are about.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { sha256File, sha256Hex, systemClock } from '../core/index.js';
import { makeStatement } from '../attest/index.js';
import { Factory, initFactory } from '../factory/index.js';
import { verifyProvenanceChain } from '../verify/index.js';
import { PREDICATE, VulnDb, validateCycloneDx } from '../analysis/index.js';
import { Runner } from './index.js';

const TD = 'evidence.test.internal';
const DASH = `sha256:${sha256File('/usr/bin/dash')}`;
let tmp: string;
let f: Factory;
let runner: Runner;

const INTEGRITY = (s: string): string => `sha512-${Buffer.from(sha256Hex(s) + sha256Hex(s + 'x')).toString('base64').slice(0, 86)}==`;

function lockfile(): string {
  return JSON.stringify({
    name: 'evapp', version: '1.0.0', lockfileVersion: 3, requires: true,
    packages: {
      '': { name: 'evapp', version: '1.0.0', license: 'MIT', dependencies: { 'left-pad': '1.3.0', '@acme/util': '2.0.0' } },
      'node_modules/left-pad': { version: '1.3.0', integrity: INTEGRITY('left-pad'), license: 'WTFPL' },
      'node_modules/@acme/util': { version: '2.0.0', integrity: INTEGRITY('util'), license: 'MIT' },
    },
  }, null, 2);
}

const ADVISORY = {
  schema_version: '1.6.0', id: 'GHSA-test-evid-0001', modified: '2026-01-01T00:00:00Z', aliases: ['CVE-2026-0001'],
  summary: 'test advisory affecting @acme/util', severity: [{ type: 'CVSS_V3', score: 'CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H' }],
  affected: [{ package: { ecosystem: 'npm', name: '@acme/util' }, ranges: [{ type: 'SEMVER', events: [{ introduced: '0' }, { fixed: '2.0.1' }] }] }],
};

function project(name: string, opts: { vex?: boolean; secret?: boolean; failOn?: string } = {}): string {
  const dir = join(tmp, name);
  mkdirSync(join(dir, 'src'), { recursive: true });
  writeFileSync(join(dir, 'package-lock.json'), lockfile());
  writeFileSync(join(dir, 'src', 'index.js'), opts.secret ? `const key = "AKIA${'Q'.repeat(4)}7EXAMPLE4ABC";\n` : 'console.log("hi");\n');
  writeFileSync(join(dir, 'policy.yaml'), 'allow: [MIT, Apache-2.0]\ndeny: [GPL-3.0-only]\n');
  const subjects = '      subjects: [ { from: out, path: result.txt } ]\n';
  const ws = '    workspaces: [ { name: source, mode: ro }, { name: out, mode: ro } ]\n';
  writeFileSync(join(dir, 'ssf-pipeline.yaml'), `apiVersion: ssf/v1
kind: Pipeline
metadata: { name: ${name} }
workspaces: [ { name: source }, { name: out } ]
tools:
  - { name: sh, path: /usr/bin/dash, digest: "${DASH}" }
tasks:
  - name: checkout
    kind: source
    source: { path: . }
    workspaces: [ { name: source, mode: rw } ]
  - name: build
    kind: run
    needs: [checkout]
    run: { tool: sh, args: [-euc, "cat src/index.js > /workspace/out/result.txt"], cwd: source }
    workspaces: [ { name: source, mode: ro }, { name: out, mode: rw } ]
  - name: sbom
    kind: sbom
    needs: [build]
    sbom:
      from: source
${subjects}${ws}  - name: scan
    kind: scan
    needs: [build]
    scan:
      from: source
      failOn: ${opts.failOn ?? 'high'}
${opts.vex ? '      vex: [vex.sigstore.json]\n' : ''}${subjects}${ws}  - name: licenses
    kind: licenses
    needs: [build]
    licenses:
      from: source
      policy: policy.yaml
      failOn: none
${subjects}${ws}  - name: secrets
    kind: secrets
    needs: [build]
    secrets:
      from: source
      path: src
${subjects}${ws}  - name: publish
    kind: publish
    needs: [sbom, scan, licenses, secrets]
    publish:
      artifacts:
        - { type: file, name: result.txt, from: out, path: result.txt }
    workspaces: [ { name: out, mode: ro } ]
`);
  return join(dir, 'ssf-pipeline.yaml');
}

before(async () => {
  tmp = mkdtempSync(join(tmpdir(), 'ssf-evidence-'));
  await initFactory({ dir: join(tmp, '.ssf'), trustDomain: TD, clock: systemClock, passphrase: 'test-passphrase' });
  f = Factory.open(join(tmp, '.ssf'));
  runner = new Runner(f);
  mkdirSync(join(tmp, 'osv'));
  writeFileSync(join(tmp, 'osv', 'GHSA-test-evid-0001.json'), JSON.stringify(ADVISORY));
  const db = VulnDb.open(f.layout.vulnDb);
  await db.import(join(tmp, 'osv'));
  db.close();
});
after(() => {
  f.close();
  rmSync(tmp, { recursive: true, force: true });
});

async function signVex(dir: string, identityPath: string[] = ['evidence', 'vex']): Promise<void> {
  const doc = {
    '@context': 'https://openvex.dev/ns/v0.2.0', '@id': 'https://ssf.invalid/vex/test-1', author: 'evapp team', timestamp: '2026-01-02T00:00:00Z', version: 1,
    expires: new Date(Date.now() + 86400000).toISOString(),
    statements: [{ vulnerability: { name: 'CVE-2026-0001' }, products: [{ '@id': 'pkg:npm/%40acme/util@2.0.0' }], status: 'not_affected', justification: 'vulnerable_code_not_in_execute_path' }],
  };
  const identity = await f.issueIdentity(identityPath);
  const [res] = f.attest([{ statement: makeStatement([{ name: 'vex', digest: { sha256: sha256Hex(JSON.stringify(doc)) } }], PREDICATE.openvex, doc), identity }]);
  writeFileSync(join(dir, 'vex.sigstore.json'), JSON.stringify(res?.bundle));
}

test('evidence tasks sign their documents with their own identity and publish attaches them to the artifact', async () => {
  const file = project('ev-ok', { vex: true });
  await signVex(join(tmp, 'ev-ok'));
  const out = await runner.run({ file });
  assert.equal(out.status, 'succeeded');
  const art = out.artifacts[0];
  assert.ok(art);
  const prov = JSON.parse(readFileSync(out.provenancePath ?? '', 'utf8')) as unknown;
  const rep = verifyProvenanceChain(f.verifier(), prov, { algorithm: 'sha256', hex: art.digest.replace('sha256:', '') });
  const kinds = rep.evidence.filter((e) => e.aboutArtifact).map((e) => e.predicateType).sort();
  assert.deepEqual(kinds, [PREDICATE.cyclonedx, PREDICATE.licenses, PREDICATE.secrets, PREDICATE.vulns].sort());
  for (const e of rep.evidence) assert.equal(e.identity, rep.tasks.find((t) => t.name === e.task)?.identity);
  // The SBOM is a valid CycloneDX 1.6 document with the locked packages.
  const sbom = rep.evidence.find((e) => e.predicateType === PREDICATE.cyclonedx)?.predicate as { components?: { purl?: string }[] };
  assert.deepEqual(validateCycloneDx(sbom), []);
  assert.ok(sbom.components?.some((c) => c.purl === 'pkg:npm/%40acme/util@2.0.0'));
  // The advisory matched, and the signed VEX (by CVE alias) marked it not affected.
  const vulns = JSON.stringify(rep.evidence.find((e) => e.predicateType === PREDICATE.vulns)?.predicate);
  assert.match(vulns, /GHSA-test-evid-0001/);
  // Referrers: the provenance, four evidence bundles and the publish gate decision (VSA).
  const repoIndex = readdirSync(join(out.runDir, 'evidence'));
  assert.ok(repoIndex.includes('scan.sarif.json') && repoIndex.includes('sbom.cdx.json'), repoIndex.join(','));
  const manifestDigest = runner.repository.resolve(`ev-ok/result.txt:${out.runId}`);
  assert.ok(manifestDigest);
  assert.equal(runner.repository.referrers(manifestDigest.digest).length, 6);
});

test('a scan over the threshold fails the run, but its evidence is signed and kept', async () => {
  const file = project('ev-vuln');
  const out = await runner.run({ file });
  assert.equal(out.status, 'failed');
  assert.equal(out.error?.code, 'FINDINGS_FAILED');
  assert.match(out.error?.message ?? '', /GHSA-test-evid-0001/);
  const runDir = out.runDir;
  assert.equal(existsSync(join(runDir, 'evidence', 'provenance.sigstore.json')), false, 'nothing was published');
  const v = f.verifier().verify(readFileSync(join(runDir, 'evidence', 'scan.scan.sigstore.json'), 'utf8'));
  assert.equal(v.statement.predicateType, PREDICATE.vulns);
  assert.match(v.signer.identity ?? '', /\/task\/scan\/node\//);
});

test('failOn none reports without failing', async () => {
  const out = await runner.run({ file: project('ev-none', { failOn: 'none' }) });
  assert.equal(out.status, 'succeeded');
});

test('a secret in the source fails the secrets task; the report names file:line, never the secret', async () => {
  const file = project('ev-secret', { vex: true, secret: true });
  await signVex(join(tmp, 'ev-secret'));
  const out = await runner.run({ file });
  assert.equal(out.error?.code, 'FINDINGS_FAILED');
  assert.match(out.error?.message ?? '', /index\.js:1/);
  const runDir = out.runDir;
  const text = readFileSync(join(runDir, 'evidence', 'secrets.secrets.json'), 'utf8');
  assert.doesNotMatch(text, /QQQQ7EXAMPLE4ABC/);
});

test('an unsigned or tampered VEX bundle is refused', async () => {
  const file = project('ev-badvex', { vex: true });
  await signVex(join(tmp, 'ev-badvex'));
  const p = join(tmp, 'ev-badvex', 'vex.sigstore.json');
  const b = JSON.parse(readFileSync(p, 'utf8')) as { dsseEnvelope: { payload: string } };
  const payload = JSON.parse(Buffer.from(b.dsseEnvelope.payload, 'base64').toString()) as { predicate: { statements: { status: string }[] } };
  payload.predicate.statements[0]!.status = 'fixed';
  b.dsseEnvelope.payload = Buffer.from(JSON.stringify(payload)).toString('base64');
  writeFileSync(p, JSON.stringify(b));
  const out = await runner.run({ file });
  assert.equal(out.error?.code, 'VEX_INVALID');
});

test('VEX signed by any other identity of the factory is refused', async () => {
  const file = project('ev-othervex', { vex: true });
  await signVex(join(tmp, 'ev-othervex'), ['ci', 'anyone']);
  const out = await runner.run({ file });
  assert.equal(out.error?.code, 'VEX_INVALID');
  assert.match(out.error?.message ?? '', /ci\/anyone/);
});
