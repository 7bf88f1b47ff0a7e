import type { SqlDb, SqlStatement, SqlTransaction } from '../core/sql.js';
import { SsfError } from '../core/errors.js';
import { HASH_SIZE, emptyRoot, leafHash as hashLeaf, nodeHash, splitPoint } from './merkle.js';

/**
 * A Merkle tree stored in the factory database (SQLite or PostgreSQL, through the query layer).
 *
 * Every complete, aligned subtree is written once, when its last leaf arrives, as a row
 * (level, index, hash); level 0 lives in `tlog_leaves` beside the leaf data. Any RFC 6962
 * subtree, and so any root or proof element, is then either one stored row or a fold over the
 * tree's right frontier, which keeps roots and proofs at O(log n) lookups without re-hashing.
 *
 * The caller owns the connection and its transactions. Because a caller's transaction may roll
 * back after an append, nothing read from the store is trusted across calls: the size is read
 * from the store each time and the right frontier is reloaded (O(log n) rows) at the start of
 * every append batch, then kept in memory while the batch is hashed.
 */

export type Db = SqlDb;

const SCHEMA_VERSION = '1';

/** Creates the transparency-log tables if they do not exist. Idempotent; safe inside a transaction. */
export function migrateLogSchema(db: Db): void {
  db.exec(`
    CREATE TABLE IF NOT EXISTS tlog_meta (
      key   TEXT PRIMARY KEY,
      value TEXT NOT NULL
    );
    CREATE TABLE IF NOT EXISTS tlog_leaves (
      idx  INTEGER PRIMARY KEY,
      hash BLOB NOT NULL,
      data BLOB NOT NULL
    );
    CREATE TABLE IF NOT EXISTS tlog_nodes (
      level INTEGER NOT NULL,
      idx   INTEGER NOT NULL,
      hash  BLOB NOT NULL,
      PRIMARY KEY (level, idx)
    ) WITHOUT ROWID;
    CREATE TABLE IF NOT EXISTS tlog_checkpoints (
      size       INTEGER PRIMARY KEY,
      note       TEXT NOT NULL,
      created_at TEXT NOT NULL
    );
  `);
  const row = db.prepare<[], { value: string }>(`SELECT value FROM tlog_meta WHERE key = 'schema'`).get();
  if (row === undefined) {
    db.prepare(`INSERT INTO tlog_meta (key, value) VALUES ('schema', ?)`).run(SCHEMA_VERSION);
  } else if (row.value !== SCHEMA_VERSION) {
    throw new SsfError('STORE_FAILED', `transparency log schema version ${row.value} is not supported (expected ${SCHEMA_VERSION})`);
  }
}

/** One complete subtree on the right frontier. */
interface FrontierNode {
  level: number;
  hash: Buffer;
}

/** A disagreement between stored rows and hashes recomputed from leaf data. */
export interface TreeMismatch {
  kind: 'leaf-gap' | 'leaf-hash' | 'node-missing' | 'node-hash' | 'node-extra';
  level: number;
  index: number;
}

/** Result of recomputing the whole tree from leaf data. */
export interface TreeRecomputation {
  size: number;
  nodesChecked: number;
  mismatches: TreeMismatch[];
  /** Recomputed roots for the sizes asked for (sizes beyond the tree are absent). */
  roots: Map<number, Buffer>;
}

const MAX_MISMATCHES = 1000;
/** Rows per multi-row INSERT: crossing into the database once per row dominates append cost otherwise. */
const INSERT_CHUNK = 32;

function asBuffer(b: Uint8Array): Buffer {
  return Buffer.isBuffer(b) ? b : Buffer.from(b.buffer, b.byteOffset, b.byteLength);
}

/** log2 of a power of two, or -1. */
function exactLog2(n: number): number {
  const l = Math.round(Math.log2(n));
  return n >= 1 && 2 ** l === n ? l : -1;
}

function wrapStore<T>(what: string, fn: () => T): T {
  try {
    return fn();
  } catch (e) {
    if (e instanceof SsfError) throw e;
    const msg = e instanceof Error ? e.message : String(e);
    throw new SsfError('STORE_FAILED', `${what}: ${msg.split('\n')[0] ?? msg}`, { cause: e });
  }
}

/** Buffers rows and writes them with one multi-row INSERT per chunk. */
class ChunkedInsert {
  private readonly one: SqlStatement<unknown[]>;
  private readonly many: SqlStatement<unknown[]>;
  private readonly args: unknown[];
  private rows = 0;

  constructor(db: Db, prefix: string, columns: number) {
    const tuple = '(' + new Array(columns).fill('?').join(', ') + ')';
    this.one = db.prepare(`${prefix} ${tuple}`);
    this.many = db.prepare(`${prefix} ${new Array(INSERT_CHUNK).fill(tuple).join(', ')}`);
    this.args = new Array(columns * INSERT_CHUNK);
  }

  add(...row: unknown[]): void {
    const base = this.rows * row.length;
    for (let i = 0; i < row.length; i++) this.args[base + i] = row[i];
    if (++this.rows === INSERT_CHUNK) {
      this.many.run(this.args);
      this.rows = 0;
    }
  }

  flush(): void {
    const width = this.args.length / INSERT_CHUNK;
    for (let r = 0; r < this.rows; r++) this.one.run(...this.args.slice(r * width, (r + 1) * width));
    this.rows = 0;
  }

  discard(): void {
    this.rows = 0;
  }
}

export class MerkleTree {
  private readonly db: Db;
  private readonly stSize: SqlStatement<[], number | null>;
  private readonly stLeafHash: SqlStatement<[number], Buffer>;
  private readonly stLeafData: SqlStatement<[number], Buffer>;
  private readonly stNode: SqlStatement<[number, number], Buffer>;
  private readonly insLeaves: ChunkedInsert;
  private readonly insNodes: ChunkedInsert;
  private readonly appendTx: SqlTransaction<(leaves: readonly Uint8Array[]) => number[]>;
  /** Runs reads in one transaction: one consistent snapshot, and no per-statement lock cost. */
  private readonly readTx: <T>(fn: () => T) => T;

  constructor(db: Db) {
    this.db = db;
    if (!db.readonly) wrapStore('cannot create transparency log tables', () => migrateLogSchema(db));
    const prep = <P extends unknown[], R>(sql: string) =>
      wrapStore('cannot open transparency log tables', () => db.prepare<P, R>(sql).pluck() as SqlStatement<P, R>);
    this.stSize = prep<[], number | null>('SELECT max(idx) FROM tlog_leaves');
    this.stLeafHash = prep<[number], Buffer>('SELECT hash FROM tlog_leaves WHERE idx = ?');
    this.stLeafData = prep<[number], Buffer>('SELECT data FROM tlog_leaves WHERE idx = ?');
    this.stNode = prep<[number, number], Buffer>('SELECT hash FROM tlog_nodes WHERE level = ? AND idx = ?');
    this.insLeaves = wrapStore('cannot open transparency log tables', () => new ChunkedInsert(db, 'INSERT INTO tlog_leaves (idx, hash, data) VALUES', 3));
    this.insNodes = wrapStore('cannot open transparency log tables', () => new ChunkedInsert(db, 'INSERT INTO tlog_nodes (level, idx, hash) VALUES', 3));
    // db.transaction nests as a savepoint when the caller already holds a transaction.
    this.appendTx = db.transaction((leaves: readonly Uint8Array[]) => this.appendInTx(leaves));
    const read = db.transaction((fn: () => unknown) => fn());
    this.readTx = <T>(fn: () => T): T => wrapStore('cannot read transparency log', () => read(fn) as T);
  }

  /** Number of leaves, read from the store (a caller's rollback may have changed it). */
  size(): number {
    const max = wrapStore('cannot read transparency log size', () => this.stSize.get());
    return max == null ? 0 : max + 1;
  }

  /** Appends leaves atomically and returns their indices. */
  append(leaves: readonly Uint8Array[]): number[] {
    if (!Array.isArray(leaves)) throw new SsfError('USAGE', 'append expects an array of leaves');
    for (const l of leaves) {
      if (!(l instanceof Uint8Array)) throw new SsfError('USAGE', 'every transparency log leaf must be bytes');
    }
    if (leaves.length === 0) return [];
    try {
      // Immediate when standalone: take the write lock before reading the size we append after.
      const tx = this.db.inTransaction ? this.appendTx : this.appendTx.immediate;
      return wrapStore('cannot append to transparency log', () => tx(leaves));
    } finally {
      this.insLeaves.discard();
      this.insNodes.discard();
    }
  }

  private appendInTx(leaves: readonly Uint8Array[]): number[] {
    let n = this.size();
    const frontier = this.loadFrontier(n);
    const indices = new Array<number>(leaves.length);
    for (let i = 0; i < leaves.length; i++) {
      const data = asBuffer(leaves[i] as Uint8Array);
      let hash = hashLeaf(data);
      this.insLeaves.add(n, hash, data);
      indices[i] = n;
      n += 1;
      // Each equal-level pair on top of the frontier is a subtree that just completed.
      let level = 0;
      for (let top = frontier[frontier.length - 1]; top !== undefined && top.level === level; top = frontier[frontier.length - 1]) {
        frontier.pop();
        hash = nodeHash(top.hash, hash);
        level += 1;
        this.insNodes.add(level, n / 2 ** level - 1, hash);
      }
      frontier.push({ level, hash });
    }
    this.insLeaves.flush();
    this.insNodes.flush();
    return indices;
  }

  /** The complete subtrees making up a tree of size n, largest (leftmost) first. */
  private frontierParts(n: number): { start: number; level: number }[] {
    const out: { start: number; level: number }[] = [];
    let start = 0;
    for (let level = Math.floor(Math.log2(Math.max(n, 1))) + 1; level >= 0; level--) {
      const width = 2 ** level;
      if (start + width <= n) {
        out.push({ start, level });
        start += width;
      }
    }
    return out;
  }

  private loadFrontier(n: number): FrontierNode[] {
    return this.frontierParts(n).map(({ start, level }) => ({ level, hash: this.node(level, start / 2 ** level) }));
  }

  /** A stored complete subtree hash; a missing or malformed row means the store is damaged. */
  private node(level: number, index: number): Buffer {
    const key = this.memo !== undefined ? level * 2 ** 40 + index : 0;
    const cached = this.memo?.get(key);
    if (cached !== undefined) return cached;
    const hash = level === 0 ? this.stLeafHash.get(index) : this.stNode.get(level, index);
    if (hash === undefined) {
      throw new SsfError('FACTORY_CORRUPT', `transparency log node (level ${level}, index ${index}) is missing; run fsck`);
    }
    if (!Buffer.isBuffer(hash) || hash.length !== HASH_SIZE) {
      throw new SsfError('FACTORY_CORRUPT', `transparency log node (level ${level}, index ${index}) is not a ${HASH_SIZE}-byte hash; run fsck`);
    }
    this.memo?.set(key, hash);
    return hash;
  }

  /** Node reads memoised for the duration of one batched read (complete nodes never change). */
  private memo: Map<number, Buffer> | undefined;

  /**
   * Hash of the RFC 6962 subtree over leaves [start, end) of the tree of `size`. Every such
   * subtree is either complete (one stored row) or ends at `size`, in which case it is a fold
   * of a suffix of the frontier; those folds are computed once per call into `border`.
   */
  private subtree(start: number, end: number, size: number, border: Map<number, Buffer>): Buffer {
    const level = exactLog2(end - start);
    if (level >= 0 && start % (end - start) === 0) return this.node(level, start / 2 ** level);
    if (end !== size) throw new SsfError('INTERNAL', `subtree [${start}, ${end}) of size ${size} is not a tree node`);
    if (border.size === 0) {
      const parts = this.frontierParts(size);
      let acc: Buffer | undefined;
      for (let i = parts.length - 1; i >= 0; i--) {
        const p = parts[i] as { start: number; level: number };
        const h = this.node(p.level, p.start / 2 ** p.level);
        acc = acc === undefined ? h : nodeHash(h, acc);
        border.set(p.start, acc);
      }
    }
    const h = border.get(start);
    if (h === undefined) throw new SsfError('INTERNAL', `subtree [${start}, ${end}) is not on the right border of size ${size}`);
    return h;
  }

  private checkSize(size: number, what: string): void {
    if (!Number.isSafeInteger(size) || size < 0) throw new SsfError('USAGE', `${what} ${size} is not a valid tree size`);
    const n = this.size();
    if (size > n) throw new SsfError('NOT_FOUND', `${what} ${size} is beyond the transparency log size ${n}`);
  }

  /** Root hash of the tree's first `size` leaves. */
  rootAt(size: number): Buffer {
    return this.readTx(() => {
      this.checkSize(size, 'tree size');
      return size === 0 ? emptyRoot() : this.subtree(0, size, size, new Map());
    });
  }

  /** RFC 9162 inclusion proof (audit path) for leaf `index` in the tree of `size`, leaf side first. */
  inclusionProof(index: number, size: number): Buffer[] {
    return this.inclusionProofs([index], size)[0] as Buffer[];
  }

  /**
   * Inclusion proofs for several leaves in the same tree, as a batch gets them: the size check,
   * the right border and every node read are shared, so neighbouring leaves' common upper
   * paths are read once.
   */
  inclusionProofs(indices: readonly number[], size: number): Buffer[][] {
    return this.readTx(() => {
      this.checkSize(size, 'tree size');
      const border = new Map<number, Buffer>();
      this.memo = indices.length > 1 ? new Map() : undefined;
      try {
        return indices.map((index) => {
          if (!Number.isSafeInteger(index) || index < 0 || index >= size) {
            throw new SsfError('NOT_FOUND', `leaf index ${index} is not in a tree of size ${size}`);
          }
          const out: Buffer[] = [];
          let lo = 0;
          let hi = size;
          while (hi - lo > 1) {
            const k = splitPoint(hi - lo);
            if (index < lo + k) {
              out.push(this.subtree(lo + k, hi, size, border));
              hi = lo + k;
            } else {
              out.push(this.subtree(lo, lo + k, size, border));
              lo += k;
            }
          }
          return out.reverse();
        });
      } finally {
        this.memo = undefined;
      }
    });
  }

  /** RFC 9162 consistency proof from the tree of size1 to the tree of size2. */
  consistencyProof(size1: number, size2: number): Buffer[] {
    return this.readTx(() => {
      this.checkSize(size2, 'size2');
      if (!Number.isSafeInteger(size1) || size1 < 1 || size1 > size2) {
        throw new SsfError('TLOG_CONSISTENCY', `no consistency proof from size ${size1} to ${size2}: need 0 < size1 <= size2`);
      }
      const border = new Map<number, Buffer>();
      const out: Buffer[] = [];
      let m = size1; // leaves of the old tree inside [lo, hi)
      let lo = 0;
      let hi = size2;
      let whole = true; // is the old tree still the left edge of [lo, hi), so its root is known to the verifier?
      while (m !== hi - lo) {
        const k = splitPoint(hi - lo);
        if (m <= k) {
          out.push(this.subtree(lo + k, hi, size2, border));
          hi = lo + k;
        } else {
          out.push(this.subtree(lo, lo + k, size2, border));
          lo += k;
          m -= k;
          whole = false;
        }
      }
      if (!whole) out.push(this.subtree(lo, hi, size2, border));
      return out.reverse();
    });
  }

  /** The stored leaf hash at `index`. */
  leafHash(index: number): Buffer {
    const hash = Number.isSafeInteger(index) && index >= 0 ? wrapStore('cannot read transparency log', () => this.stLeafHash.get(index)) : undefined;
    if (hash === undefined) throw new SsfError('NOT_FOUND', `transparency log has no leaf ${index}`);
    return hash;
  }

  /** The stored leaf data at `index`. */
  leafData(index: number): Buffer {
    const data = Number.isSafeInteger(index) && index >= 0 ? wrapStore('cannot read transparency log', () => this.stLeafData.get(index)) : undefined;
    if (data === undefined) throw new SsfError('NOT_FOUND', `transparency log has no leaf ${index}`);
    return data;
  }

  /**
   * Recomputes every leaf and node hash from the leaf data alone and compares with the stored
   * rows. This is the independent check behind `ssf fsck`: proofs trust stored nodes, this does not.
   */
  recompute(rootsAt: readonly number[] = []): TreeRecomputation {
    return this.readTx(() => {
      const want = new Set(rootsAt);
      const roots = new Map<number, Buffer>();
      if (want.has(0)) roots.set(0, emptyRoot());
      const mismatches: TreeMismatch[] = [];
      const report = (m: TreeMismatch): void => {
        if (mismatches.length < MAX_MISMATCHES) mismatches.push(m);
      };
      const frontier: FrontierNode[] = [];
      let n = 0;
      let nodesChecked = 0;
      const rows = this.db.prepare<[], { idx: number; hash: Buffer; data: Buffer }>('SELECT idx, hash, data FROM tlog_leaves ORDER BY idx');
      for (const row of rows.iterate()) {
        if (row.idx !== n) {
          report({ kind: 'leaf-gap', level: 0, index: n });
          break; // indices after a gap cannot be placed in the tree
        }
        let hash = hashLeaf(Buffer.isBuffer(row.data) ? row.data : Buffer.from(String(row.data)));
        nodesChecked++;
        if (!Buffer.isBuffer(row.hash) || !hash.equals(row.hash)) report({ kind: 'leaf-hash', level: 0, index: n });
        n += 1;
        let level = 0;
        for (let top = frontier[frontier.length - 1]; top !== undefined && top.level === level; top = frontier[frontier.length - 1]) {
          frontier.pop();
          hash = nodeHash(top.hash, hash);
          level += 1;
          const index = n / 2 ** level - 1;
          const stored = this.stNode.get(level, index);
          nodesChecked++;
          if (stored === undefined) report({ kind: 'node-missing', level, index });
          else if (!Buffer.isBuffer(stored) || !hash.equals(stored)) report({ kind: 'node-hash', level, index });
        }
        frontier.push({ level, hash });
        if (want.has(n)) {
          let root = (frontier[frontier.length - 1] as FrontierNode).hash;
          for (let i = frontier.length - 2; i >= 0; i--) root = nodeHash((frontier[i] as FrontierNode).hash, root);
          roots.set(n, root);
        }
      }
      // Node rows that no complete subtree of the leaves accounts for.
      // The casts keep the shift portable (PostgreSQL shifts a bigint by an integer only); the
      // CASE keeps a forged out-of-range level from overflowing the cast.
      const extra = this.db.prepare<[number], { level: number; idx: number }>(
        `SELECT level, idx FROM tlog_nodes WHERE level < 1 OR level > 62 OR idx < 0
         OR idx >= (CAST(? AS BIGINT) >> CAST(CASE WHEN level BETWEEN 1 AND 62 THEN level ELSE 0 END AS INTEGER)) ORDER BY level, idx`,
      );
      for (const r of extra.iterate(n)) report({ kind: 'node-extra', level: r.level, index: r.idx });
      return { size: n, nodesChecked, mismatches, roots };
    });
  }
}
