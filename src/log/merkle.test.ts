import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, readdirSync, statSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { isSsfError } from '../core/errors.js';
import {
  emptyRoot,
  leafHash,
  nodeHash,
  rootFromInclusionProof,
  rootOfLeafHashes,
  verifyConsistency,
  verifyInclusion,
} from './merkle.js';

const VECTORS = join(dirname(fileURLToPath(import.meta.url)), '../../../vectors/transparency-dev-merkle');

function jsonFiles(dir: string): string[] {
  return readdirSync(dir)
    .sort()
    .flatMap((name) => {
      const p = join(dir, name);
      return statSync(p).isDirectory() ? jsonFiles(p) : name.endsWith('.json') ? [p] : [];
    });
}

const b64 = (s: string): Buffer => Buffer.from(s, 'base64');

interface InclusionVector {
  leafIdx: number;
  treeSize: number;
  root: string;
  leafHash: string;
  proof: string[] | null;
  desc: string;
  wantErr: boolean;
}

interface ConsistencyVector {
  size1: number;
  size2: number;
  root1: string;
  root2: string;
  proof: string[] | null;
  desc: string;
  wantErr: boolean;
}

function outcome(fn: () => void, code: 'TLOG_INCLUSION' | 'TLOG_CONSISTENCY'): boolean {
  try {
    fn();
    return false;
  } catch (e) {
    assert.ok(isSsfError(e, code), `expected ${code}, got ${String(e)}`);
    assert.ok(!(e as Error).message.includes('\n'), 'error messages are one line');
    return true;
  }
}

test('transparency-dev inclusion vectors', () => {
  const files = jsonFiles(join(VECTORS, 'testdata/inclusion'));
  assert.ok(files.length >= 90, `found ${files.length} inclusion vectors`);
  let rejected = 0;
  for (const f of files) {
    const v = JSON.parse(readFileSync(f, 'utf8')) as InclusionVector;
    const failed = outcome(
      () => verifyInclusion(b64(v.leafHash), v.leafIdx, v.treeSize, (v.proof ?? []).map(b64), b64(v.root)),
      'TLOG_INCLUSION',
    );
    assert.equal(failed, v.wantErr, `${relative(VECTORS, f)}: ${v.desc}`);
    if (failed) rejected++;
  }
  assert.ok(rejected > 0 && rejected < files.length);
});

test('transparency-dev consistency vectors', () => {
  const files = jsonFiles(join(VECTORS, 'testdata/consistency'));
  assert.ok(files.length >= 90, `found ${files.length} consistency vectors`);
  for (const f of files) {
    const v = JSON.parse(readFileSync(f, 'utf8')) as ConsistencyVector;
    const failed = outcome(
      () => verifyConsistency(v.size1, v.size2, (v.proof ?? []).map(b64), b64(v.root1), b64(v.root2)),
      'TLOG_CONSISTENCY',
    );
    assert.equal(failed, v.wantErr, `${relative(VECTORS, f)}: ${v.desc}`);
  }
});

interface ReferenceTree {
  leafInputsHex: string[];
  rootHashesBySizeHex: string[];
}

test('RFC 6962 reference tree roots', () => {
  const ref = JSON.parse(readFileSync(join(VECTORS, 'rfc6962-reference-tree.json'), 'utf8')) as ReferenceTree;
  const hashes = ref.leafInputsHex.map((h) => leafHash(Buffer.from(h, 'hex')));
  assert.equal(ref.rootHashesBySizeHex.length, 9);
  ref.rootHashesBySizeHex.forEach((want, size) => {
    assert.equal(rootOfLeafHashes(hashes.slice(0, size)).toString('hex'), want, `root of size ${size}`);
  });
  assert.equal(emptyRoot().toString('hex'), ref.rootHashesBySizeHex[0]);
});

test('leaf and node hashes are domain separated', () => {
  const a = Buffer.alloc(32, 0xaa);
  const b = Buffer.alloc(32, 0xbb);
  assert.notDeepEqual(leafHash(Buffer.concat([a, b])), nodeHash(a, b));
  assert.deepEqual(nodeHash(a, b), nodeHash(new Uint8Array(a), new Uint8Array(b)));
  // Typed arrays that are views into larger buffers hash only their own bytes.
  const big = Buffer.alloc(100, 7);
  assert.deepEqual(leafHash(big.subarray(10, 20)), leafHash(Buffer.alloc(10, 7)));
});

test('inclusion verification rejects malformed inputs with TLOG_INCLUSION', () => {
  const l = leafHash(Buffer.from('x'));
  assert.deepEqual(rootFromInclusionProof(l, 0, 1, []), l);
  for (const [idx, size] of [
    [-1, 1],
    [1.5, 4],
    [0, Number.MAX_SAFE_INTEGER + 2],
    [NaN, 1],
  ] as const) {
    assert.throws(() => rootFromInclusionProof(l, idx, size, []), (e) => isSsfError(e, 'TLOG_INCLUSION'));
  }
  assert.throws(() => verifyInclusion(l, 0, 1, [], l.subarray(0, 31)), (e) => isSsfError(e, 'TLOG_INCLUSION'));
  assert.throws(() => verifyInclusion(l, 0, 2, [Buffer.alloc(33)], l), (e) => isSsfError(e, 'TLOG_INCLUSION'));
});

test('consistency verification rejects shrinking and empty-tree proofs', () => {
  const r = leafHash(Buffer.from('x'));
  assert.throws(() => verifyConsistency(0, 0, [], emptyRoot(), emptyRoot()), (e) => isSsfError(e, 'TLOG_CONSISTENCY'));
  assert.throws(() => verifyConsistency(2, 1, [], r, r), (e) => isSsfError(e, 'TLOG_CONSISTENCY'));
  assert.doesNotThrow(() => verifyConsistency(3, 3, [], r, Buffer.from(r)));
});
