/**
 * The knowledge-graph commands as a user meets them: `bin/ssf.js` in a child process, in a temp
 * dir, over evidence the CLI itself made. Two real runs of a small pipeline (an image and a
 * file, an SBOM and a scan of a committed lockfile; the second run with one package at another
 * version), an OSV database the test writes, then: query provenance (tree, --json, --dot,
 * --mermaid), deployments record, query blast-radius (any version, exact, --range), query
 * affected (aliases, VEX in each product form users write, VEX the factory must not honour),
 * rescan (full, then incremental on a new advisory), query diff, query signed-by (windows, a
 * glob, after ssf revoke), fsck and graph rebuild against tampering done with SQL, and --help
 * of each. Cases that change the factory in ways later ones must not see run on copies of it.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { copyFileSync, cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import Database from 'better-sqlite3';
import type { AffectedDeployments, BlastRadius, ProvenanceTree, SbomDiff, SignedByAnswer } from '../graph/index.js';
import type { FsckReport, RescanReport } from '../operate/index.js';
import { makeStatement } from '../attest/index.js';
import { Factory } from '../factory/index.js';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
const BIN = join(ROOT, 'bin', 'ssf.js');
const NPM_SMALL = join(ROOT, 'src', 'analysis', 'lockfile', 'testdata', 'npm-small');
const TD = 'graph-cli.test.internal';
const BUILDER = `spiffe://${TD}/factory/builder`;
let tmp: string;

type Result = { code: number; out: string; err: string };
const ENV = (): NodeJS.ProcessEnv => ({ PATH: process.env.PATH, HOME: tmp, SSF_ROOT_PASSPHRASE: 'graph cli test passphrase' });

function ssf(args: string[]): Result {
  const r = spawnSync(process.execPath, [BIN, ...args], { cwd: tmp, encoding: 'utf8', env: ENV(), stdio: ['ignore', 'pipe', 'pipe'] });
  return { code: r.status ?? -1, out: r.stdout, err: r.stderr };
}

function ok(r: Result): Result {
  assert.equal(r.code, 0, `stdout: ${r.out}\nstderr: ${r.err}`);
  return r;
}

/** A user-facing failure: exit 1 (or 2 for usage), one line `ssf: error[CODE]: …`, no stack. */
function assertFails(r: Result, code: string, exit = code === 'USAGE' ? 2 : 1): string {
  assert.equal(r.code, exit, `expected ${code} with exit ${exit}; stdout: ${r.out}\nstderr: ${r.err}`);
  assert.match(r.err, new RegExp(`^ssf: error\\[${code}\\]: \\S`), r.err);
  assert.equal(r.err.trimEnd().split('\n').length, 1, `one line expected, got: ${r.err}`);
  assert.doesNotMatch(r.err, /\n\s+at |unexpected failure/);
  return r.err.trimEnd();
}

/** `ssf … --json` on factory `dir`, parsed. */
function json<T>(args: string[], dir = 'f'): T {
  return JSON.parse(ok(ssf([...args, '--dir', dir, '--json'])).out) as T;
}

const sha256 = (file: string): string => createHash('sha256').update(readFileSync(file)).digest('hex');

/** The committed npm-small lockfile, with `edit` applied. */
function lockfile(edit: (lock: { packages: Record<string, { version?: string; dependencies?: Record<string, string> }> }) => void = () => undefined): string {
  const lock = JSON.parse(readFileSync(join(NPM_SMALL, 'package-lock-v3.json'), 'utf8')) as Parameters<typeof edit>[0];
  edit(lock);
  return JSON.stringify(lock, null, 2) + '\n';
}

/** A project: checkout, a dash build, an OCI image, an SBOM and a scan (about both), publish of both. */
function project(dir: string, lock: string, main: string): string {
  const d = join(tmp, dir);
  mkdirSync(join(d, 'src'), { recursive: true });
  copyFileSync(join(NPM_SMALL, 'package.json'), join(d, 'package.json'));
  writeFileSync(join(d, 'package-lock.json'), lock);
  writeFileSync(join(d, 'src', 'main.js'), main);
  const subjects = '      subjects: [ { from: out, path: main.js }, { image: image } ]\n';
  writeFileSync(join(d, 'ssf-pipeline.yaml'), `apiVersion: ssf/v1
kind: Pipeline
metadata: { name: small-app }
workspaces: [ { name: source }, { name: out } ]
tools:
  - { name: sh, path: /usr/bin/dash, digest: "sha256:${sha256('/usr/bin/dash')}" }
tasks:
  - name: checkout
    kind: source
    source: { path: . }
    workspaces: [ { name: source, mode: rw } ]
  - name: build
    kind: run
    needs: [checkout]
    run: { tool: sh, args: [-euc, "cp src/main.js package-lock.json /workspace/out/"], cwd: source }
    workspaces: [ { name: source, mode: ro }, { name: out, mode: rw } ]
  - name: image
    kind: image
    needs: [build]
    image: { base: scratch, from: out, target: /app, entrypoint: [node, /app/main.js] }
    workspaces: [ { name: out, mode: ro } ]
  - name: sbom
    kind: sbom
    needs: [image]
    sbom:
      from: source
      lockfile: package-lock.json
${subjects}    workspaces: [ { name: source, mode: ro }, { name: out, mode: ro } ]
  - name: scan
    kind: scan
    needs: [image]
    scan:
      from: source
      lockfile: package-lock.json
      failOn: none
${subjects}    workspaces: [ { name: source, mode: ro }, { name: out, mode: ro } ]
  - name: publish
    kind: publish
    needs: [sbom, scan]
    publish:
      artifacts:
        - { type: image, task: image, name: small-app-image }
        - { type: file, name: main.js, from: out, path: main.js }
    workspaces: [ { name: out, mode: ro } ]
`);
  return join(d, 'ssf-pipeline.yaml');
}

interface RunSummary { type: string; runId: string; status: string; artifacts: { name: string; type: string; digest: string }[]; provenanceLogIndex: number }
function run(file: string): RunSummary {
  const r = ok(ssf(['run', file, '--dir', 'f', '--json']));
  const s = JSON.parse(r.out.trim().split('\n').at(-1) ?? '{}') as RunSummary;
  assert.equal(s.type, 'summary');
  assert.equal(s.status, 'succeeded');
  return s;
}

function osv(id: string, alias: string, name: string, fixed: string, modified: string): string {
  return JSON.stringify({
    schema_version: '1.6.0', id, modified, published: modified, aliases: [alias], summary: `${name} before ${fixed} is unsafe`,
    severity: [{ type: 'CVSS_V3', score: 'CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:N/A:N' }],
    affected: [{ package: { ecosystem: 'npm', name }, ranges: [{ type: 'SEMVER', events: [{ introduced: '0' }, { fixed }] }] }],
  }, null, 2);
}

const DEBUG_ADV = 'GHSA-test-dbug-0001';
const DEBUG_CVE = 'CVE-2099-1001';
const MS_ADV = 'GHSA-test-ms00-0002';
const MS_CVE = 'CVE-2099-1002';
const WEB = 'c1/ns/Deployment/web';
const CANARY = 'c1/ns/Deployment/canary';

/** An OpenVEX document: `vuln` is not_affected in `products`. */
function vexDoc(id: string, vuln: string, products: unknown[], extra: Record<string, unknown> = {}): string {
  return JSON.stringify({
    '@context': 'https://openvex.dev/ns/v0.2.0', '@id': `https://small-app.example/vex/${id}`, author: 'Small App Security <security@small-app.example>',
    timestamp: '2026-11-01T00:00:00Z', version: 1, ...extra,
    statements: [{ vulnerability: { name: vuln }, products, status: 'not_affected', justification: 'vulnerable_code_not_in_execute_path' }],
  }, null, 2);
}

// The two runs' artifacts: A from the committed lockfile, B with ms 2.1.3 → 2.1.2.
let runA: RunSummary;
let runB: RunSummary;
let imageA: string;
let fileA: string;
let imageB: string;
let fileB: string;

const digestOf = (r: RunSummary, type: string): string => r.artifacts.find((a) => a.type === type)?.digest ?? assert.fail(`no ${type} artifact`);

/** A copy of the factory as it is now, for a case that must not change the shared one. */
function copyFactory(name: string): string {
  cpSync(join(tmp, 'f'), join(tmp, name), { recursive: true });
  return name;
}

before(() => {
  tmp = mkdtempSync(join(tmpdir(), 'ssf-graph-cli-'));
  ok(ssf(['init', '--dir', 'f', '--trust-domain', TD, '--root-key-out', 'root.key.pem']));
  mkdirSync(join(tmp, 'adv'));
  writeFileSync(join(tmp, 'adv', `${DEBUG_ADV}.json`), osv(DEBUG_ADV, DEBUG_CVE, 'debug', '2.6.10', '2026-01-01T00:00:00Z'));
  ok(ssf(['vulndb', 'import', 'adv', '--dir', 'f']));
  runA = run(project('app', lockfile(), 'console.log("small app")\n'));
  runB = run(project('app-next', lockfile((l) => {
    const root = l.packages[''];
    if (root?.dependencies) root.dependencies['ms'] = '2.1.2';
    const ms = l.packages['node_modules/ms'];
    if (ms) ms.version = '2.1.2';
  }), 'console.log("small app, next")\n'));
  imageA = digestOf(runA, 'image');
  fileA = digestOf(runA, 'file');
  imageB = digestOf(runB, 'image');
  fileB = digestOf(runB, 'file');
  assert.equal(new Set([imageA, fileA, imageB, fileB]).size, 4);
});

after(() => rmSync(tmp, { recursive: true, force: true }));

describe('ssf query provenance', () => {
  test('the text tree names the source, the run and its pipeline, every task and its identity, the attestations and the gate', () => {
    const out = ok(ssf(['query', 'provenance', imageA, '--dir', 'f'])).out;
    const lines = out.trimEnd().split('\n');
    assert.equal(lines[0], `artifact ${imageA}`);
    assert.match(out, new RegExp(`^├─ built-from source file://${tmp.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}/app#sha256:[0-9a-f]{64}  \\(log #${runA.provenanceLogIndex}\\)$`, 'm'));
    assert.match(out, new RegExp(`^├─ built-by run ${runA.runId}  \\(log #${runA.provenanceLogIndex}\\)$`, 'm'));
    assert.match(out, /^│ {2}├─ pipeline small-app sha256:[0-9a-f]{64}$/m);
    for (const task of ['checkout', 'build', 'image', 'sbom', 'scan', 'publish']) {
      assert.match(out, new RegExp(`^│ {2}[├└]─ task ${task} +spiffe://${TD}/run/${runA.runId}/task/${task}/node/[0-9a-f]+  \\(log #\\d+\\)$`, 'm'), task);
    }
    assert.match(out, new RegExp(`^[├└]─ attested-by https://slsa\\.dev/provenance/v1  ${BUILDER}  \\(log #${runA.provenanceLogIndex}\\)$`, 'm'));
    assert.match(out, new RegExp(`^[├└]─ attested-by https://cyclonedx\\.org/bom/v1\\.6  spiffe://${TD}/run/${runA.runId}/task/sbom/node/`, 'm'));
    assert.match(out, /^[├└]─ attested-by https:\/\/in-toto\.io\/attestation\/vulns\/v0\.2 /m);
    assert.match(out, /^[├└]─ gate publish: PASSED  \(log #\d+\)$/m);
    assert.match(lines.at(-1) ?? '', /^└─ /, 'the last branch of the tree is drawn as the last');
    assert.equal(lines.filter((l) => l.startsWith('│  └─')).length, 1, 'one last task');
    assert.equal(ok(ssf(['query', 'provenance', `oci.example.invalid/shop/small-app@${imageA}`, '--dir', 'f'])).out, out, 'IMAGE@DIGEST');
  });

  test('--json has the runs and their tasks; --dot is Graphviz; --mermaid is a flowchart', () => {
    const t = json<ProvenanceTree>(['query', 'provenance', imageA]);
    assert.equal(t.artifact, imageA);
    assert.equal(t.runs.length, 1);
    assert.equal(t.runs[0]?.id, runA.runId);
    assert.equal(t.runs[0]?.pipeline?.name, 'small-app');
    assert.deepEqual(t.runs[0]?.tasks.map((x) => x.name), ['checkout', 'build', 'image', 'sbom', 'scan', 'publish']);
    for (const x of t.runs[0]?.tasks ?? []) assert.match(x.identity ?? '', new RegExp(`^spiffe://${TD}/run/${runA.runId}/task/${x.name}/node/`));
    assert.equal(t.runs[0]?.evidence.logIndex, runA.provenanceLogIndex);
    assert.equal(t.sources.length, 1);
    assert.deepEqual(t.decisions.map((d) => [d.gate, d.result]), [['publish', 'PASSED']]);
    assert.deepEqual(t.deployments, []);
    const dot = ok(ssf(['query', 'provenance', imageA, '--dir', 'f', '--dot'])).out;
    assert.ok(dot.startsWith('digraph provenance {\n'), dot.slice(0, 80));
    assert.ok(dot.trimEnd().endsWith('}'));
    assert.ok(dot.includes(`"run:${runA.runId}"`));
    const mm = ok(ssf(['query', 'provenance', imageA, '--dir', 'f', '--mermaid'])).out;
    assert.ok(mm.startsWith('flowchart LR\n'), mm.slice(0, 80));
    assert.ok(mm.includes(`run ${runA.runId}`));
  });

  test('a file stands for its digest; an unknown digest is ARTIFACT_NOT_FOUND; a bad one is USAGE', () => {
    const byFile = json<ProvenanceTree>(['query', 'provenance', 'app/src/main.js']);
    assert.equal(byFile.artifact, fileA);
    assert.equal(byFile.runs[0]?.id, runA.runId);
    assertFails(ssf(['query', 'provenance', `sha256:${'0'.repeat(64)}`, '--dir', 'f']), 'ARTIFACT_NOT_FOUND');
    assertFails(ssf(['query', 'provenance', 'sha256:abc', '--dir', 'f']), 'USAGE');
    assertFails(ssf(['query', 'provenance', `sha256:${'A'.repeat(64)}`, '--dir', 'f']), 'USAGE');
    assertFails(ssf(['query', 'provenance', 'no-such-file', '--dir', 'f']), 'FILE_NOT_FOUND');
    assertFails(ssf(['query', 'provenance', '--dir', 'f']), 'USAGE');
    assertFails(ssf(['query', 'provenance', imageA, '--dir', 'nofactory']), 'FACTORY_MISSING');
  });
});

describe('ssf deployments record and ssf query blast-radius', () => {
  test('a recorded deployment is in the provenance; a tag or a missing flag is USAGE', () => {
    assert.match(ok(ssf(['deployments', 'record', `oci.example.invalid/shop/small-app@${imageA}`, '--cluster', 'c1', '--namespace', 'ns', '--name', 'web', '--dir', 'f'])).out,
      new RegExp(`^recorded ${WEB} runs ${imageA} \\(log #\\d+\\)$`, 'm'));
    ok(ssf(['deployments', 'record', imageB, '--cluster', 'c1', '--namespace', 'ns', '--name', 'canary', '--dir', 'f']));
    assert.deepEqual(json<ProvenanceTree>(['query', 'provenance', imageA]).deployments.map((d) => d.deployment), [WEB]);
    assert.match(ok(ssf(['query', 'provenance', imageA, '--dir', 'f'])).out, new RegExp(`^└─ deployed-as ${WEB}  \\(log #\\d+\\)$`, 'm'));
    assertFails(ssf(['deployments', 'record', 'small-app:latest', '--cluster', 'c1', '--namespace', 'ns', '--name', 'web', '--dir', 'f']), 'USAGE');
    assertFails(ssf(['deployments', 'record', imageA, '--cluster', 'c1', '--namespace', 'ns', '--dir', 'f']), 'USAGE');
  });

  test('ssf deployments remove ends a deployment in the answers (on a copy); a workload not running the digest is DEPLOYMENT_NOT_FOUND', () => {
    const dir = copyFactory('f-removed');
    assert.match(ok(ssf(['deployments', 'remove', imageB, '--cluster', 'c1', '--namespace', 'ns', '--name', 'canary', '--dir', dir])).out,
      new RegExp(`^recorded ${CANARY} no longer runs ${imageB} \\(log #\\d+\\)$`, 'm'));
    assert.deepEqual(json<ProvenanceTree>(['query', 'provenance', imageB], dir).deployments, []);
    assert.deepEqual(json<BlastRadius>(['query', 'blast-radius', 'pkg:npm/ms'], dir).deployments.map((d) => d.deployment), [WEB]);
    const count = (): number => json<FsckReport>(['fsck'], dir).evidenceChecked;
    const before = count();
    assert.match(assertFails(ssf(['deployments', 'remove', imageB, '--cluster', 'c1', '--namespace', 'ns', '--name', 'canary', '--dir', dir]), 'DEPLOYMENT_NOT_FOUND'), /no current deployment .* in c1\/ns\/Deployment\/canary; nothing recorded/);
    assertFails(ssf(['deployments', 'remove', imageA, '--cluster', 'c1', '--namespace', 'ns', '--name', 'canary', '--dir', dir]), 'DEPLOYMENT_NOT_FOUND');
    assertFails(ssf(['deployments', 'remove', `sha256:${'0'.repeat(64)}`, '--cluster', 'c1', '--namespace', 'ns', '--name', 'web', '--dir', dir]), 'DEPLOYMENT_NOT_FOUND');
    assertFails(ssf(['deployments', 'remove', 'small-app:latest', '--cluster', 'c1', '--namespace', 'ns', '--name', 'web', '--dir', dir]), 'USAGE');
    assert.equal(count(), before, 'a refused removal records nothing');
    // recorded again, it counts again
    ok(ssf(['deployments', 'record', imageB, '--cluster', 'c1', '--namespace', 'ns', '--name', 'canary', '--dir', dir]));
    assert.deepEqual(json<ProvenanceTree>(['query', 'provenance', imageB], dir).deployments.map((d) => d.deployment), [CANARY]);
  });

  test('any version, an exact version and --range: the artifacts and the deployments running them', () => {
    const any = json<BlastRadius>(['query', 'blast-radius', 'pkg:npm/ms']);
    assert.deepEqual(any.components.map((c) => c.purl).sort(), ['pkg:npm/ms@2.0.0', 'pkg:npm/ms@2.1.2', 'pkg:npm/ms@2.1.3']);
    assert.deepEqual(any.artifacts.map((x) => x.digest), [imageA, fileA, imageB, fileB].sort());
    assert.ok(any.artifacts.every((x) => x.how === 'contains'));
    assert.deepEqual(any.deployments.map((d) => d.deployment).sort(), [CANARY, WEB]);

    const text = ok(ssf(['query', 'blast-radius', 'pkg:npm/ms', '--dir', 'f'])).out;
    assert.match(text, /^pkg:npm\/ms: 3 component versions, 4 artifacts, 2 deployments$/m);
    assert.match(text, new RegExp(`^ {2}artifact ${imageA} {2}contains pkg:npm/ms@2\\.0\\.0, pkg:npm/ms@2\\.1\\.3  \\(log #\\d+\\)$`, 'm'));
    assert.match(text, new RegExp(`^ {2}deployment ${WEB} {2}runs ${imageA.slice(0, 19)}…  \\(log #\\d+\\)$`, 'm'));

    const exact = json<BlastRadius>(['query', 'blast-radius', 'pkg:npm/ms@2.1.2']);
    assert.deepEqual(exact.artifacts.map((x) => x.digest), [imageB, fileB].sort());
    assert.deepEqual(exact.deployments.map((d) => d.deployment), [CANARY]);
    const newer = json<BlastRadius>(['query', 'blast-radius', 'pkg:npm/ms', '--range', '>=2.1.3']);
    assert.deepEqual(newer.components.map((c) => c.purl), ['pkg:npm/ms@2.1.3']);
    assert.deepEqual(newer.artifacts.map((x) => x.digest), [imageA, fileA].sort());
    assert.deepEqual(newer.deployments.map((d) => d.deployment), [WEB]);
    const older = json<BlastRadius>(['query', 'blast-radius', 'pkg:npm/ms', '--range', '<2.1.0']);
    assert.deepEqual(older.components.map((c) => c.purl), ['pkg:npm/ms@2.0.0']);
    assert.equal(older.artifacts.length, 4, 'ms@2.0.0 (under debug) is in both lockfiles');
    const none = ok(ssf(['query', 'blast-radius', 'pkg:npm/ms', '--range', '>=3', '--dir', 'f'])).out;
    assert.equal(none, 'pkg:npm/ms >=3: 0 component versions, 0 artifacts, 0 deployments\n');
  });

  test('transitively: a package only another one depends on; a scoped package as users write it', () => {
    // js-tokens is there because @babel/highlight needs it.
    const t = json<BlastRadius>(['query', 'blast-radius', 'pkg:npm/js-tokens']);
    assert.deepEqual(t.artifacts.map((x) => x.digest), [imageA, fileA, imageB, fileB].sort());
    const encoded = json<BlastRadius>(['query', 'blast-radius', 'pkg:npm/%40babel/highlight']);
    assert.deepEqual(encoded.components.map((c) => c.purl), ['pkg:npm/%40babel/highlight@7.25.9']);
    assert.equal(encoded.artifacts.length, 4);
    // The purl spec percent-encodes the @ of a scope; people type it raw. Same answer either way.
    for (const raw of ['pkg:npm/@babel/highlight', 'pkg:npm/@babel/highlight@7.25.9']) {
      const r = json<BlastRadius>(['query', 'blast-radius', raw]);
      assert.deepEqual(r.artifacts, encoded.artifacts, raw);
    }
  });

  test('a non-purl and a bad range are USAGE', () => {
    assert.match(assertFails(ssf(['query', 'blast-radius', 'ms', '--dir', 'f']), 'USAGE'), /"ms" is not a package URL/);
    assert.match(assertFails(ssf(['query', 'blast-radius', 'pkg:npm/ms', '--range', 'newer please', '--dir', 'f']), 'USAGE'), /is not a semver range/);
  });
});

describe('ssf query affected and VEX', () => {
  test('by advisory id or by its CVE alias: the artifacts, the package, the deployments', () => {
    for (const id of [DEBUG_ADV, DEBUG_CVE]) {
      const r = json<AffectedDeployments>(['query', 'affected', id]);
      assert.deepEqual(r.aliases, [id === DEBUG_ADV ? DEBUG_CVE : DEBUG_ADV]);
      assert.deepEqual(r.artifacts.map((x) => x.digest).sort(), [imageA, fileA, imageB, fileB].sort(), id);
      for (const x of r.artifacts) assert.deepEqual([x.purls, x.severity], [['pkg:npm/debug@2.6.9'], 'high']);
      assert.deepEqual(r.deployments.map((d) => d.deployment).sort(), [CANARY, WEB]);
      assert.deepEqual(r.suppressed, []);
    }
    const text = ok(ssf(['query', 'affected', DEBUG_CVE, '--dir', 'f'])).out;
    assert.match(text, new RegExp(`^${DEBUG_CVE} \\(aliases: ${DEBUG_ADV}\\): 4 affected artifacts, 2 deployments, 0 suppressed by VEX$`, 'm'));
    assert.match(text, new RegExp(`^ {2}affected {3}${imageA} {2}high {2}pkg:npm/debug@2\\.6\\.9  \\(log #\\d+\\)$`, 'm'));
    assert.equal(ok(ssf(['query', 'affected', 'CVE-2000-0001', '--dir', 'f'])).out, 'CVE-2000-0001: 0 affected artifacts, 0 deployments, 0 suppressed by VEX\n');
  });

  test('a signed VEX about IMAGE@DIGEST: that image is suppressed and its deployment no longer listed', () => {
    writeFileSync(join(tmp, 'vex-image.json'), vexDoc('image', DEBUG_CVE, [{ '@id': `oci.example.invalid/shop/small-app@${imageB}` }]));
    assert.match(ok(ssf(['vex', 'sign', 'vex-image.json', '--expires', '30d', '--bundle', 'vex-image.sigstore.json', '--dir', 'f'])).out, new RegExp(`as spiffe://${TD}/evidence/vex`));
    for (const id of [DEBUG_ADV, DEBUG_CVE]) {
      const r = json<AffectedDeployments>(['query', 'affected', id]);
      assert.deepEqual(r.artifacts.map((x) => x.digest).sort(), [imageA, fileA, fileB].sort(), id);
      assert.deepEqual(r.suppressed.map((x) => [x.digest, x.status]), [[imageB, 'not_affected']], id);
      assert.deepEqual(r.deployments.map((d) => d.deployment), [WEB], id);
    }
    assert.match(ok(ssf(['query', 'affected', DEBUG_ADV, '--dir', 'f'])).out, new RegExp(`^ {2}suppressed ${imageB} {2}not_affected  \\(log #\\d+\\)$`, 'm'));
  });

  test('the other product forms users write name the image too: a pkg:oci purl, a sha-256 hash, a plain string', () => {
    const forms: [string, unknown][] = [
      // The purl spec's form of an OCI image: the digest's colon percent-encoded, qualifiers after it.
      ['oci-purl', { '@id': `pkg:oci/small-app@sha256%3A${imageA.slice(7)}?repository_url=oci.example.invalid/shop` }],
      // OpenVEX's own field for a product's hash.
      ['hashes', { '@id': 'pkg:oci/small-app', hashes: { 'sha-256': imageA.slice(7) } }],
      ['string', imageA],
    ];
    for (const [name, product] of forms) {
      const dir = copyFactory(`f-vex-${name}`);
      writeFileSync(join(tmp, `vex-${name}.json`), vexDoc(name, DEBUG_CVE, [product]));
      ok(ssf(['vex', 'sign', `vex-${name}.json`, '--expires', '30d', '--bundle', `vex-${name}.sigstore.json`, '--dir', dir]));
      const r = json<AffectedDeployments>(['query', 'affected', DEBUG_ADV], dir);
      assert.deepEqual(r.suppressed.map((x) => x.digest).sort(), [imageA, imageB].sort(), name);
      assert.deepEqual(r.artifacts.map((x) => x.digest).sort(), [fileA, fileB].sort(), name);
      assert.deepEqual(r.deployments, [], name);
    }
    ok(ssf(['fsck', '--dir', 'f-vex-oci-purl']));
  });

  test('a VEX about the package (the form ssf scan --vex reads) suppresses it in every artifact', () => {
    for (const [name, purl] of [['pkg', 'pkg:npm/debug@2.6.9'], ['pkg-any', 'pkg:npm/debug']] as const) {
      const dir = copyFactory(`f-vex-${name}`);
      writeFileSync(join(tmp, `vex-${name}.json`), vexDoc(name, DEBUG_CVE, [{ '@id': purl }]));
      ok(ssf(['vex', 'sign', `vex-${name}.json`, '--expires', '30d', '--bundle', `vex-${name}.sigstore.json`, '--dir', dir]));
      const r = json<AffectedDeployments>(['query', 'affected', DEBUG_ADV], dir);
      assert.deepEqual(r.artifacts, [], purl);
      assert.deepEqual(r.suppressed.map((x) => x.digest).sort(), [imageA, fileA, imageB, fileB].sort(), purl);
      assert.deepEqual(r.deployments, [], purl);
      // The package is still in the artifacts; only this vulnerability is answered for.
      if (name === 'pkg') assert.equal(json<BlastRadius>(['query', 'blast-radius', 'pkg:npm/debug'], dir).artifacts.length, 4);
    }
  });

  test('VEX the pipeline would refuse does not suppress: signed by another identity, or expired', async () => {
    // `ssf attest` signs any predicate as cli/attest: not the factory's VEX identity.
    // (Image B stays suppressed in each copy: the signed VEX of the test before.)
    const other = copyFactory('f-vex-other-signer');
    writeFileSync(join(tmp, 'vex-other.json'), vexDoc('other', DEBUG_CVE, [{ '@id': imageA }, { '@id': 'pkg:npm/debug' }], { expires: '2099-01-01T00:00:00Z' }));
    ok(ssf(['attest', '--predicate-type', 'https://openvex.dev/ns/v0.2.0', '--predicate', 'vex-other.json', '--subject', 'vex-other.json', '--bundle', 'vex-other.sigstore.json', '--dir', other]));
    const r1 = json<AffectedDeployments>(['query', 'affected', DEBUG_ADV], other);
    assert.deepEqual(r1.suppressed.map((x) => x.digest), [imageB]);
    assert.deepEqual(r1.deployments.map((d) => d.deployment), [WEB]);
    // The right identity, but the document expired long ago (ssf vex sign refuses a past expiry).
    const expired = copyFactory('f-vex-expired');
    // `ssf attest` refuses evidence/ identities, so this signs in-process, as `ssf vex sign` would have long ago.
    const doc = vexDoc('expired', DEBUG_CVE, [{ '@id': imageA }, { '@id': 'pkg:npm/debug' }], { expires: '2020-01-01T00:00:00Z' });
    const fx = Factory.open(join(tmp, expired));
    try {
      const identity = await fx.issueIdentity(['evidence', 'vex']);
      fx.attest([{ statement: makeStatement([{ name: 'vex-expired.json', digest: { sha256: createHash('sha256').update(doc).digest('hex') } }], 'https://openvex.dev/ns/v0.2.0', JSON.parse(doc) as Record<string, unknown>), identity }]);
    } finally {
      fx.close();
    }
    const r2 = json<AffectedDeployments>(['query', 'affected', DEBUG_ADV], expired);
    assert.deepEqual(r2.suppressed.map((x) => x.digest), [imageB]);
    assert.deepEqual(r2.deployments.map((d) => d.deployment), [WEB]);
    // A rescan (a new advisory makes it sign new scans) must not turn either into a suppression signed by the factory.
    for (const dir of [other, expired]) {
      writeFileSync(join(tmp, `adv-${dir}.json`), osv(MS_ADV, MS_CVE, 'ms', '2.1.3', '2026-02-01T00:00:00Z'));
      ok(ssf(['vulndb', 'import', `adv-${dir}.json`, '--dir', dir]));
      const s = json<RescanReport>(['rescan'], dir);
      assert.deepEqual([s.full, s.statementsSigned], [true, 4], dir);
      const debug = json<AffectedDeployments>(['query', 'affected', DEBUG_ADV], dir);
      assert.deepEqual(debug.suppressed.map((x) => x.digest), [imageB], dir);
      assert.deepEqual(debug.deployments.map((d) => d.deployment), [WEB], dir);
    }
  });

  test('a supplier\'s VEX, ingested from another factory, is in the graph but answers for nothing here', () => {
    ok(ssf(['init', '--dir', 'supplier', '--trust-domain', 'supplier.test.internal', '--root-key-out', 'supplier-root.key.pem']));
    writeFileSync(join(tmp, 'vex-supplier.json'), vexDoc('supplier', DEBUG_CVE, [{ '@id': imageA }]));
    ok(ssf(['vex', 'sign', 'vex-supplier.json', '--expires', '30d', '--bundle', 'vex-supplier.sigstore.json', '--dir', 'supplier']));
    const dir = copyFactory('f-vex-ingested');
    assert.match(ok(ssf(['ingest', 'vex-supplier.sigstore.json', '--trusted-root', 'supplier/trusted_root.json', '--dir', dir])).out, /signed by spiffe:\/\/supplier\.test\.internal\/evidence\/vex/);
    const r = json<AffectedDeployments>(['query', 'affected', DEBUG_ADV], dir);
    assert.deepEqual(r.suppressed.map((x) => x.digest), [imageB], 'only the factory\'s own VEX');
    assert.deepEqual(r.deployments.map((d) => d.deployment), [WEB]);
  });

  test('a scan signed by anyone but the factory does not replace the factory\'s own', () => {
    const dir = copyFactory('f-fake-scan');
    // An "all clear" scan of image A's file, signed with ssf attest.
    writeFileSync(join(tmp, 'clean-scan.json'), JSON.stringify({ scanner: { uri: 'https://example.invalid/scanner', version: '1', db: { uri: 'x', version: 'y' }, result: [] }, scanStartedOn: '2026-11-01T00:00:00Z', scanFinishedOn: '2026-11-01T00:00:01Z' }));
    ok(ssf(['attest', '--predicate-type', 'https://in-toto.io/attestation/vulns/v0.2', '--predicate', 'clean-scan.json', '--subject', 'app/src/main.js', '--bundle', 'clean-scan.sigstore.json', '--dir', dir]));
    const r = json<AffectedDeployments>(['query', 'affected', DEBUG_ADV], dir);
    assert.ok(r.artifacts.some((x) => x.digest === fileA), 'still affected');
  });
});

describe('ssf rescan', () => {
  test('the first rescan is full; nothing has changed since the builds, so nothing is signed', () => {
    const first = json<RescanReport>(['rescan']);
    assert.equal(first.full, true);
    assert.equal(first.advisoriesChanged, 1);
    assert.equal(first.artifactsEvaluated, 4);
    assert.equal(first.statementsSigned, 0);
    assert.deepEqual([first.newFindings, first.resolvedFindings, first.atRisk], [[], [], []]);
    assert.match(ok(ssf(['rescan', '--dir', 'f'])).out, /^rescan \(incremental\) against sha256:[0-9a-f]{12}… of 2026-01-01T00:00:00Z: 0 advisories considered, 0 artifacts evaluated, 0 new signed scans, \d+ ms$/m);
  });

  test('a new advisory: the incremental rescan finds it in both versions of the package, signs new scans, names the deployments at risk', () => {
    writeFileSync(join(tmp, 'adv', `${MS_ADV}.json`), osv(MS_ADV, MS_CVE, 'ms', '2.1.3', '2026-02-01T00:00:00Z'));
    assert.match(ok(ssf(['vulndb', 'import', 'adv', '--dir', 'f'])).out, /1 added, 0 updated, 1 unchanged/);
    const r = json<RescanReport>(['rescan']);
    assert.equal(r.full, false);
    assert.equal(r.advisoriesChanged, 1);
    assert.equal(r.artifactsEvaluated, 4);
    assert.equal(r.statementsSigned, 4);
    assert.equal(r.database.date, '2026-02-01T00:00:00Z');
    assert.deepEqual(r.newFindings.map((x) => [x.artifact, x.vulnerability, x.purl]).sort(), [
      [imageA, MS_ADV, 'pkg:npm/ms@2.0.0'], [fileA, MS_ADV, 'pkg:npm/ms@2.0.0'],
      [imageB, MS_ADV, 'pkg:npm/ms@2.0.0'], [imageB, MS_ADV, 'pkg:npm/ms@2.1.2'],
      [fileB, MS_ADV, 'pkg:npm/ms@2.0.0'], [fileB, MS_ADV, 'pkg:npm/ms@2.1.2'],
    ].sort());
    assert.deepEqual(r.resolvedFindings, []);
    assert.deepEqual(r.atRisk.map((x) => [x.deployment, x.artifact, x.vulnerabilities]).sort(), [[CANARY, imageB, [MS_ADV]], [WEB, imageA, [MS_ADV]]]);
    // The new scans are signed by the factory's rescan identity, about each artifact.
    const signed = json<SignedByAnswer>(['query', 'signed-by', `spiffe://${TD}/factory/rescan`]);
    assert.deepEqual(signed.attestations.map((x) => x.subjects[0]).sort(), [imageA, fileA, imageB, fileB].sort());
    assert.ok(signed.attestations.every((x) => x.predicateType === 'https://in-toto.io/attestation/vulns/v0.2'));
    // Nothing new since: nothing evaluated.
    const idle = json<RescanReport>(['rescan']);
    assert.deepEqual([idle.advisoriesChanged, idle.artifactsEvaluated, idle.statementsSigned], [0, 0, 0]);
  });

  test('query affected on the new advisory finds the artifacts with every affected version, and the deployments', () => {
    const r = json<AffectedDeployments>(['query', 'affected', MS_CVE]);
    assert.deepEqual(r.aliases, [MS_ADV]);
    const by = new Map(r.artifacts.map((x) => [x.digest, x.purls]));
    assert.deepEqual(by.get(imageA), ['pkg:npm/ms@2.0.0']);
    assert.deepEqual(by.get(imageB), ['pkg:npm/ms@2.0.0', 'pkg:npm/ms@2.1.2']);
    assert.deepEqual(by.get(fileB), ['pkg:npm/ms@2.0.0', 'pkg:npm/ms@2.1.2']);
    assert.equal(by.size, 4);
    assert.deepEqual(r.deployments.map((d) => d.deployment).sort(), [CANARY, WEB]);
    // The rescan carried the signed VEX over: image B stays suppressed for the debug advisory.
    const debug = json<AffectedDeployments>(['query', 'affected', DEBUG_ADV]);
    assert.deepEqual(debug.suppressed.map((x) => x.digest), [imageB]);
    assert.deepEqual(debug.artifacts.map((x) => x.digest).sort(), [imageA, fileA, fileB].sort());
    ok(ssf(['fsck', '--dir', 'f']));
  });

  test('a VEX narrowed to some packages of an image (subcomponents) answers for those only', () => {
    const dir = copyFactory('f-vex-subcomponents');
    writeFileSync(join(tmp, 'vex-sub-one.json'), vexDoc('sub-one', MS_CVE, [{ '@id': imageB, subcomponents: [{ '@id': 'pkg:npm/ms@2.1.2' }] }]));
    ok(ssf(['vex', 'sign', 'vex-sub-one.json', '--expires', '30d', '--bundle', 'vex-sub-one.sigstore.json', '--dir', dir]));
    const one = json<AffectedDeployments>(['query', 'affected', MS_ADV], dir);
    assert.deepEqual(one.artifacts.find((x) => x.digest === imageB)?.purls, ['pkg:npm/ms@2.0.0'], 'ms@2.0.0 is still affected');
    assert.deepEqual(one.suppressed, []);
    writeFileSync(join(tmp, 'vex-sub-all.json'), vexDoc('sub-all', MS_CVE, [{ '@id': imageB, subcomponents: [{ '@id': 'pkg:npm/ms' }] }]));
    ok(ssf(['vex', 'sign', 'vex-sub-all.json', '--expires', '30d', '--bundle', 'vex-sub-all.sigstore.json', '--dir', dir]));
    const all = json<AffectedDeployments>(['query', 'affected', MS_ADV], dir);
    assert.deepEqual(all.suppressed.map((x) => x.digest), [imageB]);
    assert.deepEqual(all.artifacts.map((x) => x.digest).sort(), [imageA, fileA, fileB].sort());
    assert.deepEqual(all.deployments.map((d) => d.deployment), [WEB]);
  });

  test('rescan without an advisory database is VULNDB_MISSING', () => {
    ok(ssf(['init', '--dir', 'empty', '--trust-domain', TD, '--root-key-out', 'empty-root.key.pem']));
    assertFails(ssf(['rescan', '--dir', 'empty']), 'VULNDB_MISSING');
  });
});

describe('ssf query diff', () => {
  test('two runs\' images: the package whose version changed, and the finding only the newer one has', () => {
    const d = json<SbomDiff>(['query', 'diff', imageA, imageB]);
    assert.deepEqual([d.added, d.removed], [[], []]);
    assert.deepEqual(d.changed, [{ name: 'pkg:npm/ms', from: '2.0.0,2.1.3', to: '2.0.0,2.1.2' }]);
    assert.deepEqual(d.newFindings, [{ vulnerability: MS_ADV, purl: 'pkg:npm/ms@2.1.2', severity: 'high' }]);
    assert.deepEqual(d.resolvedFindings, []);
    const back = json<SbomDiff>(['query', 'diff', imageB, imageA]);
    assert.deepEqual(back.changed, [{ name: 'pkg:npm/ms', from: '2.0.0,2.1.2', to: '2.0.0,2.1.3' }]);
    assert.deepEqual(back.resolvedFindings, [{ vulnerability: MS_ADV, purl: 'pkg:npm/ms@2.1.2' }]);
    const text = ok(ssf(['query', 'diff', imageA, imageB, '--dir', 'f'])).out;
    assert.match(text, new RegExp(`^${imageA.slice(0, 19)}… \\(SBOM log #${d.fromSbom}\\) → ${imageB.slice(0, 19)}… \\(SBOM log #${d.toSbom}\\): 0 added, 0 removed, 1 changed, 1 new finding, 0 resolved$`, 'm'));
    assert.match(text, /^ {2}~ pkg:npm\/ms 2\.0\.0,2\.1\.3 → 2\.0\.0,2\.1\.2$/m);
    assert.match(text, new RegExp(`^ {2}! ${MS_ADV} high pkg:npm/ms@2\\.1\\.2$`, 'm'));
    // Files stand for their digests; an artifact compared with itself has no differences.
    const files = json<SbomDiff>(['query', 'diff', 'app/src/main.js', 'app-next/src/main.js']);
    assert.deepEqual([files.from, files.to], [fileA, fileB]);
    assert.deepEqual(files.changed.map((c) => c.name), ['pkg:npm/ms']);
    const same = json<SbomDiff>(['query', 'diff', imageA, imageA]);
    assert.deepEqual([same.added, same.removed, same.changed, same.newFindings, same.resolvedFindings], [[], [], [], [], []]);
    assertFails(ssf(['query', 'diff', imageA, `sha256:${'1'.repeat(64)}`, '--dir', 'f']), 'ARTIFACT_NOT_FOUND');
    assertFails(ssf(['query', 'diff', imageA, '--dir', 'f']), 'USAGE');
  });
});

describe('ssf query signed-by and ssf revoke', () => {
  test('the builder signed both provenances; --from/--to windows; a glob; a bad time is USAGE', () => {
    const all = json<SignedByAnswer>(['query', 'signed-by', BUILDER]);
    assert.deepEqual(all.attestations.map((x) => [x.logIndex, x.predicateType]), [[runA.provenanceLogIndex, 'https://slsa.dev/provenance/v1'], [runB.provenanceLogIndex, 'https://slsa.dev/provenance/v1']]);
    assert.deepEqual(all.attestations[0]?.subjects.slice().sort(), [imageA, fileA].sort());
    assert.ok(all.attestations.every((x) => x.signer === BUILDER && x.revoked === undefined));
    const text = ok(ssf(['query', 'signed-by', BUILDER, '--dir', 'f'])).out;
    assert.match(text, new RegExp(`^${BUILDER}: 2 attestations signed between 1970-01-01T00:00:00\\.000Z and \\d{4}-\\d\\d-\\d\\dT[0-9:.]+Z$`, 'm'), 'the window ends now');
    assert.match(text, new RegExp(`^ {2}log #${runA.provenanceLogIndex} {2}\\S+ {2}https://slsa\\.dev/provenance/v1 {2}about sha256:`, 'm'));

    // Windows around the first provenance's own time (whole seconds, inclusive).
    const t0 = Date.parse(all.attestations[0]?.observedAt ?? '');
    const t1 = Date.parse(all.attestations[1]?.observedAt ?? '');
    const iso = (ms: number): string => new Date(ms).toISOString();
    const within = (from: number, to: number): number[] => json<SignedByAnswer>(['query', 'signed-by', BUILDER, '--from', iso(from), '--to', iso(to)]).attestations.map((x) => x.logIndex);
    assert.deepEqual(within(t0, t0), t0 === t1 ? [runA.provenanceLogIndex, runB.provenanceLogIndex] : [runA.provenanceLogIndex]);
    assert.deepEqual(within(t0 - 3_600_000, t0 - 1000), []);
    assert.deepEqual(within(t1 + 1000, t1 + 3_600_000), []);
    assert.deepEqual(json<SignedByAnswer>(['query', 'signed-by', BUILDER, '--from', '2026-01-01', '--to', '2026-01-02']).attestations, []);
    assert.deepEqual(json<SignedByAnswer>(['query', 'signed-by', BUILDER, '--from', iso(t1)]).attestations.map((x) => x.logIndex).at(-1), runB.provenanceLogIndex);

    // A glob: every SBOM task of every run (its CycloneDX document and its task statement).
    const sboms = json<SignedByAnswer>(['query', 'signed-by', `spiffe://${TD}/run/*/task/sbom/*`]);
    assert.deepEqual(sboms.attestations.filter((x) => x.predicateType === 'https://cyclonedx.org/bom/v1.6').map((x) => x.subjects.slice().sort()), [[imageA, fileA].sort(), [imageB, fileB].sort()]);
    assert.ok(sboms.attestations.every((x) => /\/task\/sbom\/node\//.test(x.signer)));
    const factory = new Set(json<SignedByAnswer>(['query', 'signed-by', `spiffe://${TD}/factory/*`]).attestations.map((x) => x.signer));
    assert.ok(factory.has(BUILDER) && factory.has(`spiffe://${TD}/factory/policy`) && factory.has(`spiffe://${TD}/factory/rescan`), [...factory].join(', '));
    assert.deepEqual(json<SignedByAnswer>(['query', 'signed-by', `spiffe://${TD}/nobody`]).attestations, []);
    assertFails(ssf(['query', 'signed-by', BUILDER, '--from', 'yesterday', '--dir', 'f']), 'USAGE');
    assertFails(ssf(['query', 'signed-by', BUILDER, '--to', '2026-13-45', '--dir', 'f']), 'USAGE');
  });

  test('after ssf revoke --identity, everything the builder signed is REVOKED', () => {
    assertFails(ssf(['revoke', '--identity', 'builder', '--root-key', 'root.key.pem', '--dir', 'f']), 'USAGE');
    assert.match(ok(ssf(['revoke', '--identity', BUILDER, '--reason', 'keyCompromise', '--root-key', 'root.key.pem', '--dir', 'f'])).out, new RegExp(`^revoked identity ${BUILDER}; revocation list version 1`));
    const after = json<SignedByAnswer>(['query', 'signed-by', BUILDER]);
    assert.equal(after.attestations.length, 2);
    assert.ok(after.attestations.every((x) => x.revoked === true));
    const text = ok(ssf(['query', 'signed-by', BUILDER, '--dir', 'f'])).out;
    assert.equal(text.split('\n').filter((l) => /^ {2}log #\d+ .* {2}REVOKED {2}about /.test(l)).length, 2, text);
    assert.match(ok(ssf(['query', 'provenance', imageA, '--dir', 'f'])).out, new RegExp(`attested-by https://slsa\\.dev/provenance/v1  ${BUILDER}  \\(log #${runA.provenanceLogIndex}, REVOKED\\)`));
    // What others signed is not touched.
    assert.ok(json<SignedByAnswer>(['query', 'signed-by', `spiffe://${TD}/run/*/task/sbom/*`]).attestations.every((x) => x.revoked === undefined));
    ok(ssf(['fsck', '--dir', 'f']));
  });
});

describe('ssf fsck and ssf graph rebuild', () => {
  /** Runs `fn` on the SQLite file of factory `dir` (no ssf process has it open). */
  function sql(dir: string, fn: (db: Database.Database) => void): void {
    const db = new Database(join(tmp, dir, 'ssf.db'));
    try {
      fn(db);
    } finally {
      db.close();
    }
  }

  test('an untouched factory passes: exit 0, ok', () => {
    const r = ok(ssf(['fsck', '--dir', 'f']));
    assert.match(r.out, /^log: (\d+) entries, \1 signed checkpoints; evidence: \1 rows; graph: \d+ edges, \d+ current-state rows\nok\n$/);
    const j = json<FsckReport>(['fsck']);
    assert.equal(j.ok, true);
    assert.deepEqual(j.problems, []);
    assert.ok(j.edgesChecked > 100);
    assertFails(ssf(['fsck', '--limit', '0', '--dir', 'f']), 'USAGE');
  });

  test('an edited edge (a severity lowered in SQL) fails fsck; graph rebuild repairs it', () => {
    const dir = copyFactory('f-edge');
    sql(dir, (db) => {
      // The edge of image A's newest scan (the rescan's).
      const n = db.prepare(`UPDATE g_edge SET props = replace(props, '"severity":"high"', '"severity":"low"') WHERE id = (SELECT e.id FROM g_edge e
        WHERE e.verb = 'affected-by' AND e.dst = (SELECT id FROM g_node WHERE kind = 'vulnerability' AND key = ?) AND e.src = (SELECT id FROM g_node WHERE key = ?)
        ORDER BY e.log_index DESC LIMIT 1)`).run(DEBUG_ADV, imageA).changes;
      assert.equal(n, 1);
      // ...and the current-state row the queries read (src/graph/current.ts), to match it.
      const m = db.prepare(`UPDATE g_cur_finding SET severity = 'low'
        WHERE vulnerability = (SELECT id FROM g_node WHERE kind = 'vulnerability' AND key = ?) AND artifact = (SELECT id FROM g_node WHERE key = ?)`).run(DEBUG_ADV, imageA).changes;
      assert.equal(m, 1);
    });
    // The graph now lies...
    assert.equal(json<AffectedDeployments>(['query', 'affected', DEBUG_ADV], dir).artifacts.find((x) => x.digest === imageA)?.severity, 'low');
    // ...and fsck says where.
    const r = ssf(['fsck', '--dir', dir]);
    const err = assertFails(r, 'FACTORY_CORRUPT');
    assert.match(err, /fsck found 2 problems \(first: graph log index \d+: /);
    assert.match(r.out, new RegExp(`^ {2}graph {4}log index \\d+: edge artifact ${imageA} affected-by vulnerability ${DEBUG_ADV} is not in its evidence \\(inserted or edited edge\\)$`, 'm'));
    assert.match(r.out, new RegExp(`^ {2}graph {4}log index \\d+: edge artifact ${imageA} affected-by vulnerability ${DEBUG_ADV} of this evidence is missing \\(deleted edge\\)$`, 'm'));
    assert.doesNotMatch(r.out, /^ok$/m);
    const j = JSON.parse(ssf(['fsck', '--dir', dir, '--json']).out) as FsckReport;
    assert.deepEqual([j.ok, j.problemCount, [...new Set(j.problems.map((p) => p.area))]], [false, 2, ['graph']]);

    const rebuilt = /^graph rebuilt: (\d+) edges from (\d+) evidence rows$/m.exec(ok(ssf(['graph', 'rebuild', '--dir', dir])).out);
    assert.ok(rebuilt);
    const after = json<FsckReport>(['fsck'], dir);
    assert.equal(after.ok, true, JSON.stringify(after.problems));
    assert.deepEqual([after.edgesChecked, after.evidenceChecked], [Number(rebuilt[1]), Number(rebuilt[2])], 'the edges rebuilt are the edges there');
    assert.equal(json<AffectedDeployments>(['query', 'affected', DEBUG_ADV], dir).artifacts.find((x) => x.digest === imageA)?.severity, 'high');
    // Revocation marks survive the rebuild.
    assert.ok(json<SignedByAnswer>(['query', 'signed-by', BUILDER], dir).attestations.every((x) => x.revoked === true));
  });

  test('a deleted deployment edge and an inserted one are found; rebuild repairs both', () => {
    const dir = copyFactory('f-edge-del');
    sql(dir, (db) => {
      assert.equal(db.prepare("DELETE FROM g_edge WHERE verb = 'deployed-as' AND dst = (SELECT id FROM g_node WHERE kind = 'deployment' AND key = ?)").run(WEB).changes, 1);
      db.prepare("INSERT INTO g_node (kind, key, name) VALUES ('deployment', 'c1/ns/Deployment/ghost', 'ghost')").run();
      db.prepare(`INSERT INTO g_edge (src, verb, dst, log_index, observed_at) SELECT a.id, 'deployed-as', d.id, ?, 0
        FROM g_node a, g_node d WHERE a.key = ? AND d.key = 'c1/ns/Deployment/ghost'`).run(runB.provenanceLogIndex, imageB);
    });
    const r = ssf(['fsck', '--dir', dir]);
    assertFails(r, 'FACTORY_CORRUPT');
    assert.match(r.out, new RegExp(`edge artifact ${imageA} deployed-as deployment ${WEB} of this evidence is missing \\(deleted edge\\)`));
    assert.match(r.out, new RegExp(`edge artifact ${imageB} deployed-as deployment c1/ns/Deployment/ghost is not in its evidence`));
    ok(ssf(['graph', 'rebuild', '--dir', dir]));
    ok(ssf(['fsck', '--dir', dir]));
    assert.deepEqual(json<BlastRadius>(['query', 'blast-radius', 'pkg:npm/ms@2.1.3'], dir).deployments.map((d) => d.deployment), [WEB]);
  });

  test('an edited evidence payload fails fsck and cannot be repaired: graph rebuild refuses to project it', () => {
    const dir = copyFactory('f-payload');
    const before = json<BlastRadius>(['query', 'blast-radius', 'pkg:npm/debug'], dir);
    let logIndex = -1;
    sql(dir, (db) => {
      // The SBOM of run A: debug renamed, as if it had never been there.
      const row = db.prepare("SELECT log_index, payload FROM evidence WHERE predicate_type = 'https://cyclonedx.org/bom/v1.6' ORDER BY log_index LIMIT 1").get() as { log_index: number; payload: Buffer };
      logIndex = Number(row.log_index);
      const text = row.payload.toString('utf8');
      assert.ok(text.includes('pkg:npm/debug@2.6.9'));
      db.prepare('UPDATE evidence SET payload = ? WHERE log_index = ?').run(Buffer.from(text.replaceAll('pkg:npm/debug@2.6.9', 'pkg:npm/debvg@2.6.9')), logIndex);
    });
    const r = ssf(['fsck', '--dir', dir]);
    assert.match(assertFails(r, 'FACTORY_CORRUPT'), new RegExp(`first: evidence log index ${logIndex}: the stored payload does not match its recorded sha256 \\(edited payload\\)`));
    assert.match(r.out, new RegExp(`^ {2}evidence log index ${logIndex}: the DSSE signature does not verify with the signer certificate$`, 'm'));
    // Re-deriving the graph from a forged payload would make the graph agree with the forgery.
    assert.match(assertFails(ssf(['graph', 'rebuild', '--dir', dir]), 'FACTORY_CORRUPT'), new RegExp(`evidence log index ${logIndex}`));
    assert.deepEqual(json<BlastRadius>(['query', 'blast-radius', 'pkg:npm/debug'], dir), before, 'the graph is unchanged');
    assertFails(ssf(['fsck', '--dir', dir]), 'FACTORY_CORRUPT');
  });
});

test('every graph command answers --help with its usage and exit 0', () => {
  for (const name of ['query provenance', 'query blast-radius', 'query affected', 'query signed-by', 'query diff', 'deployments record', 'deployments remove', 'rescan', 'fsck', 'graph rebuild']) {
    for (const flag of ['--help', '-h']) {
      const r = ok(ssf([...name.split(' '), flag]));
      assert.ok(r.out.startsWith(`Usage: ssf ${name} `) || r.out.startsWith(`Usage: ssf ${name}\n`), `${name} ${flag}: ${r.out.slice(0, 60)}`);
      assert.match(r.out, /-h, --help/);
      assert.equal(r.err, '');
    }
  }
  assert.equal(ok(ssf(['query', 'provenance', 'sha256:abc', '--help'])).code, 0, '--help wins over a bad argument');
  const overview = ok(ssf(['--help'])).out;
  for (const name of ['query provenance', 'query blast-radius', 'query affected', 'query signed-by', 'query diff', 'deployments record', 'deployments remove', 'rescan', 'fsck', 'graph rebuild']) assert.match(overview, new RegExp(`^ {2}${name} +\\S`, 'm'), name);
});
