/**
 * fsck against real tampering of a real store (each case on a factory of its own), and a
 * SIGKILL in the middle of ingest; on SQLite and on PostgreSQL.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { systemClock } from '../core/index.js';
import { Factory, initFactory } from '../factory/index.js';
import { SLSA_PROVENANCE_V1, makeProvenance, makeStatement } from '../attest/index.js';
import { PREDICATE, VulnDb, readLockfile, toCycloneDx } from '../analysis/index.js';
import { recordDeployment } from '../admission/index.js';
import { GraphQueries, rebuildGraph } from '../graph/index.js';
import { openDb } from '../store/index.js';
import { testBackends, type TestBackend } from '../store/testing.js';
import { fsck, rescan } from './index.js';

const TD = 'fsck.test.internal';
const root = fileURLToPath(new URL('../../../', import.meta.url));
let tmp: string;
let serial = 0;

before(() => {
  tmp = mkdtempSync(join(tmpdir(), 'ssf-fsck-'));
});

after(() => rmSync(tmp, { recursive: true, force: true }));

/**
 * A factory holding three SBOMs and their provenance (log indices 0-5), on the backend's store;
 * with `operate`, also a rescan against a real OSV advisory (with a CVE alias) that finds
 * ms@2.0.0 in all three, and a deployment of the first artifact.
 */
async function makeFactory(backend: TestBackend, name: string, opts: { operate?: boolean } = {}): Promise<{ dir: string; store: string }> {
  const dir = join(tmp, `${backend.name}-${name}-${serial++}`);
  const store = backend.name === 'postgres' ? backend.location() : join(dir, 'ssf.db');
  await initFactory({ dir, trustDomain: TD, clock: systemClock, passphrase: 'fsck test passphrase', ...(backend.name === 'postgres' ? { store } : {}) });
  const f = Factory.open(dir);
  try {
    const sbom = toCycloneDx(readLockfile(join(root, 'src/analysis/lockfile/testdata/npm-small/package-lock-v3.json')));
    const id = await f.issueIdentity(['run', '20261202-000000-aaaaaa', 'task', 'sbom', 'node', 'n1']);
    const builder = await f.issueIdentity(['factory', 'builder']);
    for (let i = 0; i < 3; i++) {
      const digest = String(i).repeat(64);
      f.attest([
        { statement: makeStatement([{ name: `a${i}`, digest: { sha256: digest } }], PREDICATE.cyclonedx, sbom), identity: id },
        { statement: makeStatement([{ name: `a${i}`, digest: { sha256: digest } }], SLSA_PROVENANCE_V1, makeProvenance({ buildType: 'https://ssf.invalid/buildtypes/pipeline/v1', externalParameters: {}, builderId: `spiffe://${TD}/factory/builder`, invocationId: `20261202-00000${i}-aaaaaa` })), identity: builder },
      ]);
    }
    if (opts.operate) {
      const adv = join(dir, 'osv-ms.json');
      writeFileSync(adv, JSON.stringify({ schema_version: '1.6.0', id: 'GHSA-fsck-ms00-0001', modified: '2026-11-01T00:00:00Z', aliases: ['CVE-2026-4242'],
        affected: [{ package: { ecosystem: 'npm', name: 'ms' }, ranges: [{ type: 'SEMVER', events: [{ introduced: '0' }, { fixed: '2.1.0' }] }] }], database_specific: { severity: 'HIGH' } }));
      const vdb = VulnDb.open(f.layout.vulnDb);
      try {
        await vdb.import(adv);
      } finally {
        vdb.close();
      }
      await rescan(f);
      await recordDeployment(f, { cluster: 'prod', namespace: 'shop', kind: 'Deployment', name: 'web', digest: `sha256:${'0'.repeat(64)}` });
    }
  } finally {
    f.close();
  }
  return { dir, store };
}

/** fsck of a fresh factory after `tamper` ran on its database, as someone with write access to the store could. */
async function tampered(backend: TestBackend, name: string, tamper: (db: ReturnType<typeof openDb>) => void): Promise<ReturnType<typeof fsck>> {
  const { dir, store } = await makeFactory(backend, name);
  const db = openDb(store);
  try {
    tamper(db);
  } finally {
    db.close();
  }
  const f = Factory.open(dir);
  try {
    return fsck(f);
  } finally {
    f.close();
  }
}

const problems = (r: ReturnType<typeof fsck>): string => r.problems.map((p) => `${p.area} ${p.where}: ${p.problem}`).join('\n');

for (const backend of testBackends()) describe(backend.name, { skip: backend.skip }, () => {
  test('an untouched store passes fsck', async () => {
    const f = Factory.open((await makeFactory(backend, 'untouched')).dir);
    try {
      const r = fsck(f);
      assert.equal(r.ok, true, problems(r));
      assert.equal(r.logSize, 6);
      assert.equal(r.evidenceChecked, 6);
      assert.ok(r.edgesChecked > 50);
    } finally {
      f.close();
    }
  });

  test('an edited payload is found (its hash, the logged hash and the signature all disagree)', async () => {
    const r = await tampered(backend, 'payload', (db) => {
      const row = db.prepare('SELECT payload FROM evidence WHERE log_index = 2').get() as { payload: Buffer };
      const p = Buffer.from(row.payload);
      p[p.length - 3] = (p[p.length - 3] ?? 0) ^ 1;
      db.prepare('UPDATE evidence SET payload = ? WHERE log_index = 2').run(p);
    });
    assert.equal(r.ok, false);
    assert.match(problems(r), /evidence log index 2: the stored payload does not match its recorded sha256/);
    assert.match(problems(r), /DSSE signature does not verify/);
  });

  test('a deleted evidence row and an inserted one are found', async () => {
    const del = await tampered(backend, 'deleted', (db) => {
      db.prepare('DELETE FROM evidence_subject WHERE evidence_id = (SELECT id FROM evidence WHERE log_index = 1)').run();
      db.prepare('DELETE FROM evidence WHERE log_index = 1').run();
    });
    assert.match(problems(del), /evidence log index 1: the log entry has no evidence row \(deleted row\)/);
    assert.match(problems(del), /graph log index 1: graph edges name evidence that does not exist/);
    const ins = await tampered(backend, 'inserted', (db) => {
      db.prepare(`INSERT INTO evidence (log_index, payload_sha256, payload_type, payload, signature, certificate_id, predicate_type, integrated_time, entry_timestamp, checkpoint_size)
        SELECT 99, payload_sha256, payload_type, payload, signature, certificate_id, predicate_type, integrated_time, entry_timestamp, checkpoint_size FROM evidence WHERE log_index = 0`).run();
    });
    assert.match(problems(ins), /evidence log index 99: an evidence row for a log entry that does not exist/);
  });

  test('an edited time breaks the signed entry timestamp; an edited tree row breaks the log', async () => {
    const time = await tampered(backend, 'time', (db) => db.prepare('UPDATE evidence SET integrated_time = integrated_time - 86400 WHERE log_index = 3').run());
    assert.match(problems(time), /log index 3: the signed entry timestamp does not verify/);
    const leaf = await tampered(backend, 'leaf', (db) => db.prepare(db.dialect === 'postgres'
      ? "UPDATE tlog_leaves SET data = convert_to(replace(convert_from(data, 'UTF8'), 'sha256', 'sha512'), 'UTF8') WHERE idx = 4"
      : "UPDATE tlog_leaves SET data = CAST(REPLACE(CAST(data AS TEXT), 'sha256', 'sha512') AS BLOB) WHERE idx = 4").run());
    assert.equal(leaf.ok, false);
    assert.match(problems(leaf), /log (tree|checkpoint)/);
  });

  test('inserted, deleted and edited graph edges are found against their evidence', async () => {
    const ins = await tampered(backend, 'edge-ins', (db) => {
      const a = db.prepare("SELECT id FROM g_node WHERE kind = 'artifact' LIMIT 1").get() as { id: number };
      const c = db.prepare("SELECT id FROM g_node WHERE kind = 'component' LIMIT 1").get() as { id: number };
      db.prepare("INSERT INTO g_edge (src, verb, dst, log_index, observed_at, props) VALUES (?, 'deployed-as', ?, 0, 0, NULL)").run(a.id, c.id);
    });
    assert.match(problems(ins), /graph log index 0: edge artifact sha256:0+ deployed-as component .* is not in its evidence \(inserted or edited edge\)/);
    const del = await tampered(backend, 'edge-del', (db) => db.prepare("DELETE FROM g_edge WHERE id = (SELECT MIN(id) FROM g_edge WHERE verb = 'contains')").run());
    assert.match(problems(del), /edge artifact .* contains component .* of this evidence is missing \(deleted edge\)/);
    const edit = await tampered(backend, 'edge-edit', (db) => {
      db.prepare("INSERT INTO g_node (kind, key, name, version) VALUES ('component', 'pkg:npm/evil@6.6.6', 'pkg:npm/evil', '6.6.6')").run();
      db.prepare("UPDATE g_edge SET dst = (SELECT id FROM g_node WHERE key = 'pkg:npm/evil@6.6.6') WHERE id = (SELECT MIN(id) FROM g_edge WHERE verb = 'contains')").run();
    });
    assert.match(problems(edit), /inserted or edited edge/);
    assert.match(problems(edit), /deleted edge/);
    // depends-on edges live in g_dep (schema 0305) and are checked the same way
    const dep = await tampered(backend, 'dep-del', (db) => db.prepare('DELETE FROM g_dep WHERE log_index = 2').run());
    assert.match(problems(dep), /graph log index 2: edge component .* depends-on component .* of this evidence is missing \(deleted edge\)/);
    // A node deleted from under its edges (SQLite's foreign keys switched off first; PostgreSQL keeps none on edges).
    const node = await tampered(backend, 'node-del', (db) => {
      db.pragma('foreign_keys = OFF');
      db.prepare("DELETE FROM g_node WHERE id = (SELECT dst FROM g_edge WHERE verb = 'contains' ORDER BY id LIMIT 1)").run();
    });
    assert.match(problems(node), /graph log index \d+: (a graph edge names a node|\d+ graph edges name nodes) that do(es)? not exist \(deleted node\)/);
  });

  test('the current state (newest scans, findings, deployments, alias pairs) is checked against the edges, and graph rebuild repairs it', async () => {
    const { dir, store } = await makeFactory(backend, 'current', { operate: true });
    let f = Factory.open(dir);
    const answer = (): string => JSON.stringify([new GraphQueries(f.db).affected('CVE-2026-4242'), new GraphQueries(f.db).blastRadius('pkg:npm/ms')]);
    let before: string;
    try {
      const r = fsck(f);
      assert.equal(r.ok, true, problems(r));
      assert.ok(r.currentChecked >= 3 + 3 + 1 + 2, `current-state rows checked: ${r.currentChecked}`);
      before = answer();
      assert.equal(new GraphQueries(f.db).affected('CVE-2026-4242').artifacts.length, 3);
      assert.equal(new GraphQueries(f.db).affected('CVE-2026-4242').deployments.length, 1);
    } finally {
      f.close();
    }
    const db = openDb(store);
    try {
      db.prepare('DELETE FROM g_cur_finding WHERE artifact = (SELECT MIN(artifact) FROM g_cur_finding)').run();
      db.prepare('UPDATE g_cur_scan SET log_index = 0 WHERE artifact = (SELECT MAX(artifact) FROM g_cur_scan)').run();
      // An edited workload key first (the row a deployments answer prints), then an inserted row.
      db.prepare("UPDATE g_cur_deployed SET workload = 'prod/default/Deployment/elsewhere'").run();
      db.prepare("INSERT INTO g_cur_deployed (artifact, deployment, log_index, digest, workload, observed_at, revoked_at) SELECT MAX(artifact), MAX(deployment), 1, MAX(digest), MAX(workload), 0, NULL FROM g_cur_deployed").run();
      db.prepare('DELETE FROM g_alias WHERE a = (SELECT MIN(a) FROM g_alias)').run();
    } finally {
      db.close();
    }
    f = Factory.open(dir);
    try {
      const r = fsck(f);
      assert.equal(r.ok, false);
      const text = problems(r);
      assert.match(text, /graph current state: current finding .* is missing \(deleted row\)/);
      assert.match(text, /graph current state: artifact node \d+: newest scan is stored as 0 but the edges give \d+/);
      assert.match(text, /graph current state: current deployment .* is not what the edges give \(inserted or edited row\)/);
      assert.match(text, /graph current state: current deployment .*prod\/default\/Deployment\/elsewhere.* is not what the edges give \(inserted or edited row\)/);
      assert.match(text, /graph current state: alias pair .* is missing \(deleted row\)/);
      assert.notEqual(answer(), before, 'the tampered rows change the answers');
      rebuildGraph(f.graph);
      const again = fsck(f);
      assert.equal(again.ok, true, problems(again));
      assert.equal(answer(), before);
    } finally {
      f.close();
    }
  });

  test('a store from before the current state derives it on open, with the same answers', async () => {
    const { dir, store } = await makeFactory(backend, 'upgrade', { operate: true });
    let f = Factory.open(dir);
    const answer = (): string => JSON.stringify([new GraphQueries(f.db).affected('GHSA-fsck-ms00-0001'), new GraphQueries(f.db).provenance(`sha256:${'0'.repeat(64)}`).deployments]);
    const before = answer();
    f.close();
    const db = openDb(store);
    try {
      for (const t of ['g_cur_scan', 'g_cur_finding', 'g_cur_deployed', 'g_alias']) db.prepare(`DELETE FROM ${t}`).run();
      db.prepare("DELETE FROM g_state WHERE key = 'current-state'").run();
    } finally {
      db.close();
    }
    f = Factory.open(dir);
    try {
      assert.equal(answer(), before);
      const r = fsck(f);
      assert.equal(r.ok, true, problems(r));
    } finally {
      f.close();
    }
  });

  test('statements written by an ssf that does not keep the current state are taken in at the next open, or the next write', async () => {
    const { dir, store } = await makeFactory(backend, 'catch-up', { operate: true });
    let f = Factory.open(dir);
    const answer = (): string => JSON.stringify([new GraphQueries(f.db).affected('CVE-2026-4242'), new GraphQueries(f.db).provenance(`sha256:${'0'.repeat(64)}`).deployments]);
    const before = answer();
    const last = Number(f.db.prepare('SELECT MAX(log_index) FROM evidence').pluck().get());
    f.close();
    // As if the rescan's scans and the deployment record (log indices 6..last) had been written
    // by an older ssf: their edges are there, the current state knows nothing of them.
    const forget = (): void => {
      const db = openDb(store);
      try {
        for (const t of ['g_cur_scan', 'g_cur_finding', 'g_cur_deployed', 'g_alias']) db.prepare(`DELETE FROM ${t}`).run();
        db.prepare("UPDATE g_state SET value = '5' WHERE key = 'current-through'").run();
      } finally {
        db.close();
      }
    };
    forget();
    f = Factory.open(dir);
    try {
      assert.equal(answer(), before, 'caught up on open');
      assert.equal(fsck(f).ok, true);
      assert.equal(f.graph.getState('current-through'), String(last));
    } finally {
      f.close();
    }
    forget();
    const db = openDb(store);
    const g = new (await import('../graph/index.js')).GraphStore(db, { trustDomain: TD });
    try {
      // Opening caught up already; forget again, so that the write itself must catch up.
      for (const t of ['g_cur_scan', 'g_cur_finding', 'g_cur_deployed', 'g_alias']) db.prepare(`DELETE FROM ${t}`).run();
      db.prepare("UPDATE g_state SET value = '5' WHERE key = 'current-through'").run();
      db.transaction(() => g.write([], { logIndex: last + 1, signer: `spiffe://${TD}/x`, integratedTime: 0 }))();
      assert.equal(g.getState('current-through'), String(last + 1));
    } finally {
      db.close();
    }
    f = Factory.open(dir);
    try {
      assert.equal(answer(), before, 'caught up by the write');
    } finally {
      f.close();
    }
  });

  test('SIGKILL during ingest leaves a store that opens and passes fsck', async () => {
    const { dir } = await makeFactory(backend, 'killed');
    const script = join(tmp, 'ingest.mjs');
    const dist = (p: string): string => JSON.stringify(new URL(`../../src/${p}`, import.meta.url).href);
    writeFileSync(script, `
      import { Factory } from ${dist('factory/index.js')};
      import { makeStatement } from ${dist('attest/index.js')};
      import { PREDICATE, readLockfile, toCycloneDx } from ${dist('analysis/index.js')};
      const f = Factory.open(${JSON.stringify(dir)});
      const sbom = toCycloneDx(readLockfile(${JSON.stringify(join(root, 'bench/fixtures/sbom-1200/package-lock.json'))}));
      const id = await f.issueIdentity(['run', 'r', 'task', 'sbom', 'node', 'n']);
      for (let i = 0; ; i++) {
        f.attest([{ statement: makeStatement([{ name: 'x', digest: { sha256: (i + 1000).toString(16).padStart(64, 'e') } }], PREDICATE.cyclonedx, sbom), identity: id }]);
        process.stdout.write('.');
      }
    `);
    const child = spawn(process.execPath, [script], { stdio: ['ignore', 'pipe', 'pipe'] });
    let dots = 0;
    let err = '';
    child.stderr.on('data', (c: Buffer) => (err += c.toString()));
    await new Promise<void>((resolve, reject) => {
      child.stdout.on('data', (c: Buffer) => {
        dots += c.toString().length;
        // Kill it mid-stream, after a few SBOMs of ~1,200 components committed.
        if (dots >= 3) {
          child.kill('SIGKILL');
          resolve();
        }
      });
      child.on('exit', (code) => (code !== null ? reject(new Error(`ingest exited ${code}: ${err}`)) : undefined));
    });
    await new Promise((r) => child.on('close', r));
    const f = Factory.open(dir);
    try {
      const r = fsck(f);
      assert.equal(r.ok, true, problems(r));
      assert.ok(r.evidenceChecked >= 6 + 3, `ingested ${r.evidenceChecked - 6}`);
      // every committed SBOM has all its contains edges (none half-written)
      const per = f.db.prepare(`SELECT e.log_index, COUNT(*) AS n FROM g_edge e WHERE e.verb = 'contains' AND e.log_index >= 6 GROUP BY e.log_index`).all() as { n: number }[];
      assert.ok(per.length >= 3 && new Set(per.map((x) => Number(x.n))).size === 1, JSON.stringify(per));
    } finally {
      f.close();
    }
  });
});
