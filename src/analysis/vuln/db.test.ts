import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { cpSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { rejectsCode, throwsCode } from '../../core/testing.js';
import { VulnDb } from './index.js';
import { OSV_VECTORS, npmComponent, sbomOf, zipBytes } from './testing.js';

const ADVISORIES = join(OSV_VECTORS, 'advisories');
const REAL_IDS = readdirSync(ADVISORIES).filter((f) => f.startsWith('GHSA-')).map((f) => f.slice(0, -5)).sort();

function tmp(t: { after(fn: () => void): void }): string {
  const d = mkdtempSync(join(tmpdir(), 'ssf-vuln-'));
  t.after(() => rmSync(d, { recursive: true, force: true }));
  return d;
}

function openDb(t: { after(fn: () => void): void }, dir: string): VulnDb {
  const db = VulnDb.open(join(dir, 'db', 'osv.db'));
  t.after(() => db.close());
  return db;
}

function record(id: string, modified: string, extra: Record<string, unknown> = {}): string {
  return JSON.stringify({
    id,
    modified,
    affected: [{ package: { ecosystem: 'npm', name: 'left-pad' }, ranges: [{ type: 'SEMVER', events: [{ introduced: '0' }, { fixed: '2.0.0' }] }] }],
    ...extra,
  });
}

function realText(id: string): string {
  return readFileSync(join(ADVISORIES, `${id}.json`), 'utf8');
}

test('nothing imported: info() is VULNDB_MISSING; the file and its directories are created', (t) => {
  const dir = tmp(t);
  const db = openDb(t, dir);
  throwsCode(() => db.info(), 'VULNDB_MISSING');
  throwsCode(() => db.load(), 'VULNDB_MISSING');
  assert.ok(readdirSync(join(dir, 'db')).includes('osv.db'));
});

test('a directory of real advisories: malformed files skipped with a warning, info stable, re-import unchanged', async (t) => {
  const dir = tmp(t);
  const db = openDb(t, dir);
  const s = await db.import(ADVISORIES);
  // SOURCES.json is a JSON array, not an OSV record: skipped, named in a warning.
  assert.deepEqual([s.added, s.updated, s.unchanged, s.withdrawn, s.skipped], [REAL_IDS.length, 0, 0, 0, 1]);
  assert.equal(s.warnings.length, 1);
  assert.match(s.warnings[0] as string, /SOURCES\.json/);
  assert.equal(s.info.advisories, REAL_IDS.length);
  assert.equal(s.info.date, '2024-06-17T19:09:12Z', 'the newest modified (GHSA-3h5v-q93c-6h6q)');
  assert.equal(s.info.source, ADVISORIES);
  assert.match(s.info.digest, /^sha256:[0-9a-f]{64}$/);
  assert.deepEqual(db.info(), s.info);

  const again = await db.import(ADVISORIES);
  assert.deepEqual([again.added, again.updated, again.unchanged], [0, 0, REAL_IDS.length]);
  assert.equal(again.info.digest, s.info.digest);

  // Another database filled from the same records in another order has the same digest.
  const other = openDb(t, join(dir, 'other'));
  for (const id of [...REAL_IDS].reverse()) await other.import(join(ADVISORIES, `${id}.json`));
  assert.equal(other.info().digest, s.info.digest);
  assert.equal(other.info().source, join(ADVISORIES, `${REAL_IDS[0]}.json`));

  const idx = db.load();
  assert.equal(idx.size, REAL_IDS.length);
  assert.deepEqual(idx.info, s.info);
  assert.equal(db.load(['npm']).size, REAL_IDS.length);
  assert.equal(db.load(['PyPI']).size, 0);
});

test('incremental by modified: newer replaces, older and equal are unchanged; the info follows', async (t) => {
  const dir = tmp(t);
  const db = openDb(t, dir);
  const f = join(dir, 'a.json');
  writeFileSync(f, record('TEST-1', '2024-01-01T00:00:00Z', { summary: 'first' }));
  assert.equal((await db.import(f)).added, 1);
  const d1 = db.info().digest;

  writeFileSync(f, record('TEST-1', '2023-12-31T23:59:59.999Z', { summary: 'older' }));
  assert.equal((await db.import(f)).unchanged, 1);
  writeFileSync(f, record('TEST-1', '2024-01-01T00:00:00Z', { summary: 'same time' }));
  assert.equal((await db.import(f)).unchanged, 1);
  assert.equal(db.info().digest, d1);
  assert.equal(db.load().match(sbomOf([npmComponent('left-pad', '1.0.0')])).findings[0]?.summary, 'first');

  // Fractions of a second and offsets count: 00:00:00.5Z is later than 00:00:00Z.
  writeFileSync(f, record('TEST-1', '2024-01-01T00:00:00.5Z', { summary: 'newer' }));
  const s = await db.import(f);
  assert.equal(s.updated, 1);
  assert.notEqual(s.info.digest, d1);
  assert.equal(s.info.date, '2024-01-01T00:00:00.5Z');
  assert.equal(db.load().match(sbomOf([npmComponent('left-pad', '1.0.0')])).findings[0]?.summary, 'newer');
});

test('withdrawn records are stored, never matched, and an older copy does not bring them back', async (t) => {
  const dir = tmp(t);
  const db = openDb(t, dir);
  const f = join(dir, 'a.json');
  writeFileSync(f, record('TEST-1', '2024-01-01T00:00:00Z'));
  await db.import(f);
  const sbom = sbomOf([npmComponent('left-pad', '1.0.0')]);
  assert.equal(db.load().match(sbom).findings.length, 1);

  writeFileSync(f, record('TEST-1', '2024-03-01T00:00:00Z', { withdrawn: '2024-03-01T00:00:00Z' }));
  const s = await db.import(f);
  assert.deepEqual([s.updated, s.withdrawn], [1, 1]);
  assert.equal(s.info.advisories, 1, 'still counted: it is in the database');
  assert.equal(db.load().size, 0);
  assert.equal(db.load().match(sbom).findings.length, 0);

  writeFileSync(f, record('TEST-1', '2024-01-01T00:00:00Z'));
  assert.equal((await db.import(f)).unchanged, 1);
  assert.equal(db.load().match(sbom).findings.length, 0);
});

test('single-file imports fail on malformed records and name the field; nothing is committed', async (t) => {
  const dir = tmp(t);
  const db = openDb(t, dir);
  const f = join(dir, 'bad.json');
  for (const [text, field] of [
    ['{not json', /not valid JSON/],
    ['[]', /the document must be a JSON object/],
    [JSON.stringify({ id: 'X-1' }), /modified/],
    [JSON.stringify({ id: 'X-1', modified: 'yesterday' }), /modified must be an RFC 3339 timestamp/],
    [JSON.stringify({ id: 'X-1', modified: '2024-01-01T00:00:00Z', affected: [{ package: { name: 'p' } }] }), /affected\[0\]\.package/],
    [JSON.stringify({ id: 'X-1', modified: '2024-01-01T00:00:00Z', affected: [{ ranges: [{ type: 'SEMVER', events: [{ introduced: 1 }] }] }] }), /affected\[0\]\.ranges\[0\]\.events\[0\]/],
  ] as const) {
    writeFileSync(f, text);
    await assert.rejects(db.import(f), (e: Error & { code?: string }) => e.code === 'VULNDB_INVALID' && field.test(e.message) && e.message.includes(f));
  }
  throwsCode(() => db.info(), 'VULNDB_MISSING');
  await rejectsCode(db.import(join(dir, 'missing.json')), 'FILE_NOT_FOUND');
  mkdirSync(join(dir, 'empty'));
  await rejectsCode(db.import(join(dir, 'empty')), 'VULNDB_INVALID');
});

test('a 2 GB file is refused from its size alone', async (t) => {
  const dir = tmp(t);
  const db = openDb(t, dir);
  const big = join(dir, 'all.zip');
  writeFileSync(big, '');
  truncateSync(big, 2 * 1024 * 1024 * 1024); // sparse: no disk space, no bytes read
  await rejectsCode(db.import(big), 'INPUT_TOO_LARGE');
  const json = join(dir, 'big.json');
  writeFileSync(json, '');
  truncateSync(json, 64 * 1024 * 1024);
  await rejectsCode(db.import(json), 'INPUT_TOO_LARGE');
});

test('warnings are bounded: the first 100, then a count of the rest', async (t) => {
  const dir = tmp(t);
  const db = openDb(t, dir);
  const src = join(dir, 'src');
  mkdirSync(join(src, 'nested', 'deeper'), { recursive: true });
  for (let i = 0; i < 150; i++) writeFileSync(join(src, `bad-${String(i).padStart(3, '0')}.json`), '{');
  writeFileSync(join(src, 'nested', 'deeper', 'good.json'), record('TEST-1', '2024-01-01T00:00:00Z'));
  writeFileSync(join(src, 'README.md'), '# not an advisory');
  mkdirSync(join(src, '.git'));
  writeFileSync(join(src, '.git', 'hidden.json'), record('TEST-HIDDEN', '2024-01-01T00:00:00Z'));
  const s = await db.import(src);
  assert.deepEqual([s.added, s.skipped], [1, 150]);
  assert.equal(s.warnings.length, 101);
  assert.equal(s.warnings[100], '… and 50 more warnings');
});

test('zip archives: .json entries imported whatever their names, other entries ignored, malformed entries skipped', async (t) => {
  const dir = tmp(t);
  const db = openDb(t, dir);
  const z = join(dir, 'all.zip');
  writeFileSync(
    z,
    zipBytes([
      { name: '../../escape.json', data: record('TEST-DOTDOT', '2024-01-01T00:00:00Z') },
      { name: '/etc/absolute.json', data: record('TEST-ABS', '2024-01-01T00:00:00Z'), method: 0 },
      { name: 'dir/', data: '' },
      { name: 'README.md', data: 'hello' },
      { name: 'broken.json', data: '{"id": 3}' },
      { name: 'GHSA-xvch-5gv4-984h.json', data: realText('GHSA-xvch-5gv4-984h') },
    ]),
  );
  const s = await db.import(z);
  assert.deepEqual([s.added, s.skipped], [3, 1]);
  assert.match(s.warnings[0] as string, /broken\.json/);
  const r = db.load().match(sbomOf([npmComponent('left-pad', '1.0.0'), npmComponent('minimist', '1.2.5')]));
  assert.deepEqual(r.findings.map((f) => f.id).sort(), ['GHSA-xvch-5gv4-984h', 'TEST-ABS', 'TEST-DOTDOT']);
});

test('zip bombs and damaged archives fail the whole archive; nothing from it is committed', async (t) => {
  const dir = tmp(t);
  const db = openDb(t, dir);
  await db.import(join(ADVISORIES, 'GHSA-35jh-r3h4-6jhm.json'));
  const before = db.info();
  const good = { name: 'good.json', data: record('TEST-GOOD', '2024-01-01T00:00:00Z') };

  // One entry that expands to 64 MiB (deflate ratio ~1000:1): over the per-advisory limit.
  const bomb = join(dir, 'bomb.zip');
  writeFileSync(bomb, zipBytes([good, { name: 'bomb.json', data: Buffer.alloc(64 * 1024 * 1024, 0x20) }]));
  await assert.rejects(db.import(bomb), (e: Error & { code?: string }) => e.code === 'VULNDB_INVALID' && /bomb\.json.*limit/.test(e.message));

  // A valid 2 MiB advisory that compresses ~1000:1: under the size limit, over the ratio limit.
  const dense = join(dir, 'dense.zip');
  writeFileSync(dense, zipBytes([good, { name: 'dense.json', data: record('TEST-DENSE', '2024-01-01T00:00:00Z', { details: 'A'.repeat(2 * 1024 * 1024) }) }]));
  await assert.rejects(db.import(dense), (e: Error & { code?: string }) => e.code === 'VULNDB_INVALID' && /compression ratio/.test(e.message));

  // A truncated archive (the end of central directory is gone).
  const whole = zipBytes([good, { name: 'x.json', data: realText('GHSA-xvch-5gv4-984h') }]);
  const truncated = join(dir, 'truncated.zip');
  writeFileSync(truncated, whole.subarray(0, Math.floor(whole.length / 2)));
  await rejectsCode(db.import(truncated), 'VULNDB_INVALID');

  // Entry data damaged after the good entry (CRC mismatch on the second entry).
  const damaged = Buffer.from(whole);
  const second = damaged.indexOf(Buffer.from('x.json')) + 'x.json'.length + 5;
  damaged[second] = (damaged[second] as number) ^ 0xff;
  const bad = join(dir, 'damaged.zip');
  writeFileSync(bad, damaged);
  await rejectsCode(db.import(bad), 'VULNDB_INVALID');

  // A stored (uncompressed) entry with one byte changed: only the CRC-32 tells.
  const stored = zipBytes([good, { name: 'y.json', data: record('TEST-Y', '2024-01-01T00:00:00Z'), method: 0 }]);
  const at = stored.indexOf(Buffer.from('TEST-Y'));
  stored[at + 5] = 0x5a; // TEST-Y -> TEST-Z: still valid JSON, still a valid record
  const flipped = join(dir, 'flipped.zip');
  writeFileSync(flipped, stored);
  await assert.rejects(db.import(flipped), (e: Error & { code?: string }) => e.code === 'VULNDB_INVALID' && /CRC-32/.test(e.message));

  assert.deepEqual(db.info(), before);
  assert.equal(db.load().size, 1);
});

function serve(t: { after(fn: () => void): void }, routes: Record<string, Buffer>): Promise<string> {
  const server: Server = createServer((req, res) => {
    const body = routes[(req.url ?? '').split('?')[0] ?? ''];
    if (!body) {
      res.writeHead(404).end('not found');
      return;
    }
    res.writeHead(200, { 'content-type': 'application/octet-stream' });
    // Chunked, no content-length: the size limit must hold while streaming.
    res.write(body.subarray(0, 1));
    res.end(body.subarray(1));
  });
  t.after(() => server.close());
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve(`http://127.0.0.1:${(server.address() as AddressInfo).port}`)));
}

test('URL import: a zip built by the zip command, a single .json, HTTP errors and size limits', async (t) => {
  const dir = tmp(t);
  const db = openDb(t, dir);
  const tree = join(dir, 'tree');
  cpSync(ADVISORIES, tree, { recursive: true });
  rmSync(join(tree, 'SOURCES.json'));
  const zipFile = join(dir, 'all.zip');
  execFileSync('/usr/bin/zip', ['-q', '-r', '-X', zipFile, '.'], { cwd: tree });
  const zip = readFileSync(zipFile);
  const base = await serve(t, { '/npm/all.zip': zip, '/one.json': Buffer.from(realText('GHSA-3h5v-q93c-6h6q')) });

  const s = await db.import(`${base}/npm/all.zip?token=secret`);
  assert.deepEqual([s.added, s.skipped], [REAL_IDS.length, 0]);
  assert.equal(s.info.source, `${base}/npm/all.zip`, 'the query (tokens) is not stored');
  const again = await db.import(`${base}/one.json`);
  assert.equal(again.unchanged, 1);

  await assert.rejects(db.import(`${base}/missing.zip`), (e: Error & { code?: string }) => e.code === 'FETCH_FAILED' && /HTTP 404/.test(e.message));
  await rejectsCode(db.import(`${base}/npm/all.zip`, { maxBytes: 1000 }), 'INPUT_TOO_LARGE');
  await rejectsCode(db.import('ftp://127.0.0.1/all.zip'), 'USAGE');
  await rejectsCode(db.import('http://127.0.0.1:1/all.zip'), 'FETCH_FAILED');
  // An injected fetch is used instead of the global one.
  let calls = 0;
  const fake: typeof fetch = async () => {
    calls++;
    return new Response(zip);
  };
  assert.equal((await db.import('https://osv.invalid/all.zip', { fetch: fake })).unchanged, REAL_IDS.length);
  assert.equal(calls, 1);
  assert.equal(db.info().source, 'https://osv.invalid/all.zip');
});

test('the database persists across opens; a foreign file is refused', async (t) => {
  const dir = tmp(t);
  const path = join(dir, 'osv.db');
  const a = VulnDb.open(path);
  const s = await a.import(ADVISORIES);
  a.close();
  const b = VulnDb.open(path);
  t.after(() => b.close());
  assert.deepEqual(b.info(), s.info);
  assert.equal(b.load().size, REAL_IDS.length);
  const junk = join(dir, 'junk.db');
  writeFileSync(junk, 'this is not sqlite'.repeat(100));
  throwsCode(() => VulnDb.open(junk), 'VULNDB_INVALID');
});

test('one import at a time per database', async (t) => {
  const dir = tmp(t);
  const db = openDb(t, dir);
  const first = db.import(ADVISORIES);
  await rejectsCode(db.import(ADVISORIES), 'VULNDB_INVALID');
  assert.equal((await first).added, REAL_IDS.length);
  assert.equal((await db.import(ADVISORIES)).unchanged, REAL_IDS.length, 'free again afterwards');
});

test('changes by import number: each import numbers what it adds or updates, whatever their modified times', async (t) => {
  const dir = tmp(t);
  const db = openDb(t, dir);
  const f = join(dir, 'c.json');
  assert.equal(db.changeSeq(), 0);
  assert.match(db.databaseId(), /^[0-9a-f-]{36}$/);
  writeFileSync(f, record('TEST-NEW', '2025-01-01T00:00:00Z'));
  await db.import(f);
  assert.equal(db.changeSeq(), 1);
  // Older than the newest record, but new to the database.
  writeFileSync(f, record('TEST-OLD', '2019-01-01T00:00:00Z'));
  await db.import(f);
  // Unchanged re-import: a new import number, but nothing carries it.
  writeFileSync(f, record('TEST-NEW', '2025-01-01T00:00:00Z'));
  await db.import(f);
  assert.equal(db.changeSeq(), 3);
  assert.deepEqual(db.changedSince({ seq: 1 }).map((x) => x.id), ['TEST-OLD']);
  assert.deepEqual(db.changedSince({ seq: 3 }), []);
  assert.deepEqual(db.changedSince(undefined).map((x) => x.id).sort(), ['TEST-NEW', 'TEST-OLD']);
  // The id belongs to the file: another file has another.
  const other = VulnDb.open(join(dir, 'other', 'osv.db'));
  t.after(() => other.close());
  assert.notEqual(other.databaseId(), db.databaseId());
});

test('a schema 1 database (before import numbers) is upgraded to schema 2 in place; a newer schema is refused', async (t) => {
  const dir = tmp(t);
  const path = join(dir, 'db', 'osv.db');
  const f = join(dir, 'u.json');
  writeFileSync(f, record('TEST-U', '2024-01-01T00:00:00Z'));
  let db = VulnDb.open(path);
  await db.import(f);
  db.close();
  const Database = (await import('better-sqlite3')).default;
  const raw = new Database(path);
  raw.prepare("UPDATE osv_meta SET value = '1' WHERE key = 'schema'").run();
  raw.close();
  db = VulnDb.open(path);
  assert.deepEqual(db.changedSince({ seq: 0 }).map((x) => x.id), ['TEST-U']);
  db.close();
  const again = new Database(path);
  assert.equal((again.prepare("SELECT value FROM osv_meta WHERE key = 'schema'").get() as { value: string }).value, '2');
  again.prepare("UPDATE osv_meta SET value = '3' WHERE key = 'schema'").run();
  again.close();
  assert.throws(() => VulnDb.open(path), (e: Error & { code?: string }) => e.code === 'VULNDB_INVALID' && /has schema 3, this ssf reads 2/.test(e.message));
});
