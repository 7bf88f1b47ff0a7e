import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, readlinkSync, rmSync, statSync, symlinkSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import * as tar from 'tar-stream';
import { rejectsCode } from '../core/testing.js';
import { deterministicTarGz } from './index.js';

const root = mkdtempSync(join(tmpdir(), 'ssf-tar-'));
after(() => rmSync(root, { recursive: true, force: true }));
let n = 0;
function fresh(name: string): string {
  const d = join(root, `${name}-${n++}`);
  mkdirSync(d, { recursive: true });
  return d;
}

interface Parsed {
  name: string;
  type: string;
  mode: number;
  uid: number;
  gid: number;
  uname: string;
  gname: string;
  mtime: number;
  size: number;
  linkname: string | null;
  body: Buffer;
}

async function parse(gz: Buffer): Promise<Parsed[]> {
  const ex = tar.extract();
  const out: Parsed[] = [];
  const done = (async () => {
    for await (const entry of ex) {
      const chunks: Buffer[] = [];
      for await (const c of entry) chunks.push(c as Buffer);
      const h = entry.header;
      out.push({ name: h.name, type: h.type as string, mode: h.mode, uid: h.uid, gid: h.gid, uname: h.uname, gname: h.gname, mtime: h.mtime.getTime() / 1000, size: h.size, linkname: h.linkname ?? null, body: Buffer.concat(chunks) });
    }
  })();
  ex.end(gunzipSync(gz));
  await done;
  return out;
}

const BIG = Buffer.alloc(3 * 1024 * 1024 + 17);
for (let i = 0; i < BIG.length; i++) BIG[i] = (i * 7919) % 251;

/** The same tree, written in the given order with the given file modes and times. */
function makeTree(dir: string, reverse: boolean, t: number): void {
  const steps: (() => void)[] = [
    () => mkdirSync(join(dir, 'a/b'), { recursive: true }),
    () => mkdirSync(join(dir, 'a-b'), { recursive: true }),
    () => writeFileSync(join(dir, 'a.txt'), 'a\n', { mode: reverse ? 0o600 : 0o664 }),
    () => writeFileSync(join(dir, 'B.txt'), 'B\n'),
    () => writeFileSync(join(dir, 'run.sh'), '#!/bin/sh\necho hi\n', { mode: reverse ? 0o700 : 0o775 }),
    () => writeFileSync(join(dir, 'big.bin'), BIG),
    () => writeFileSync(join(dir, 'empty'), ''),
  ];
  const after = [
    () => writeFileSync(join(dir, 'a/b/c.txt'), 'c\n'),
    () => writeFileSync(join(dir, 'a-b/d.txt'), 'd\n'),
    () => symlinkSync('a/b/c.txt', join(dir, 'link')),
    () => symlinkSync('..', join(dir, 'a/up')),
  ];
  for (const s of reverse ? steps.reverse() : steps) s();
  for (const s of reverse ? after.reverse() : after) s();
  for (const p of ['a.txt', 'B.txt', 'run.sh', 'a/b/c.txt', 'a-b/d.txt', 'a/b', 'a', 'a-b', '.']) utimesSync(join(dir, p), t, t);
  if (reverse) chmodSync(join(dir, 'a'), 0o700);
}

test('same tree written in a different order with different times and modes gives identical bytes', async () => {
  const one = fresh('one');
  const two = fresh('two');
  makeTree(one, false, 1_600_000_000);
  makeTree(two, true, 1_700_000_123);
  const r1 = await deterministicTarGz(one, join(root, 'one.tgz'), { prefix: 'app/' });
  const r1again = await deterministicTarGz(one, join(root, 'one-again.tgz'), { prefix: 'app/' });
  const r2 = await deterministicTarGz(two, join(root, 'two.tgz'), { prefix: 'app' });
  const b1 = readFileSync(join(root, 'one.tgz'));
  assert.deepEqual(readFileSync(join(root, 'one-again.tgz')), b1);
  assert.deepEqual(readFileSync(join(root, 'two.tgz')), b1);
  assert.deepEqual(r2, r1);
  assert.deepEqual(r1again, r1);
  assert.equal(r1.digest, `sha256:${createHash('sha256').update(b1).digest('hex')}`);
  assert.equal(r1.diffId, `sha256:${createHash('sha256').update(gunzipSync(b1)).digest('hex')}`);
  assert.equal(r1.size, b1.length);
  assert.equal(r1.files, 9);
  // Content does matter: one changed byte changes the digest.
  writeFileSync(join(two, 'a/b/c.txt'), 'C\n');
  const r3 = await deterministicTarGz(two, join(root, 'three.tgz'), { prefix: 'app' });
  assert.notEqual(r3.digest, r1.digest);
  assert.notEqual(r3.diffId, r1.diffId);
});

test('headers: byte-sorted names, fixed mtime, owner 0:0 without names, normalised modes, symlinks kept', async () => {
  const dir = fresh('hdr');
  makeTree(dir, true, 1_650_000_000);
  const out = join(root, 'hdr.tgz');
  await deterministicTarGz(dir, out, { prefix: 'srv/app', mtime: 1_234_567_890 });
  const entries = await parse(readFileSync(out));
  assert.deepEqual(
    entries.map((e) => e.name),
    ['srv/', 'srv/app/', 'srv/app/B.txt', 'srv/app/a-b/', 'srv/app/a-b/d.txt', 'srv/app/a.txt', 'srv/app/a/', 'srv/app/a/b/', 'srv/app/a/b/c.txt', 'srv/app/a/up', 'srv/app/big.bin', 'srv/app/empty', 'srv/app/link', 'srv/app/run.sh'],
  );
  for (const e of entries) {
    assert.equal(e.mtime, 1_234_567_890, e.name);
    assert.equal(e.uid, 0, e.name);
    assert.equal(e.gid, 0, e.name);
    assert.equal(e.uname, '', e.name);
    assert.equal(e.gname, '', e.name);
  }
  const by = new Map(entries.map((e) => [e.name, e]));
  const mode = (name: string): number | undefined => by.get(name)?.mode;
  assert.equal(mode('srv/app/a/'), 0o755); // was 0700 on disk
  assert.equal(mode('srv/app/a.txt'), 0o644); // was 0600
  assert.equal(mode('srv/app/run.sh'), 0o755); // was 0700
  assert.equal(by.get('srv/app/link')?.type, 'symlink');
  assert.equal(by.get('srv/app/link')?.linkname, 'a/b/c.txt');
  assert.equal(by.get('srv/app/a/up')?.linkname, '..');
  assert.equal(by.get('srv/app/a/')?.type, 'directory');
  assert.deepEqual(by.get('srv/app/big.bin')?.body, BIG);
  assert.equal(by.get('srv/app/empty')?.size, 0);
  // Plain ustar: no PAX header anywhere for short ASCII names.
  const raw = gunzipSync(readFileSync(out));
  assert.equal(raw.subarray(257, 263).toString('latin1'), 'ustar\0');
  assert.equal(raw.indexOf(Buffer.from('PaxHeader')), -1);
});

test('PAX headers appear only for names ustar cannot hold', async () => {
  const dir = fresh('pax');
  const long = 'n'.repeat(120);
  writeFileSync(join(dir, long), 'long');
  writeFileSync(join(dir, 'ünïcode.txt'), 'u');
  writeFileSync(join(dir, 'plain.txt'), 'p');
  const out = join(root, 'pax.tgz');
  await deterministicTarGz(dir, out);
  const entries = await parse(readFileSync(out));
  assert.deepEqual(entries.map((e) => e.name), [long, 'plain.txt', 'ünïcode.txt']);
  const raw = gunzipSync(readFileSync(out));
  // Exactly two extended headers (typeflag 'x'), one for each name ustar cannot hold.
  let pax = 0;
  for (let off = 0; off + 512 <= raw.length; off += 512) {
    const block = raw.subarray(off, off + 512);
    if (block[156] === 'x'.charCodeAt(0) && block.subarray(257, 263).toString('latin1') === 'ustar\0') pax++;
  }
  assert.equal(pax, 2);
});

test('gzip header carries no name and no time, a fixed level flag and the Unix OS byte', async () => {
  const dir = fresh('gz');
  writeFileSync(join(dir, 'f'), 'x');
  const out = join(root, 'gz.tgz');
  await deterministicTarGz(dir, out);
  const b = readFileSync(out);
  assert.deepEqual([...b.subarray(0, 4)], [0x1f, 0x8b, 8, 0]); // magic, deflate, FLG=0 (no FNAME)
  assert.deepEqual([...b.subarray(4, 8)], [0, 0, 0, 0]); // MTIME
  assert.equal(b[8], 0); // XFL: 0 for the default level 6 (2 would be level 9, 4 level 1)
  assert.equal(b[9], 3); // OS: Unix
});

test('GNU tar lists and extracts the archive to the same tree', async () => {
  const dir = fresh('gnu');
  makeTree(dir, false, 1_600_000_000);
  const out = join(root, 'gnu.tgz');
  await deterministicTarGz(dir, out, { prefix: 'app' });
  const listing = execFileSync('tar', ['-tvzf', out], { encoding: 'utf8' });
  assert.match(listing, /^lrwxrwxrwx 0\/0 +0 1970-01-01 00:00 app\/link -> a\/b\/c\.txt$/m);
  assert.match(listing, /^-rwxr-xr-x 0\/0 +18 1970-01-01 00:00 app\/run\.sh$/m);
  assert.match(listing, /^drwxr-xr-x 0\/0 +0 1970-01-01 00:00 app\/$/m);
  const x = fresh('gnu-x');
  execFileSync('tar', ['-xzf', out, '-C', x]);
  assert.deepEqual(readFileSync(join(x, 'app/big.bin')), BIG);
  assert.equal(readFileSync(join(x, 'app/a/b/c.txt'), 'utf8'), 'c\n');
  assert.equal(readlinkSync(join(x, 'app/link')), 'a/b/c.txt');
  assert.equal(statSync(join(x, 'app/run.sh')).mode & 0o777, 0o755);
  assert.equal(statSync(join(x, 'app/a.txt')).mtimeMs, 0);
});

test('symlinks that lead outside the directory are refused, including through other links', async () => {
  const cases: [string, (d: string) => void][] = [
    ['absolute', (d) => symlinkSync('/etc/passwd', join(d, 'l'))],
    ['parent', (d) => symlinkSync('../outside', join(d, 'l'))],
    ['deep parent', (d) => (mkdirSync(join(d, 's')), symlinkSync('../../x', join(d, 's/l')))],
    ['through a link', (d) => (mkdirSync(join(d, 'd')), symlinkSync('..', join(d, 'd/up')), symlinkSync('d/up/..', join(d, 'x')))],
    ['loop', (d) => (symlinkSync('b', join(d, 'a')), symlinkSync('a', join(d, 'b')), symlinkSync('a/x', join(d, 'c')))],
  ];
  for (const [name, make] of cases) {
    const d = fresh('esc');
    make(d);
    const out = join(root, `esc-${name}.tgz`);
    await rejectsCode(deterministicTarGz(d, out), 'PATH_ESCAPE');
    assert.equal(existsSync(out), false, name);
  }
  // Links that stay inside are fine, even when they climb through other links.
  const ok = fresh('esc-ok');
  mkdirSync(join(ok, 'd/e'), { recursive: true });
  symlinkSync('..', join(ok, 'd/e/up'));
  symlinkSync('d/e/up/../x', join(ok, 'y'));
  symlinkSync('missing-but-inside', join(ok, 'dangling'));
  const r = await deterministicTarGz(ok, join(root, 'esc-ok.tgz'));
  assert.equal(r.files, 3);
});

test('devices, FIFOs and sockets are refused; a bad prefix is refused; nothing is left behind', async () => {
  const d = fresh('fifo');
  writeFileSync(join(d, 'ok'), 'x');
  execFileSync('mkfifo', [join(d, 'pipe')]);
  const out = join(root, 'fifo.tgz');
  await rejectsCode(deterministicTarGz(d, out), 'INPUT_MALFORMED');
  assert.equal(existsSync(out), false);
  assert.deepEqual(readdirSync(root).filter((f) => f.startsWith('fifo.tgz')), []);
  const d2 = fresh('prefix');
  await rejectsCode(deterministicTarGz(d2, join(root, 'p.tgz'), { prefix: 'app/../../etc' }), 'PATH_ESCAPE');
  await rejectsCode(deterministicTarGz(join(d2, 'missing'), join(root, 'p.tgz')), 'FILE_NOT_FOUND');
  await rejectsCode(deterministicTarGz(d2, join(root, 'p.tgz'), { mtime: -1 }), 'USAGE');
  await rejectsCode(deterministicTarGz(d2, join(d2, 'sub', 'self.tgz')), 'USAGE');
  await rejectsCode(deterministicTarGz(d2, join(root, 'p.tgz'), { mtime: 2 ** 31 }), 'USAGE');
});

test('SOURCE_DATE_EPOCH sets the default mtime; a malformed one is refused; the option wins', async () => {
  const d = fresh('sde');
  writeFileSync(join(d, 'f'), 'x');
  const saved = process.env.SOURCE_DATE_EPOCH;
  try {
    process.env.SOURCE_DATE_EPOCH = '1700000000';
    await deterministicTarGz(d, join(root, 'sde.tgz'));
    assert.deepEqual((await parse(readFileSync(join(root, 'sde.tgz')))).map((e) => e.mtime), [1_700_000_000]);
    await deterministicTarGz(d, join(root, 'sde2.tgz'), { mtime: 5 });
    assert.deepEqual((await parse(readFileSync(join(root, 'sde2.tgz')))).map((e) => e.mtime), [5]);
    process.env.SOURCE_DATE_EPOCH = '17e8';
    await rejectsCode(deterministicTarGz(d, join(root, 'sde3.tgz')), 'USAGE');
  } finally {
    if (saved === undefined) delete process.env.SOURCE_DATE_EPOCH;
    else process.env.SOURCE_DATE_EPOCH = saved;
  }
});

test('an empty directory gives a valid archive with no entries', async () => {
  const d = fresh('empty');
  const out = join(root, 'empty.tgz');
  const r = await deterministicTarGz(d, out);
  assert.equal(r.files, 0);
  assert.deepEqual(await parse(readFileSync(out)), []);
  assert.equal(gunzipSync(readFileSync(out)).length, 1024);
  assert.equal(execFileSync('tar', ['-tzf', out], { encoding: 'utf8' }), '');
});
