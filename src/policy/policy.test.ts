import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { throwsCode } from '../core/testing.js';
import { parseVsa } from '../attest/index.js';
import {
  builtinPolicyNames, decisionVsa, defaultPolicies, evaluateGate, loadBuiltinPolicy, parsePolicy, runTestFile, validateGateInput, type Gate,
} from './index.js';

const root = fileURLToPath(new URL('../../../', import.meta.url));
const input = (gate: Gate): Record<string, unknown> => JSON.parse(readFileSync(join(root, 'policies', 'testdata', `${gate}.json`), 'utf8')) as Record<string, unknown>;
const policy = (text: string, name = 'p.yaml'): ReturnType<typeof parsePolicy> => parsePolicy(Buffer.from(text), name, `file:///${name}`);

const HEAD = `apiVersion: ssf/v1
kind: Policy
metadata: { name: t, version: 1.0.0 }
spec:
  gate: build
  rules:
`;

function message(fn: () => unknown): string {
  try {
    fn();
  } catch (e) {
    return (e as Error).message;
  }
  return '';
}

test('every built-in policy passes the test cases kept beside it, and each has deny cases', () => {
  const names = builtinPolicyNames();
  assert.ok(names.length >= 15, `library has ${names.length} policies`);
  for (const n of names) {
    const { results } = runTestFile(join(root, 'policies', `${n}.test.yaml`));
    for (const r of results) assert.ok(r.ok, `${n}: ${r.name}: ${r.problem}`);
    assert.ok(results.some((r) => r.failingRules.length > 0), `${n} has no case that denies`);
  }
});

test('a policy test with the wrong expectation fails, naming the rules', () => {
  const p = loadBuiltinPolicy('hermetic-build');
  const r = runTestFile(join(root, 'policies', 'hermetic-build.test.yaml'), p);
  assert.ok(r.results.every((x) => x.ok));
  const bad = policy(`${HEAD}    - { name: never, expr: "false", message: always fails }`);
  const r2 = runTestFile(join(root, 'policies', 'hermetic-build.test.yaml'), bad);
  assert.ok(r2.results.some((x) => !x.ok && /expected allow, got deny \(never: always fails\)/.test(x.problem ?? '')));
});

test('CEL syntax errors are reported at load with the file position of the offending character', () => {
  // plain scalar on line 7: "input.a &&& b" → the error is at the third '&'
  const m = message(() => policy(`${HEAD}    - name: r\n      expr: input.a &&& input.b\n      message: m\n`));
  assert.match(m, /^p\.yaml:8:\d+: rule r: expr: CEL syntax error/);
  const col = Number(/^p\.yaml:8:(\d+)/.exec(m)?.[1]);
  assert.equal('      expr: input.a &&& input.b'[col - 1], '&');
  // literal block: the error on the expression's second line maps to the file's line 10
  const m2 = message(() => policy(`${HEAD}    - name: r\n      message: m\n      expr: |\n        input.a &&\n        input.b +* 2\n`));
  assert.match(m2, /^p\.yaml:11:17: rule r: expr: CEL syntax error/);
  throwsCode(() => policy(`${HEAD}    - { name: r, expr: "input.a ==", message: m }`), 'POLICY_INVALID');
});

test('unknown variables and functions are compile errors, not runtime surprises', () => {
  assert.match(message(() => policy(`${HEAD}    - { name: r, expr: "inputs.pipeline.signed", message: m }`)), /undeclared reference to "inputs"/);
  assert.match(message(() => policy(`${HEAD}    - { name: r, expr: "input.pipeline.tools.all(t, isPinned(t))", message: m }`)), /unknown function "isPinned"/);
  // macro variables are in scope inside their macro only
  assert.match(message(() => policy(`${HEAD}    - { name: r, expr: "input.pipeline.tools.all(t, t.pinned) && t.verified", message: m }`)), /undeclared reference to "t"/);
  policy(`${HEAD}    - { name: r, expr: "input.pipeline.tools.all(t, t.pinned && t.name.lowerAscii() != '') && severityRank('high') == 3", message: m }`);
});

test('schema problems name the field and position', () => {
  assert.match(message(() => policy(HEAD.replace('gate: build', 'gate: compile') + '    - { name: r, expr: "true", message: m }')), /^p\.yaml:5:\d+: .*gate/);
  assert.match(message(() => policy(`${HEAD}    - { name: r, expr: "true", message: m }\n    - { name: r, expr: "true", message: m }`)), /rule name "r" is used twice/);
  throwsCode(() => policy('apiVersion: ssf/v1\nkind: Policy\n'), 'POLICY_INVALID');
  throwsCode(() => policy('[1, 2'), 'POLICY_INVALID');
  throwsCode(() => policy('a: &a [*a]'), 'POLICY_INVALID');
  throwsCode(() => parsePolicy(Buffer.alloc(300 * 1024, 0x20), 'big.yaml', 'file:///big.yaml'), 'INPUT_TOO_LARGE');
});

test('evaluation fails closed: errors and non-booleans are failures, and every failing rule is named', () => {
  const p = policy(`${HEAD}    - { name: missing-field, expr: "input.nope == 1", message: reads a field that is not there }
    - { name: not-bool, expr: "'yes'", message: gives a string }
    - { name: ok, expr: "input.pipeline.signed", message: unsigned }
    - { name: denies, expr: "input.pipeline.tools.size() == 0", message: has tools, details: "input.pipeline.tools.map(t, t.name)" }`);
  const d = evaluateGate([p], 'build', input('build'));
  assert.equal(d.allowed, false);
  const rules = d.policies[0]?.rules ?? [];
  assert.deepEqual(rules.map((r) => r.outcome), ['error', 'error', 'pass', 'fail']);
  assert.deepEqual(rules[3]?.details, ['node', 'npm']);
  assert.match(rules[0]?.message ?? '', /could not be evaluated/);
});

test('audit mode reports without blocking; appliesTo selects by pipeline name', () => {
  const audit = policy(HEAD.replace('gate: build', 'gate: build\n  mode: audit') + '    - { name: r, expr: "false", message: would deny }');
  const d = evaluateGate([audit], 'build', input('build'));
  assert.equal(d.allowed, true);
  assert.deepEqual(d.warnings, ['t/r: would deny']);
  const other = policy(HEAD.replace('gate: build', 'gate: build\n  appliesTo: { pipelines: ["other-*"] }') + '    - { name: r, expr: "false", message: m }');
  assert.equal(evaluateGate([other], 'build', input('build'), { pipeline: 'hello-service' }).allowed, true);
  assert.equal(evaluateGate([other], 'build', input('build'), { pipeline: 'other-service' }).allowed, false);
});

test('gate inputs are checked against their schema before any rule runs', () => {
  for (const g of ['build', 'dependencies', 'publish', 'deploy'] as const) validateGateInput(g, input(g));
  const bad = input('build');
  delete (bad['pipeline'] as Record<string, unknown>)['tools'];
  throwsCode(() => evaluateGate(defaultPolicies(), 'build', bad), 'POLICY_INPUT_INVALID');
  assert.match(message(() => validateGateInput('build', bad)), /input\.pipeline has no tools/);
  throwsCode(() => validateGateInput('deploy', input('build')), 'POLICY_INPUT_INVALID');
  throwsCode(() => validateGateInput('build', { ...input('build'), time: 'yesterday' }), 'POLICY_INPUT_INVALID');
});

test('a decision becomes a valid SLSA VSA with the policy digest, input digest and every rule outcome', () => {
  const d = evaluateGate(defaultPolicies(), 'publish', input('publish'));
  assert.equal(d.allowed, true);
  assert.ok(d.levels.includes('SLSA_BUILD_LEVEL_3'));
  const vsa = decisionVsa(d, { verifierId: 'spiffe://example.internal/factory/policy', resourceUri: 'file:///x', time: new Date('2026-12-02T07:00:00Z') });
  const back = parseVsa(JSON.parse(JSON.stringify(vsa)));
  assert.equal(back.verificationResult, 'PASSED');
  assert.deepEqual(back.verifiedLevels, ['SLSA_BUILD_LEVEL_3']);
  assert.equal(`sha256:${back.policy.digest?.sha256}`, d.policySetDigest);
  const decision = back['decision'] as { input: { digest: string }; policies: { digest: string; rules: unknown[] }[] };
  assert.equal(decision.input.digest, d.inputDigest);
  assert.ok(decision.policies.every((p) => /^sha256:[0-9a-f]{64}$/.test(p.digest) && p.rules.length > 0));
  // denied: FAILED, and the failing level is recorded instead of a passing one
  const denied = evaluateGate(defaultPolicies(), 'publish', { ...input('publish'), provenance: { ...(input('publish')['provenance'] as object), signer: 'spiffe://x/y' } });
  assert.equal(denied.allowed, false);
  const v2 = decisionVsa(denied, { verifierId: 'spiffe://example.internal/factory/policy', resourceUri: 'file:///x', time: new Date() });
  assert.equal(v2.verificationResult, 'FAILED');
  assert.deepEqual(v2.verifiedLevels, ['SSF_GATE_PUBLISH_FAILED']);
});

test('the same input and policies give the same digests (decisions are reproducible)', () => {
  const a = evaluateGate(defaultPolicies(), 'deploy', input('deploy'));
  const reordered = Object.fromEntries(Object.entries(input('deploy')).reverse());
  const b = evaluateGate(defaultPolicies().reverse(), 'deploy', reordered);
  assert.equal(a.inputDigest, b.inputDigest);
  assert.equal(a.policySetDigest, b.policySetDigest);
});
