/** The evidence rows and the migration runner, on SQLite and (with SSF_TEST_POSTGRES) PostgreSQL. */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { sha256Hex } from '../core/index.js';
import { throwsCode } from '../core/testing.js';
import { migrate, openDb, tableExists, type Db, type Migration } from './db.js';
import { EvidenceStore, evidenceMigrations, type CertificateRow, type EvidenceRow } from './evidence.js';
import { testBackends } from './testing.js';

function cert(name: string, notBefore = 1000): CertificateRow {
  const der = Buffer.from(`certificate of ${name}`);
  return { sha256: sha256Hex(der), der, identity: `spiffe://td/${name}`, serial: `0${name.length}`, notBefore, notAfter: notBefore + 600 };
}

function row(logIndex: number, certificateId: number, integratedTime: number, subjects: EvidenceRow['subjects']): EvidenceRow {
  const payload = Buffer.from(JSON.stringify({ logIndex }));
  return {
    logIndex, payloadSha256: sha256Hex(payload), payloadType: 'application/vnd.in-toto+json', payload, signature: Buffer.from([0, 1, 2, logIndex]),
    certificateId, predicateType: 'https://slsa.dev/provenance/v1', integratedTime, entryTimestamp: Buffer.from(`set ${logIndex}`), checkpointSize: logIndex + 1, subjects,
  };
}

for (const backend of testBackends()) describe(`evidence store on ${backend.name}`, { skip: backend.skip }, () => {
  function store(): { db: Db; ev: EvidenceStore } {
    const db = backend.open();
    migrate(db, evidenceMigrations);
    return { db, ev: new EvidenceStore(db) };
  }

  test('certificates are stored once; rows come back whole, by subject, signer and log index', () => {
    const { db, ev } = store();
    const a = ev.certificateId(cert('a'));
    assert.equal(ev.certificateId(cert('a')), a);
    const b = ev.certificateId(cert('bb'));
    assert.notEqual(a, b);
    const d1 = 'AB'.repeat(32);
    const d2 = 'cd'.repeat(32);
    const ids = db.transaction(() => [
      ev.insert(row(0, a, 100, [{ algorithm: 'sha256', digest: d1, name: 'one' }])),
      ev.insert(row(1, b, 200, [{ algorithm: 'sha256', digest: d1 }, { algorithm: 'sha256', digest: d2, name: 'two' }])),
      ev.insert(row(2, a, 300, [{ algorithm: 'sha256', digest: d2 }])),
    ]).immediate();
    assert.equal(new Set(ids).size, 3);
    assert.equal(ev.count(), 3);

    const got = ev.getByLogIndex(1);
    assert.deepEqual({ ...got }, {
      id: ids[1], logIndex: 1, payloadSha256: sha256Hex(Buffer.from('{"logIndex":1}')), payloadType: 'application/vnd.in-toto+json',
      payload: Buffer.from('{"logIndex":1}'), signature: Buffer.from([0, 1, 2, 1]), predicateType: 'https://slsa.dev/provenance/v1', integratedTime: 200,
      entryTimestamp: Buffer.from('set 1'), checkpointSize: 2, certificateDer: cert('bb').der, signer: 'spiffe://td/bb',
    });
    // Digests are matched case-insensitively (stored lower case), oldest first.
    assert.deepEqual(ev.findBySubject('sha256', d1.toLowerCase()).map((e) => e.logIndex), [0, 1]);
    assert.deepEqual(ev.findBySubject('sha256', d2.toUpperCase()).map((e) => e.logIndex), [1, 2]);
    assert.deepEqual(ev.findBySubject('sha512', d1), []);
    assert.deepEqual(ev.findBySigner('spiffe://td/a').map((e) => e.logIndex), [0, 2]);
    assert.deepEqual(ev.findBySigner('spiffe://td/a', 150, 300).map((e) => e.logIndex), [2]);
    assert.deepEqual(ev.findBySigner('spiffe://td/nobody'), []);
    throwsCode(() => ev.getByLogIndex(3), 'NOT_FOUND');
  });

  test('a log index is stored once; a failed batch leaves nothing behind', () => {
    const { db, ev } = store();
    const a = ev.certificateId(cert('a'));
    ev.insert(row(0, a, 1, []));
    assert.throws(() => db.transaction(() => {
      ev.insert(row(1, a, 2, [{ algorithm: 'sha256', digest: 'ee'.repeat(32) }]));
      ev.insert(row(0, a, 3, []));
    }).immediate());
    assert.equal(ev.count(), 1);
    assert.deepEqual(ev.findBySubject('sha256', 'ee'.repeat(32)), []);
  });
});

for (const backend of testBackends()) describe(`migrations on ${backend.name}`, { skip: backend.skip }, () => {
  const steps: Migration[] = [
    { id: '0001_a', up: (db) => db.exec('CREATE TABLE a (id INTEGER PRIMARY KEY, v TEXT)') },
    { id: '0002_b', up: (db) => db.exec('CREATE TABLE b (id INTEGER PRIMARY KEY, a_id INTEGER REFERENCES a (id))') },
  ];

  test('each step runs once, in order, and is recorded', () => {
    const location = backend.location();
    const db = openDb(location);
    assert.equal(tableExists(db, 'schema_migrations'), false);
    assert.deepEqual(migrate(db, steps.slice(0, 1)), ['0001_a']);
    assert.deepEqual(migrate(db, steps), ['0002_b']);
    assert.deepEqual(migrate(db, steps), []);
    assert.equal(tableExists(db, 'b'), true);
    db.close();
    // A second connection finds everything applied.
    const again = openDb(location);
    assert.deepEqual(migrate(again, steps), []);
    assert.deepEqual(again.prepare('SELECT id FROM schema_migrations ORDER BY id').pluck().all(), ['0001_a', '0002_b']);
    again.close();
  });

  test('a failing step rolls back every step of its run', () => {
    const db = backend.open();
    const broken: Migration = { id: '0003_broken', up: (d) => d.exec('CREATE TABLE c (id INTEGER PRIMARY KEY); CREATE TABLE c (id INTEGER)') };
    throwsCode(() => migrate(db, [...steps, broken]), 'STORE_FAILED');
    assert.equal(tableExists(db, 'a'), false);
    assert.equal(tableExists(db, 'c'), false);
    assert.deepEqual(migrate(db, steps), ['0001_a', '0002_b']);
  });

  test('inside a caller transaction migrations are a savepoint of it', () => {
    const db = backend.open();
    assert.throws(() => db.transaction(() => {
      migrate(db, steps);
      throw new Error('caller failed');
    })(), /caller failed/);
    assert.equal(tableExists(db, 'a'), false);
    db.transaction(() => migrate(db, steps))();
    assert.equal(tableExists(db, 'b'), true);
  });
});
