/** Run rows and policy-decision rows on SQLite and (with SSF_TEST_POSTGRES) PostgreSQL. */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { throwsCode } from '../core/testing.js';
import { DecisionStore } from '../admission/index.js';
import { testBackends } from '../store/testing.js';
import { RunStore } from './runstore.js';

const T = (s: number): Date => new Date(Date.UTC(2026, 2, 1, 12, 0, s));

for (const backend of testBackends()) describe(`run and decision rows on ${backend.name}`, { skip: backend.skip }, () => {
  test('a run is created with its tasks, progresses, finishes, and is found by id, prefix and artifact', () => {
    const db = backend.open();
    const runs = new RunStore(db);
    new RunStore(db); // a second store on the same database migrates nothing
    const base = { pipeline: 'build', pipelineDigest: 'sha256:' + 'a'.repeat(64), pipelineFile: 'ssf.yaml', params: { v: 1 }, insecure: false, tasks: [{ name: 'compile', kind: 'run' }, { name: 'pack', kind: 'run' }] };
    runs.create({ ...base, id: 'abcd0001', startedAt: T(0) });
    runs.create({ ...base, id: 'abcd0002', startedAt: T(1) });
    runs.taskStarted('abcd0001', 'compile', T(2));
    runs.taskFinished('abcd0001', 'compile', { status: 'succeeded', finishedAt: T(3), durationMs: 1000.4, exitCode: 0, logIndex: 7, detail: { out: 'ok' } });
    runs.setNode('abcd0001', 3);
    const artifact = { name: 'app.tgz', type: 'tarball' as const, digest: 'sha256:' + 'b'.repeat(64), size: 10, mediaType: 'application/gzip' };
    // The artifact listed twice is stored once.
    runs.finish('abcd0001', { status: 'succeeded', finishedAt: T(4), provenanceLogIndex: 9, artifacts: [artifact, artifact] });

    const run = runs.get('abcd0001');
    assert.equal(run.status, 'succeeded');
    assert.equal(run.node_log_index, 3);
    assert.equal(run.provenance_log_index, 9);
    assert.equal(run.insecure, 0);
    assert.equal(run.pid, process.pid);
    assert.deepEqual(JSON.parse(run.params), { v: 1 });
    assert.deepEqual(runs.tasks('abcd0001').map((t) => [t.seq, t.name, t.status, t.duration_ms, t.exit_code, t.log_index]), [
      [0, 'compile', 'succeeded', 1000, 0, 7],
      [1, 'pack', 'skipped', null, null, null],
    ]);
    assert.deepEqual(runs.list().map((r) => r.id), ['abcd0002', 'abcd0001']);
    assert.deepEqual(runs.list(1).map((r) => r.id), ['abcd0002']);
    assert.deepEqual(runs.runsForArtifact(artifact.digest).map((r) => r.id), ['abcd0001']);
    assert.equal(runs.get('abcd0001').id, 'abcd0001');
    throwsCode(() => runs.get('abcd'), 'USAGE'); // ambiguous prefix
    throwsCode(() => runs.get('ffff'), 'RUN_NOT_FOUND');
    // A run whose process is gone is reaped; this process's own run is not.
    db.prepare('UPDATE run SET pid = ? WHERE id = ?').run(2 ** 22 + 1, 'abcd0002');
    assert.deepEqual(runs.reapAbandoned(T(5)), ['abcd0002']);
    assert.equal(runs.get('abcd0002').status, 'failed');
  });

  test('decision rows are listed per run and subject, newest first in recent()', () => {
    const db = backend.open();
    const decisions = new DecisionStore(db);
    const row = (i: number, gate: 'build' | 'deploy', runId: string | null) => ({
      gate, run_id: runId, subject: `sha256:${String(i).repeat(64).slice(0, 64)}`, resource_uri: 'pkg:npm/app', allowed: i % 2,
      policy_set_digest: 'sha256:p', input_digest: 'sha256:i', input: '{}', summary: 'allowed', log_index: i, decided_at: T(i).toISOString(),
    });
    decisions.insert(row(1, 'build', 'r1'));
    decisions.insert(row(2, 'build', 'r1'));
    decisions.insert(row(3, 'deploy', null));
    assert.deepEqual(decisions.forRun('r1').map((d) => [d.log_index, d.allowed]), [[1, 1], [2, 0]]);
    assert.deepEqual(decisions.forSubject(row(3, 'deploy', null).subject).map((d) => d.gate), ['deploy']);
    assert.equal(decisions.byLogIndex(2)?.run_id, 'r1');
    assert.equal(decisions.byLogIndex(4), undefined);
    assert.deepEqual(decisions.recent(2).map((d) => d.log_index), [3, 2]);
    assert.throws(() => decisions.insert(row(3, 'build', 'r2'))); // one decision per log index
  });
});
