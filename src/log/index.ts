/** The transparency log: RFC 9162 Merkle tree, C2SP signed notes and checkpoints, and a witness. */
export { HASH_SIZE, leafHash, nodeHash, emptyRoot, rootFromInclusionProof, verifyInclusion, verifyConsistency, rootOfLeafHashes } from './merkle.js';
export { migrateLogSchema, MerkleTree, type Db, type TreeMismatch, type TreeRecomputation } from './tree.js';
export {
  signNote,
  openNote,
  parseNote,
  isValidKeyName,
  ecdsaKeyId,
  ecdsaNoteSigner,
  ecdsaNoteVerifier,
  ed25519KeyId,
  ed25519NoteSigner,
  ed25519NoteVerifier,
  ed25519VerifierKey,
  generateEd25519NoteKey,
  type NoteSigner,
  type NoteVerifier,
  type NoteSignature,
  type OpenedNote,
} from './note.js';
export { formatCheckpointBody, parseCheckpointBody, openCheckpoint, type Checkpoint, type SignedCheckpoint } from './checkpoint.js';
export { TransparencyLog, type TransparencyLogOptions, type AppendResult, type LogFsckReport, type FsckCheckpointIssue } from './log.js';
export { CheckpointWitness, type WitnessState, type WitnessedTreeHead, type Observation } from './witness.js';
