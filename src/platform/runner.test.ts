/**
 * End-to-end tests of a run through the factory: real sandboxes, real signatures, a real
 * (in-process, loopback) npm registry serving real tarballs. Each test builds its own small
 * project and pipeline.
 */
import { after, before, describe, test } from 'node:test';
import { execFileSync, spawnSync } from 'node:child_process';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { sha256File, sha256Hex, systemClock } from '../core/index.js';
import { rejectsCode } from '../core/testing.js';
import { Factory, initFactory } from '../factory/index.js';
import { SigstoreJsVerifier, verifyProvenanceChain } from '../verify/index.js';
import { hashTree } from '../observer/index.js';
import { FakeRegistry, lockfileFor, makeTarball } from '../materials/fixtures.js';
import { Runner, type RunEvent } from './index.js';
import type { Statement } from '../attest/index.js';
import { signPipeline } from './pipeline-sign.js';
import { loadPipeline } from '../pipeline/index.js';

const TD = 'runs.test.internal';
let tmp: string;
let f: Factory;
let runner: Runner;
let registry: FakeRegistry;
let npmDigest: string;

const NODE = `sha256:${sha256File('/usr/bin/node')}`;
const DASH = `sha256:${sha256File('/usr/bin/dash')}`;

function tools(): string {
  return `tools:
  - { name: node, path: /usr/bin/node, digest: "${NODE}" }
  - { name: sh, path: /usr/bin/dash, digest: "${DASH}" }
  - { name: npm, path: /usr/lib/node_modules/npm, digest: "${npmDigest}" }
`;
}

/** A project dir with a pipeline: checkout -> build (sh script) -> publish out/result.txt. */
function project(name: string, script: string, extra = ''): string {
  const dir = join(tmp, name);
  mkdirSync(join(dir, 'src'), { recursive: true });
  writeFileSync(join(dir, 'src', 'input.txt'), `input of ${name}\n`);
  writeFileSync(join(dir, 'ssf-pipeline.yaml'), `apiVersion: ssf/v1
kind: Pipeline
metadata: { name: ${name} }
params:
  - { name: greeting, type: string, default: hello, enum: [hello, bye] }
workspaces: [ { name: source }, { name: out } ]
${tools()}tasks:
  - name: checkout
    kind: source
    source: { path: . }
    workspaces: [ { name: source, mode: rw } ]
  - name: build
    kind: run
    needs: [checkout]
    run:
      tool: sh
      args: [-euc, ${JSON.stringify(script)}]
      cwd: source
      env: { GREETING: "$(params.greeting)" }
      timeoutSeconds: 60
      memoryMiB: 512
    workspaces: [ { name: source, mode: ro }, { name: out, mode: rw } ]
${extra}  - name: publish
    kind: publish
    needs: [build]
    publish:
      artifacts:
        - { type: file, name: result.txt, from: out, path: result.txt }
    workspaces: [ { name: out, mode: ro } ]
`);
  return join(dir, 'ssf-pipeline.yaml');
}

const BUILD = 'cat src/input.txt > /workspace/out/result.txt; echo "$GREETING" >> /workspace/out/result.txt';

before(async () => {
  tmp = mkdtempSync(join(tmpdir(), 'ssf-runs-'));
  await initFactory({ dir: join(tmp, '.ssf'), trustDomain: TD, clock: systemClock, passphrase: 'runs test passphrase', rootKeyOut: join(tmp, 'root.key.pem') });
  f = Factory.open(join(tmp, '.ssf'));
  runner = new Runner(f);
  registry = new FakeRegistry();
  await registry.start();
  npmDigest = (await hashTree('/usr/lib/node_modules/npm')).digest;
});

after(async () => {
  f.close();
  await registry.stop();
  rmSync(tmp, { recursive: true, force: true });
});

describe('a successful run', () => {
  test('signs every task and the provenance; the artifact verifies offline through the chain', async () => {
    const file = project('ok', BUILD);
    const events: RunEvent[] = [];
    const out = await runner.run({ file, params: { greeting: 'bye' }, onEvent: (e) => events.push(e) });
    assert.equal(out.status, 'succeeded', out.error?.message);
    assert.equal(out.artifacts.length, 1);
    const art = out.artifacts[0];
    assert.ok(art);
    const bytes = readFileSync(join(tmp, '.ssf', 'repository', 'blobs', 'sha256', art.digest.slice(7)));
    assert.equal(bytes.toString(), 'input of ok\nbye\n');
    // Offline check with only the trusted root: a fresh verifier from the file, not the factory's.
    const bundle = JSON.parse(readFileSync(out.provenancePath ?? '', 'utf8')) as unknown;
    const rep = verifyProvenanceChain(f.verifier(), bundle, { algorithm: 'sha256', hex: art.digest.slice(7) });
    assert.deepEqual(rep.tasks.map((t) => t.name), ['checkout', 'build', 'publish']);
    assert.equal(rep.builderId, `spiffe://${TD}/factory/builder`);
    assert.ok(rep.node, 'the node attestation is part of the provenance');
    const build = rep.tasks.find((t) => t.name === 'build');
    const iso = build?.link.environment.isolation as { backend: string; network: string; uid: number; secure: boolean };
    assert.ok(['bubblewrap', 'unshare'].includes(iso.backend));
    assert.equal(iso.network, 'none');
    assert.equal(iso.uid, 65534);
    assert.equal(iso.secure, true);
    const trustedRoot = JSON.parse(readFileSync(f.layout.trustedRoot, 'utf8')) as unknown;
    new SigstoreJsVerifier(trustedRoot).verify(bundle, `spiffe://${TD}/factory/builder`);
    // Progress events, stored rows and the repository's index agree.
    assert.deepEqual(events.filter((e) => e.type === 'task-end').map((e) => (e as { task: string }).task), ['checkout', 'build', 'publish']);
    const row = runner.runs.get(out.runId);
    assert.equal(row.status, 'succeeded');
    assert.deepEqual(JSON.parse(row.params), { greeting: 'bye' });
    assert.ok(runner.runs.tasks(out.runId).every((t) => t.status === 'succeeded' && t.log_index !== null));
    assert.ok(runner.repository.index().some((d) => d.annotations?.['org.opencontainers.image.ref.name']?.endsWith(`:${out.runId}`)));
    assert.equal(runner.repository.referrers(runner.repository.index().find((d) => d.annotations?.['org.opencontainers.image.ref.name']?.endsWith(`:${out.runId}`))?.digest ?? '').length, 2, 'provenance and the publish gate decision (VSA)');
    // The same provenance re-signed by a task identity (as a build step would, had it a key) is refused.
    const st = JSON.parse(Buffer.from((bundle as { dsseEnvelope: { payload: string } }).dsseEnvelope.payload, 'base64').toString()) as Statement;
    const imposter = await f.issueIdentity(['run', out.runId, 'task', 'build', 'node', 'x']);
    const [forged] = f.attest([{ statement: st, identity: imposter }]);
    assert.throws(() => verifyProvenanceChain(f.verifier(), forged?.bundle, { algorithm: 'sha256', hex: art.digest.slice(7) }), { code: 'PROVENANCE_INVALID' });
    // Not the artifact: refused.
    assert.throws(() => verifyProvenanceChain(f.verifier(), bundle, { algorithm: 'sha256', hex: sha256Hex('other') }), { code: 'SUBJECT_MISMATCH' });
  });

  test('the pipeline signature is recorded in the provenance; --require-signed refuses unsigned definitions', async () => {
    const file = project('signed', BUILD);
    await rejectsCode(runner.run({ file, requireSigned: true }), 'PIPELINE_SIGNATURE');
    await signPipeline(f, loadPipeline(file));
    const out = await runner.run({ file, requireSigned: true });
    assert.equal(out.status, 'succeeded', out.error?.message);
    const bundle = JSON.parse(readFileSync(out.provenancePath ?? '', 'utf8')) as { dsseEnvelope: { payload: string } };
    const st = JSON.parse(Buffer.from(bundle.dsseEnvelope.payload, 'base64').toString()) as { predicate: { buildDefinition: { externalParameters: { pipeline: { signedBy?: string } } } } };
    assert.equal(st.predicate.buildDefinition.externalParameters.pipeline.signedBy, `spiffe://${TD}/operator/pipeline-signer`);
  });

  test('npm dependencies come through the verified mirror and install with no network in the sandbox', async () => {
    const a = await makeTarball('dep-a', '1.0.0', { 'index.js': 'module.exports = "a";\n' });
    const b = await makeTarball('dep-b', '2.1.0', { 'index.js': 'module.exports = "b";\n' });
    registry.add(a);
    registry.add(b);
    const file = project('deps', 'node -e "console.log(require(\'dep-a\') + require(\'dep-b\'))" > /workspace/out/result.txt', `  - name: deps
    kind: dependencies
    needs: [checkout]
    dependencies: { manager: npm, lockfile: package-lock.json, tool: npm }
    workspaces: [ { name: source, mode: rw } ]
`);
    const dir = join(tmp, 'deps');
    writeFileSync(join(dir, 'package.json'), JSON.stringify({ name: 'deps', version: '1.0.0', dependencies: { 'dep-a': '1.0.0', 'dep-b': '2.1.0' } }));
    writeFileSync(join(dir, 'package-lock.json'), lockfileFor('deps', [a, b]));
    const yaml = readFileSync(file, 'utf8').replace(/needs: \[checkout\]\n    run:/, 'needs: [deps]\n    run:');
    writeFileSync(file, yaml);
    const first = await runner.run({ file, registry: registry.url });
    assert.equal(first.status, 'succeeded', first.error?.message);
    const before = registry.requests.length;
    const again = await runner.run({ file, registry: registry.url, offline: true });
    assert.equal(again.status, 'succeeded', again.error?.message);
    assert.equal(registry.requests.length, before, 'a repeat run needs no network');
    const art = again.artifacts[0];
    assert.equal(readFileSync(join(tmp, '.ssf', 'repository', 'blobs', 'sha256', art?.digest.slice(7) ?? '')).toString(), 'ab\n');
    const bundle = JSON.parse(readFileSync(again.provenancePath ?? '', 'utf8')) as unknown;
    const rep = verifyProvenanceChain(f.verifier(), bundle, { algorithm: 'sha256', hex: art?.digest.slice(7) ?? '' });
    const deps = rep.provenance.buildDefinition.resolvedDependencies ?? [];
    assert.ok(deps.some((d) => d.uri === 'pkg:npm/dep-a@1.0.0' && typeof d.digest?.sha512 === 'string'));
    assert.ok(deps.some((d) => d.uri === 'pkg:npm/dep-b@2.1.0'));
  });

  test('a tampered package in the registry fails the run before anything installs', async () => {
    const c = await makeTarball('dep-c', '1.0.0');
    const evil = await makeTarball('dep-c', '1.0.0', { 'index.js': 'steal()' });
    registry.add(c, evil.bytes);
    const file = project('evil', BUILD, `  - name: deps
    kind: dependencies
    needs: [checkout]
    dependencies: { manager: npm, lockfile: package-lock.json, tool: npm }
    workspaces: [ { name: source, mode: rw } ]
`);
    const dir = join(tmp, 'evil');
    writeFileSync(join(dir, 'package.json'), JSON.stringify({ name: 'evil', version: '1.0.0', dependencies: { 'dep-c': '1.0.0' } }));
    writeFileSync(join(dir, 'package-lock.json'), lockfileFor('evil', [c]));
    writeFileSync(file, readFileSync(file, 'utf8').replace(/needs: \[checkout\]\n    run:/, 'needs: [deps]\n    run:'));
    const out = await runner.run({ file, registry: registry.url });
    assert.equal(out.status, 'failed');
    assert.equal(out.error?.code, 'INTEGRITY_MISMATCH');
    assert.equal(runner.runs.tasks(out.runId).find((t) => t.name === 'build')?.status, 'skipped');
  });
});

describe('git sources', () => {
  const gitEnv = { ...process.env, GIT_CONFIG_GLOBAL: '/dev/null', GIT_CONFIG_NOSYSTEM: '1' };
  const git = (cwd: string, ...args: string[]): string => execFileSync('git', ['-c', 'user.name=t', '-c', 'user.email=t@example.com', ...args], { cwd, encoding: 'utf8', env: gitEnv }).trim();
  const hasSshKeygen = spawnSync('ssh-keygen', ['-?']).error === undefined;

  test('an exact, signed commit is checked out, verified against allowed signers and recorded in the provenance', { skip: hasSshKeygen ? false : 'ssh-keygen not installed' }, async () => {
    const repo = join(tmp, 'git-repo');
    mkdirSync(join(repo, 'src'), { recursive: true });
    writeFileSync(join(repo, 'src', 'input.txt'), 'from git\n');
    git(repo, 'init', '-q');
    git(repo, 'add', '.');
    execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', 'dev', '-f', join(tmp, 'git-key')]);
    git(repo, '-c', 'gpg.format=ssh', '-c', `user.signingkey=${join(tmp, 'git-key')}`, 'commit', '-q', '-S', '-m', 'signed');
    const commit = git(repo, 'rev-parse', 'HEAD');
    writeFileSync(join(repo, 'src', 'input.txt'), 'unsigned change\n');
    git(repo, 'commit', '-q', '-am', 'unsigned');
    const unsigned = git(repo, 'rev-parse', 'HEAD');
    const file = project('gitsrc', BUILD);
    writeFileSync(join(tmp, 'gitsrc', 'allowed_signers'), `dev@example.com ${readFileSync(join(tmp, 'git-key.pub'), 'utf8')}`);
    const yaml = readFileSync(file, 'utf8').replace('source: { path: . }', `source: { git: { url: "${repo}", commit: "${commit}" }, allowedSigners: allowed_signers }`);
    writeFileSync(file, yaml);
    const out = await runner.run({ file });
    assert.equal(out.status, 'succeeded', out.error?.message);
    const art = out.artifacts[0];
    assert.equal(readFileSync(join(tmp, '.ssf', 'repository', 'blobs', 'sha256', art?.digest.slice(7) ?? '')).toString(), 'from git\nhello\n');
    const rep = verifyProvenanceChain(f.verifier(), JSON.parse(readFileSync(out.provenancePath ?? '', 'utf8')) as unknown, { algorithm: 'sha256', hex: art?.digest.slice(7) ?? '' });
    const source = rep.provenance.buildDefinition.resolvedDependencies?.find((d) => d.name === 'source');
    assert.equal(source?.digest?.gitCommit, commit);
    const checkout = rep.tasks.find((t) => t.name === 'checkout');
    assert.equal((checkout?.link.byproducts.source as { signature?: { signer?: string } }).signature?.signer, 'dev@example.com');
    // The next commit is not signed: the run fails at checkout and builds nothing.
    writeFileSync(file, yaml.replace(commit, unsigned));
    const bad = await runner.run({ file });
    assert.equal(bad.error?.code, 'SOURCE_SIGNATURE');
    assert.equal(runner.runs.tasks(bad.runId).find((t) => t.name === 'build')?.status, 'skipped');
  });
});

describe('failures', () => {
  test('a failing task is signed and stored, the run fails, nothing is published', async () => {
    const file = project('fails', 'echo partial > /workspace/out/result.txt; echo boom >&2; exit 3');
    const indexBefore = runner.repository.index().length;
    const out = await runner.run({ file });
    assert.equal(out.status, 'failed');
    assert.equal(out.error?.code, 'TASK_FAILED');
    const tasks = runner.runs.tasks(out.runId);
    const build = tasks.find((t) => t.name === 'build');
    assert.equal(build?.status, 'failed');
    assert.equal(build?.exit_code, 3);
    assert.ok(build?.log_index !== null, 'the failed task is still signed and logged');
    const ev = f.evidence.getByLogIndex(build?.log_index ?? -1);
    const st = JSON.parse(ev.payload.toString()) as { predicate: { byproducts: { exitCode: number; status: string } } };
    assert.equal(st.predicate.byproducts.exitCode, 3);
    assert.equal(st.predicate.byproducts.status, 'failed');
    assert.equal(tasks.find((t) => t.name === 'publish')?.status, 'skipped');
    assert.equal(runner.repository.index().length, indexBefore, 'nothing published');
    assert.equal(readFileSync(join(out.runDir, 'logs', 'build.stderr'), 'utf8'), 'boom\n');
  });

  test('a workspace altered between tasks fails the run before the next task starts', async () => {
    const file = project('tamper', BUILD);
    const out = await runner.run({
      file,
      onEvent: (e) => {
        if (e.type === 'task-end' && e.task === 'build') writeFileSync(join(tmp, '.ssf', 'runs', e.runId, 'ws', 'out', 'result.txt'), 'swapped\n');
      },
    });
    assert.equal(out.status, 'failed');
    assert.equal(out.error?.code, 'WORKSPACE_TAMPERED');
    assert.match(out.error?.message ?? '', /result\.txt modified/);
    assert.equal(runner.runs.tasks(out.runId).find((t) => t.name === 'publish')?.status, 'failed');
    assert.equal(runner.runs.get(out.runId).provenance_log_index, null);
  });

  test('undeclared or invalid parameters, unpinned tools and invalid YAML are refused before a run exists', async () => {
    const file = project('refuse', BUILD);
    const before = runner.runs.list(1000).length;
    await rejectsCode(runner.run({ file, params: { nope: '1' } }), 'PARAM_INVALID');
    await rejectsCode(runner.run({ file, params: { greeting: 'howdy' } }), 'PARAM_INVALID');
    writeFileSync(file, readFileSync(file, 'utf8').replace(DASH, `sha256:${'1'.repeat(64)}`));
    await rejectsCode(runner.run({ file }), 'TOOL_DIGEST_MISMATCH');
    writeFileSync(file, 'apiVersion: ssf/v1\nkind: Pipeline\nmetadata: { name: x\n');
    await rejectsCode(runner.run({ file }), 'PIPELINE_INVALID');
    assert.equal(runner.runs.list(1000).length, before);
  });

  test('a publish path that escapes its workspace is refused, statically or through a planted symlink', async () => {
    const file = project('escape', 'ln -s /etc/hostname /workspace/out/result.txt');
    const out = await runner.run({ file });
    assert.equal(out.status, 'failed');
    assert.equal(out.error?.code, 'PATH_ESCAPE');
    assert.ok(!existsSync(join(out.runDir, 'evidence', 'provenance.sigstore.json')));
    writeFileSync(file, readFileSync(file, 'utf8').replace('path: result.txt', 'path: ../../../../etc/hostname'));
    await rejectsCode(runner.run({ file }), 'PIPELINE_INVALID');
  });
});
