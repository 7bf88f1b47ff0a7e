import { SsfError } from '../core/errors.js';
import { decodeBase64 } from '../core/encoding.js';
import { HASH_SIZE, emptyRoot, verifyConsistency } from './merkle.js';

/**
 * A verifier's memory of each log: the largest checkpoint it has accepted per origin. Seeing
 * the log shrink, fork at the same size, or grow without proof that the old tree is a prefix
 * of the new one is evidence of a rollback or split view, so those are rejected.
 */

export interface WitnessedTreeHead {
  size: number;
  rootHash: Buffer;
}

/** The JSON form of the witness state, kept in a file by the CLI. */
export interface WitnessState {
  version: 1;
  origins: Record<string, { size: number; rootHash: string }>;
}

export type Observation = 'first' | 'unchanged' | 'advanced';

function checkHead(origin: unknown, size: unknown, rootHash: unknown): void {
  if (typeof origin !== 'string' || origin.length === 0) throw new SsfError('TLOG_CHECKPOINT', 'checkpoint origin must be a non-empty string');
  if (typeof size !== 'number' || !Number.isSafeInteger(size) || size < 0) {
    throw new SsfError('TLOG_CHECKPOINT', `checkpoint size of ${origin} is not a non-negative integer`);
  }
  if (!(rootHash instanceof Uint8Array) || rootHash.length !== HASH_SIZE) {
    throw new SsfError('TLOG_CHECKPOINT', `checkpoint root hash of ${origin} must be ${HASH_SIZE} bytes`);
  }
  if (size === 0 && !emptyRoot().equals(rootHash)) throw new SsfError('TLOG_CHECKPOINT', `checkpoint of ${origin} at size 0 must have the empty root`);
}

export class CheckpointWitness {
  private readonly heads = new Map<string, WitnessedTreeHead>();

  constructor(state?: WitnessState) {
    if (state !== undefined) this.load(state);
  }

  /** Restores a witness from its JSON text or parsed state. */
  static fromJSON(json: string | unknown): CheckpointWitness {
    let state: unknown = json;
    if (typeof json === 'string') {
      try {
        state = JSON.parse(json);
      } catch (e) {
        throw new SsfError('INPUT_MALFORMED', `witness state is not valid JSON: ${(e as Error).message}`, { cause: e });
      }
    }
    const w = new CheckpointWitness();
    w.load(state);
    return w;
  }

  private load(state: unknown): void {
    const s = state as Partial<WitnessState> | null;
    if (typeof s !== 'object' || s === null || s.version !== 1 || typeof s.origins !== 'object' || s.origins === null || Array.isArray(s.origins)) {
      throw new SsfError('INPUT_MALFORMED', 'witness state must be {"version":1,"origins":{...}}');
    }
    for (const [origin, head] of Object.entries(s.origins)) {
      if (typeof head !== 'object' || head === null) throw new SsfError('INPUT_MALFORMED', `witness state for ${origin} is malformed`);
      const rootHash = decodeBase64(head.rootHash, `witness root hash of ${origin}`);
      try {
        checkHead(origin, head.size, rootHash);
      } catch (e) {
        throw new SsfError('INPUT_MALFORMED', `witness state: ${(e as Error).message}`, { cause: e });
      }
      this.heads.set(origin, { size: head.size, rootHash });
    }
  }

  toJSON(): WitnessState {
    const origins: WitnessState['origins'] = {};
    for (const origin of [...this.heads.keys()].sort()) {
      const h = this.heads.get(origin) as WitnessedTreeHead;
      origins[origin] = { size: h.size, rootHash: h.rootHash.toString('base64') };
    }
    return { version: 1, origins };
  }

  /** The latest accepted tree head of a log, if any. */
  latest(origin: string): WitnessedTreeHead | undefined {
    const h = this.heads.get(origin);
    return h === undefined ? undefined : { size: h.size, rootHash: Buffer.from(h.rootHash) };
  }

  /**
   * Accepts a checkpoint (already signature-verified by the caller) if it is consistent with
   * what was seen before; state changes only on acceptance.
   */
  observe(checkpoint: { origin: string; size: number; rootHash: Uint8Array }, consistencyProof?: readonly Uint8Array[]): Observation {
    const { origin, size, rootHash } = checkpoint;
    checkHead(origin, size, rootHash);
    const root = Buffer.from(rootHash);
    const seen = this.heads.get(origin);
    if (seen === undefined) {
      this.heads.set(origin, { size, rootHash: root });
      return 'first';
    }
    if (size < seen.size) {
      throw new SsfError('TLOG_ROLLBACK', `log ${origin} checkpoint size ${size} is older than the size ${seen.size} already seen`);
    }
    if (size === seen.size) {
      if (!seen.rootHash.equals(root)) throw new SsfError('TLOG_CONSISTENCY', `log ${origin} shows two different roots for size ${size} (split view)`);
      return 'unchanged';
    }
    // Every tree extends the empty tree; otherwise the growth must be proven.
    if (seen.size > 0) {
      if (consistencyProof === undefined) {
        throw new SsfError('TLOG_CONSISTENCY', `log ${origin} grew from ${seen.size} to ${size} without a consistency proof`);
      }
      verifyConsistency(seen.size, size, consistencyProof, seen.rootHash, root);
    }
    this.heads.set(origin, { size, rootHash: root });
    return 'advanced';
  }
}
