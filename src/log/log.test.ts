import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { generateKeyPairSync } from 'node:crypto';
import { FixedClock } from '../core/clock.js';
import { isSsfError } from '../core/errors.js';
import type { Db } from '../store/db.js';
import { testBackends } from '../store/testing.js';
import { openCheckpoint } from './checkpoint.js';
import { emptyRoot, leafHash, verifyConsistency, verifyInclusion } from './merkle.js';
import { ecdsaNoteSigner, ecdsaNoteVerifier, type NoteVerifier } from './note.js';
import { TransparencyLog } from './log.js';

const ORIGIN = 'ssf.example/log';
const keys = generateKeyPairSync('ec', { namedCurve: 'P-256' });
const signer = ecdsaNoteSigner(ORIGIN, keys.privateKey);
const verifier = ecdsaNoteVerifier(ORIGIN, keys.publicKey);

const entries = (from: number, n: number): Buffer[] => Array.from({ length: n }, (_, i) => Buffer.from(`entry ${from + i}`));
const refuses = (e: unknown): boolean => isSsfError(e, 'TLOG_CONSISTENCY');

// Every test runs on SQLite, and on PostgreSQL when SSF_TEST_POSTGRES is set (src/store/testing.ts).
for (const backend of testBackends()) describe(backend.name, { skip: backend.skip }, () => {
  function newLog(db: Db = backend.open(), v?: NoteVerifier): { db: Db; log: TransparencyLog } {
    const opts = { db, origin: ORIGIN, signer, clock: new FixedClock('2025-01-01T00:00:00Z') };
    return { db, log: new TransparencyLog(v === undefined ? opts : { ...opts, verifier: v }) };
  }

  test('one signed checkpoint per batch, with proofs that verify against it', () => {
    const { db, log } = newLog();
    assert.equal(log.latestCheckpoint(), undefined);
    const r1 = log.appendBatch(entries(0, 10));
    assert.deepEqual(r1.indices, [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    const cp1 = openCheckpoint(r1.checkpoint.note, [verifier], ORIGIN);
    assert.equal(cp1.size, 10);
    assert.deepEqual(cp1.rootHash, log.tree.rootAt(10));
    assert.deepEqual(r1.checkpoint.rootHash, cp1.rootHash);

    const r2 = log.appendBatch(entries(10, 7));
    assert.deepEqual(r2.indices, [10, 11, 12, 13, 14, 15, 16]);
    const cp2 = openCheckpoint(r2.checkpoint.note, [verifier], ORIGIN);
    verifyConsistency(10, 17, log.consistencyProof(10, 17), cp1.rootHash, cp2.rootHash);
    for (const i of [0, 9, 10, 16]) {
      verifyInclusion(leafHash(log.leafData(i)), i, 17, log.inclusionProof(i, 17), cp2.rootHash);
      assert.deepEqual(log.leafHash(i), leafHash(Buffer.from(`entry ${i}`)));
    }
    assert.equal(log.latestCheckpoint()?.note, r2.checkpoint.note);
    assert.equal(log.checkpointAt(10)?.note, r1.checkpoint.note);
    assert.equal(log.checkpointAt(11), undefined);
    const rows = db.prepare('SELECT size, created_at FROM tlog_checkpoints ORDER BY size').all();
    assert.deepEqual(rows, [
      { size: 10, created_at: '2025-01-01T00:00:00.000Z' },
      { size: 17, created_at: '2025-01-01T00:00:00.000Z' },
    ]);
  });

  test('an empty batch reuses the current checkpoint; the empty tree can be signed', () => {
    const { db, log } = newLog();
    const empty = log.appendBatch([]);
    assert.equal(empty.checkpoint.size, 0);
    assert.deepEqual(empty.checkpoint.rootHash, emptyRoot());
    assert.equal(log.appendBatch([]).checkpoint.note, empty.checkpoint.note);
    log.appendBatch(entries(0, 3));
    assert.equal(log.appendBatch([]).checkpoint.size, 3);
    assert.equal((db.prepare('SELECT count(*) AS n FROM tlog_checkpoints').get() as { n: number }).n, 2);
  });

  test('a rolled-back caller transaction takes its leaves and checkpoint with it', () => {
    const { db, log } = newLog();
    log.appendBatch(entries(0, 4));
    const tx = db.transaction(() => {
      log.appendBatch(entries(4, 4));
      throw new Error('storing evidence failed');
    });
    assert.throws(() => tx(), /storing evidence failed/);
    assert.equal(log.size(), 4);
    assert.equal(log.latestCheckpoint()?.size, 4);
    const ok = db.transaction(() => log.appendBatch(entries(4, 2)))();
    assert.equal(ok.checkpoint.size, 6);
    assert.equal(log.fsckTree().ok, true);
  });

  test('a reopened log continues from the stored state', () => {
    const db = backend.open();
    const a = newLog(db).log;
    a.appendBatch(entries(0, 5));
    const b = newLog(db, verifier).log;
    assert.equal(b.latestCheckpoint()?.size, 5);
    const r = b.appendBatch(entries(5, 5));
    assert.deepEqual(r.indices, [5, 6, 7, 8, 9]);
    verifyConsistency(5, 10, b.consistencyProof(5, 10), (a.checkpointAt(5)?.rootHash) as Buffer, r.checkpoint.rootHash);
  });

  test('refuses to sign after a frontier node was edited in SQL', () => {
    const { db, log } = newLog();
    log.appendBatch(entries(0, 10)); // frontier of size 10: node (3,0) and node (1,4)
    const original = db.prepare('SELECT hash FROM tlog_nodes WHERE level = 3 AND idx = 0').get() as { hash: Buffer };
    db.prepare('UPDATE tlog_nodes SET hash = ? WHERE level = 3 AND idx = 0').run(Buffer.alloc(32, 1));
    assert.throws(() => log.appendBatch(entries(10, 1)), refuses);
    // Nothing of the refused batch was kept.
    assert.equal(log.size(), 10);
    assert.equal(log.latestCheckpoint()?.size, 10);
    // Restoring the row lets the log continue.
    db.prepare('UPDATE tlog_nodes SET hash = ? WHERE level = 3 AND idx = 0').run(original.hash);
    assert.equal(log.appendBatch(entries(10, 1)).checkpoint.size, 11);
  });

  test('refuses to sign after a leaf hash on the frontier was edited in SQL', () => {
    const { db, log } = newLog();
    log.appendBatch(entries(0, 11)); // leaf 10 is itself on the frontier
    db.prepare('UPDATE tlog_leaves SET hash = ? WHERE idx = 10').run(leafHash(Buffer.from('forged')));
    assert.throws(() => log.appendBatch(entries(11, 1)), refuses);
    const report = log.fsckTree();
    assert.equal(report.ok, false);
    assert.deepEqual(report.mismatches, [{ kind: 'leaf-hash', level: 0, index: 10 }]);
  });

  test('refuses to sign when the stored tree lost rows, shrank, or was replaced by a fork', () => {
    {
      const { db, log } = newLog();
      log.appendBatch(entries(0, 6));
      db.prepare('DELETE FROM tlog_nodes WHERE level = 2 AND idx = 0').run();
      assert.throws(() => log.appendBatch(entries(6, 1)), refuses);
    }
    {
      const { db, log } = newLog();
      log.appendBatch(entries(0, 6));
      db.prepare('DELETE FROM tlog_leaves WHERE idx >= 4').run();
      db.prepare('DELETE FROM tlog_nodes WHERE level = 1 AND idx = 2').run();
      assert.throws(() => log.appendBatch([]), refuses);
    }
    {
      const { db, log } = newLog();
      log.appendBatch(entries(0, 5));
      db.exec('DELETE FROM tlog_leaves; DELETE FROM tlog_nodes;');
      log.tree.append(entries(100, 5)); // a different tree of the same size
      assert.throws(() => log.appendBatch([]), refuses);
      assert.throws(() => log.appendBatch(entries(105, 3)), refuses);
    }
  });

  test('a verifier makes the log distrust an edited checkpoint table', () => {
    const db = backend.open();
    newLog(db).log.appendBatch(entries(0, 3));
    const row = db.prepare('SELECT note FROM tlog_checkpoints WHERE size = 3').get() as { note: string };
    const lines = row.note.split('\n');
    lines[2] = Buffer.alloc(32, 7).toString('base64'); // an attacker-chosen root for size 3
    db.prepare('UPDATE tlog_checkpoints SET note = ? WHERE size = 3').run(lines.join('\n'));
    const { log } = newLog(db, verifier);
    assert.throws(() => log.appendBatch(entries(3, 1)), (e) => isSsfError(e, 'NOTE_INVALID'));
    // Without a verifier the forged root is trusted, and the real tree is then refused as inconsistent with it.
    assert.throws(() => newLog(db).log.appendBatch(entries(3, 1)), refuses);
    assert.equal(newLog(db).log.size(), 3);
    // A log configured with another origin refuses to continue this store.
    const other = new TransparencyLog({ db, origin: 'other.example/log', signer });
    assert.throws(() => other.latestCheckpoint(), (e) => isSsfError(e, 'TLOG_CHECKPOINT'));
  });

  test('fsckTree rebuilds hashes from leaf data and checks every checkpoint', () => {
    const { db, log } = newLog();
    log.appendBatch(entries(0, 8));
    log.appendBatch(entries(8, 9));
    log.appendBatch(entries(17, 3));
    const clean = log.fsckTree();
    assert.deepEqual(clean, { ok: true, size: 20, nodesChecked: 20 + 10 + 5 + 2 + 1, checkpointsChecked: 3, mismatches: [], checkpointIssues: [] });

    // Rewriting a leaf's data and hash consistently defeats the stored-node checks, not fsck.
    const forged = Buffer.from('forged entry');
    db.prepare('UPDATE tlog_leaves SET data = ?, hash = ? WHERE idx = 2').run(forged, leafHash(forged));
    const bad = log.fsckTree();
    assert.equal(bad.ok, false);
    assert.ok(bad.mismatches.some((m) => m.kind === 'node-hash' && m.level === 1 && m.index === 1));
    assert.deepEqual(
      bad.checkpointIssues.map((i) => i.size),
      [8, 17, 20],
    );
  });
});
