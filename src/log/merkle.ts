import { hash } from 'node:crypto';
import { SsfError } from '../core/errors.js';

/**
 * RFC 9162 (RFC 6962) Merkle tree hashing and proof verification.
 *
 * The verifiers follow the rules of transparency-dev/merkle, so that ssf accepts and rejects
 * exactly what the wider transparency ecosystem does: hashes are exactly 32 bytes, sizes are
 * safe integers, and a consistency proof from the empty tree is an error (it proves nothing).
 */

export const HASH_SIZE = 32;

const LEAF_PREFIX = 0x00;
const NODE_PREFIX = 0x01;

// One scratch buffer for interior nodes: node hashing dominates appends and proof checks.
const nodeScratch = Buffer.alloc(1 + 2 * HASH_SIZE);

/** SHA-256(0x00 || data): the domain-separated hash of a leaf. */
export function leafHash(data: Uint8Array): Buffer {
  const buf = Buffer.allocUnsafe(1 + data.byteLength);
  buf[0] = LEAF_PREFIX;
  buf.set(data, 1);
  return hash('sha256', buf, 'buffer');
}

/** SHA-256(0x01 || left || right): the hash of an interior node. */
export function nodeHash(left: Uint8Array, right: Uint8Array): Buffer {
  if (left.byteLength === HASH_SIZE && right.byteLength === HASH_SIZE) {
    nodeScratch[0] = NODE_PREFIX;
    nodeScratch.set(left, 1);
    nodeScratch.set(right, 1 + HASH_SIZE);
    return hash('sha256', nodeScratch, 'buffer');
  }
  return hash('sha256', Buffer.concat([Buffer.of(NODE_PREFIX), left, right]), 'buffer');
}

/** The root of the empty tree, SHA-256 of the empty string. */
export function emptyRoot(): Buffer {
  return hash('sha256', Buffer.alloc(0), 'buffer');
}

/** Largest power of two strictly less than n (n >= 2), the RFC 6962 split point. */
export function splitPoint(n: number): number {
  let k = 1;
  while (k * 2 < n) k *= 2;
  return k;
}

function isPowerOfTwo(n: number): boolean {
  return n > 0 && 2 ** Math.round(Math.log2(n)) === n;
}

const odd = (n: number): boolean => n % 2 === 1;
const half = (n: number): number => Math.floor(n / 2);

function checkHash(h: Uint8Array, what: string, code: 'TLOG_INCLUSION' | 'TLOG_CONSISTENCY'): void {
  if (!(h instanceof Uint8Array) || h.byteLength !== HASH_SIZE) {
    throw new SsfError(code, `${what} must be ${HASH_SIZE} bytes, got ${h instanceof Uint8Array ? h.byteLength : typeof h}`);
  }
}

function checkSize(n: number, what: string, code: 'TLOG_INCLUSION' | 'TLOG_CONSISTENCY'): void {
  if (!Number.isSafeInteger(n) || n < 0) throw new SsfError(code, `${what} ${n} is not a valid tree size or index`);
}

function equalHash(a: Uint8Array, b: Uint8Array): boolean {
  return a.byteLength === b.byteLength && Buffer.compare(a, b) === 0;
}

/**
 * Computes the root implied by an inclusion proof (RFC 9162 section 2.1.3.2), throwing
 * TLOG_INCLUSION if the proof has the wrong shape for the index and size.
 */
export function rootFromInclusionProof(leaf: Uint8Array, index: number, treeSize: number, proof: readonly Uint8Array[]): Buffer {
  checkSize(index, 'leaf index', 'TLOG_INCLUSION');
  checkSize(treeSize, 'tree size', 'TLOG_INCLUSION');
  if (index >= treeSize) throw new SsfError('TLOG_INCLUSION', `leaf index ${index} is not below tree size ${treeSize}`);
  checkHash(leaf, 'leaf hash', 'TLOG_INCLUSION');
  proof.forEach((p, i) => checkHash(p, `inclusion proof element ${i}`, 'TLOG_INCLUSION'));
  // Walk up from the leaf: fn is our node's index at this level, sn the last node's index.
  let fn = index;
  let sn = treeSize - 1;
  let r: Buffer = Buffer.from(leaf);
  for (const p of proof) {
    if (sn === 0) throw new SsfError('TLOG_INCLUSION', `inclusion proof is longer than the path for index ${index} in size ${treeSize}`);
    if (odd(fn) || fn === sn) {
      r = nodeHash(p, r);
      // A rightmost left child has no sibling on its level: it is promoted until it is a right child.
      if (!odd(fn)) {
        while (!odd(fn) && fn !== 0) {
          fn = half(fn);
          sn = half(sn);
        }
      }
    } else {
      r = nodeHash(r, p);
    }
    fn = half(fn);
    sn = half(sn);
  }
  if (sn !== 0) throw new SsfError('TLOG_INCLUSION', `inclusion proof is shorter than the path for index ${index} in size ${treeSize}`);
  return r;
}

/** Throws TLOG_INCLUSION unless `proof` shows the leaf hash at `index` in the tree of `treeSize` with `root`. */
export function verifyInclusion(leaf: Uint8Array, index: number, treeSize: number, proof: readonly Uint8Array[], root: Uint8Array): void {
  checkHash(root, 'root hash', 'TLOG_INCLUSION');
  const computed = rootFromInclusionProof(leaf, index, treeSize, proof);
  if (!equalHash(computed, root)) {
    throw new SsfError('TLOG_INCLUSION', `inclusion proof for index ${index} leads to a different root than the one for size ${treeSize}`);
  }
}

/**
 * Throws TLOG_CONSISTENCY unless `proof` shows the tree of size1 with root1 is a prefix of the
 * tree of size2 with root2 (RFC 9162 section 2.1.4.2).
 */
export function verifyConsistency(
  size1: number,
  size2: number,
  proof: readonly Uint8Array[],
  root1: Uint8Array,
  root2: Uint8Array,
): void {
  checkSize(size1, 'size1', 'TLOG_CONSISTENCY');
  checkSize(size2, 'size2', 'TLOG_CONSISTENCY');
  if (size2 < size1) throw new SsfError('TLOG_CONSISTENCY', `tree shrank from size ${size1} to ${size2}`);
  if (size1 === 0) throw new SsfError('TLOG_CONSISTENCY', 'a consistency proof from the empty tree proves nothing; size1 must be positive');
  if (size1 === size2) {
    if (proof.length !== 0) throw new SsfError('TLOG_CONSISTENCY', `consistency proof between equal sizes ${size1} must be empty`);
    if (!equalHash(root1, root2)) throw new SsfError('TLOG_CONSISTENCY', `two different roots for the same size ${size1}`);
    return;
  }
  checkHash(root1, 'root1', 'TLOG_CONSISTENCY');
  checkHash(root2, 'root2', 'TLOG_CONSISTENCY');
  proof.forEach((p, i) => checkHash(p, `consistency proof element ${i}`, 'TLOG_CONSISTENCY'));
  if (proof.length === 0) throw new SsfError('TLOG_CONSISTENCY', `empty consistency proof from size ${size1} to ${size2}`);

  // When size1 is a complete subtree its root is the starting node and the proof omits it.
  const path = isPowerOfTwo(size1) ? [root1, ...proof] : proof;
  let fn = size1 - 1;
  let sn = size2 - 1;
  while (odd(fn)) {
    fn = half(fn);
    sn = half(sn);
  }
  const first = path[0];
  if (first === undefined) throw new SsfError('TLOG_CONSISTENCY', 'empty consistency proof');
  let fr: Buffer = Buffer.from(first);
  let sr: Buffer = Buffer.from(first);
  for (let i = 1; i < path.length; i++) {
    const c = path[i] as Uint8Array;
    if (sn === 0) throw new SsfError('TLOG_CONSISTENCY', `consistency proof from ${size1} to ${size2} is too long`);
    if (odd(fn) || fn === sn) {
      fr = nodeHash(c, fr);
      sr = nodeHash(c, sr);
      if (!odd(fn)) {
        while (!odd(fn) && fn !== 0) {
          fn = half(fn);
          sn = half(sn);
        }
      }
    } else {
      sr = nodeHash(sr, c);
    }
    fn = half(fn);
    sn = half(sn);
  }
  if (sn !== 0) throw new SsfError('TLOG_CONSISTENCY', `consistency proof from ${size1} to ${size2} is too short`);
  if (!equalHash(fr, root1)) throw new SsfError('TLOG_CONSISTENCY', `consistency proof does not lead to the root of size ${size1}`);
  if (!equalHash(sr, root2)) throw new SsfError('TLOG_CONSISTENCY', `consistency proof does not lead to the root of size ${size2}`);
}

/**
 * Root of a list of leaf hashes computed directly from the RFC 6962 definition. Quadratic-free
 * but in-memory: used by tests and by fsck as an independent reference.
 */
export function rootOfLeafHashes(hashes: readonly Uint8Array[]): Buffer {
  if (hashes.length === 0) return emptyRoot();
  const mth = (lo: number, hi: number): Buffer => {
    if (hi - lo === 1) return Buffer.from(hashes[lo] as Uint8Array);
    const k = splitPoint(hi - lo);
    return nodeHash(mth(lo, lo + k), mth(lo + k, hi));
  };
  return mth(0, hashes.length);
}
