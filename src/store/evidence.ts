import { SsfError } from '../core/index.js';
import type { Db, Migration } from './db.js';

/** Evidence schema: one row per logged bundle, its subjects indexed for lookup by digest. */
export const evidenceMigrations: readonly Migration[] = [
  {
    id: '0002_evidence',
    up(db) {
      db.exec(`
        CREATE TABLE evidence (
          id INTEGER PRIMARY KEY,
          log_index INTEGER NOT NULL UNIQUE,
          bundle_sha256 TEXT NOT NULL,
          predicate_type TEXT NOT NULL,
          signer TEXT NOT NULL,
          signer_serial TEXT NOT NULL,
          integrated_time INTEGER NOT NULL,
          bundle TEXT NOT NULL
        );
        CREATE TABLE evidence_subject (
          evidence_id INTEGER NOT NULL REFERENCES evidence(id),
          algorithm TEXT NOT NULL,
          digest TEXT NOT NULL,
          name TEXT
        );
        CREATE INDEX evidence_subject_digest ON evidence_subject(algorithm, digest);
        CREATE INDEX evidence_signer ON evidence(signer, integrated_time);
      `);
    },
  },
];

/** One evidence row to insert. */
export interface EvidenceRow {
  readonly logIndex: number;
  readonly bundleSha256: string;
  readonly predicateType: string;
  readonly signer: string;
  readonly signerSerial: string;
  readonly integratedTime: number;
  readonly bundleJson: string;
  readonly subjects: readonly { algorithm: string; digest: string; name?: string }[];
}

/** A stored evidence record. */
export interface StoredEvidence {
  readonly id: number;
  readonly logIndex: number;
  readonly predicateType: string;
  readonly signer: string;
  readonly integratedTime: number;
  readonly bundleJson: string;
}

/** Evidence rows: insert (inside the caller's transaction) and look up. */
export class EvidenceStore {
  private readonly ins;
  private readonly insSub;
  private readonly bySubject;
  private readonly byIndex;
  constructor(private readonly db: Db) {
    this.ins = db.prepare(
      'INSERT INTO evidence (log_index, bundle_sha256, predicate_type, signer, signer_serial, integrated_time, bundle) VALUES (?, ?, ?, ?, ?, ?, ?)',
    );
    this.insSub = db.prepare('INSERT INTO evidence_subject (evidence_id, algorithm, digest, name) VALUES (?, ?, ?, ?)');
    this.bySubject = db.prepare(
      `SELECT e.id, e.log_index AS logIndex, e.predicate_type AS predicateType, e.signer, e.integrated_time AS integratedTime, e.bundle AS bundleJson
       FROM evidence e JOIN evidence_subject s ON s.evidence_id = e.id WHERE s.algorithm = ? AND s.digest = ? ORDER BY e.log_index`,
    );
    this.byIndex = db.prepare(
      `SELECT id, log_index AS logIndex, predicate_type AS predicateType, signer, integrated_time AS integratedTime, bundle AS bundleJson FROM evidence WHERE log_index = ?`,
    );
  }

  /** Inserts one row; call inside a transaction together with the log append. */
  insert(row: EvidenceRow): number {
    const r = this.ins.run(row.logIndex, row.bundleSha256, row.predicateType, row.signer, row.signerSerial, row.integratedTime, row.bundleJson);
    const id = Number(r.lastInsertRowid);
    for (const s of row.subjects) this.insSub.run(id, s.algorithm, s.digest.toLowerCase(), s.name ?? null);
    return id;
  }

  /** All evidence about an artifact digest, oldest first. */
  findBySubject(algorithm: string, digest: string): StoredEvidence[] {
    return this.bySubject.all(algorithm, digest.toLowerCase()) as StoredEvidence[];
  }

  /** The evidence logged at a log index. */
  getByLogIndex(index: number): StoredEvidence {
    const r = this.byIndex.get(index) as StoredEvidence | undefined;
    if (!r) throw new SsfError('NOT_FOUND', `no evidence at log index ${index}`);
    return r;
  }

  count(): number {
    return (this.db.prepare('SELECT count(*) AS n FROM evidence').get() as { n: number }).n;
  }
}
