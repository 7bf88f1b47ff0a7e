import { SsfError } from '../core/index.js';
import type { Db, Migration } from './db.js';

/**
 * Evidence schema. A row keeps what only it knows — the signed payload, the signature, the
 * entry timestamp, the checkpoint it was logged under — and refers to what is shared: the
 * certificate (stored once per identity) and the log entry body (in the log's own table).
 * A bundle is rebuilt from these, so no byte is stored twice and tampering with any of them
 * breaks the bundle's verification.
 */
export const evidenceMigrations: readonly Migration[] = [
  {
    id: '0002_evidence',
    up(db) {
      db.exec(`
        CREATE TABLE certificate (
          id INTEGER PRIMARY KEY,
          sha256 TEXT NOT NULL UNIQUE,
          der BLOB NOT NULL,
          identity TEXT,
          serial TEXT NOT NULL,
          not_before INTEGER NOT NULL,
          not_after INTEGER NOT NULL
        );
        CREATE INDEX certificate_identity ON certificate(identity);
        CREATE TABLE evidence (
          id INTEGER PRIMARY KEY,
          log_index INTEGER NOT NULL UNIQUE,
          payload_sha256 TEXT NOT NULL,
          payload_type TEXT NOT NULL,
          payload BLOB NOT NULL,
          signature BLOB NOT NULL,
          certificate_id INTEGER NOT NULL REFERENCES certificate(id),
          predicate_type TEXT NOT NULL,
          integrated_time INTEGER NOT NULL,
          entry_timestamp BLOB NOT NULL,
          checkpoint_size INTEGER NOT NULL
        );
        CREATE INDEX evidence_certificate ON evidence(certificate_id, integrated_time);
        CREATE TABLE evidence_subject (
          evidence_id INTEGER NOT NULL REFERENCES evidence(id),
          algorithm TEXT NOT NULL,
          digest TEXT NOT NULL,
          name TEXT
        );
        CREATE INDEX evidence_subject_digest ON evidence_subject(algorithm, digest);
      `);
    },
  },
];

/** A certificate to record (once). */
export interface CertificateRow {
  readonly sha256: string;
  readonly der: Buffer;
  readonly identity?: string;
  readonly serial: string;
  readonly notBefore: number;
  readonly notAfter: number;
}

/** One evidence row to insert. */
export interface EvidenceRow {
  readonly logIndex: number;
  readonly payloadSha256: string;
  readonly payloadType: string;
  readonly payload: Buffer;
  readonly signature: Buffer;
  readonly certificateId: number;
  readonly predicateType: string;
  readonly integratedTime: number;
  readonly entryTimestamp: Buffer;
  readonly checkpointSize: number;
  readonly subjects: readonly { algorithm: string; digest: string; name?: string }[];
}

/** A stored evidence record, with its certificate. */
export interface StoredEvidence {
  readonly id: number;
  readonly logIndex: number;
  readonly payloadSha256: string;
  readonly payloadType: string;
  readonly payload: Buffer;
  readonly signature: Buffer;
  readonly predicateType: string;
  readonly integratedTime: number;
  readonly entryTimestamp: Buffer;
  readonly checkpointSize: number;
  readonly certificateDer: Buffer;
  readonly signer: string | null;
}

// Mixed-case aliases are quoted: PostgreSQL folds unquoted names to lower case.
const SELECT = `SELECT e.id, e.log_index AS "logIndex", e.payload_sha256 AS "payloadSha256", e.payload_type AS "payloadType", e.payload,
  e.signature, e.predicate_type AS "predicateType", e.integrated_time AS "integratedTime", e.entry_timestamp AS "entryTimestamp",
  e.checkpoint_size AS "checkpointSize", c.der AS "certificateDer", c.identity AS signer
  FROM evidence e JOIN certificate c ON c.id = e.certificate_id`;

/** Evidence rows: insert (inside the caller's transaction) and look up. */
export class EvidenceStore {
  private readonly ins;
  private readonly insSub;
  private readonly insCert;
  private readonly certBySha;
  private readonly bySubject;
  private readonly byIndex;
  private readonly bySigner;
  constructor(private readonly db: Db) {
    this.ins = db.prepare<unknown[], number>(
      `INSERT INTO evidence (log_index, payload_sha256, payload_type, payload, signature, certificate_id, predicate_type, integrated_time, entry_timestamp, checkpoint_size)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id`,
    ).pluck();
    this.insSub = db.prepare('INSERT INTO evidence_subject (evidence_id, algorithm, digest, name) VALUES (?, ?, ?, ?)');
    this.insCert = db.prepare<unknown[], number>('INSERT INTO certificate (sha256, der, identity, serial, not_before, not_after) VALUES (?, ?, ?, ?, ?, ?) RETURNING id').pluck();
    this.certBySha = db.prepare('SELECT id FROM certificate WHERE sha256 = ?');
    this.bySubject = db.prepare(`${SELECT} JOIN evidence_subject s ON s.evidence_id = e.id WHERE s.algorithm = ? AND s.digest = ? ORDER BY e.log_index`);
    this.byIndex = db.prepare(`${SELECT} WHERE e.log_index = ?`);
    this.bySigner = db.prepare(`${SELECT} WHERE c.identity = ? AND e.integrated_time BETWEEN ? AND ? ORDER BY e.log_index`);
  }

  /** The id of a certificate row, inserting it the first time it is seen. */
  certificateId(c: CertificateRow): number {
    const hit = this.certBySha.get(c.sha256) as { id: number } | undefined;
    if (hit) return hit.id;
    return this.insCert.get(c.sha256, c.der, c.identity ?? null, c.serial, c.notBefore, c.notAfter) as number;
  }

  /** Inserts one row; call inside a transaction together with the log append. */
  insert(row: EvidenceRow): number {
    const id = this.ins.get(row.logIndex, row.payloadSha256, row.payloadType, row.payload, row.signature, row.certificateId, row.predicateType,
      row.integratedTime, row.entryTimestamp, row.checkpointSize) as number;
    for (const s of row.subjects) this.insSub.run(id, s.algorithm, s.digest.toLowerCase(), s.name ?? null);
    return id;
  }

  /** All evidence about an artifact digest, oldest first. */
  findBySubject(algorithm: string, digest: string): StoredEvidence[] {
    return this.bySubject.all(algorithm, digest.toLowerCase()) as StoredEvidence[];
  }

  /** Everything an identity signed between two integrated times (seconds, inclusive). */
  findBySigner(identity: string, fromSec = 0, toSec = Number.MAX_SAFE_INTEGER): StoredEvidence[] {
    return this.bySigner.all(identity, fromSec, toSec) as StoredEvidence[];
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
