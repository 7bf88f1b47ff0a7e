/**
 * The policy commands as a user meets them: `bin/ssf.js` in a child process, in a temp dir.
 * policy lint (CEL and schema errors at file:line:column), policy test (the built-in library,
 * a user's test cases, --input, --param, --json), policy schema, the factory's policy set
 * (list, add, remove, sign, require-signed), real runs denied and allowed by the gates with the
 * decisions listed and their inputs replayed, admission check for unknown and built images,
 * and --help of every policy command.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
const BIN = join(ROOT, 'bin', 'ssf.js');
const LIBRARY = join(ROOT, 'policies');
const TD = 'policy-cli.test.internal';
let tmp: string;

type Result = { code: number; out: string; err: string };
const ENV = (): NodeJS.ProcessEnv => ({ PATH: process.env.PATH, HOME: tmp, SSF_ROOT_PASSPHRASE: 'policy cli test passphrase' });

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

const write = (name: string, text: string): string => {
  const file = join(tmp, name);
  mkdirSync(dirname(file), { recursive: true });
  writeFileSync(file, text);
  return file;
};
const sha256 = (file: string): string => createHash('sha256').update(readFileSync(file)).digest('hex');
const lineOf = (text: string, needle: string): number => text.split('\n').findIndex((l) => l.includes(needle)) + 1;

/** A gate A policy: the pipeline's name must not be params.forbidden; the details name it. */
function buildPolicy(name: string, forbidden: string): string {
  return `# ${name}: a user's own gate A policy
apiVersion: ssf/v1
kind: Policy
metadata: { name: ${name}, version: 1.2.0 }
spec:
  gate: build
  params:
    forbidden: ${forbidden}
  rules:
    - name: not-forbidden
      expr: input.pipeline.name != params.forbidden
      message: this pipeline may not be built here
      details: "[input.pipeline.name]"
    - name: sandboxed
      expr: input.sandbox.isolated
      message: runs must be sandboxed
`;
}

/** A policy with one broken rule on the line that holds `bad`. */
function brokenPolicy(bad: string): string {
  return `apiVersion: ssf/v1
kind: Policy
metadata: { name: broken, version: 1.0.0 }
spec:
  gate: build
  rules:
    - name: fine
      expr: input.sandbox.isolated
      message: fine
    - name: broken
      expr: ${bad}
      message: broken
`;
}

/** The smallest pipeline: checkout, a dash build, an OCI image of out/, publish of both. */
function pipeline(name: string): string {
  const dir = join(tmp, name);
  mkdirSync(join(dir, 'src'), { recursive: true });
  writeFileSync(join(dir, 'src', 'main.js'), `console.log(${JSON.stringify(name)})\n`);
  writeFileSync(join(dir, 'ssf-pipeline.yaml'), `apiVersion: ssf/v1
kind: Pipeline
metadata: { name: ${name} }
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
    run: { tool: sh, args: [-euc, "cp src/main.js /workspace/out/main.js"], cwd: source }
    workspaces: [ { name: source, mode: ro }, { name: out, mode: rw } ]
  - name: image
    kind: image
    needs: [build]
    image: { base: scratch, from: out, target: /app, entrypoint: [node, /app/main.js] }
    workspaces: [ { name: out, mode: ro } ]
  - name: publish
    kind: publish
    needs: [image]
    publish:
      artifacts:
        - { type: image, task: image, name: ${name}-image }
        - { type: file, name: main.js, from: out, path: main.js }
    workspaces: [ { name: out, mode: ro } ]
`);
  return join(dir, 'ssf-pipeline.yaml');
}

interface DecisionRow { gate: string; allowed: boolean; log_index: number; run_id: string | null; subject: string; input_digest: string; summary: string }
const decisions = (args: string[]): DecisionRow[] => JSON.parse(ok(ssf(['policy', 'decisions', '--json', ...args])).out) as DecisionRow[];
const logSize = (dir: string): number => (JSON.parse(ok(ssf(['log', '--dir', dir, '--json'])).out) as { size: number }).size;

before(() => {
  tmp = mkdtempSync(join(tmpdir(), 'ssf-policy-cli-'));
  // Two factories: `cfg` for the policy configuration commands, `runs` keeps the default policies.
  ok(ssf(['init', '--dir', 'cfg', '--trust-domain', TD, '--root-key-out', 'cfg-root.key.pem']));
  ok(ssf(['init', '--dir', 'runs', '--trust-domain', TD, '--root-key-out', 'runs-root.key.pem']));
});

after(() => rmSync(tmp, { recursive: true, force: true }));

describe('ssf policy lint', () => {
  test('valid policies: exit 0, one ok line each', () => {
    const mine = write('lint/mine.yaml', buildPolicy('mine', 'nothing'));
    const r = ok(ssf(['policy', 'lint', mine]));
    assert.equal(r.out, `${mine}: ok (mine@1.2.0, gate build, 2 rules)\n`);
    assert.equal(r.err, '');
    const lib = join(LIBRARY, 'hermetic-build.yaml');
    const two = ok(ssf(['policy', 'lint', lib, mine]));
    assert.deepEqual(two.out.trimEnd().split('\n'), [`${lib}: ok (hermetic-build@1.0.0, gate build, 2 rules)`, `${mine}: ok (mine@1.2.0, gate build, 2 rules)`]);
  });

  test('CEL errors: exit 1, one line with file:line:column of the offending text', () => {
    const cases: [string, string, RegExp, string][] = [
      // [file, bad expression, message, the text the column must point at]
      ['syntax.yaml', 'size(input.pipeline.tasks) > 1 1', /rule broken: expr: CEL syntax error: found 1 but expecting end of input$/, '1'],
      ['unclosed.yaml', "input.pipeline.tasks.all(t, t.network == 'none'", /rule broken: expr: CEL syntax error: this \( is never closed$/, '('],
      ['function.yaml', 'input.pipeline.tasks.all(t, isHermetic(t))', /rule broken: expr: unknown function "isHermetic"$/, 'isHermetic'],
      ['variable.yaml', 'input.sandbox.isolated && sandbox.network == "none"', /rule broken: expr: undeclared reference to "sandbox"/, 'sandbox.network'],
    ];
    for (const [name, bad, message, at] of cases) {
      const text = brokenPolicy(bad);
      const file = write(`lint/${name}`, text);
      const err = assertFails(ssf(['policy', 'lint', `lint/${name}`]), 'POLICY_INVALID');
      const m = /^ssf: error\[POLICY_INVALID\]: lint\/([a-z]+\.yaml):(\d+):(\d+): (.*)$/.exec(err);
      assert.ok(m, err);
      assert.equal(m[1], name);
      assert.equal(Number(m[2]), lineOf(text, bad), `${name}: the line of the broken rule's expr`);
      const line = text.split('\n')[Number(m[2]) - 1] ?? '';
      assert.ok(line.slice(Number(m[3]) - 1).startsWith(at), `${name}: column ${m[3]} of ${JSON.stringify(line)} should point at ${at}`);
      assert.match(m[4] ?? '', message);
      assert.ok(existsSync(file));
    }
  });

  test('a syntax error on the second line of a block expression is reported on that line', () => {
    const text = brokenPolicy(`|
        input.pipeline.tasks.all(t,
          t.network == 'none' && && t.kind != 'run')`);
    write('lint/block.yaml', text);
    const err = assertFails(ssf(['policy', 'lint', 'lint/block.yaml']), 'POLICY_INVALID');
    const m = /lint\/block\.yaml:(\d+):(\d+): rule broken: expr: CEL syntax error/.exec(err);
    assert.ok(m, err);
    assert.equal(Number(m[1]), lineOf(text, "t.network == 'none'"), err);
    assert.equal(text.split('\n')[Number(m[1]) - 1]?.slice(Number(m[2]) - 1, Number(m[2]) + 1), '&&', err);
  });

  test('a schema error (an unknown gate) and malformed YAML: POLICY_INVALID at the right place', () => {
    const gate = brokenPolicy('"true"').replace('gate: build', 'gate: shipping');
    write('lint/gate.yaml', gate);
    assert.match(assertFails(ssf(['policy', 'lint', 'lint/gate.yaml']), 'POLICY_INVALID'), /lint\/gate\.yaml:5:9: spec\.gate must be one of: build, dependencies, publish, deploy$/);
    write('lint/yaml.yaml', 'apiVersion: ssf/v1\nkind: Policy\nmetadata: { name: x\nspec: [\n');
    assert.match(assertFails(ssf(['policy', 'lint', 'lint/yaml.yaml']), 'POLICY_INVALID'), /lint\/yaml\.yaml:\d+:\d+: YAML: /);
    write('lint/list.yaml', '- just\n- a list\n');
    assert.match(assertFails(ssf(['policy', 'lint', 'lint/list.yaml']), 'POLICY_INVALID'), /a policy must be a YAML mapping/);
    write('lint/twice.yaml', brokenPolicy('"true"').replace('- name: broken', '- name: fine'));
    assert.match(assertFails(ssf(['policy', 'lint', 'lint/twice.yaml']), 'POLICY_INVALID'), /lint\/twice\.yaml:10:\d+: rule name "fine" is used twice/);
    assertFails(ssf(['policy', 'lint', 'lint/absent.yaml']), 'FILE_NOT_FOUND');
    assertFails(ssf(['policy', 'lint']), 'USAGE');
  });

  test('several files: a line for each on stdout, the count on stderr', () => {
    const r = ssf(['policy', 'lint', 'lint/mine.yaml', 'lint/gate.yaml', 'lint/function.yaml']);
    assert.match(assertFails(r, 'POLICY_INVALID'), /: 2 of 3 policy files invalid$/);
    const lines = r.out.trimEnd().split('\n');
    assert.equal(lines.length, 3, r.out);
    assert.match(lines[0] ?? '', /^lint\/mine\.yaml: ok \(mine@1\.2\.0/);
    assert.match(lines[1] ?? '', /^lint\/gate\.yaml:5:9: spec\.gate must be one of.* \[POLICY_INVALID\]$/);
    assert.match(lines[2] ?? '', /^lint\/function\.yaml:11:\d+: rule broken: expr: unknown function "isHermetic" \[POLICY_INVALID\]$/);
  });
});

describe('ssf policy test', () => {
  const BUILD_INPUT = join(LIBRARY, 'testdata', 'build.json');

  test('builtin:hermetic-build runs the cases kept beside it', () => {
    const r = ok(ssf(['policy', 'test', 'builtin:hermetic-build']));
    const lines = r.out.trimEnd().split('\n');
    assert.equal(lines[0], 'hermetic-build@1.0.0 (hermetic-build.test.yaml)');
    const n = lines.filter((l) => l.startsWith('  ✓ ')).length;
    assert.ok(n >= 3, r.out);
    assert.equal(lines.at(-1), `${n} passed, 0 failed`);
  });

  test('policies/: every test file of the library, every case passes', () => {
    const r = ok(ssf(['policy', 'test', LIBRARY]));
    const files = readdirSync(LIBRARY).filter((f) => f.endsWith('.test.yaml'));
    assert.ok(files.length >= 15, files.join(', '));
    for (const f of files) assert.match(r.out, new RegExp(`^[a-z0-9-]+@[0-9.]+ \\(${f.replace(/\./g, '\\.')}\\)$`, 'm'), f);
    assert.doesNotMatch(r.out, /✗/);
    const n = r.out.split('\n').filter((l) => l.startsWith('  ✓ ')).length;
    assert.ok(n >= files.length * 2, `${n} cases`);
    assert.match(r.out, new RegExp(`^${n} passed, 0 failed$`, 'm'));
    const j = JSON.parse(ok(ssf(['policy', 'test', `${LIBRARY}/`, '--json'])).out) as { passed: number; failed: number; files: { file: string }[] };
    assert.deepEqual([j.passed, j.failed, j.files.length], [n, 0, files.length]);
  });

  test("a user's policy with a wrong expectation: POLICY_TEST_FAILED naming the case; --json says which", () => {
    write('own/gatekeeper.yaml', buildPolicy('gatekeeper', 'evil-service'));
    write('own/gatekeeper.test.yaml', `cases:
  - name: an ordinary pipeline
    inputFile: ${BUILD_INPUT}
    expect: allow
  - name: the forbidden pipeline
    inputFile: ${BUILD_INPUT}
    set: { pipeline.name: evil-service }
    expect: deny
    failing: [not-forbidden]
  - name: forbidden by a case parameter
    inputFile: ${BUILD_INPUT}
    params: { forbidden: hello-service }
    expect: deny
  - name: wrongly expected to pass unsandboxed
    inputFile: ${BUILD_INPUT}
    set: { sandbox.isolated: false }
    expect: allow
`);
    for (const target of ['own/gatekeeper.yaml', 'own/gatekeeper.test.yaml', 'own']) {
      const r = ssf(['policy', 'test', target]);
      assert.match(assertFails(r, 'POLICY_TEST_FAILED'), /1 of 4 policy test cases failed$/);
      assert.match(r.out, /^gatekeeper@1\.2\.0 \(gatekeeper\.test\.yaml\)$/m);
      assert.match(r.out, /^ {2}✓ the forbidden pipeline$/m);
      assert.match(r.out, /^ {2}✗ wrongly expected to pass unsandboxed: expected allow, got deny \(sandboxed: runs must be sandboxed\)$/m, target);
      assert.match(r.out, /^3 passed, 1 failed$/m);
    }
    const j = ssf(['policy', 'test', 'own/gatekeeper.yaml', '--json']);
    assertFails(j, 'POLICY_TEST_FAILED');
    const report = JSON.parse(j.out) as { passed: number; failed: number; files: { policy: string; results: { name: string; ok: boolean; failingRules: string[] }[] }[] };
    assert.deepEqual([report.passed, report.failed], [3, 1]);
    assert.deepEqual(report.files[0]?.results.filter((c) => !c.ok).map((c) => [c.name, c.failingRules]), [['wrongly expected to pass unsandboxed', ['sandboxed']]]);
    // No tests beside it: say where they go.
    write('own/untested.yaml', buildPolicy('untested', 'x'));
    assert.match(assertFails(ssf(['policy', 'test', 'own/untested.yaml']), 'FILE_NOT_FOUND'), /keep them in own\/untested\.test\.yaml, or pass --input/);
    mkdirSync(join(tmp, 'empty'));
    assert.match(assertFails(ssf(['policy', 'test', 'empty']), 'FILE_NOT_FOUND'), /the directory has no \*\.test\.yaml file/);
  });

  test('--input: allowed exits 0; denied is POLICY_DENIED with the failing rule and its details on stdout', () => {
    write('own/gatekeeper.yaml', buildPolicy('gatekeeper', 'evil-service'));
    const allowed = ok(ssf(['policy', 'test', 'own/gatekeeper.yaml', '--input', BUILD_INPUT]));
    assert.match(allowed.out, /^gate A \(build\): ALLOW {3}input sha256:[0-9a-f]{64} {3}policies sha256:[0-9a-f]{64}$/m);
    assert.match(allowed.out, /^ {2}✓ gatekeeper@1\.2\.0$/m);

    const input = JSON.parse(readFileSync(BUILD_INPUT, 'utf8')) as { pipeline: { name: string } };
    input.pipeline.name = 'evil-service';
    write('inputs/evil.json', JSON.stringify(input, null, 2));
    const denied = ssf(['policy', 'test', 'own/gatekeeper.yaml', '--input', 'inputs/evil.json']);
    assert.match(assertFails(denied, 'POLICY_DENIED'), /gatekeeper denies inputs\/evil\.json: gatekeeper\/not-forbidden: this pipeline may not be built here \(evil-service\)$/);
    assert.match(denied.out, /^gate A \(build\): DENY /m);
    assert.match(denied.out, /^ {2}✗ gatekeeper@1\.2\.0\n {6}fail {2}not-forbidden: this pipeline may not be built here\n {12}- evil-service$/m);
    assert.doesNotMatch(denied.out, /sandboxed/, 'only failing rules are listed');

    // YAML inputs work too; builtin policies take --input.
    write('inputs/evil.yaml', `# the same input as YAML\n${JSON.stringify(input)}\n`);
    assertFails(ssf(['policy', 'test', 'own/gatekeeper.yaml', '--input', 'inputs/evil.yaml']), 'POLICY_DENIED');
    ok(ssf(['policy', 'test', 'builtin:hermetic-build', '--input', 'inputs/evil.json']));
  });

  test('--input that violates the gate schema, or is not JSON: refused before any rule runs', () => {
    const input = JSON.parse(readFileSync(BUILD_INPUT, 'utf8')) as Record<string, unknown>;
    delete input['sandbox'];
    write('inputs/no-sandbox.json', JSON.stringify(input));
    const r = ssf(['policy', 'test', 'own/gatekeeper.yaml', '--input', 'inputs/no-sandbox.json']);
    assert.match(assertFails(r, 'POLICY_INPUT_INVALID'), /the input has no sandbox \(schema\/policy\/input-build\.schema\.json\)$/);
    assert.equal(r.out, '');
    write('inputs/wrong-type.json', JSON.stringify({ ...JSON.parse(readFileSync(BUILD_INPUT, 'utf8')) as object, time: 'yesterday' }));
    assert.match(assertFails(ssf(['policy', 'test', 'own/gatekeeper.yaml', '--input', 'inputs/wrong-type.json']), 'POLICY_INPUT_INVALID'), /input\.time must match format "date-time"/);
    // a deploy input given to a build policy
    assertFails(ssf(['policy', 'test', 'own/gatekeeper.yaml', '--input', join(LIBRARY, 'testdata', 'deploy.json')]), 'POLICY_INPUT_INVALID');
    write('inputs/truncated.json', '{"gate": "build", "time": [');
    assertFails(ssf(['policy', 'test', 'own/gatekeeper.yaml', '--input', 'inputs/truncated.json']), 'INPUT_MALFORMED');
    assertFails(ssf(['policy', 'test', 'own/gatekeeper.yaml', '--input', 'inputs/absent.json']), 'FILE_NOT_FOUND');
  });

  test('--param overrides a parameter and changes the outcome; --json parses', () => {
    const base = ['policy', 'test', 'own/gatekeeper.yaml', '--input', BUILD_INPUT];
    ok(ssf(base));
    const denied = ssf([...base, '--param', 'forbidden=hello-service']);
    assert.match(assertFails(denied, 'POLICY_DENIED'), /gatekeeper\/not-forbidden/);
    assert.match(denied.out, /- hello-service$/m);
    ok(ssf(['policy', 'test', 'own/gatekeeper.yaml', '--input', 'inputs/evil.json', '--param', 'forbidden=someone-else']));

    const j = ssf([...base, '--param', 'forbidden=hello-service', '--json']);
    assertFails(j, 'POLICY_DENIED');
    const d = JSON.parse(j.out) as { gate: string; allowed: boolean; inputDigest: string; policies: { name: string; params: Record<string, unknown>; rules: { name: string; outcome: string; details?: string[] }[] }[] };
    assert.equal(d.gate, 'build');
    assert.equal(d.allowed, false);
    assert.match(d.inputDigest, /^sha256:[0-9a-f]{64}$/);
    assert.deepEqual(d.policies[0]?.params, { forbidden: 'hello-service' });
    assert.deepEqual(d.policies[0]?.rules, [{ name: 'not-forbidden', outcome: 'fail', message: 'this pipeline may not be built here', details: ['hello-service'] }, { name: 'sandboxed', outcome: 'pass' }]);
    const allowed = JSON.parse(ok(ssf([...base, '--json'])).out) as { allowed: boolean; inputDigest: string };
    assert.deepEqual([allowed.allowed, allowed.inputDigest], [true, d.inputDigest]);

    // A parameter the policy does not declare would be ignored: a usage error, not a silent pass.
    assert.match(assertFails(ssf([...base, '--param', 'forbiden=hello-service']), 'USAGE'), /policy gatekeeper has no parameter "forbiden"; it declares forbidden$/);
    assertFails(ssf([...base, '--param', 'forbidden']), 'USAGE');
    assert.match(assertFails(ssf(['policy', 'test', 'own/gatekeeper.yaml', '--param', 'forbidden=x']), 'USAGE'), /--param needs --input/);
    assertFails(ssf(['policy', 'test', 'builtin:no-such-policy']), 'FILE_NOT_FOUND');
    assertFails(ssf(['policy', 'test', 'builtin:../etc']), 'USAGE');
  });
});

describe('ssf policy schema', () => {
  test('prints the JSON Schema of each gate input; an unknown gate is USAGE', () => {
    const r = ok(ssf(['policy', 'schema', 'build']));
    const s = JSON.parse(r.out) as { $schema: string; properties: Record<string, unknown>; required: string[] };
    assert.equal(s.$schema, 'https://json-schema.org/draft/2020-12/schema');
    assert.ok(s.required.includes('pipeline') && 'sandbox' in s.properties, Object.keys(s.properties).join(','));
    assert.deepEqual(s, JSON.parse(readFileSync(join(ROOT, 'schema', 'policy', 'input-build.schema.json'), 'utf8')));
    assert.equal((JSON.parse(ok(ssf(['policy', 'schema', 'deploy'])).out) as { $id: string }).$id, (JSON.parse(readFileSync(join(ROOT, 'schema', 'policy', 'input-deploy.schema.json'), 'utf8')) as { $id: string }).$id);
    const bad = ssf(['policy', 'schema', 'shipping']);
    assert.match(assertFails(bad, 'USAGE'), /gate must be one of build, dependencies, publish, deploy, got "shipping"/);
    assert.equal(bad.out, '');
    assertFails(ssf(['policy', 'schema']), 'USAGE');
  });
});

describe("the factory's policies", () => {
  interface Listed { config: string | null; requireSigned: boolean; policies: { name: string; gate: string; mode: string; source: string; digest: string; params: Record<string, unknown> }[]; library: string[] }
  const list = (): Listed => JSON.parse(ok(ssf(['policy', 'list', '--dir', 'cfg', '--json'])).out) as Listed;
  const config = (): string => readFileSync(join(tmp, 'cfg', 'policies.json'), 'utf8');

  test('policy list: the default policies per gate and the library', () => {
    const r = ok(ssf(['policy', 'list', '--dir', 'cfg']));
    assert.match(r.out, /^policies \(built-in defaults; signed policies not required\):$/m);
    assert.match(r.out, /^ {2}gate A build\n {4}pipeline-pinned@1\.0\.0 {2}builtin:pipeline-pinned {2}sha256:[0-9a-f]{12}…\n {4}hermetic-build@1\.0\.0 {2}builtin:hermetic-build/m);
    assert.match(r.out, /^ {2}gate B dependencies\n {4}dependencies-pinned@1\.0\.0 /m);
    assert.match(r.out, /^ {2}gate C publish\n {4}publish-evidence@1\.0\.0 .*\n {4}slsa-build-level-3@1\.0\.0 \(audit\) /m);
    assert.match(r.out, /^ {2}gate D deploy\n {4}deploy-verified@1\.0\.0 /m);
    const library = readdirSync(LIBRARY).filter((f) => f.endsWith('.yaml') && !f.endsWith('.test.yaml')).map((f) => `builtin:${f.slice(0, -5)}`).sort();
    assert.match(r.out, new RegExp(`^library: ${library.join(' ')}$`, 'm'));
    const j = list();
    assert.equal(j.config, null);
    assert.equal(j.requireSigned, false);
    assert.deepEqual(j.policies.map((p) => [p.gate, p.name]), [['build', 'pipeline-pinned'], ['build', 'hermetic-build'], ['dependencies', 'dependencies-pinned'], ['publish', 'publish-evidence'], ['publish', 'slsa-build-level-3'], ['deploy', 'deploy-verified']]);
    assert.equal(j.library.length, library.length);
    assert.ok(!existsSync(join(tmp, 'cfg', 'policies.json')), 'listing writes nothing');
    assertFails(ssf(['policy', 'list', '--dir', 'nowhere']), 'FACTORY_MISSING');
  });

  test('policy add FILE --param, list --json shows it with the param; remove drops it and its params', () => {
    write('cfg-policies/gatekeeper.yaml', buildPolicy('gatekeeper', 'nothing'));
    const added = ok(ssf(['policy', 'add', 'cfg-policies/gatekeeper.yaml', '--param', 'forbidden=evil-service', '--dir', 'cfg']));
    assert.equal(added.out, `added gatekeeper (gatekeeper.yaml) to ${join(tmp, 'cfg', 'policies.json')}\n`);
    let j = list();
    assert.equal(j.config, join(tmp, 'cfg', 'policies.json'));
    const g = j.policies.find((p) => p.name === 'gatekeeper');
    assert.deepEqual([g?.gate, g?.mode, g?.source, g?.params], ['build', 'enforce', join(tmp, 'cfg', 'policies', 'gatekeeper.yaml'), { forbidden: 'evil-service' }]);
    assert.equal(g?.digest, `sha256:${sha256(join(tmp, 'cfg-policies', 'gatekeeper.yaml'))}`, 'a copy of the exact bytes');
    assert.equal(j.policies.length, 7, 'the defaults stay');
    // A later edit of the original has no effect on the factory.
    write('cfg-policies/gatekeeper.yaml', buildPolicy('gatekeeper', 'changed'));
    assert.equal(list().policies.find((p) => p.name === 'gatekeeper')?.digest, g?.digest);
    assert.match(ok(ssf(['policy', 'list', '--dir', 'cfg'])).out, /^ {4}gatekeeper@1\.2\.0 {2}\S+\/cfg\/policies\/gatekeeper\.yaml {2}sha256:/m);

    // Adding by the same name replaces; a builtin with a parameter it declares.
    ok(ssf(['policy', 'add', 'builtin:vulnerability-threshold', '--param', 'threshold=critical', '--dir', 'cfg']));
    j = list();
    assert.deepEqual(j.policies.find((p) => p.name === 'vulnerability-threshold')?.params, { threshold: 'critical' });
    ok(ssf(['policy', 'add', 'builtin:vulnerability-threshold', '--param', 'threshold=medium', '--dir', 'cfg']));
    j = list();
    assert.deepEqual(j.policies.filter((p) => p.name === 'vulnerability-threshold').map((p) => p.params), [{ threshold: 'medium' }]);

    // Bad adds change nothing.
    const before = config();
    assert.match(assertFails(ssf(['policy', 'add', 'builtin:vulnerability-threshold', '--param', 'treshold=low', '--dir', 'cfg']), 'USAGE'), /has no parameter "treshold"; it declares threshold/);
    assertFails(ssf(['policy', 'add', 'lint/function.yaml', '--dir', 'cfg']), 'POLICY_INVALID');
    assertFails(ssf(['policy', 'add', 'cfg-policies/absent.yaml', '--dir', 'cfg']), 'FILE_NOT_FOUND');
    assert.equal(config(), before);

    assert.equal(ok(ssf(['policy', 'remove', 'vulnerability-threshold', '--dir', 'cfg'])).out, 'removed vulnerability-threshold\n');
    ok(ssf(['policy', 'remove', 'gatekeeper', '--dir', 'cfg']));
    j = list();
    assert.ok(!j.policies.some((p) => p.name === 'gatekeeper' || p.name === 'vulnerability-threshold'));
    assert.deepEqual((JSON.parse(config()) as { params: object }).params, {}, 'their parameters are gone too');
    // Added again without --param: the policy's defaults, not the removed overrides.
    ok(ssf(['policy', 'add', 'builtin:vulnerability-threshold', '--dir', 'cfg']));
    assert.deepEqual(list().policies.find((p) => p.name === 'vulnerability-threshold')?.params, { threshold: 'high' });
    ok(ssf(['policy', 'remove', 'vulnerability-threshold', '--dir', 'cfg']));
    assert.match(assertFails(ssf(['policy', 'remove', 'gatekeeper', '--dir', 'cfg']), 'NOT_FOUND'), /no policy named "gatekeeper"/);
  });

  test('policy sign writes FILE.sigstore.json; require-signed refuses unsigned adds and leaves policies.json unchanged', () => {
    const signedFile = write('cfg-policies/signed.yaml', buildPolicy('signed-gate', 'nothing'));
    const unsignedFile = write('cfg-policies/unsigned.yaml', buildPolicy('unsigned-gate', 'nothing'));
    const s = ok(ssf(['policy', 'sign', 'cfg-policies/signed.yaml', '--dir', 'cfg']));
    assert.match(s.out, new RegExp(`^signed signed-gate@1\\.2\\.0 \\(sha256:${sha256(signedFile)}\\) as spiffe://${TD.replace(/\./g, '\\.')}/operator/policy-signer, log index \\d+; bundle ${signedFile.replace(/\./g, '\\.')}\\.sigstore\\.json\n$`));
    const bundle = JSON.parse(readFileSync(`${signedFile}.sigstore.json`, 'utf8')) as { mediaType: string; dsseEnvelope: { payload: string } };
    assert.match(bundle.mediaType, /^application\/vnd\.dev\.sigstore\.bundle/);
    const st = JSON.parse(Buffer.from(bundle.dsseEnvelope.payload, 'base64').toString()) as { subject: { digest: { sha256: string } }[]; predicate: { name: string; rules: string[] } };
    assert.equal(st.subject[0]?.digest.sha256, sha256(signedFile));
    assert.deepEqual([st.predicate.name, st.predicate.rules], ['signed-gate', ['not-forbidden', 'sandboxed']]);
    assertFails(ssf(['policy', 'sign', 'lint/gate.yaml', '--dir', 'cfg']), 'POLICY_INVALID');
    assert.ok(!existsSync(join(tmp, 'lint', 'gate.yaml.sigstore.json')));

    assert.match(ok(ssf(['policy', 'require-signed', '--dir', 'cfg'])).out, new RegExp(`^signed policies required, from spiffe://${TD.replace(/\./g, '\\.')}/operator/policy-signer\n$`));
    assert.equal(list().requireSigned, true);
    const before = config();
    const refused = ssf(['policy', 'add', 'cfg-policies/unsigned.yaml', '--dir', 'cfg']);
    assert.match(assertFails(refused, 'POLICY_SIGNATURE'), /policy cfg-policies\/unsigned\.yaml has no verified signature by an allowed signer; sign it first with `ssf policy sign cfg-policies\/unsigned\.yaml`$/);
    assert.equal(config(), before, 'policies.json unchanged');
    assert.ok(!existsSync(join(tmp, 'cfg', 'policies', 'unsigned-gate.yaml')), 'nothing copied');
    // Signed after the fact, then edited: the signature no longer holds.
    ok(ssf(['policy', 'sign', 'cfg-policies/unsigned.yaml', '--dir', 'cfg']));
    writeFileSync(unsignedFile, buildPolicy('unsigned-gate', 'edited'));
    assert.match(assertFails(ssf(['policy', 'add', 'cfg-policies/unsigned.yaml', '--dir', 'cfg']), 'POLICY_SIGNATURE'), /the policy was changed after it was signed/);
    assert.equal(config(), before);
    // The signed one is accepted, and listed while signatures are required.
    ok(ssf(['policy', 'add', 'cfg-policies/signed.yaml', '--dir', 'cfg']));
    assert.ok(list().policies.some((p) => p.name === 'signed-gate'));
    assert.match(ok(ssf(['policy', 'list', '--dir', 'cfg'])).out, /signed policies required from spiffe:/);
    // builtins need no signature
    ok(ssf(['policy', 'add', 'builtin:pipeline-signed', '--dir', 'cfg']));
    ok(ssf(['policy', 'remove', 'pipeline-signed', '--dir', 'cfg']));

    assert.equal(ok(ssf(['policy', 'require-signed', '--off', '--dir', 'cfg'])).out, 'signed policies no longer required\n');
    assert.equal(list().requireSigned, false);
  });

  test('require-signed refuses to turn on while an installed file policy is unsigned, and changes nothing', () => {
    write('cfg-policies/plain.yaml', buildPolicy('plain-gate', 'nothing'));
    ok(ssf(['policy', 'add', 'cfg-policies/plain.yaml', '--dir', 'cfg']));
    const before = config();
    const r = ssf(['policy', 'require-signed', '--dir', 'cfg']);
    const err = assertFails(r, 'POLICY_SIGNATURE');
    const installed = join(tmp, 'cfg', 'policies', 'plain-gate.yaml');
    assert.match(err, /policy plain-gate\.yaml \(sha256:[0-9a-f]{64}\) has no verified signature by an allowed signer/);
    assert.ok(err.endsWith(`sign it with \`ssf policy sign ${installed}\``), `the hint names a file that exists: ${err}`);
    assert.equal(r.out, '');
    assert.equal(config(), before, 'policies.json unchanged');
    assert.equal(list().requireSigned, false);
    // A signer list other than the factory's own: the signed policy is no longer accepted either.
    assertFails(ssf(['policy', 'require-signed', '--signer', 'spiffe://other.example/*', '--dir', 'cfg']), 'POLICY_SIGNATURE');
    assert.equal(config(), before);
    // Following the hint works.
    ok(ssf(['policy', 'sign', installed, '--dir', 'cfg']));
    ok(ssf(['policy', 'require-signed', '--dir', 'cfg']));
    assert.equal(list().requireSigned, true);
    ok(ssf(['policy', 'require-signed', '--off', '--dir', 'cfg']));
    assert.equal(list().requireSigned, false);
  });
});

describe('gates in real runs, decisions, replay', () => {
  let deniedRun = '';
  let imageDigest = '';

  test('ssf run --policy denying at gate A: exit 1 naming the rule; nothing runs', () => {
    const file = pipeline('gated-app');
    write('run-policies/no-gated-app.yaml', buildPolicy('no-gated-app', 'gated-app'));
    const r = ssf(['run', file, '--dir', 'runs', '--policy', 'run-policies/no-gated-app.yaml']);
    const err = assertFails(r, 'POLICY_DENIED');
    assert.match(err, /gate build denied pipeline gated-app: no-gated-app\/not-forbidden: this pipeline may not be built here \(gated-app\) \(signed decision at log index \d+\)$/);
    assert.match(r.out, /^ {2}✗ gate A build: denied {2}decision log #\d+$/m);
    assert.doesNotMatch(r.out, /task \w+ \(/, 'no task started');
    deniedRun = /^run (\S+): pipeline gated-app, 4 tasks$/m.exec(r.out)?.[1] ?? '';
    assert.ok(deniedRun, r.out);
  });

  test('policy decisions --run lists the DENY row; --input prints the input, and policy test replays it', () => {
    assert.ok(deniedRun, 'the denied run');
    const r = ok(ssf(['policy', 'decisions', '--run', deniedRun, '--dir', 'runs']));
    const lines = r.out.trimEnd().split('\n');
    assert.equal(lines.length, 1, r.out);
    assert.match(lines[0] ?? '', new RegExp(`^#\\d+ {2}\\S+ {2}gate A build {8}DENY {3}sha256:[0-9a-f]{12}… {2}${deniedRun} {2}no-gated-app/not-forbidden: this pipeline may not be built here \\(gated-app\\)$`));
    const [row] = decisions(['--run', deniedRun, '--dir', 'runs']);
    assert.deepEqual([row?.gate, row?.allowed, row?.run_id], ['build', false, deniedRun]);

    const input = ok(ssf(['policy', 'decisions', '--input', String(row?.log_index), '--dir', 'runs']));
    const doc = JSON.parse(input.out) as { gate: string; pipeline: { name: string }; factory: { trustDomain: string } };
    assert.deepEqual([doc.gate, doc.pipeline.name, doc.factory.trustDomain], ['build', 'gated-app', TD]);
    write('replay/input.json', input.out);
    const replay = ssf(['policy', 'test', 'run-policies/no-gated-app.yaml', '--input', 'replay/input.json', '--json']);
    assertFails(replay, 'POLICY_DENIED');
    const d = JSON.parse(replay.out) as { inputDigest: string; policies: { rules: { name: string; outcome: string }[] }[] };
    assert.equal(d.inputDigest, row?.input_digest, 'the same input as the recorded decision');
    assert.deepEqual(d.policies[0]?.rules.map((x) => [x.name, x.outcome]), [['not-forbidden', 'fail'], ['sandboxed', 'pass']]);
    // the fix, tried before the next run: another value of the parameter
    ok(ssf(['policy', 'test', 'run-policies/no-gated-app.yaml', '--input', 'replay/input.json', '--param', 'forbidden=other']));
    ok(ssf(['policy', 'test', 'builtin:hermetic-build', '--input', 'replay/input.json']));

    assertFails(ssf(['policy', 'decisions', '--input', 'latest', '--dir', 'runs']), 'USAGE');
    assertFails(ssf(['policy', 'decisions', '--input', '999999', '--dir', 'runs']), 'NOT_FOUND');
    assert.equal(ok(ssf(['policy', 'decisions', '--run', 'no-such-run', '--dir', 'runs'])).out, 'no decisions\n');
    assertFails(ssf(['policy', 'decisions', '--limit', '0', '--dir', 'runs']), 'USAGE');
  });

  test('a run without a denying policy succeeds and shows its gate lines', () => {
    const r = ok(ssf(['run', join(tmp, 'gated-app', 'ssf-pipeline.yaml'), '--dir', 'runs']));
    assert.match(r.out, /^ {2}✓ gate A build: allowed {2}decision log #\d+$/m);
    assert.match(r.out, /^ {2}✓ gate C publish \(gated-app-image\): allowed {2}decision log #\d+$/m);
    assert.match(r.out, /^ {2}✓ gate C publish \(main\.js\): allowed {2}decision log #\d+$/m);
    assert.ok(r.out.indexOf('gate A build') < r.out.indexOf('task checkout') && r.out.indexOf('task publish') < r.out.indexOf('gate C publish'), r.out);
    const runId = /^run (\S+) succeeded$/m.exec(r.out)?.[1] ?? '';
    imageDigest = /^ {2}artifact gated-app-image +(sha256:[0-9a-f]{64})$/m.exec(r.out)?.[1] ?? '';
    assert.match(imageDigest, /^sha256:[0-9a-f]{64}$/, r.out);
    const rows = decisions(['--run', runId, '--dir', 'runs']);
    assert.deepEqual(rows.map((x) => [x.gate, x.allowed]), [['build', true], ['publish', true], ['publish', true]]);
    assert.ok(rows.some((x) => x.gate === 'publish' && x.subject === imageDigest));
  });

  test('admission check: an unbuilt digest is denied by deploy-verified; --dry-run logs nothing; the built image is admitted', () => {
    assert.match(imageDigest, /^sha256:/, 'the image of the previous run');
    const unknown = `sha256:${'5e'.repeat(32)}`;
    const count = (): number => decisions(['--subject', unknown, '--dir', 'runs']).length;

    const size0 = logSize('runs');
    const dry = ssf(['admission', 'check', unknown, '--dry-run', '--dir', 'runs']);
    const err = assertFails(dry, 'POLICY_DENIED');
    assert.ok(err.includes(`deploy gate denies ${unknown}: deploy-verified/provenance-verified: `), err);
    assert.match(err, /deploy-verified\/publish-gate-passed/);
    assert.match(dry.out, /^gate D \(deploy\): DENY /m);
    assert.match(dry.out, /^ {2}✗ deploy-verified@1\.0\.0$/m);
    for (const rule of ['provenance-verified', 'built-by-factory', 'publish-gate-passed']) assert.match(dry.out, new RegExp(`^ {6}fail {2}${rule}: `, 'm'));
    assert.doesNotMatch(dry.out, /not-revoked/);
    assert.match(dry.out, /^ {2}dry run: nothing signed or stored$/m);
    assert.equal(logSize('runs'), size0, '--dry-run logs nothing');
    assert.equal(count(), 0);

    const logged = ssf(['admission', 'check', unknown, '--dir', 'runs']);
    assertFails(logged, 'POLICY_DENIED');
    const at = Number(/^ {2}signed decision: log index (\d+)$/m.exec(logged.out)?.[1]);
    assert.equal(at, size0, 'the decision is the next log entry');
    assert.equal(logSize('runs'), size0 + 1);
    assert.deepEqual(decisions(['--subject', unknown, '--dir', 'runs']).map((x) => [x.gate, x.allowed, x.log_index]), [['deploy', false, at]]);

    const admitted = ok(ssf(['admission', 'check', `registry.example/gated-app@${imageDigest}`, '--dir', 'runs']));
    assert.match(admitted.out, /^gate D \(deploy\): ALLOW /m);
    assert.match(admitted.out, /^ {2}✓ deploy-verified@1\.0\.0$/m);
    assert.match(admitted.out, /^ {2}signed decision: log index \d+$/m);
    const j = JSON.parse(ok(ssf(['admission', 'check', imageDigest, '--dir', 'runs', '--json', '--dry-run'])).out) as { decision: { allowed: boolean; gate: string }; logIndex: number | null; rejected: string[]; input: { provenance: { builder: string } | null } };
    assert.deepEqual([j.decision.gate, j.decision.allowed, j.logIndex, j.rejected], ['deploy', true, null, []]);
    assert.equal(j.input.provenance?.builder, `spiffe://${TD}/factory/builder`);
    // With an extra deploy policy that denies, the same image is refused.
    write('run-policies/never-deploy.yaml', `apiVersion: ssf/v1
kind: Policy
metadata: { name: never-deploy, version: 1.0.0 }
spec:
  gate: deploy
  rules:
    - { name: frozen, expr: "false", message: deploys are frozen }
`);
    assert.match(assertFails(ssf(['admission', 'check', imageDigest, '--dir', 'runs', '--dry-run', '--policy', 'run-policies/never-deploy.yaml']), 'POLICY_DENIED'), /never-deploy\/frozen: deploys are frozen$/);

    assertFails(ssf(['admission', 'check', 'registry.example/gated-app:latest', '--dir', 'runs']), 'USAGE');
    assertFails(ssf(['admission', 'check', 'sha256:abc', '--dir', 'runs']), 'USAGE');
  });
});

test('every policy command answers --help with its usage and exit 0', () => {
  const commands = ['policy test', 'policy lint', 'policy list', 'policy add', 'policy remove', 'policy sign', 'policy require-signed', 'policy decisions', 'policy schema', 'admission check'];
  for (const args of [...commands.map((c) => [...c.split(' '), '--help']), ['policy', 'schema', '-h'], ['admission', 'check', 'sha256:abc', '--help']]) {
    const r = ssf(args);
    assert.equal(r.code, 0, `${args.join(' ')}: ${r.err}`);
    assert.ok(r.out.startsWith(`Usage: ssf ${args.slice(0, 2).join(' ')}`), `${args.join(' ')}: ${r.out.slice(0, 80)}`);
    assert.equal(r.err, '');
  }
  const overview = ok(ssf(['--help'])).out;
  for (const c of commands) assert.match(overview, new RegExp(`^ {2}${c} +\\S`, 'm'), c);
  const r = ssf(['policy']);
  assert.match(assertFails(r, 'USAGE'), /"policy" needs a subcommand: ssf policy test, /);
});
