import { test } from 'node:test';
import assert from 'node:assert/strict';
import { isSsfError } from '../core/errors.js';
import { openDb } from '../store/db.js';
import { emptyRoot } from './merkle.js';
import { MerkleTree } from './tree.js';
import { CheckpointWitness } from './witness.js';

const O = 'ssf.example/log';

/** A real tree to draw roots and proofs from, plus a fork that diverges after leaf 3. */
function trees(): { main: MerkleTree; fork: MerkleTree } {
  const main = new MerkleTree(openDb(':memory:'));
  const fork = new MerkleTree(openDb(':memory:'));
  const data = Array.from({ length: 20 }, (_, i) => Buffer.from(`e${i}`));
  main.append(data);
  fork.append(data.slice(0, 4));
  fork.append(Array.from({ length: 16 }, (_, i) => Buffer.from(`fork${i}`)));
  return { main, fork };
}

const head = (t: MerkleTree, size: number) => ({ origin: O, size, rootHash: t.rootAt(size) });

test('accepts the first checkpoint, repeats, and proven growth', () => {
  const { main } = trees();
  const w = new CheckpointWitness();
  assert.equal(w.observe(head(main, 5)), 'first');
  assert.equal(w.observe(head(main, 5)), 'unchanged');
  assert.equal(w.observe(head(main, 12), main.consistencyProof(5, 12)), 'advanced');
  assert.equal(w.latest(O)?.size, 12);
  assert.deepEqual(w.latest(O)?.rootHash, main.rootAt(12));
  // Other origins are tracked separately.
  assert.equal(w.observe({ origin: 'other.example/log', size: 2, rootHash: main.rootAt(2) }), 'first');
  assert.equal(w.latest(O)?.size, 12);
});

test('rejects a smaller size as a rollback', () => {
  const { main } = trees();
  const w = new CheckpointWitness();
  w.observe(head(main, 12));
  assert.throws(() => w.observe(head(main, 11)), (e) => isSsfError(e, 'TLOG_ROLLBACK'));
  assert.equal(w.latest(O)?.size, 12);
});

test('rejects a different root at the same size as a split view', () => {
  const { main, fork } = trees();
  const w = new CheckpointWitness();
  w.observe(head(main, 10));
  assert.throws(() => w.observe(head(fork, 10)), (e) => isSsfError(e, 'TLOG_CONSISTENCY'));
  assert.deepEqual(w.latest(O)?.rootHash, main.rootAt(10));
});

test('rejects growth without a valid consistency proof', () => {
  const { main, fork } = trees();
  const w = new CheckpointWitness();
  w.observe(head(main, 6));
  const code = (e: unknown): boolean => isSsfError(e, 'TLOG_CONSISTENCY');
  assert.throws(() => w.observe(head(main, 9)), code, 'missing proof');
  assert.throws(() => w.observe(head(main, 9), []), code, 'empty proof');
  assert.throws(() => w.observe(head(main, 9), main.consistencyProof(5, 9)), code, 'proof from another size');
  // The fork shares the first 4 leaves only, so no proof from 6 can exist; its own proof fails.
  assert.throws(() => w.observe(head(fork, 9), fork.consistencyProof(6, 9)), code, 'fork');
  assert.equal(w.latest(O)?.size, 6);
  assert.equal(w.observe(head(main, 9), main.consistencyProof(6, 9)), 'advanced');
});

test('the empty tree needs no proof to grow from, but must have the empty root', () => {
  const { main } = trees();
  const w = new CheckpointWitness();
  assert.equal(w.observe({ origin: O, size: 0, rootHash: emptyRoot() }), 'first');
  assert.equal(w.observe(head(main, 3)), 'advanced');
  assert.throws(() => new CheckpointWitness().observe({ origin: O, size: 0, rootHash: main.rootAt(1) }), (e) =>
    isSsfError(e, 'TLOG_CHECKPOINT'),
  );
  assert.throws(() => w.observe({ origin: O, size: 4, rootHash: Buffer.alloc(31) }), (e) => isSsfError(e, 'TLOG_CHECKPOINT'));
  assert.throws(() => w.observe({ origin: '', size: 4, rootHash: main.rootAt(4) }), (e) => isSsfError(e, 'TLOG_CHECKPOINT'));
});

test('state survives a JSON round trip and malformed state is refused', () => {
  const { main } = trees();
  const w = new CheckpointWitness();
  w.observe(head(main, 7));
  w.observe({ origin: 'a.example/log', size: 1, rootHash: main.rootAt(1) });
  const json = JSON.stringify(w);
  const state = JSON.parse(json) as { version: number; origins: Record<string, unknown> };
  assert.equal(state.version, 1);
  assert.deepEqual(Object.keys(state.origins), ['a.example/log', O]);
  const w2 = CheckpointWitness.fromJSON(json);
  assert.deepEqual(w2.toJSON(), w.toJSON());
  assert.throws(() => w2.observe(head(main, 6)), (e) => isSsfError(e, 'TLOG_ROLLBACK'));
  assert.equal(w2.observe(head(main, 20), main.consistencyProof(7, 20)), 'advanced');
  const bad = (e: unknown): boolean => isSsfError(e, 'INPUT_MALFORMED');
  assert.throws(() => CheckpointWitness.fromJSON('{'), bad);
  assert.throws(() => CheckpointWitness.fromJSON('{"version":2,"origins":{}}'), bad);
  assert.throws(() => CheckpointWitness.fromJSON({ version: 1, origins: { [O]: { size: -1, rootHash: main.rootAt(1).toString('base64') } } }), bad);
  assert.throws(() => CheckpointWitness.fromJSON({ version: 1, origins: { [O]: { size: 1, rootHash: 'AAAA' } } }), bad);
});
