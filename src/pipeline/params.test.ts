import { test } from 'node:test';
import assert from 'node:assert/strict';
import { throwsCode } from '../core/testing.js';
import { parsePipeline, resolveParams, substitute, type PipelineDefinition } from './index.js';
import { CLEAN, edit } from './testdata.js';

const PARAMS = `params:
  - name: mode
    type: string
    default: release
    enum: [release, debug]
  - name: verbose
    type: boolean
    default: false
  - name: jobs
    type: number
    default: 2
  - name: tag
    type: string
    pattern: "v[0-9]+\\\\.[0-9]+"
workspaces:`;

function def(text = CLEAN): PipelineDefinition {
  return parsePipeline(text, 'p.yaml').def;
}

const D = def(
  edit(
    edit(CLEAN, /params:[\s\S]*?workspaces:/.exec(CLEAN)?.[0] ?? '', PARAMS),
    'args: [node_modules/typescript/bin/tsc, -p, ., --outDir, /workspace/out/dist]',
    'args: [tsc, "--jobs=$(params.jobs)", "$(params.tag)-$(params.mode)", "$(params.verbose)"]',
  ),
);

test('defaults fill in what the caller leaves out; values are converted to their types', () => {
  assert.deepEqual(resolveParams(D, { tag: 'v1.2' }), { mode: 'release', verbose: false, jobs: 2, tag: 'v1.2' });
  assert.deepEqual(resolveParams(D, { tag: 'v1.2', mode: 'debug', verbose: 'true', jobs: '-1.5e2' }), { mode: 'debug', verbose: true, jobs: -150, tag: 'v1.2' });
});

test('undeclared, mistyped, out-of-enum, pattern-failing and missing params are PARAM_INVALID', () => {
  throwsCode(() => resolveParams(D, { tag: 'v1.2', modee: 'debug' }), 'PARAM_INVALID');
  throwsCode(() => resolveParams(D, JSON.parse('{"tag":"v1.2","__proto__":"x"}') as Record<string, string>), 'PARAM_INVALID');
  for (const verbose of ['yes', 'True', '1', '']) throwsCode(() => resolveParams(D, { tag: 'v1.2', verbose }), 'PARAM_INVALID');
  for (const jobs of ['', 'NaN', 'Infinity', '0x10', '1e999', ' 2', '2 ', '1.', '+1']) throwsCode(() => resolveParams(D, { tag: 'v1.2', jobs }), 'PARAM_INVALID');
  throwsCode(() => resolveParams(D, { tag: 'v1.2', mode: 'fast' }), 'PARAM_INVALID');
  throwsCode(() => resolveParams(D, { tag: 'v1.2x' }), 'PARAM_INVALID'); // the pattern is anchored
  throwsCode(() => resolveParams(D, { tag: 'v1' }), 'PARAM_INVALID');
  throwsCode(() => resolveParams(D, {}), 'PARAM_INVALID'); // tag has no default
  throwsCode(() => resolveParams(D, { tag: 'v1.2', jobs: 3 } as unknown as Record<string, string>), 'PARAM_INVALID');
});

test('string params refuse control characters and over-long values', () => {
  const free = def(edit(CLEAN, '    enum: [release, debug]\n', ''));
  assert.equal(resolveParams(free, { mode: 'any text, with spaces' }).mode, 'any text, with spaces');
  throwsCode(() => resolveParams(free, { mode: 'a\nb' }), 'PARAM_INVALID');
  throwsCode(() => resolveParams(free, { mode: 'a\u0000b' }), 'PARAM_INVALID');
  assert.equal(String(resolveParams(free, { mode: 'x'.repeat(4096) }).mode).length, 4096);
  throwsCode(() => resolveParams(free, { mode: 'x'.repeat(4097) }), 'PARAM_INVALID');
});

test('the error names the parameter and the declared ones', () => {
  assert.throws(() => resolveParams(D, { tag: 'v1.2', modee: 'debug' }), /parameter "modee" is not declared by pipeline hello-service \(declared: mode, verbose, jobs, tag\)/);
  assert.throws(() => resolveParams(D, {}), /parameter tag has no default/);
});

test('substitute replaces references in run.args, run.env and run.cwd, and copies', () => {
  const before = structuredClone(D);
  const params = resolveParams(D, { tag: 'v3.1', mode: 'debug', jobs: '4' });
  const out = substitute(D, params);
  const build = out.tasks.find((t) => t.name === 'build');
  assert.deepEqual(build?.run?.args, ['tsc', '--jobs=4', 'v3.1-debug', 'false']);
  assert.deepEqual(build?.run?.env, { NODE_ENV: 'debug', VERBOSE: 'false' });
  assert.equal(build?.run?.cwd, 'source');
  assert.deepEqual(D, before, 'the input definition is not modified');
  assert.notEqual(out.tasks, D.tasks);
});

test('substitution is one pass: a value that looks like a reference stays literal', () => {
  const free = def(edit(CLEAN, '    enum: [release, debug]\n', ''));
  const out = substitute(free, resolveParams(free, { mode: '$(params.verbose)' }));
  assert.equal(out.tasks[2]?.run?.env?.NODE_ENV, '$(params.verbose)');
});

test('substitute: an unknown reference, or a cwd that is not mounted, is PARAM_INVALID', () => {
  throwsCode(() => substitute(D, { mode: 'debug', verbose: false, jobs: 1 }), 'PARAM_INVALID'); // tag missing
  const withCwd = def(
    edit(
      edit(edit(CLEAN, '    enum: [release, debug]\n', ''), 'cwd: source', 'cwd: "$(params.mode)"'),
      'NODE_ENV: "$(params.mode)"',
      'NODE_ENV: production',
    ),
  );
  assert.equal(substitute(withCwd, resolveParams(withCwd, { mode: 'out' })).tasks[2]?.run?.cwd, 'out');
  throwsCode(() => substitute(withCwd, resolveParams(withCwd, { mode: 'elsewhere' })), 'PARAM_INVALID');
});

test('a default that violates its own enum is refused when parsing, and by resolveParams for hand-built definitions', () => {
  throwsCode(() => def(edit(CLEAN, 'default: release', 'default: fast')), 'PIPELINE_INVALID');
  const hand = structuredClone(def());
  (hand.params[0] as { default?: string }).default = 'fast';
  throwsCode(() => resolveParams(hand, {}), 'PARAM_INVALID');
});
