import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { isSsfError } from '../core/errors.js';
import { openDb, type Db } from '../store/db.js';
import { testBackends } from '../store/testing.js';
import { emptyRoot, leafHash, rootOfLeafHashes, verifyConsistency, verifyInclusion } from './merkle.js';
import { MerkleTree, migrateLogSchema } from './tree.js';

const VECTORS = join(dirname(fileURLToPath(import.meta.url)), '../../../vectors/transparency-dev-merkle');


const leaf = (i: number): Buffer => Buffer.from(`leaf-${i}`);

/** Deterministic PRNG so failures are reproducible. */
function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}

// Every test runs on SQLite, and on PostgreSQL when SSF_TEST_POSTGRES is set (src/store/testing.ts).
for (const backend of testBackends()) describe(backend.name, { skip: backend.skip }, () => {
  function memTree(): { db: Db; tree: MerkleTree } {
    const db = backend.open();
    migrateLogSchema(db);
    return { db, tree: new MerkleTree(db) };
  }

  test('roots of the RFC 6962 reference tree', () => {
    const ref = JSON.parse(readFileSync(join(VECTORS, 'rfc6962-reference-tree.json'), 'utf8')) as {
      leafInputsHex: string[];
      rootHashesBySizeHex: string[];
    };
    const { tree } = memTree();
    assert.equal(tree.size(), 0);
    assert.deepEqual(tree.rootAt(0), emptyRoot());
    // Append one at a time and in a batch: both must give the same nodes.
    tree.append(ref.leafInputsHex.slice(0, 3).map((h) => Buffer.from(h, 'hex')));
    for (const h of ref.leafInputsHex.slice(3)) tree.append([Buffer.from(h, 'hex')]);
    assert.equal(tree.size(), 8);
    ref.rootHashesBySizeHex.forEach((want, size) => assert.equal(tree.rootAt(size).toString('hex'), want, `size ${size}`));
    assert.deepEqual(tree.leafData(1), Buffer.from('00', 'hex'));
    assert.deepEqual(tree.leafHash(0), leafHash(Buffer.alloc(0)));
  });

  test('proofs round-trip through the verifier for every size 1..70', () => {
    const { tree } = memTree();
    const hashes: Buffer[] = [];
    const roots: Buffer[] = [emptyRoot()];
    for (let n = 1; n <= 70; n++) {
      const [idx] = tree.append([leaf(n - 1)]);
      assert.equal(idx, n - 1);
      hashes.push(leafHash(leaf(n - 1)));
      const root = tree.rootAt(n);
      assert.deepEqual(root, rootOfLeafHashes(hashes), `root ${n}`);
      roots.push(root);
    }
    for (let n = 1; n <= 70; n++) {
      const root = roots[n] as Buffer;
      for (let i = 0; i < n; i++) {
        verifyInclusion(hashes[i] as Buffer, i, n, tree.inclusionProof(i, n), root);
      }
      for (let m = 1; m <= n; m++) {
        verifyConsistency(m, n, tree.consistencyProof(m, n), roots[m] as Buffer, root);
      }
    }
  });

  test('random proofs in a larger tree, and proofs fail against the wrong root', () => {
    const { tree } = memTree();
    const N = 5000;
    const indices = tree.append(Array.from({ length: N }, (_, i) => leaf(i)));
    assert.equal(indices.length, N);
    assert.equal(indices[N - 1], N - 1);
    const rand = rng(42);
    for (let t = 0; t < 300; t++) {
      const size2 = 1 + Math.floor(rand() * N);
      const size1 = 1 + Math.floor(rand() * size2);
      const index = Math.floor(rand() * size2);
      const root1 = tree.rootAt(size1);
      const root2 = tree.rootAt(size2);
      verifyInclusion(leafHash(leaf(index)), index, size2, tree.inclusionProof(index, size2), root2);
      verifyConsistency(size1, size2, tree.consistencyProof(size1, size2), root1, root2);
      if (size1 < size2) {
        assert.throws(
          () => verifyConsistency(size1, size2, tree.consistencyProof(size1, size2), root2, root2),
          (e) => isSsfError(e, 'TLOG_CONSISTENCY'),
        );
      }
    }
  });

  test('a second tree on the same database sees the same state and keeps appending', () => {
    const location = backend.location();
    const db1 = openDb(location);
    const t1 = new MerkleTree(db1);
    t1.append(Array.from({ length: 37 }, (_, i) => leaf(i)));
    const root37 = t1.rootAt(37);
    db1.close();

    const db2 = openDb(location);
    const t2 = new MerkleTree(db2);
    assert.equal(t2.size(), 37);
    assert.deepEqual(t2.rootAt(37), root37);
    t2.append(Array.from({ length: 30 }, (_, i) => leaf(37 + i)));
    const all = Array.from({ length: 67 }, (_, i) => leafHash(leaf(i)));
    assert.deepEqual(t2.rootAt(67), rootOfLeafHashes(all));
    // Two handles on one connection stay in step because neither trusts cached state.
    const t3 = new MerkleTree(db2);
    t3.append([leaf(67)]);
    assert.equal(t2.size(), 68);
    t2.append([leaf(68)]);
    assert.deepEqual(t3.rootAt(69), rootOfLeafHashes([...all, leafHash(leaf(67)), leafHash(leaf(68))]));
    db2.close();

    // Verifying commands open the store read-only.
    const ro = openDb(location, { readonly: true });
    const t4 = new MerkleTree(ro);
    assert.equal(t4.size(), 69);
    verifyInclusion(leafHash(leaf(40)), 40, 69, t4.inclusionProof(40, 69), t4.rootAt(69));
    assert.throws(() => t4.append([leaf(69)]), (e) => isSsfError(e, 'STORE_FAILED'));
    ro.close();
  });

  test('a rolled-back caller transaction leaves the tree usable', () => {
    const { db, tree } = memTree();
    tree.append([leaf(0), leaf(1), leaf(2)]);
    const fail = db.transaction(() => {
      tree.append([leaf(100), leaf(101), leaf(102)]);
      throw new Error('caller failed after appending');
    });
    assert.throws(() => fail(), /caller failed/);
    assert.equal(tree.size(), 3);
    tree.append([leaf(3), leaf(4)]);
    assert.deepEqual(tree.rootAt(5), rootOfLeafHashes([0, 1, 2, 3, 4].map((i) => leafHash(leaf(i)))));
    assert.equal(tree.recompute().mismatches.length, 0);
  });

  test('argument errors have stable codes', () => {
    const { tree } = memTree();
    tree.append([leaf(0), leaf(1)]);
    assert.deepEqual(tree.append([]), []);
    // Plain typed arrays (and views into larger buffers) are stored as their own bytes.
    const big = new Uint8Array([9, 9, 1, 2, 3, 9]);
    assert.deepEqual(tree.append([new Uint8Array([1, 2, 3]), big.subarray(2, 5)]), [2, 3]);
    assert.deepEqual(tree.leafData(3), Buffer.from([1, 2, 3]));
    assert.deepEqual(tree.leafHash(2), tree.leafHash(3));
    assert.throws(() => tree.rootAt(5), (e) => isSsfError(e, 'NOT_FOUND'));
    assert.throws(() => tree.rootAt(-1), (e) => isSsfError(e, 'USAGE'));
    assert.throws(() => tree.inclusionProof(2, 2), (e) => isSsfError(e, 'NOT_FOUND'));
    assert.throws(() => tree.inclusionProof(0, 5), (e) => isSsfError(e, 'NOT_FOUND'));
    assert.throws(() => tree.consistencyProof(0, 2), (e) => isSsfError(e, 'TLOG_CONSISTENCY'));
    assert.throws(() => tree.consistencyProof(2, 1), (e) => isSsfError(e, 'TLOG_CONSISTENCY'));
    assert.throws(() => tree.leafData(4), (e) => isSsfError(e, 'NOT_FOUND'));
    assert.throws(() => tree.leafHash(-1), (e) => isSsfError(e, 'NOT_FOUND'));
    assert.throws(() => tree.append(['text' as unknown as Uint8Array]), (e) => isSsfError(e, 'USAGE'));
    assert.deepEqual(tree.consistencyProof(2, 2), []);
    assert.deepEqual(tree.inclusionProof(0, 1), []);
  });

  test('recompute finds edited leaves, edited, missing and extra nodes', () => {
    const { db, tree } = memTree();
    tree.append(Array.from({ length: 21 }, (_, i) => leaf(i)));
    const clean = tree.recompute([0, 5, 21, 22]);
    assert.deepEqual(clean.mismatches, []);
    assert.equal(clean.size, 21);
    assert.deepEqual(clean.roots.get(21), tree.rootAt(21));
    assert.deepEqual(clean.roots.get(5), tree.rootAt(5));
    assert.deepEqual(clean.roots.get(0), emptyRoot());
    assert.equal(clean.roots.has(22), false);

    db.prepare('UPDATE tlog_leaves SET data = ? WHERE idx = 3').run(Buffer.from('forged'));
    db.prepare('UPDATE tlog_nodes SET hash = ? WHERE level = 2 AND idx = 3').run(Buffer.alloc(32));
    db.prepare('DELETE FROM tlog_nodes WHERE level = 1 AND idx = 8').run();
    db.prepare('INSERT INTO tlog_nodes (level, idx, hash) VALUES (1, 10, ?)').run(Buffer.alloc(32));
    const bad = tree.recompute();
    const found = bad.mismatches.map((m) => `${m.kind}:${m.level}:${m.index}`).sort();
    assert.ok(found.includes('leaf-hash:0:3'), found.join());
    assert.ok(found.includes('node-hash:2:3'), found.join());
    assert.ok(found.includes('node-missing:1:8'), found.join());
    assert.ok(found.includes('node-extra:1:10'), found.join());
    // The edited leaf also changes every ancestor recomputed from it.
    assert.ok(found.includes('node-hash:1:1') && found.includes('node-hash:4:0'), found.join());
    // Proofs touching the deleted node report the damage with a stable code.
    assert.throws(() => tree.rootAt(18), (e) => isSsfError(e, 'FACTORY_CORRUPT'));
  });

  test('batched inclusion proofs equal one-at-a-time proofs and verify', () => {
    const { db, tree } = memTree();
    tree.append(Array.from({ length: 300 }, (_, i) => leaf(i)));
    for (const size of [1, 2, 7, 64, 65, 299, 300]) {
      const indices = Array.from({ length: size }, (_, i) => i);
      const batch = tree.inclusionProofs(indices, size);
      const root = tree.rootAt(size);
      for (const i of indices) {
        assert.deepEqual(batch[i], tree.inclusionProof(i, size));
        verifyInclusion(leafHash(leaf(i)), i, size, batch[i] as Buffer[], root);
      }
    }
    assert.throws(() => tree.inclusionProofs([0, 300], 300), (e: unknown) => isSsfError(e, 'NOT_FOUND'));
    db.close();
  });
});
