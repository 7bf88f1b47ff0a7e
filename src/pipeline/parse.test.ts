import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { isSsfError } from '../core/index.js';
import { throwsCode } from '../core/testing.js';
import { loadPipeline, parsePipeline } from './index.js';
import { CLEAN, NODE_DIGEST, edit, where } from './testdata.js';

const REPO = fileURLToPath(new URL('../../../', import.meta.url));

/** The message of the PIPELINE_INVALID error parsing text throws. */
function invalid(text: string | Buffer, code: 'PIPELINE_INVALID' | 'INPUT_TOO_LARGE' = 'PIPELINE_INVALID'): string {
  try {
    parsePipeline(text, 'p.yaml');
  } catch (e) {
    assert.ok(isSsfError(e, code), `expected ${code}, got ${String(e)}`);
    return e.message;
  }
  return assert.fail('the definition parsed');
}

/** Asserts the error is placed at the nth occurrence of needle and says `says`. */
function assertAt(text: string, needle: string, says: string | RegExp, nth = 0): void {
  const msg = invalid(text);
  assert.ok(msg.startsWith(`p.yaml:${where(text, needle, nth)}: `), `wrong position for ${JSON.stringify(needle)}: ${msg}`);
  if (typeof says === 'string') assert.ok(msg.includes(says), `message ${JSON.stringify(msg)} lacks ${JSON.stringify(says)}`);
  else assert.match(msg, says);
}

test('a valid definition parses into the typed form, with lists filled in', () => {
  const p = parsePipeline(CLEAN, 'p.yaml');
  assert.equal(p.file, 'p.yaml');
  assert.equal(p.def.apiVersion, 'ssf/v1');
  assert.equal(p.def.metadata.name, 'hello-service');
  assert.deepEqual(p.def.params[0], { name: 'mode', type: 'string', default: 'release', enum: ['release', 'debug'], description: 'build mode' });
  assert.deepEqual(p.def.params[1], { name: 'verbose', type: 'boolean', default: false });
  assert.deepEqual(p.def.tools[0], { name: 'node', path: '/usr/bin/node', digest: NODE_DIGEST });
  assert.deepEqual(p.def.tasks.map((t) => [t.name, t.kind]), [['checkout', 'source'], ['deps', 'dependencies'], ['build', 'run'], ['image', 'image'], ['publish', 'publish']]);
  const [checkout, , build, , publish] = p.def.tasks;
  assert.deepEqual(checkout?.needs, []);
  assert.deepEqual(checkout?.source, { path: '.' });
  assert.deepEqual(build?.workspaces, [{ name: 'source', mode: 'ro' }, { name: 'out', mode: 'rw' }]);
  assert.deepEqual(build?.run?.env, { NODE_ENV: '$(params.mode)', VERBOSE: '$(params.verbose)' });
  assert.equal(build?.run?.timeoutSeconds, 600);
  assert.deepEqual(publish?.publish?.artifacts[1], { type: 'image', task: 'image' });
});

test('the digest covers the exact bytes, and a string and a Buffer give the same result', () => {
  const bytes = Buffer.from(CLEAN);
  const a = parsePipeline(bytes, 'p.yaml');
  const b = parsePipeline(CLEAN, 'p.yaml');
  assert.equal(a.digest, `sha256:${createHash('sha256').update(bytes).digest('hex')}`);
  assert.equal(b.digest, a.digest);
  assert.ok(b.bytes.equals(bytes));
  // A comment changes the bytes and therefore the digest, not the definition.
  const c = parsePipeline(CLEAN + '# trailing comment\n', 'p.yaml');
  assert.notEqual(c.digest, a.digest);
  assert.deepEqual(c.def, a.def);
});

test('run.args defaults to an empty list; omitted lists are empty', () => {
  let text = edit(CLEAN, '      args: [node_modules/typescript/bin/tsc, -p, ., --outDir, /workspace/out/dist]\n', '');
  text = edit(text, '      env: { NODE_ENV: "$(params.mode)", VERBOSE: "$(params.verbose)" }\n', '');
  const p = parsePipeline(edit(text, 'params:\n  - name: mode\n    type: string\n    default: release\n    enum: [release, debug]\n    description: build mode\n  - name: verbose\n    type: boolean\n    default: false\n', ''), 'p.yaml');
  assert.deepEqual(p.def.tasks[2]?.run?.args, []);
  assert.deepEqual(p.def.params, []);
});

test('the example pipeline in examples/hello-service parses', () => {
  const p = loadPipeline(join(REPO, 'examples/hello-service/ssf-pipeline.yaml'));
  assert.equal(p.def.metadata.name, 'hello-service');
  assert.ok(p.def.tasks.length >= 5);
  assert.ok(p.file.startsWith('/'));
});

test('YAML syntax errors carry the position of the problem', () => {
  const text = edit(CLEAN, 'needs: [checkout]', 'needs: [checkout');
  const msg = invalid(text);
  assert.match(msg, /^p\.yaml:\d+:\d+: YAML: /);
  // The parser reports an unterminated flow sequence somewhere at or after its opening bracket.
  const [, line] = /^p\.yaml:(\d+):/.exec(msg) ?? [];
  assert.ok(Number(line) >= Number(where(text, '[checkout').split(':')[0]));
});

test('duplicate keys are refused at the second key', () => {
  const text = edit(CLEAN, '    kind: source\n', '    kind: source\n    kind: run\n');
  assertAt(text, 'kind: run', /YAML: .*unique/i);
});

test('the top level must be a mapping; empty and multi-document files are refused', () => {
  assert.match(invalid('- a\n- b\n'), /^p\.yaml:1:1: the pipeline must be a YAML mapping/);
  assert.match(invalid(''), /^p\.yaml:1:1: the pipeline must be a YAML mapping/);
  assert.match(invalid('# only a comment\n'), /must be a YAML mapping/);
  assertAt(CLEAN + '---\napiVersion: ssf/v1\n', '---', /YAML: .*(multiple documents|document)/i);
});

test('an alias bomb is refused quickly, at the first alias', () => {
  const lines = ['a: &a ["x","x","x","x","x","x","x","x","x","x"]'];
  for (let i = 0; i < 12; i++) lines.push(`${String.fromCharCode(98 + i)}: &${String.fromCharCode(98 + i)} [${Array(10).fill(`*${String.fromCharCode(97 + i)}`).join(',')}]`);
  const text = lines.join('\n') + '\n';
  const msg = invalid(text);
  assert.ok(msg.startsWith(`p.yaml:${where(text, '*a')}: YAML: `), msg);
  assert.match(msg, /alias/i);
  // A couple of aliases for sharing are fine.
  const shared = edit(CLEAN, 'env: { NODE_ENV: "$(params.mode)", VERBOSE: "$(params.verbose)" }', 'env: &env { NODE_ENV: "$(params.mode)", VERBOSE: "$(params.verbose)" }');
  assert.ok(parsePipeline(shared, 'p.yaml'));
});

test('unknown tags and non-string keys are refused', () => {
  assertAt(edit(CLEAN, 'cwd: source', 'cwd: !shell source'), '!shell', /YAML: .*tag/i);
  assertAt(edit(CLEAN, 'env: { PORT: "8080" }', 'env: { 8080: "8080" }'), '8080: ', 'mapping keys must be strings');
});

test('files over 1 MiB are INPUT_TOO_LARGE; invalid UTF-8 is refused with its line', () => {
  const big = CLEAN + '#' + 'x'.repeat(1024 * 1024) + '\n';
  assert.match(invalid(big, 'INPUT_TOO_LARGE'), /limit is 1048576/);
  const bad = Buffer.concat([Buffer.from(CLEAN.slice(0, CLEAN.indexOf('kind: Pipeline'))), Buffer.from([0xff, 0xfe]), Buffer.from('\n')]);
  assert.match(invalid(bad), /^p\.yaml:2:1: the definition is not valid UTF-8/);
});

test('schema errors name the field and sit on the offending value', () => {
  assertAt(edit(CLEAN, 'apiVersion: ssf/v1', 'apiVersion: ssf/v2'), 'ssf/v2', 'apiVersion must be "ssf/v1"');
  assertAt(edit(CLEAN, 'timeoutSeconds: 600', 'timeoutSeconds: "600"'), '"600"', 'task build: run.timeoutSeconds must be an integer, not a string');
  assertAt(edit(CLEAN, 'timeoutSeconds: 600', 'timeoutSeconds: 0'), '0\n      memoryMiB', /run\.timeoutSeconds must be >= 1/);
  assertAt(edit(CLEAN, 'env: { PORT: "8080" }', 'env: { PORT: 8080 }'), '8080 }', 'task image: image.env.PORT must be a string, not a number; quote the value');
  assertAt(edit(CLEAN, '  - name: build\n', '  - name: Build\n'), 'Build\n', /task Build: name must be a name of 1 to 63 characters/);
  assertAt(edit(CLEAN, '{ name: out, mode: rw }', '{ name: out, mode: rx }'), 'rx', 'task build: workspaces[1].mode must be one of: ro, rw');
  assertAt(edit(CLEAN, 'lockfile: package-lock.json', 'lockfile: ../package-lock.json'), '../package-lock.json', /dependencies\.lockfile must be a relative path that stays inside/);
  assertAt(edit(CLEAN, 'path: /usr/bin/node', 'path: usr/bin/node'), 'usr/bin/node', /tool node: path must be a normalised absolute path/);
  assertAt(edit(CLEAN, 'path: /usr/bin/node', 'path: /usr/bin/../bin/node'), '/usr/bin/../bin/node', /normalised absolute path/);
  assertAt(edit(CLEAN, 'name: verbose\n    type: boolean\n    default: false', 'name: verbose\n    type: boolean\n    default: "no"'), '"no"', 'param verbose: default must be a boolean');
  assertAt(edit(CLEAN, 'enum: [release, debug]', 'enum: [release, 3]'), '3]', 'param mode: enum[1] must be a string');
  assertAt(edit(CLEAN, 'needs: [checkout]', 'needs: [checkout, checkout]'), 'checkout]', /needs must not repeat an item/);
  assertAt(edit(CLEAN, 'env: { PORT: "8080" }', 'env: { "A-B": "8080" }'), '"A-B"', /task image: image\.env: key "A-B" must be an environment variable name/);
  assertAt(edit(CLEAN, 'env: { PORT: "8080" }', 'env: { PORT: "8080", __proto__: x }'), '__proto__', 'task image: image.env: key "__proto__" is not allowed');
  assertAt(CLEAN + '__proto__: { polluted: 1 }\n', '__proto__', 'unknown field __proto__');
  assert.equal(({} as Record<string, unknown>).polluted, undefined);
});

test('unknown fields are reported at their key, with the allowed ones', () => {
  const text = edit(CLEAN, '      timeoutSeconds: 600', '      timeout: 600');
  assertAt(text, 'timeout:', /task build: unknown field timeout in run \(allowed: tool, args, cwd, env, timeoutSeconds, memoryMiB\)/);
  assertAt(edit(CLEAN, 'kind: Pipeline\n', 'kind: Pipeline\nspec: {}\n'), 'spec:', 'unknown field spec');
});

test('missing required fields are reported at the mapping that lacks them', () => {
  const text = edit(CLEAN, '  - name: deps\n    kind: dependencies\n', '  - name: deps\n');
  assertAt(text, 'name: deps', 'task deps: missing required field kind');
  assertAt(edit(CLEAN, '      tool: node\n      args', '      args'), 'args: [node_modules', 'task build: missing required field tool in run');
  assertAt(edit(CLEAN, 'metadata:\n  name: hello-service\n', 'metadata:\n'), 'description: Build', 'missing required field name in metadata');
});

test('a task carries exactly the block its kind names', () => {
  const missing = edit(CLEAN, '    source: { path: . }\n', '');
  assertAt(missing, 'name: checkout', 'task checkout: kind source needs the source block');
  const extra = edit(CLEAN, '    kind: run\n    needs: [deps]\n', '    kind: run\n    needs: [deps]\n    image: { from: out }\n');
  assertAt(extra, 'image: { from: out }', 'task build: image is not allowed in a task of kind run');
  const both = edit(CLEAN, 'source: { path: . }', 'source: { path: ., git: { url: "https://example.invalid/r.git", commit: "0123456789abcdef0123456789abcdef01234567" } }');
  assertAt(both, '{ path: ., git', 'task checkout: source must have exactly one of: path, git');
  assertAt(edit(CLEAN, '- { type: image, task: image }', '- { type: image, task: image, from: out }'), 'from: out }', /publish\.artifacts\[1\]: from is not allowed for an artifact of type image/);
  assertAt(edit(CLEAN, 'source: { path: . }', 'source: { git: { url: "https://example.invalid/r.git", commit: "abc" } }'), '"abc"', /source\.git\.commit must be a full commit id/);
});

test('semantic errors: needs, cycles, duplicates', () => {
  assertAt(edit(CLEAN, 'needs: [image]', 'needs: [imgae]'), 'imgae', 'task publish needs imgae, which is not a task of this pipeline');
  assertAt(edit(CLEAN, 'needs: [checkout]', 'needs: [deps]'), 'deps]', 'task deps needs itself');
  const cycle = edit(CLEAN, '    source: { path: . }\n', '    source: { path: . }\n    needs: [build]\n');
  assertAt(cycle, 'build]', 'dependency cycle: checkout needs build needs deps needs checkout');
  assertAt(edit(CLEAN, '  - name: image\n', '  - name: build\n'), 'build\n    kind: image', /duplicate task name build \(first declared on line \d+\)/);
  assertAt(edit(CLEAN, '  - name: out\n', '  - name: source\n'), 'source\ntools', /duplicate workspace name source/);
  assertAt(edit(CLEAN, "workspaces: [ { name: out, mode: ro } ]\n  - name: publish", "workspaces: [ { name: out, mode: ro }, { name: out, mode: ro } ]\n  - name: publish"), 'out, mode: ro } ]\n  - name: publish', 'task image mounts workspace out twice');
});

test('semantic errors: workspaces, tools, cwd', () => {
  assertAt(edit(CLEAN, '{ name: out, mode: rw }', '{ name: output, mode: rw }'), 'output', 'task build mounts workspace output, which the pipeline does not declare');
  assertAt(edit(CLEAN, '      tool: node\n', '      tool: nodejs\n'), 'nodejs', 'task build uses tool nodejs, which the pipeline does not declare');
  assertAt(edit(CLEAN, 'tool: npm }', 'tool: yarn }'), 'yarn', 'task deps uses tool yarn');
  assertAt(edit(CLEAN, 'cwd: source', 'cwd: out2'), 'out2', 'task build: run.cwd out2 is not a workspace this task mounts');
  assertAt(edit(CLEAN, '      from: out\n', '      from: source\n'), 'source\n      path: dist', 'task image: image.from source is not a workspace this task mounts');
  assertAt(edit(CLEAN, '{ type: tarball, name: dist.tar.gz, from: out', '{ type: tarball, name: dist.tar.gz, from: source'), 'source, path: dist', 'artifact from source is not a workspace this task mounts');
  const twoRw = edit(CLEAN, "    workspaces: [ { name: source, mode: rw } ]\n  - name: deps", "    workspaces: [ { name: source, mode: rw }, { name: out, mode: rw } ]\n  - name: deps");
  assertAt(twoRw, '[ { name: source, mode: rw }, { name: out', 'a source task writes into exactly one workspace mounted rw; task checkout mounts 2');
  const noNode = edit(edit(CLEAN, '  - name: node\n    path: /usr/bin/node\n', '  - name: nodejs\n    path: /usr/bin/node\n'), '      tool: node\n', '      tool: nodejs\n');
  assertAt(noNode, 'npm, lockfile', 'the npm manager runs on a tool named node');
});

test('semantic errors: params and references', () => {
  assertAt(edit(CLEAN, 'NODE_ENV: "$(params.mode)"', 'NODE_ENV: "$(params.mod)"'), '"$(params.mod)"', '$(params.mod) refers to a param the pipeline does not declare');
  assertAt(edit(CLEAN, 'env: { PORT: "8080" }', 'env: { PORT: "$(params.mode)" }'), '"$(params.mode)" }', '$(params.mode) is only substituted in run.args, run.env and run.cwd');
  assertAt(edit(CLEAN, 'default: release', 'default: fast'), 'fast', 'param mode: the default "fast" must be one of: "release", "debug"');
  assertAt(edit(CLEAN, '    description: build mode\n', '    pattern: "([a-z"\n'), '"([a-z"', 'param mode: pattern is not a valid regular expression');
  assertAt(edit(CLEAN, '    default: false\n', '    default: false\n    pattern: "x"\n'), 'pattern: "x"', 'param verbose: pattern is only allowed for params of type string');
  assertAt(edit(CLEAN, '    enum: [release, debug]\n', '    pattern: "[a-z]{1,4}"\n'), 'release\n    pattern', 'param mode: the default "release" must match the pattern');
});

test('semantic errors: published images must come from an image task the publisher needs', () => {
  assertAt(edit(CLEAN, '{ type: image, task: image }', '{ type: image, task: build }'), 'build }', 'artifact task build is not an image task');
  const text = edit(CLEAN, 'needs: [image]', 'needs: [build]');
  assertAt(text, 'image }', 'publishes the image of task image but does not need it');
});

test('several problems: the first is thrown and the rest are counted', () => {
  const text = edit(edit(CLEAN, 'needs: [image]', 'needs: [imgae]'), 'cwd: source', 'cwd: out2');
  const msg = invalid(text);
  assert.ok(msg.startsWith(`p.yaml:${where(text, 'out2')}: `), msg);
  assert.match(msg, /\(and 2 more problems; run `ssf lint p\.yaml`\)$/);
});

test('loadPipeline: absolute file name, missing file, oversized file', () => {
  const dir = mkdtempSync(join(tmpdir(), 'ssf-pipeline-'));
  try {
    const f = join(dir, 'ssf-pipeline.yaml');
    writeFileSync(f, CLEAN);
    const p = loadPipeline(f);
    assert.equal(p.file, f);
    assert.ok(p.bytes.equals(Buffer.from(CLEAN)));
    throwsCode(() => loadPipeline(join(dir, 'missing.yaml')), 'FILE_NOT_FOUND');
    writeFileSync(f, Buffer.alloc(1024 * 1024 + 1, 0x23));
    throwsCode(() => loadPipeline(f), 'INPUT_TOO_LARGE');
    throwsCode(() => loadPipeline(dir), 'USAGE');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
