/**
 * Policy gates in real runs: gate A before anything runs, B before dependencies install, C
 * before anything is published. Real sandboxes, real signatures, a loopback npm registry.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { sha256File, systemClock } from '../core/index.js';
import { Factory, initFactory } from '../factory/index.js';
import { hashTree } from '../observer/index.js';
import { FakeRegistry, lockfileFor, makeTarball } from '../materials/fixtures.js';
import { DecisionStore, addPolicy, readPolicyConfig, signPolicy, writePolicyConfig } from '../admission/index.js';
import { loadPolicy } from '../policy/index.js';
import { Runner, type RunEvent } from './index.js';
import { SigstoreJsVerifier } from '../verify/index.js';

const TD = 'gates.test.internal';
let tmp: string;
let f: Factory;
let runner: Runner;
let registry: FakeRegistry;
let npmDigest: string;

function pipeline(name: string, deps: boolean): string {
  const dir = join(tmp, name);
  mkdirSync(join(dir, 'src'), { recursive: true });
  writeFileSync(join(dir, 'src', 'input.txt'), `input of ${name}\n`);
  writeFileSync(join(dir, 'ssf-pipeline.yaml'), `apiVersion: ssf/v1
kind: Pipeline
metadata: { name: ${name} }
workspaces: [ { name: source }, { name: out } ]
tools:
  - { name: node, path: /usr/bin/node, digest: "sha256:${sha256File('/usr/bin/node')}" }
  - { name: sh, path: /usr/bin/dash, digest: "sha256:${sha256File('/usr/bin/dash')}" }
  - { name: npm, path: /usr/lib/node_modules/npm, digest: "${npmDigest}" }
tasks:
  - name: checkout
    kind: source
    source: { path: . }
    workspaces: [ { name: source, mode: rw } ]
${deps ? `  - name: deps
    kind: dependencies
    needs: [checkout]
    dependencies: { manager: npm, lockfile: package-lock.json, tool: npm }
    workspaces: [ { name: source, mode: rw } ]
` : ''}  - name: build
    kind: run
    needs: [${deps ? 'deps' : 'checkout'}]
    run:
      tool: sh
      args: [-euc, "cat src/input.txt > /workspace/out/result.txt"]
      cwd: source
    workspaces: [ { name: source, mode: ro }, { name: out, mode: rw } ]
  - name: publish
    kind: publish
    needs: [build]
    publish:
      artifacts:
        - { type: file, name: result.txt, from: out, path: result.txt }
    workspaces: [ { name: out, mode: ro } ]
`);
  return join(dir, 'ssf-pipeline.yaml');
}

function policyFile(name: string, gate: string, expr: string, extra = ''): string {
  const file = join(tmp, `${name}.yaml`);
  writeFileSync(file, `apiVersion: ssf/v1
kind: Policy
metadata: { name: ${name}, version: 1.0.0 }
spec:
  gate: ${gate}
${extra}  rules:
    - name: rule
      expr: ${JSON.stringify(expr)}
      message: ${name} says no
`);
  return file;
}

before(async () => {
  tmp = mkdtempSync(join(tmpdir(), 'ssf-gates-'));
  await initFactory({ dir: join(tmp, '.ssf'), trustDomain: TD, clock: systemClock, passphrase: 'gates test passphrase', rootKeyOut: join(tmp, 'root.key.pem') });
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

test('a run decides gates A, B and C by the default policies; each decision is a signed VSA with its input kept', async () => {
  const a = await makeTarball('gate-a', '1.0.0');
  registry.add(a);
  const file = pipeline('all-gates', true);
  writeFileSync(join(tmp, 'all-gates', 'package.json'), JSON.stringify({ name: 'all-gates', version: '1.0.0', dependencies: { 'gate-a': '1.0.0' } }));
  writeFileSync(join(tmp, 'all-gates', 'package-lock.json'), lockfileFor('all-gates', [a]));
  const events: RunEvent[] = [];
  const out = await runner.run({ file, registry: registry.url, onEvent: (e) => events.push(e) });
  assert.equal(out.status, 'succeeded', out.error?.message);
  const gates = events.filter((e): e is Extract<RunEvent, { type: 'gate' }> => e.type === 'gate');
  assert.deepEqual(gates.map((g) => [g.gate, g.allowed]), [['build', true], ['dependencies', true], ['publish', true]]);
  const rows = new DecisionStore(f.db).forRun(out.runId);
  assert.deepEqual(rows.map((r) => r.gate), ['build', 'dependencies', 'publish']);
  const verifier = f.verifier();
  const trustedRoot = JSON.parse(readFileSync(f.layout.trustedRoot, 'utf8')) as unknown;
  for (const r of rows) {
    const bundle = f.bundleOf(f.evidence.getByLogIndex(r.log_index));
    const v = verifier.verify(bundle, { identity: `spiffe://${TD}/factory/policy` });
    assert.equal(v.statement.predicateType, 'https://slsa.dev/verification_summary/v1');
    const vsa = v.statement.predicate as { verificationResult: string; decision: { input: { digest: string } }; policy: { digest: { sha256: string } } };
    assert.equal(vsa.verificationResult, 'PASSED');
    assert.equal(vsa.decision.input.digest, r.input_digest);
    assert.equal(`sha256:${vsa.policy.digest.sha256}`, r.policy_set_digest);
    // An independent Sigstore verifier accepts the decision with only the trusted root.
    new SigstoreJsVerifier(trustedRoot).verify(bundle, `spiffe://${TD}/factory/policy`);
  }
  // gate C's subject is the artifact; its input is the verified chain
  const c = rows[2];
  assert.equal(c?.subject, out.artifacts[0]?.digest);
  const input = JSON.parse(c?.input ?? '{}') as { run: { tasks: { name: string }[]; sandbox: { isolated: boolean } }; provenance: { verified: boolean } };
  assert.deepEqual(input.run.tasks.map((t) => t.name), ['checkout', 'deps', 'build', 'publish']);
  assert.equal(input.provenance.verified, true);
  // the audit-mode SLSA L3 policy passed, so the decision records the level
  const cBundle = f.bundleOf(f.evidence.getByLogIndex(c?.log_index ?? -1));
  const levels = (verifier.verify(cBundle).statement.predicate as { verifiedLevels: string[] }).verifiedLevels;
  assert.ok(levels.includes('SLSA_BUILD_LEVEL_3'), levels.join(','));
  const files = readdirSync(join(out.runDir, 'evidence'));
  for (const g of ['gate-A-build', 'gate-B-dependencies-deps', 'gate-C-publish-result.txt']) {
    assert.ok(files.includes(`${g}.input.json`) && files.includes(`${g}.vsa.sigstore.json`), `${g}: ${files.join(',')}`);
  }
});

test('gate A denies: the run stops before any task, the decision is stored, nothing is published', async () => {
  const file = pipeline('deny-a', false);
  const deny = policyFile('no-deny-a', 'build', "input.pipeline.name != 'deny-a'");
  const out = await runner.run({ file, policies: [deny] });
  assert.equal(out.status, 'failed');
  assert.equal(out.error?.code, 'POLICY_DENIED');
  assert.match(out.error?.message ?? '', /gate build denied pipeline deny-a: no-deny-a\/rule: no-deny-a says no \(signed decision at log index \d+\)/);
  assert.ok(runner.runs.tasks(out.runId).every((t) => t.status === 'pending' || t.status === 'skipped'), 'no task ran');
  const [row] = new DecisionStore(f.db).forRun(out.runId);
  assert.equal(row?.allowed, 0);
  assert.match(row?.summary ?? '', /no-deny-a\/rule/);
  assert.equal(runner.runs.get(out.runId).status, 'failed');
  assert.ok(!runner.repository.index().some((d) => d.annotations?.['org.opencontainers.image.ref.name']?.includes(out.runId)));
});

test('gate B denies before the install: nothing is fetched, the run fails at the dependencies task', async () => {
  const bad = await makeTarball('gate-bad', '6.6.6');
  registry.add(bad);
  const file = pipeline('deny-b', true);
  writeFileSync(join(tmp, 'deny-b', 'package.json'), JSON.stringify({ name: 'deny-b', version: '1.0.0', dependencies: { 'gate-bad': '6.6.6' } }));
  writeFileSync(join(tmp, 'deny-b', 'package-lock.json'), lockfileFor('deny-b', [bad]));
  const deny = policyFile('no-gate-bad', 'dependencies', "input.packages.all(p, p.name != 'gate-bad')", '  appliesTo: { pipelines: [deny-*] }\n');
  const before = registry.requests.length;
  const out = await runner.run({ file, registry: registry.url, policies: [deny] });
  assert.equal(out.status, 'failed');
  assert.equal(out.error?.code, 'POLICY_DENIED');
  assert.equal(registry.requests.length, before, 'a denied gate B fetches nothing');
  const tasks = runner.runs.tasks(out.runId);
  assert.equal(tasks.find((t) => t.name === 'deps')?.status, 'failed');
  assert.equal(tasks.find((t) => t.name === 'build')?.status, 'skipped');
  assert.deepEqual(new DecisionStore(f.db).forRun(out.runId).map((r) => [r.gate, r.allowed]), [['build', 1], ['dependencies', 0]]);
});

test('gate C denies: provenance is signed but the artifact is neither named nor given referrers', async () => {
  const file = pipeline('deny-c', false);
  const deny = policyFile('require-scan', 'publish', 'input.evidence.vulnerabilities != null');
  const out = await runner.run({ file, policies: [deny] });
  assert.equal(out.status, 'failed');
  assert.equal(out.error?.code, 'POLICY_DENIED');
  assert.match(out.error?.message ?? '', /gate publish denied result\.txt: require-scan\/rule/);
  assert.ok(!runner.repository.index().some((d) => d.annotations?.['org.opencontainers.image.ref.name']?.includes(out.runId)));
  assert.deepEqual(new DecisionStore(f.db).forRun(out.runId).map((r) => [r.gate, r.allowed]), [['build', 1], ['publish', 0]]);
});

test('audit mode warns without blocking', async () => {
  const file = pipeline('audit-a', false);
  const audit = policyFile('audit-only', 'build', 'false', '  mode: audit\n');
  const events: RunEvent[] = [];
  const out = await runner.run({ file, policies: [audit], onEvent: (e) => events.push(e) });
  assert.equal(out.status, 'succeeded', out.error?.message);
  const a = events.find((e): e is Extract<RunEvent, { type: 'gate' }> => e.type === 'gate' && e.gate === 'build');
  assert.deepEqual(a?.warnings, ['audit-only/rule: audit-only says no']);
});

test('with signed policies required, an unsigned or edited policy stops the run before it starts; a signed one is applied', async () => {
  const file = pipeline('signed-policies', false);
  const p = policyFile('signed-ok', 'build', 'true');
  writePolicyConfig(f, { ...readPolicyConfig(f), requireSigned: true });
  try {
    await assert.rejects(runner.run({ file, policies: [p] }), { code: 'POLICY_SIGNATURE' });
    await signPolicy(f, loadPolicy(p), p);
    const ok = await runner.run({ file, policies: [p] });
    assert.equal(ok.status, 'succeeded', ok.error?.message);
    writeFileSync(p, readFileSync(p, 'utf8').replace("expr: \"true\"", "expr: \"1 == 1\""));
    await assert.rejects(runner.run({ file, policies: [p] }), { code: 'POLICY_SIGNATURE' });
    // addPolicy refuses it too, and nothing is written to the configuration
    const cfg = JSON.stringify(readPolicyConfig(f));
    assert.throws(() => addPolicy(f, p), { code: 'POLICY_SIGNATURE' });
    assert.equal(JSON.stringify(readPolicyConfig(f)), cfg);
  } finally {
    writePolicyConfig(f, { ...readPolicyConfig(f), requireSigned: false });
  }
});
