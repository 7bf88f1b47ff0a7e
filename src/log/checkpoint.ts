import { SsfError } from '../core/errors.js';
import { HASH_SIZE } from './merkle.js';
import { decodeStdBase64, openNote, type NoteVerifier } from './note.js';

/**
 * tlog-checkpoint bodies (https://c2sp.org/tlog-checkpoint): `origin\nsize\nbase64(root)\n`
 * plus optional extension lines. Parsing is strict because two readers must never disagree
 * about which tree a signed checkpoint commits to.
 */

export interface Checkpoint {
  origin: string;
  size: number;
  rootHash: Buffer;
  /** Opaque extension lines after the root hash (not recommended by the spec). */
  extensions?: string[];
}

/** A checkpoint together with the signed note that carries it. */
export interface SignedCheckpoint extends Checkpoint {
  note: string;
}

function bad(msg: string): SsfError {
  return new SsfError('TLOG_CHECKPOINT', msg);
}

/** Formats the note text of a checkpoint. */
export function formatCheckpointBody(cp: Checkpoint): string {
  if (typeof cp.origin !== 'string' || cp.origin.length === 0 || cp.origin.includes('\n')) {
    throw bad('checkpoint origin must be a non-empty single line');
  }
  if (!Number.isSafeInteger(cp.size) || cp.size < 0) throw bad(`checkpoint size ${cp.size} is not a non-negative integer`);
  if (!(cp.rootHash instanceof Uint8Array) || cp.rootHash.length !== HASH_SIZE) throw bad(`checkpoint root hash must be ${HASH_SIZE} bytes`);
  let text = `${cp.origin}\n${cp.size}\n${Buffer.from(cp.rootHash).toString('base64')}\n`;
  for (const ext of cp.extensions ?? []) {
    if (typeof ext !== 'string' || ext.length === 0 || ext.includes('\n')) throw bad('checkpoint extension lines must be non-empty single lines');
    text += ext + '\n';
  }
  return text;
}

/** Parses a checkpoint note text (the part before the signatures). */
export function parseCheckpointBody(text: string): Checkpoint {
  if (typeof text !== 'string' || !text.endsWith('\n')) throw bad('checkpoint text must end with a newline');
  const lines = text.slice(0, -1).split('\n');
  if (lines.length < 3) throw bad('checkpoint needs origin, size and root hash lines');
  const [origin = '', sizeLine = '', rootLine = '', ...extensions] = lines;
  if (origin.length === 0) throw bad('checkpoint origin is empty');
  if (!/^(0|[1-9][0-9]*)$/.test(sizeLine)) throw bad('checkpoint size must be a decimal number without leading zeros');
  const size = Number(sizeLine);
  if (!Number.isSafeInteger(size)) throw bad(`checkpoint size ${sizeLine} is too large`);
  const rootHash = decodeStdBase64(rootLine, 'checkpoint root hash', 'TLOG_CHECKPOINT');
  if (rootHash.length !== HASH_SIZE) throw bad(`checkpoint root hash must be ${HASH_SIZE} bytes, got ${rootHash.length}`);
  if (extensions.some((e) => e.length === 0)) throw bad('checkpoint extension lines must be non-empty');
  return extensions.length > 0 ? { origin, size, rootHash, extensions } : { origin, size, rootHash };
}

/**
 * Verifies a signed checkpoint note with the given keys and parses its body. With
 * `expectedOrigin`, a checkpoint of any other log is rejected.
 */
export function openCheckpoint(
  note: string,
  verifiers: readonly NoteVerifier[],
  expectedOrigin?: string,
): SignedCheckpoint & { verified: { name: string; keyId: Buffer }[] } {
  const opened = openNote(note, verifiers);
  const cp = parseCheckpointBody(opened.text);
  if (expectedOrigin !== undefined && cp.origin !== expectedOrigin) {
    throw bad(`checkpoint is for log ${JSON.stringify(cp.origin)}, expected ${JSON.stringify(expectedOrigin)}`);
  }
  return { ...cp, note, verified: opened.verified };
}
