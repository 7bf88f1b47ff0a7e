/**
 * Where a factory keeps its database: the store URL's checks and precedence (always), and the
 * whole evidence path on PostgreSQL (with SSF_TEST_POSTGRES): init records the URL, open uses
 * it, a batch is signed, logged and stored there, and its bundles verify.
 */
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FixedClock, sha256Hex } from '../core/index.js';
import { throwsCode, rejectsCode } from '../core/testing.js';
import { makeStatement } from '../attest/index.js';
import { testBackends } from '../store/testing.js';
import { SigstoreJsVerifier } from '../verify/index.js';
import { Factory, checkStoreUrl, initFactory, layoutOf, readConfig, storeLocation } from './index.js';

const PASSPHRASE = 'store test passphrase';
const TD = 'store.test.internal';
const tmp = mkdtempSync(join(tmpdir(), 'ssf-factory-store-'));
after(() => rmSync(tmp, { recursive: true, force: true }));

describe('store URL', () => {
  test('only postgres URLs without a password are accepted', () => {
    assert.equal(checkStoreUrl('postgresql:///ssf?host=/var/run/postgresql', '--store'), 'postgresql:///ssf?host=/var/run/postgresql');
    assert.equal(checkStoreUrl('postgres://ssf@db.internal:5432/ssf?sslmode=verify-full', '--store'), 'postgres://ssf@db.internal:5432/ssf?sslmode=verify-full');
    throwsCode(() => checkStoreUrl('postgres://ssf:s3cret@db.internal/ssf', '--store'), 'USAGE');
    throwsCode(() => checkStoreUrl('postgresql:///ssf?host=/run&PassWord=s3cret', '--store'), 'USAGE');
    throwsCode(() => checkStoreUrl('/var/lib/ssf/ssf.db', '--store'), 'USAGE');
    throwsCode(() => checkStoreUrl('mysql://db/ssf', '--store'), 'USAGE');
  });

  test('init refuses a URL with a password before creating anything', async () => {
    const dir = join(tmp, 'refused');
    await rejectsCode(initFactory({ dir, trustDomain: TD, clock: new FixedClock('2026-03-01T12:00:00Z'), passphrase: PASSPHRASE, store: 'postgres://ssf:s3cret@localhost/ssf' }), 'USAGE');
    assert.equal(existsSync(dir), false);
  });

  test('$SSF_STORE overrides factory.json, which overrides the SQLite default; a password in factory.json is corrupt', async () => {
    const dir = join(tmp, 'sqlite');
    await initFactory({ dir, trustDomain: TD, clock: new FixedClock('2026-03-01T12:00:00Z'), passphrase: PASSPHRASE });
    const L = layoutOf(dir);
    const config = readConfig(L.config);
    assert.equal(config.store, undefined);
    assert.equal(storeLocation(L, config, {}), L.db);
    assert.equal(storeLocation(L, { ...config, store: 'postgresql:///a' }, {}), 'postgresql:///a');
    assert.equal(storeLocation(L, { ...config, store: 'postgresql:///a' }, { SSF_STORE: 'postgresql:///b' }), 'postgresql:///b');
    assert.equal(storeLocation(L, config, { SSF_STORE: join(tmp, 'other.db') }), join(tmp, 'other.db'));
    throwsCode(() => storeLocation(L, config, { SSF_STORE: 'postgresql://u:pw@h/db' }), 'USAGE');
    // The override really is what Factory.open opens.
    const other = join(tmp, 'override.db');
    Factory.open(dir, { env: { SSF_STORE: other } }).close();
    assert.equal(existsSync(other), true);
    const raw = JSON.parse(readFileSync(L.config, 'utf8')) as Record<string, unknown>;
    writeFileSync(L.config, JSON.stringify({ ...raw, store: 'postgres://u:pw@h/db' }));
    throwsCode(() => readConfig(L.config), 'FACTORY_CORRUPT');
  });
});

const pg = testBackends().find((b) => b.name === 'postgres');
describe('a factory on PostgreSQL', { skip: pg?.skip }, () => {
  const statement = (name: string) => makeStatement([{ name, digest: { sha256: sha256Hex(`artifact ${name}`) } }], 'https://slsa.dev/provenance/v1', { builder: { id: 'test' } });

  test('init records the store; attest a batch; bundles verify and are rebuilt from the rows; reopen continues', async () => {
    const store = pg?.location() as string;
    const dir = join(tmp, 'pg');
    const clock = new FixedClock('2026-03-01T12:00:00Z');
    await initFactory({ dir, trustDomain: TD, clock, passphrase: PASSPHRASE, store });
    const L = layoutOf(dir);
    assert.equal(readConfig(L.config).store, store);
    assert.equal(existsSync(L.db), false, 'no SQLite file beside a PostgreSQL store');

    const f = Factory.open(dir, { clock, env: {} });
    try {
      assert.equal(f.db.dialect, 'postgres');
      const id = await f.issueIdentity(['ci', 'build']);
      const names = Array.from({ length: 25 }, (_, i) => `pkg-${i}`);
      const res = f.attest(names.map((n) => ({ statement: statement(n), identity: id })));
      assert.deepEqual(res.map((r) => r.logIndex), names.map((_, i) => i));
      const v = f.verifier();
      const sj = new SigstoreJsVerifier(JSON.parse(readFileSync(L.trustedRoot, 'utf8')) as Record<string, unknown>);
      for (const [i, r] of res.entries()) {
        const hex = sha256Hex(`artifact ${names[i]}`);
        assert.equal(v.verify(JSON.stringify(r.bundle), { identity: id.spiffeId, artifact: { algorithm: 'sha256', hex } }).checkpoint.size, 25);
        sj.verify(r.bundle, id.spiffeId);
        // The bundle rebuilt from the PostgreSQL rows is the one attest returned.
        assert.deepEqual(f.bundlesFor('sha256', hex), [r.bundle]);
      }
      assert.equal(f.evidence.count(), 25);
      assert.deepEqual(f.evidence.findBySigner(id.spiffeId).length, 25);
      assert.equal(f.log.fsckTree().ok, true);
    } finally {
      f.close();
    }

    // A second open (another process would do the same) continues the log under a consistent checkpoint.
    const g = Factory.open(dir, { clock, env: {} });
    try {
      const id = await g.issueIdentity(['ci', 'build']);
      const [r] = g.attest([{ statement: statement('after-reopen'), identity: id }]);
      assert.equal(r?.logIndex, 25);
      g.verifier().verify(r?.bundle, { identity: id.spiffeId, artifact: { algorithm: 'sha256', hex: sha256Hex('artifact after-reopen') } });
      assert.equal(g.log.fsckTree().ok, true);
    } finally {
      g.close();
    }

    // The store now holds a factory: a second init into it is refused, even with --force.
    await rejectsCode(initFactory({ dir: join(tmp, 'pg-again'), trustDomain: TD, clock, passphrase: PASSPHRASE, store }), 'FACTORY_EXISTS');
    await rejectsCode(initFactory({ dir, trustDomain: TD, clock, passphrase: PASSPHRASE, store, force: true }), 'FACTORY_EXISTS');
    assert.equal(existsSync(join(tmp, 'pg-again')), false);
  });

  test('a failed batch leaves neither log entries nor evidence on PostgreSQL', async () => {
    const store = pg?.location() as string;
    const dir = join(tmp, 'pg-atomic');
    const clock = new FixedClock('2026-03-01T12:00:00Z');
    await initFactory({ dir, trustDomain: TD, clock, passphrase: PASSPHRASE, store });
    const f = Factory.open(dir, { clock, env: {} });
    try {
      const id = await f.issueIdentity(['ci', 'build']);
      f.attest([{ statement: statement('first'), identity: id }]);
      assert.throws(() => f.attest([{ statement: statement('second'), identity: id }], {
        inTransaction: () => {
          throw new Error('a row that describes the evidence could not be written');
        },
      }), /could not be written/);
      assert.equal(f.log.size(), 1);
      assert.equal(f.evidence.count(), 1);
      assert.equal(f.log.latestCheckpoint()?.size, 1);
    } finally {
      f.close();
    }
  });
});
