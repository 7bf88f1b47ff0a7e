import type { SqlStatement, SqlTransaction } from '../core/sql.js';
import { SsfError, isSsfError } from '../core/errors.js';
import { systemClock, type Clock } from '../core/clock.js';
import { formatCheckpointBody, openCheckpoint, parseCheckpointBody, type Checkpoint, type SignedCheckpoint } from './checkpoint.js';
import { verifyConsistency } from './merkle.js';
import { parseNote, signNote, type NoteSigner, type NoteVerifier } from './note.js';
import { MerkleTree, type Db, type TreeMismatch } from './tree.js';

/**
 * The transparency log: a stored Merkle tree plus signed checkpoints.
 *
 * One checkpoint is signed per append batch, so the signature cost is shared by every entry in
 * the batch. The log never signs a checkpoint that is inconsistent with the last one it signed:
 * before signing, the new root is checked against that checkpoint with a consistency proof read
 * from the store, so a tree edited behind the log's back is refused rather than signed.
 */

export interface TransparencyLogOptions {
  db: Db;
  /** The checkpoint origin line, e.g. `ssf.example/log`. */
  origin: string;
  signer: NoteSigner;
  /**
   * The signer's public half. When given, the stored last checkpoint must carry a valid
   * signature before it is trusted as the reference for the safety check.
   */
  verifier?: NoteVerifier;
  clock?: Clock;
}

export interface AppendResult {
  indices: number[];
  checkpoint: SignedCheckpoint;
}

export interface FsckCheckpointIssue {
  size: number;
  problem: string;
}

export interface LogFsckReport {
  ok: boolean;
  size: number;
  nodesChecked: number;
  checkpointsChecked: number;
  mismatches: TreeMismatch[];
  checkpointIssues: FsckCheckpointIssue[];
}

interface CheckpointRow {
  size: number;
  note: string;
}

export class TransparencyLog {
  readonly origin: string;
  readonly tree: MerkleTree;
  private readonly db: Db;
  private readonly signer: NoteSigner;
  private readonly verifier: NoteVerifier | undefined;
  private readonly clock: Clock;
  private readonly stLatest: SqlStatement<[], CheckpointRow>;
  private readonly stAt: SqlStatement<[number], CheckpointRow>;
  private readonly stInsert: SqlStatement<[number, string, string]>;
  private readonly appendTx: SqlTransaction<(leaves: readonly Uint8Array[]) => AppendResult>;
  private readonly signTx: SqlTransaction<() => SignedCheckpoint>;

  constructor(opts: TransparencyLogOptions) {
    const origin = opts.origin;
    if (typeof origin !== 'string' || origin.length === 0 || /[\n\u0000-\u001f]/.test(origin)) {
      throw new SsfError('USAGE', 'transparency log origin must be a non-empty single line');
    }
    this.origin = origin;
    this.db = opts.db;
    this.signer = opts.signer;
    this.verifier = opts.verifier;
    this.clock = opts.clock ?? systemClock;
    this.tree = new MerkleTree(opts.db);
    try {
      this.stLatest = this.db.prepare<[], CheckpointRow>('SELECT size, note FROM tlog_checkpoints ORDER BY size DESC LIMIT 1');
      this.stAt = this.db.prepare<[number], CheckpointRow>('SELECT size, note FROM tlog_checkpoints WHERE size = ?');
      this.stInsert = this.db.prepare<[number, string, string]>('INSERT INTO tlog_checkpoints (size, note, created_at) VALUES (?, ?, ?)');
    } catch (e) {
      throw new SsfError('STORE_FAILED', `cannot open transparency log checkpoints: ${(e as Error).message}`, { cause: e });
    }
    this.appendTx = this.db.transaction((leaves: readonly Uint8Array[]) => {
      let indices: number[];
      try {
        indices = this.tree.append(leaves);
      } catch (e) {
        // A damaged store (a missing or malformed frontier row) must not be extended and signed.
        if (isSsfError(e, 'FACTORY_CORRUPT')) {
          throw new SsfError('TLOG_CONSISTENCY', `refusing to append and sign: ${e.message}`, { cause: e });
        }
        throw e;
      }
      return { indices, checkpoint: this.signCurrent() };
    });
    this.signTx = this.db.transaction(() => this.signCurrent());
  }

  size(): number {
    return this.tree.size();
  }

  /**
   * Appends leaves and signs one checkpoint covering them, atomically. Call it inside the same
   * transaction that stores the entries' evidence, and publish the checkpoint only after that
   * transaction commits: a signed checkpoint whose tree was rolled back could later be
   * contradicted by a different tree of the same size.
   */
  appendBatch(leaves: readonly Uint8Array[]): AppendResult {
    return this.db.inTransaction ? this.appendTx(leaves) : this.appendTx.immediate(leaves);
  }

  /**
   * Returns a signed checkpoint for the current tree: the stored one if the tree has not grown
   * since, otherwise a new one after the consistency check.
   */
  checkpointNow(): SignedCheckpoint {
    // Immediate: no other writer may grow the tree between the check and the stored signature.
    return this.db.inTransaction ? this.signTx() : this.signTx.immediate();
  }

  private signCurrent(): SignedCheckpoint {
    const size = this.tree.size();
    const last = this.latestCheckpoint();
    let root: Buffer;
    try {
      root = this.tree.rootAt(size);
      if (last !== undefined) {
        if (size < last.size) throw new SsfError('TLOG_CONSISTENCY', `the store holds ${size} leaves but checkpoint ${last.size} was signed`);
        if (size === last.size) {
          if (!root.equals(last.rootHash)) throw new SsfError('TLOG_CONSISTENCY', `the stored root for size ${size} differs from the signed one`);
          return last;
        }
        if (last.size > 0) {
          const proof = this.tree.consistencyProof(last.size, size);
          verifyConsistency(last.size, size, proof, last.rootHash, root);
        }
      }
    } catch (e) {
      const why = isSsfError(e) ? e.message : String(e);
      throw new SsfError('TLOG_CONSISTENCY', `refusing to sign checkpoint ${size}: ${why}`, { cause: e });
    }
    const note = signNote(formatCheckpointBody({ origin: this.origin, size, rootHash: root }), [this.signer]);
    this.stInsert.run(size, note, this.clock.now().toISOString());
    const signed: SignedCheckpoint = { origin: this.origin, size, rootHash: root, note };
    // Our own signature over text we just built: no need to verify it when it is read back.
    if (this.verifiedNotes.size >= 256) this.verifiedNotes.clear();
    this.verifiedNotes.set(note, signed);
    return signed;
  }

  // Notes already verified, by their exact text: re-reading the same bytes needs no second
  // signature check. Bounded; cleared when full.
  private readonly verifiedNotes = new Map<string, SignedCheckpoint>();

  private rowToCheckpoint(row: CheckpointRow): SignedCheckpoint {
    const hit = this.verifiedNotes.get(row.note);
    if (hit !== undefined && hit.size === row.size) return hit;
    const out = this.checkRow(row);
    if (this.verifiedNotes.size >= 256) this.verifiedNotes.clear();
    this.verifiedNotes.set(row.note, out);
    return out;
  }

  private checkRow(row: CheckpointRow): SignedCheckpoint {
    const cp: Checkpoint =
      this.verifier !== undefined ? openCheckpoint(row.note, [this.verifier], this.origin) : parseCheckpointBody(parseNote(row.note).text);
    if (cp.origin !== this.origin) {
      throw new SsfError('TLOG_CHECKPOINT', `stored checkpoint is for log ${JSON.stringify(cp.origin)}, not ${JSON.stringify(this.origin)}`);
    }
    if (cp.size !== row.size) throw new SsfError('TLOG_CHECKPOINT', `stored checkpoint row ${row.size} holds a checkpoint of size ${cp.size}`);
    const out: SignedCheckpoint = { origin: cp.origin, size: cp.size, rootHash: cp.rootHash, note: row.note };
    if (cp.extensions !== undefined) out.extensions = cp.extensions;
    return out;
  }

  /** The most recent signed checkpoint, or undefined if none was signed yet. */
  latestCheckpoint(): SignedCheckpoint | undefined {
    const row = this.stLatest.get();
    return row === undefined ? undefined : this.rowToCheckpoint(row);
  }

  /** The checkpoint signed at exactly `size`, if any. */
  checkpointAt(size: number): SignedCheckpoint | undefined {
    const row = this.stAt.get(size);
    return row === undefined ? undefined : this.rowToCheckpoint(row);
  }

  inclusionProof(index: number, size: number): Buffer[] {
    return this.tree.inclusionProof(index, size);
  }

  /** Inclusion proofs for many leaves of the same tree size (shared reads). */
  inclusionProofs(indices: readonly number[], size: number): Buffer[][] {
    return this.tree.inclusionProofs(indices, size);
  }

  consistencyProof(size1: number, size2: number): Buffer[] {
    return this.tree.consistencyProof(size1, size2);
  }

  leafData(index: number): Buffer {
    return this.tree.leafData(index);
  }

  leafHash(index: number): Buffer {
    return this.tree.leafHash(index);
  }

  /**
   * Rebuilds every hash from the leaf data and checks it against the stored nodes and against
   * every signed checkpoint. Reports problems instead of throwing, for `ssf fsck`.
   */
  fsckTree(): LogFsckReport {
    const rows = this.db.prepare<[], CheckpointRow>('SELECT size, note FROM tlog_checkpoints ORDER BY size').all();
    const issues: FsckCheckpointIssue[] = [];
    const checkpoints: SignedCheckpoint[] = [];
    for (const row of rows) {
      try {
        checkpoints.push(this.rowToCheckpoint(row));
      } catch (e) {
        issues.push({ size: row.size, problem: isSsfError(e) ? e.message : String(e) });
      }
    }
    const rec = this.tree.recompute(checkpoints.map((c) => c.size));
    for (const cp of checkpoints) {
      const root = rec.roots.get(cp.size);
      if (root === undefined) issues.push({ size: cp.size, problem: `signed checkpoint covers ${cp.size} leaves but only ${rec.size} are stored` });
      else if (!root.equals(cp.rootHash)) issues.push({ size: cp.size, problem: 'root recomputed from leaf data differs from the signed root' });
    }
    return {
      ok: rec.mismatches.length === 0 && issues.length === 0,
      size: rec.size,
      nodesChecked: rec.nodesChecked,
      checkpointsChecked: rows.length,
      mismatches: rec.mismatches,
      checkpointIssues: issues,
    };
  }
}
