import { test } from 'node:test';
import assert from 'node:assert/strict';
import { throwsCode } from '../core/testing.js';
import { parsePipeline, planRun, type PipelineDefinition, type TaskDef } from './index.js';
import { CLEAN, edit } from './testdata.js';

const names = (ts: TaskDef[]): string[] => ts.map((t) => t.name);

function task(name: string, needs: string[], workspaces: [string, 'ro' | 'rw'][] = []): TaskDef {
  return { name, kind: 'run', needs, workspaces: workspaces.map(([n, mode]) => ({ name: n, mode })), run: { tool: 'sh', args: [] } };
}

function pipeline(tasks: TaskDef[]): PipelineDefinition {
  const ws = [...new Set(tasks.flatMap((t) => t.workspaces.map((w) => w.name)))];
  return {
    apiVersion: 'ssf/v1', kind: 'Pipeline', metadata: { name: 't' }, params: [],
    workspaces: ws.map((name) => ({ name })), tools: [{ name: 'sh', path: '/bin/sh' }], tasks,
  };
}

test('the clean definition plans in declaration order, one task per level', () => {
  const p = planRun(parsePipeline(CLEAN, 'p.yaml').def);
  assert.deepEqual(names(p.order), ['checkout', 'deps', 'build', 'image', 'publish']);
  assert.deepEqual(p.levels.map(names), [['checkout'], ['deps'], ['build'], ['image'], ['publish']]);
  assert.deepEqual(Object.fromEntries(p.consumers), {
    checkout: ['deps'],
    deps: ['build'],
    build: ['image', 'publish'],
    image: [],
    publish: [],
  });
});

test('a diamond: independent tasks share a level; order is topological even when declared backwards', () => {
  const p = planRun(pipeline([
    task('publish', ['test', 'lint']),
    task('lint', ['fetch']),
    task('test', ['fetch']),
    task('fetch', []),
  ]));
  assert.deepEqual(names(p.order), ['fetch', 'lint', 'test', 'publish']);
  assert.deepEqual(p.levels.map(names), [['fetch'], ['lint', 'test'], ['publish']]);
  for (const [i, t] of p.order.entries()) for (const n of t.needs) assert.ok(names(p.order).indexOf(n) < i);
});

test('levels: a task sits one level after its deepest need', () => {
  const p = planRun(pipeline([task('a', []), task('b', ['a']), task('c', ['b']), task('d', ['a', 'c']), task('e', [])]));
  assert.deepEqual(p.levels.map(names), [['a', 'e'], ['b'], ['c'], ['d']]);
});

test('consumers: a reader consumes the last writers before it, not earlier ones', () => {
  const p = planRun(pipeline([
    task('w1', [], [['ws', 'rw']]),
    task('w2', ['w1'], [['ws', 'rw']]),
    task('r', ['w2'], [['ws', 'ro']]),
    task('other', ['w1'], [['x', 'rw']]),
    task('r2', ['other'], [['ws', 'ro'], ['x', 'ro']]),
  ]));
  assert.deepEqual(p.consumers.get('w1'), ['w2', 'r2']);
  assert.deepEqual(p.consumers.get('w2'), ['r']);
  assert.deepEqual(p.consumers.get('other'), ['r2']);
  assert.deepEqual(p.consumers.get('r'), []);
});

test('cycles and unknown needs are PIPELINE_INVALID', () => {
  throwsCode(() => planRun(pipeline([task('a', ['c']), task('b', ['a']), task('c', ['b'])])), 'PIPELINE_INVALID');
  assert.throws(() => planRun(pipeline([task('a', ['c']), task('b', ['a']), task('c', ['b'])])), /dependency cycle: a needs c needs b needs a/);
  throwsCode(() => planRun(pipeline([task('a', ['a'])])), 'PIPELINE_INVALID');
  throwsCode(() => planRun(pipeline([task('a', ['zz'])])), 'PIPELINE_INVALID');
  throwsCode(() => planRun(pipeline([task('a', []), task('a', [])])), 'PIPELINE_INVALID');
  // parsePipeline refuses the same cycle with its position.
  throwsCode(() => parsePipeline(edit(CLEAN, '    source: { path: . }\n', '    source: { path: . }\n    needs: [publish]\n'), 'p.yaml'), 'PIPELINE_INVALID');
});

test('a long chain plans without recursion limits', () => {
  const tasks = Array.from({ length: 256 }, (_, i) => task(`t${i}`, i === 0 ? [] : [`t${i - 1}`]));
  const p = planRun(pipeline(tasks.reverse()));
  assert.equal(p.order[0]?.name, 't0');
  assert.equal(p.levels.length, 256);
});
