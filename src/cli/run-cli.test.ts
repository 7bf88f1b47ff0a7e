/**
 * The run commands as a user meets them: `bin/ssf.js` in a child process. lint, pipeline
 * pin/sign, run, runs, show --export, verify with only the exported files, bad input, and
 * killing ssf in the middle of a run.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const BIN = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..', '..', 'bin', 'ssf.js');
let tmp: string;
let dir: string;

function ssf(args: string[], cwd = tmp): { code: number; out: string; err: string } {
  const r = spawnSync(process.execPath, [BIN, ...args], { cwd, encoding: 'utf8', env: { PATH: process.env.PATH, SSF_ROOT_PASSPHRASE: 'cli run test passphrase' } });
  return { code: r.status ?? -1, out: r.stdout, err: r.stderr };
}

function pipeline(name: string, script: string): string {
  const p = join(tmp, name);
  mkdirSync(p, { recursive: true });
  writeFileSync(join(p, 'hello.txt'), 'hello\n');
  writeFileSync(join(p, 'ssf-pipeline.yaml'), `# test pipeline
apiVersion: ssf/v1
kind: Pipeline
metadata: { name: ${name} }
workspaces: [ { name: source }, { name: out } ]
tools:
  - name: sh
    path: /usr/bin/dash
    digest: sha256:${'0'.repeat(64)}
tasks:
  - name: checkout
    kind: source
    source: { path: . }
    workspaces: [ { name: source, mode: rw } ]
  - name: build
    kind: run
    needs: [checkout]
    run: { tool: sh, args: [-euc, ${JSON.stringify(script)}], cwd: source, timeoutSeconds: 120 }
    workspaces: [ { name: source, mode: ro }, { name: out, mode: rw } ]
  - name: publish
    kind: publish
    needs: [build]
    publish: { artifacts: [ { type: file, name: out.txt, from: out, path: out.txt } ] }
    workspaces: [ { name: out, mode: ro } ]
`);
  return join(p, 'ssf-pipeline.yaml');
}

before(() => {
  tmp = mkdtempSync(join(tmpdir(), 'ssf-cli-run-'));
  dir = join(tmp, '.ssf');
  const r = ssf(['init', '--dir', dir, '--trust-domain', 'cli.test.internal', '--root-key-out', join(tmp, 'root.key.pem')]);
  assert.equal(r.code, 0, r.err);
});

after(() => rmSync(tmp, { recursive: true, force: true }));

describe('ssf lint and pipeline pin', () => {
  test('an unpinned tool is a lint error with its position; pin fixes it and keeps comments', () => {
    const file = pipeline('lint', 'cp hello.txt /workspace/out/out.txt');
    const bad = ssf(['lint', file]);
    assert.equal(bad.code, 1);
    assert.match(bad.out, /ssf-pipeline\.yaml:9:13: error unpinned-tool/);
    assert.match(bad.err, /^ssf: error\[PIPELINE_LINT\]/);
    const before = readFileSync(file, 'utf8').split('\n');
    const pin = ssf(['pipeline', 'pin', file]);
    assert.equal(pin.code, 0, pin.err);
    const afterLines = readFileSync(file, 'utf8').split('\n');
    const changed = afterLines.filter((l, i) => l !== before[i]);
    assert.equal(afterLines.length, before.length);
    assert.deepEqual(changed, [`    digest: "sha256:${createHash('sha256').update(readFileSync('/usr/bin/dash')).digest('hex')}"`], 'only the digest line changes');
    const good = ssf(['lint', file]);
    assert.equal(good.code, 0, good.out + good.err);
  });

  test('malformed YAML: one line with file:line:column, exit 1, no stack', () => {
    const file = join(tmp, 'broken.yaml');
    writeFileSync(file, 'apiVersion: ssf/v1\nkind: Pipeline\ntasks: [\n');
    const r = ssf(['run', file, '--dir', dir]);
    assert.equal(r.code, 1);
    assert.match(r.err, /^ssf: error\[PIPELINE_INVALID\]: .*broken\.yaml:\d+:\d+/);
    assert.equal(r.err.trim().split('\n').length, 1);
    assert.doesNotMatch(r.err, /at .*\.js:\d+/);
  });
});

describe('ssf run, runs, show, verify', () => {
  test('a run publishes an artifact that verifies on another machine with only the exported files', () => {
    const file = pipeline('full', 'cp hello.txt /workspace/out/out.txt');
    assert.equal(ssf(['pipeline', 'pin', file]).code, 0);
    const run = ssf(['run', file, '--dir', dir, '--json']);
    assert.equal(run.code, 0, run.err);
    const lines = run.out.trim().split('\n').map((l) => JSON.parse(l) as { type: string; runId?: string; status?: string; artifacts?: { digest: string }[] });
    const summary = lines.at(-1);
    assert.equal(summary?.type, 'summary');
    assert.equal(summary?.status, 'succeeded');
    assert.ok(lines.some((l) => l.type === 'task-end'));
    const runId = summary?.runId ?? '';
    const list = JSON.parse(ssf(['runs', '--dir', dir, '--json']).out) as { id: string; status: string }[];
    assert.ok(list.some((r) => r.id === runId && r.status === 'succeeded'));
    const exportDir = join(tmp, 'export');
    const show = ssf(['show', runId.slice(0, 20), '--dir', dir, '--export', exportDir]);
    assert.equal(show.code, 0, show.err);
    assert.match(show.out, /build\s+run\s+succeeded/);
    assert.ok(existsSync(join(exportDir, 'provenance.sigstore.json')));
    assert.equal(readFileSync(join(exportDir, 'out.txt'), 'utf8'), 'hello\n', 'the published file is exported too');
    assert.match(ssf(['show', runId, '--dir', dir, '--export', exportDir]).err, /error\[USAGE\]: --export .* is not empty/);
    assert.match(ssf(['show', runId, '--dir', dir, '--export', join(dir, 'runs')]).err, /error\[PATH_ESCAPE\]/);
    // The consumer: a directory with no factory, the artifact and the exported files.
    const consumer = join(tmp, 'consumer');
    mkdirSync(consumer);
    writeFileSync(join(consumer, 'out.txt'), 'hello\n');
    const args = ['verify', 'out.txt', '--provenance', join(exportDir, 'provenance.sigstore.json'), '--trusted-root', join(exportDir, 'trusted_root.json')];
    const ok = ssf(args, consumer);
    assert.equal(ok.code, 0, ok.err);
    assert.match(ok.out, /^OK: out\.txt/);
    assert.match(ok.out, /task chain: checkout → build → publish/);
    writeFileSync(join(consumer, 'out.txt'), 'hellO\n');
    const bad = ssf(args, consumer);
    assert.equal(bad.code, 1);
    assert.match(bad.err, /^ssf: error\[SUBJECT_MISMATCH\]/);
    // With the factory at hand, a digest is enough.
    const byDigest = ssf(['verify', summary?.artifacts?.[0]?.digest ?? '', '--dir', dir]);
    assert.equal(byDigest.code, 0, byDigest.err);
  });

  test('--param that the pipeline does not declare is refused; show of an unknown run is RUN_NOT_FOUND', () => {
    const file = pipeline('params', 'cp hello.txt /workspace/out/out.txt');
    ssf(['pipeline', 'pin', file]);
    const r = ssf(['run', file, '--dir', dir, '--param', 'evil=1']);
    assert.equal(r.code, 1);
    assert.match(r.err, /^ssf: error\[PARAM_INVALID\]/);
    assert.equal(ssf(['run', file, '--dir', dir, '--param', 'noequals']).code, 2);
    assert.match(ssf(['show', 'nope', '--dir', dir]).err, /error\[RUN_NOT_FOUND\]/);
  });

  test('killing ssf mid-run: the run is marked failed, the sandbox is gone, nothing is published, the store reopens', async () => {
    const file = pipeline('killed', 'echo started > /workspace/out/started; sleep 2713; cp hello.txt /workspace/out/out.txt');
    ssf(['pipeline', 'pin', file]);
    const before = readFileSync(join(dir, 'repository', 'index.json'), 'utf8');
    const child = spawn(process.execPath, [BIN, 'run', file, '--dir', dir], { stdio: ['ignore', 'pipe', 'pipe'], env: { PATH: process.env.PATH } });
    let out = '';
    child.stdout.on('data', (c: Buffer) => (out += c.toString()));
    const runsDir = join(dir, 'runs');
    // Wait until the build task has started inside its sandbox.
    for (let i = 0; i < 300; i++) {
      const started = existsSync(runsDir) && readdirSync(runsDir).some((r) => existsSync(join(runsDir, r, 'ws', 'out', 'started')) && r.length > 0 && out.includes('build'));
      if (started) break;
      await new Promise((r) => setTimeout(r, 100));
    }
    child.kill('SIGKILL');
    await new Promise((r) => child.on('exit', r));
    await new Promise((r) => setTimeout(r, 500));
    const ps = spawnSync('ps', ['-eo', 'args'], { encoding: 'utf8' }).stdout;
    assert.doesNotMatch(ps, /sleep 2713/, 'the sandboxed task died with ssf');
    const list = JSON.parse(ssf(['runs', '--dir', dir, '--json']).out) as { pipeline: string; status: string; error: string | null }[];
    const killed = list.find((r) => r.pipeline === 'killed');
    assert.equal(killed?.status, 'failed');
    assert.match(killed?.error ?? '', /stopped before it finished/);
    assert.equal(readFileSync(join(dir, 'repository', 'index.json'), 'utf8'), before, 'nothing published');
    assert.equal(ssf(['log', '--dir', dir]).code, 0, 'the store and log reopen');
  });
});
