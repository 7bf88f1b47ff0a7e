import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { isSsfError } from '../core/index.js';
import { rejectsCode } from '../core/testing.js';
import { contentPath } from './cacache.js';
import { FakeRegistry, lockfileFor, makeTarball, type Tarball } from './fixtures.js';
import { parseNpmLockfile, type LockedPackage } from './lockfile.js';
import { compareSemver, npmCiArgs, NpmMirror } from './mirror.js';
import { parseIntegrity } from './sri.js';

const reg = new FakeRegistry();
let tmp: string;
let a: Tarball;
let b: Tarball;
let scoped: Tarball;

before(async () => {
  tmp = mkdtempSync(join(tmpdir(), 'ssf-mirror-'));
  a = await makeTarball('alpha', '1.0.0', { 'index.js': "module.exports = 'alpha';\n" });
  b = await makeTarball('beta', '2.1.0', { 'index.js': "module.exports = 'beta';\n" });
  scoped = await makeTarball('@ssf-test/gamma', '0.1.0-rc.1');
  for (const t of [a, b, scoped]) reg.add(t);
  await reg.start();
});
after(async () => {
  await reg.stop();
  rmSync(tmp, { recursive: true, force: true });
});

function pkgs(ts: Tarball[], registry = reg.url): LockedPackage[] {
  return parseNpmLockfile(lockfileFor('p', ts), 'package-lock.json', { registry, allowedRegistries: [] }).packages;
}

function allFiles(dir: string): string[] {
  return existsSync(dir) ? (readdirSync(dir, { recursive: true }) as string[]).filter((f) => statSync(join(dir, f)).isFile()) : [];
}

test('ensure fetches, verifies and stores by digest in the npm cache layout; a repeat fetches nothing', async () => {
  const m = new NpmMirror(join(tmp, 'm1'));
  const list = pkgs([a, b, scoped]);
  reg.requests.length = 0;
  const s1 = await m.ensure(list);
  assert.deepEqual(s1, { packages: 3, fetched: 3, cached: 0, bytesFetched: a.bytes.length + b.bytes.length + scoped.bytes.length });
  assert.equal(reg.requests.length, 3);
  assert.ok(reg.requests.includes('/@ssf-test/gamma/-/gamma-0.1.0-rc.1.tgz'));
  const hex = createHash('sha512').update(a.bytes).digest('hex');
  const stored = join(tmp, 'm1', '_cacache', 'content-v2', 'sha512', hex.slice(0, 2), hex.slice(2, 4), hex.slice(4));
  assert.deepEqual(readFileSync(stored), a.bytes);
  assert.equal(statSync(stored).mode & 0o777, 0o444);
  assert.ok(m.has(a.integrity) && m.has(b.integrity) && m.has(scoped.integrity));
  assert.ok(!m.has((await makeTarball('other', '1.0.0')).integrity));
  assert.ok(!m.has('garbage'));
  assert.deepEqual(allFiles(join(tmp, 'm1', '_cacache', 'tmp')), []);

  reg.requests.length = 0;
  const s2 = await m.ensure(list, { offline: true });
  assert.deepEqual(s2, { packages: 3, fetched: 0, cached: 3, bytesFetched: 0 });
  assert.equal(reg.requests.length, 0);
});

test('a tampered tarball is INTEGRITY_MISMATCH and its bytes are never stored', async () => {
  const evil = await makeTarball('delta', '1.0.0', { 'index.js': 'good' });
  const tampered = (await makeTarball('delta', '1.0.0', { 'index.js': 'evil' })).bytes;
  reg.add(evil, tampered);
  const m = new NpmMirror(join(tmp, 'm2'));
  await assert.rejects(m.ensure(pkgs([a, evil])), (e: unknown) => isSsfError(e, 'INTEGRITY_MISMATCH') && e.message.includes('delta@1.0.0'));
  assert.ok(!m.has(evil.integrity));
  const stored = allFiles(join(tmp, 'm2', '_cacache'));
  for (const f of stored) assert.ok(!readFileSync(join(tmp, 'm2', '_cacache', f)).equals(tampered), `tampered bytes stored at ${f}`);
  assert.deepEqual(allFiles(join(tmp, 'm2', '_cacache', 'tmp')), []);
});

test('every hash the lockfile names is checked, not only the strongest', async () => {
  const m = new NpmMirror(join(tmp, 'm3'));
  const list = pkgs([a]);
  const wrongSha1 = `sha1-${createHash('sha1').update('not the tarball').digest('base64')}`;
  list[0] = { ...(list[0] as LockedPackage), integrity: `${a.integrity} ${wrongSha1}` };
  await rejectsCode(m.ensure(list), 'INTEGRITY_MISMATCH');
  assert.ok(!m.has(a.integrity));
});

test('a 404 is FETCH_FAILED naming the package; offline with anything missing is FETCH_FAILED without a request', async () => {
  const missing = await makeTarball('nowhere', '1.0.0');
  const m = new NpmMirror(join(tmp, 'm4'));
  await assert.rejects(m.ensure(pkgs([missing])), (e: unknown) => isSsfError(e, 'FETCH_FAILED') && /nowhere@1\.0\.0/.test(e.message) && /404/.test(e.message));
  reg.requests.length = 0;
  await assert.rejects(m.ensure(pkgs([a, b]), { offline: true }), (e: unknown) => isSsfError(e, 'FETCH_FAILED') && /2 package/.test(e.message));
  assert.equal(reg.requests.length, 0);
});

test('transient 5xx answers are retried; transport errors become FETCH_FAILED', async () => {
  const m = new NpmMirror(join(tmp, 'm5'));
  reg.flaky.set('/beta/-/beta-2.1.0.tgz', 2);
  const s = await m.ensure(pkgs([b]));
  assert.equal(s.fetched, 1);
  const failing: typeof fetch = async () => {
    throw new TypeError('connect ECONNREFUSED');
  };
  await rejectsCode(new NpmMirror(join(tmp, 'm6')).ensure(pkgs([a]), { fetch: failing }), 'FETCH_FAILED');
});

test('concurrency is bounded and duplicate content is fetched once', async () => {
  let inFlight = 0;
  let peak = 0;
  const counting: typeof fetch = async (input, init) => {
    inFlight++;
    peak = Math.max(peak, inFlight);
    try {
      const r = await fetch(input, init);
      return new Response(await r.arrayBuffer(), { status: r.status });
    } finally {
      inFlight--;
    }
  };
  const many: Tarball[] = [];
  for (let i = 0; i < 12; i++) {
    const t = await makeTarball(`pkg${i}`, '1.0.0', { 'i.js': String(i) });
    reg.add(t);
    many.push(t);
  }
  const list = pkgs(many);
  list.push({ ...(list[0] as LockedPackage), path: 'node_modules/x/node_modules/pkg0' });
  const s = await new NpmMirror(join(tmp, 'm7')).ensure(list, { fetch: counting, concurrency: 3 });
  assert.equal(s.packages, 12);
  assert.equal(s.fetched, 12);
  assert.ok(peak <= 3 && peak >= 1, `peak ${peak}`);
  await rejectsCode(new NpmMirror(join(tmp, 'm8')).ensure(list, { concurrency: 0 }), 'USAGE');
});

test('runCache links the tarballs and writes only the index entries for the given packages', async () => {
  const m = new NpmMirror(join(tmp, 'm9'));
  const list = pkgs([a, b, scoped]);
  await m.ensure(list);
  const dest = join(tmp, 'run1');
  const s = await m.runCache(dest, list.slice(0, 2), { now: 1 });
  assert.deepEqual(s, { dir: dest, tarballs: 2, packuments: 2, linked: 2, copied: 0 });
  const mirrored = contentPath(m.cacheDir(), parseIntegrity(a.integrity, 'a').strongest);
  const linked = contentPath(dest, parseIntegrity(a.integrity, 'a').strongest);
  assert.equal(statSync(linked).ino, statSync(mirrored).ino);
  assert.ok(!existsSync(contentPath(dest, parseIntegrity(scoped.integrity, 'c').strongest)));
  await rejectsCode(m.runCache(dest, list), 'IO_FAILED'); // not empty
  await rejectsCode(new NpmMirror(join(tmp, 'empty')).runCache(join(tmp, 'run2'), list), 'FETCH_FAILED');
});

test('runCache chowns what it creates for the sandbox user, never the mirror\'s tarballs', { skip: process.getuid?.() === 0 ? false : 'needs root' }, async () => {
  const m = new NpmMirror(join(tmp, 'm10'));
  const list = pkgs([a]);
  await m.ensure(list);
  const dest = join(tmp, 'run10');
  await m.runCache(dest, list, { uid: 65534, gid: 65534 });
  const linked = contentPath(dest, parseIntegrity(a.integrity, 'a').strongest);
  assert.equal(statSync(dest).uid, 65534);
  assert.equal(statSync(join(dest, '_cacache', 'tmp')).uid, 65534);
  assert.equal(statSync(join(linked, '..')).uid, 65534);
  assert.equal(statSync(linked).uid, 0);
  assert.equal(statSync(contentPath(m.cacheDir(), parseIntegrity(a.integrity, 'a').strongest)).uid, 0);
  const index = allFiles(join(dest, '_cacache', 'index-v5'));
  assert.equal(index.length, 2); // the tarball URL and the packument
  for (const f of index) assert.equal(statSync(join(dest, '_cacache', 'index-v5', f)).uid, 65534);
});

test('a lockfile entry cannot borrow another package\'s cached tarball by naming its integrity', async () => {
  const m = new NpmMirror(join(tmp, 'borrow'));
  await m.ensure(pkgs([a]));
  // "beta" pinned to alpha's bytes: the content is in the mirror, but was never verified as beta's tarball.
  const borrowed = pkgs([{ ...b, integrity: a.integrity }]);
  await rejectsCode(m.ensure(borrowed), 'INTEGRITY_MISMATCH');
  await rejectsCode(m.ensure(borrowed, { offline: true }), 'FETCH_FAILED');
  // Identical content legitimately published under a second name is fetched once from that URL and then reused.
  const twin = await makeTarball('alpha-twin', '1.0.0');
  reg.files.set(`/alpha-twin/-/alpha-twin-1.0.0.tgz`, a.bytes);
  const ok = pkgs([{ ...twin, integrity: a.integrity }]);
  const first = await m.ensure(ok);
  assert.equal(first.fetched, 1);
  assert.equal((await m.ensure(ok, { offline: true })).fetched, 0);
});

test('npmCiArgs: offline, no scripts, the given cache and registry', () => {
  const args = npmCiArgs({ cache: '/c', registry: 'https://r.example/npm/' });
  assert.equal(args[0], 'ci');
  for (const f of ['--offline', '--ignore-scripts', '--no-audit', '--no-fund']) assert.ok(args.includes(f), f);
  assert.equal(args[args.indexOf('--cache') + 1], '/c');
  assert.equal(args[args.indexOf('--registry') + 1], 'https://r.example/npm/');
  assert.equal(npmCiArgs({ registry: 'https://r.example' })[npmCiArgs({ registry: 'https://r.example' }).indexOf('--cache') + 1], '/opt/ssf/npm-cache');
});

test('semver precedence for the packument latest tag', () => {
  const sorted = ['1.0.0', '1.0.0-alpha', '1.0.0-alpha.1', '1.0.0-beta', '1.0.0-alpha.beta', '1.0.0-beta.11', '1.0.0-beta.2', '1.0.0-rc.1', '0.9.9', '10.0.0', '2.0.0+build'].sort(compareSemver);
  assert.deepEqual(sorted, ['0.9.9', '1.0.0-alpha', '1.0.0-alpha.1', '1.0.0-alpha.beta', '1.0.0-beta', '1.0.0-beta.2', '1.0.0-beta.11', '1.0.0-rc.1', '1.0.0', '2.0.0+build', '10.0.0']);
});
