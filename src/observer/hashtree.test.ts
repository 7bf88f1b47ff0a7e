import { test } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, unlinkSync, writeFileSync } from 'node:fs';
import { createHash, randomBytes } from 'node:crypto';
import { createServer } from 'node:net';
import { execFileSync, spawnSync } from 'node:child_process';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { rejectsCode, throwsCode } from '../core/testing.js';
import { diffTrees, hashFileSync, hashTree, treeManifest, TREE_MANIFEST_HEADER, type TreeDigest } from './index.js';

const sha = (b: string | Uint8Array): string => createHash('sha256').update(b).digest('hex');

function tempDir(t: { after(fn: () => void): void }): string {
  const d = mkdtempSync(join(tmpdir(), 'ssf-hashtree-'));
  t.after(() => rmSync(d, { recursive: true, force: true }));
  return d;
}

/** A small tree with every kind of entry hashTree supports, including names whose UTF-16 and UTF-8 orders differ. */
function smallTree(root: string): void {
  mkdirSync(join(root, 'src/lib'), { recursive: true });
  mkdirSync(join(root, 'empty'));
  writeFileSync(join(root, 'src/a.ts'), 'export const a = 1;\n');
  writeFileSync(join(root, 'src/lib/b.ts'), '');
  writeFileSync(join(root, 'run.sh'), '#!/bin/sh\necho hi\n');
  chmodSync(join(root, 'run.sh'), 0o744);
  writeFileSync(join(root, 'group-exec-only'), 'x');
  chmodSync(join(root, 'group-exec-only'), 0o654);
  writeFileSync(join(root, 'with space.txt'), 'spaces');
  writeFileSync(join(root, 'src-b'), 'sorts before src/ by bytes');
  writeFileSync(join(root, 'caf\u00e9'), 'accent');
  writeFileSync(join(root, '\ue000private'), 'U+E000 sorts before U+1F600 in UTF-8 but after it in UTF-16');
  writeFileSync(join(root, '\u{1f600}smile'), 'astral');
  symlinkSync('src/a.ts', join(root, 'link-to-file'));
  symlinkSync('../../outside/secret', join(root, 'src/escaping-link'));
  symlinkSync('missing-target', join(root, 'dangling'));
}

test('manifest lines, order and digest for a small tree', async (t) => {
  const root = tempDir(t);
  smallTree(root);
  const tree = await hashTree(root, { workers: 0 });
  const text = treeManifest(tree);
  assert.equal(tree.digest, `sha256:${sha(text)}`);
  assert.equal(
    text,
    TREE_MANIFEST_HEADER +
      `f 644 ${sha('accent')} 6 caf\u00e9\n` +
      `l 000 ${sha('missing-target')} 14 dangling\n` +
      `d 000 - 0 empty\n` +
      `f 644 ${sha('x')} 1 group-exec-only\n` +
      `l 000 ${sha('src/a.ts')} 8 link-to-file\n` +
      `f 755 ${sha('#!/bin/sh\necho hi\n')} 18 run.sh\n` +
      `d 000 - 0 src\n` +
      `f 644 ${sha('sorts before src/ by bytes')} 26 src-b\n` +
      `f 644 ${sha('export const a = 1;\n')} 20 src/a.ts\n` +
      `l 000 ${sha('../../outside/secret')} 20 src/escaping-link\n` +
      `d 000 - 0 src/lib\n` +
      `f 644 ${sha('')} 0 src/lib/b.ts\n` +
      `f 644 ${sha('spaces')} 6 with space.txt\n` +
      `f 644 ${sha('U+E000 sorts before U+1F600 in UTF-8 but after it in UTF-16')} 59 \ue000private\n` +
      `f 644 ${sha('astral')} 6 \u{1f600}smile\n`,
  );
  assert.equal(tree.files, 9);
  assert.equal(tree.bytes, [1, 18, 26, 20, 0, 6, 6, 59, 6].reduce((a, b) => a + b, 0));
  const run = tree.entries.find((e) => e.path === 'run.sh');
  assert.deepEqual(run, { path: 'run.sh', type: 'file', mode: 0o755, size: 18, sha256: sha('#!/bin/sh\necho hi\n') });
  assert.deepEqual(tree.entries.find((e) => e.path === 'empty'), { path: 'empty', type: 'dir', mode: 0, size: 0, sha256: '' });
});

test('an independent shell pipeline (find, sort, stat, readlink, sha256sum) recomputes the digest', async (t) => {
  const root = tempDir(t);
  smallTree(root);
  // The format as docs/hashtree.md states it, rebuilt with standard tools only.
  const script = String.raw`
set -eu
cd "$1"
{
  printf 'ssf-tree-v1\n'
  find . -mindepth 1 -printf '%P\0' | LC_ALL=C sort -z | while IFS= read -r -d '' p; do
    if [ -L "$p" ]; then
      target=$(readlink -- "$p")
      printf 'l 000 %s %s %s\n' "$(printf '%s' "$target" | sha256sum | cut -d' ' -f1)" "$(printf '%s' "$target" | wc -c)" "$p"
    elif [ -d "$p" ]; then
      printf 'd 000 - 0 %s\n' "$p"
    else
      perm=$(stat -c %a -- "$p")
      owner=$(( (0$perm >> 6) & 1 ))
      if [ "$owner" = 1 ]; then mode=755; else mode=644; fi
      printf 'f %s %s %s %s\n' "$mode" "$(sha256sum < "$p" | cut -d' ' -f1)" "$(stat -c %s -- "$p")" "$p"
    fi
  done
} | sha256sum | cut -d' ' -f1
`;
  const out = execFileSync('bash', ['-c', script, 'recompute', root], { encoding: 'utf8', env: { ...process.env, LC_ALL: 'C.UTF-8' } }).trim();
  for (const workers of [0, 2]) {
    const tree = await hashTree(root, { workers });
    assert.equal(tree.digest, `sha256:${out}`);
  }
});

test('an empty tree is the header alone', async (t) => {
  const root = tempDir(t);
  const tree = await hashTree(root);
  assert.deepEqual(tree.entries, []);
  assert.equal(treeManifest(tree), 'ssf-tree-v1\n');
  assert.equal(tree.digest, `sha256:${sha('ssf-tree-v1\n')}`);
  assert.equal(tree.files, 0);
  assert.equal(tree.bytes, 0);
});

test('workers and inline hashing agree on a tree large enough to use the pool, at buffer-size boundaries', async (t) => {
  const root = tempDir(t);
  const expected = new Map<string, string>();
  for (let d = 0; d < 12; d++) {
    mkdirSync(join(root, `pkg${d}`, 'lib'), { recursive: true });
    for (let f = 0; f < 60; f++) {
      const body = `module ${d}/${f}\n`.repeat(f);
      writeFileSync(join(root, `pkg${d}`, 'lib', `f${f}.js`), body);
      expected.set(`pkg${d}/lib/f${f}.js`, sha(body));
    }
    symlinkSync('lib/f1.js', join(root, `pkg${d}`, 'main.js'));
  }
  for (const size of [64 * 1024 - 1, 64 * 1024, 64 * 1024 + 1, 256 * 1024, 3 * 1024 * 1024 + 17]) {
    const body = randomBytes(size);
    writeFileSync(join(root, `big-${size}`), body);
    expected.set(`big-${size}`, sha(body));
  }
  const results: TreeDigest[] = [];
  for (const workers of [0, 1, 2, 3]) results.push(await hashTree(root, { workers }));
  for (const r of results) assert.deepEqual(r, results[0]);
  const first = results[0]!;
  assert.equal(first.files, expected.size);
  for (const e of first.entries) {
    if (e.type === 'file') {
      assert.equal(e.sha256, expected.get(e.path), e.path);
      assert.equal(e.size, readFileSync(join(root, e.path)).length);
    }
  }
  // Concurrent calls share the pool without mixing up their batches.
  const other = tempDir(t);
  smallTree(other);
  const [x, y] = await Promise.all([hashTree(root, { workers: 2 }), hashTree(other, { workers: 2 })]);
  assert.deepEqual(x, first);
  assert.deepEqual(y, await hashTree(other, { workers: 0 }));
});

test('symlinks are recorded, never followed', async (t) => {
  const base = tempDir(t);
  const outside = join(base, 'outside');
  mkdirSync(outside);
  writeFileSync(join(outside, 'secret'), 'do not read');
  const root = join(base, 'tree');
  mkdirSync(root);
  symlinkSync(outside, join(root, 'dir-link'));
  const tree = await hashTree(root);
  assert.deepEqual(tree.entries, [{ path: 'dir-link', type: 'symlink', mode: 0, size: Buffer.byteLength(outside), sha256: sha(outside) }]);
});

test('exclude leaves out the named paths and everything below them', async (t) => {
  const root = tempDir(t);
  mkdirSync(join(root, 'node_modules/x'), { recursive: true });
  writeFileSync(join(root, 'node_modules/x/index.js'), '1');
  mkdirSync(join(root, 'build/cache'), { recursive: true });
  writeFileSync(join(root, 'build/cache/blob'), '2');
  writeFileSync(join(root, 'build/out.js'), '3');
  writeFileSync(join(root, 'node_modules.txt'), '4');
  const tree = await hashTree(root, { exclude: ['node_modules', 'build/cache/'] });
  assert.deepEqual(tree.entries.map((e) => e.path), ['build', 'build/out.js', 'node_modules.txt']);
  // An excluded subtree may hold things hashTree would otherwise refuse.
  writeFileSync(join(root, 'node_modules/bad\nname'), '');
  assert.equal((await hashTree(root, { exclude: ['node_modules', 'build/cache'] })).digest, tree.digest);
  for (const bad of ['../x', '/abs', '', 'a/../b', './a', 'a//b']) await rejectsCode(hashTree(root, { exclude: [bad] }), 'USAGE');
  await rejectsCode(hashTree(root, { workers: -1 }), 'USAGE');
  await rejectsCode(hashTree(root, { workers: 1.5 }), 'USAGE');
});

test('refuses names the manifest cannot carry and entries that are not files, symlinks or directories', async (t) => {
  const root = tempDir(t);
  writeFileSync(join(root, 'a\nb'), '');
  await rejectsCode(hashTree(root), 'INPUT_MALFORMED');
  unlinkSync(join(root, 'a\nb'));

  const badName = Buffer.concat([Buffer.from(`${root}/`), Buffer.from([0x66, 0xff, 0x6f])]);
  writeFileSync(badName, '');
  await rejectsCode(hashTree(root), 'INPUT_MALFORMED');
  unlinkSync(badName);
  // A name that legitimately contains U+FFFD is valid UTF-8 and accepted.
  writeFileSync(join(root, 'ok\ufffd'), '');
  assert.equal((await hashTree(root)).entries[0]?.path, 'ok\ufffd');

  execFileSync('mkfifo', [join(root, 'fifo')]);
  await rejectsCode(hashTree(root), 'INPUT_MALFORMED');
  unlinkSync(join(root, 'fifo'));

  const server = createServer();
  await new Promise<void>((res) => server.listen(join(root, 'sock'), res));
  try {
    await rejectsCode(hashTree(root, { workers: 0 }), 'INPUT_MALFORMED');
  } finally {
    await new Promise<void>((res) => server.close(() => res()));
  }
});

test('a file that cannot be opened fails the whole call, from a worker or inline', async (t) => {
  const root = tempDir(t);
  t.after(() => execFileSync('rm', ['-rf', root]));
  for (let i = 0; i < 600; i++) writeFileSync(join(root, `f${i}`), `${i}`);
  // A directory whose path fits in PATH_MAX holding a name that makes the full path too long:
  // the walk lists it, but opening the file fails with ENAMETOOLONG.
  const deep = join(root, ...Array.from({ length: 20 }, (_, i) => `${i}`.padEnd(200, 'd')));
  mkdirSync(deep, { recursive: true });
  execFileSync('sh', ['-c', 'cd "$1" && : > "$2"', 'sh', deep, 'x'.repeat(250)]);
  await rejectsCode(hashTree(root, { workers: 2 }), 'IO_FAILED');
  await rejectsCode(hashTree(root, { workers: 0 }), 'IO_FAILED');
  // The pool is still usable afterwards.
  execFileSync('rm', ['-rf', join(root, '0'.padEnd(200, 'd'))]);
  assert.equal((await hashTree(root, { workers: 2 })).files, 600);
});

test('a missing root, or a root that is a file, is refused', async (t) => {
  const root = tempDir(t);
  await rejectsCode(hashTree(join(root, 'nope')), 'FILE_NOT_FOUND');
  writeFileSync(join(root, 'f'), '');
  await rejectsCode(hashTree(join(root, 'f')), 'USAGE');
});

test('diffTrees names added, removed and changed paths', async (t) => {
  const root = tempDir(t);
  smallTree(root);
  const before = await hashTree(root);
  writeFileSync(join(root, 'src/a.ts'), 'export const a = 2;\n');
  chmodSync(join(root, 'group-exec-only'), 0o755);
  unlinkSync(join(root, 'with space.txt'));
  unlinkSync(join(root, 'link-to-file'));
  writeFileSync(join(root, 'link-to-file'), 'src/a.ts');
  mkdirSync(join(root, 'empty/now-not'));
  const after = await hashTree(root);
  assert.notEqual(after.digest, before.digest);
  assert.deepEqual(diffTrees(before, after), {
    added: ['empty/now-not'],
    removed: ['with space.txt'],
    changed: ['group-exec-only', 'link-to-file', 'src/a.ts'],
  });
  assert.deepEqual(diffTrees(after, after), { added: [], removed: [], changed: [] });
});

test('treeManifest refuses entries hashTree could not have produced', async (t) => {
  const root = tempDir(t);
  smallTree(root);
  const good = await hashTree(root, { workers: 0 });
  const with_ = (f: (t: TreeDigest) => void): TreeDigest => {
    const c = structuredClone(good);
    f(c);
    return c;
  };
  throwsCode(() => treeManifest(with_((c) => c.entries.reverse())), 'INPUT_MALFORMED');
  throwsCode(() => treeManifest(with_((c) => c.entries.push(structuredClone(c.entries.at(-1)!)))), 'INPUT_MALFORMED');
  throwsCode(() => treeManifest(with_((c) => (c.entries[0]!.path = '../x'))), 'INPUT_MALFORMED');
  throwsCode(() => treeManifest(with_((c) => (c.entries[0]!.path = 'a\nb'))), 'INPUT_MALFORMED');
  throwsCode(() => treeManifest(with_((c) => (c.entries[0]!.sha256 = 'ABC'))), 'INPUT_MALFORMED');
  throwsCode(() => treeManifest(with_((c) => (c.entries.find((e) => e.type === 'file')!.mode = 0o600))), 'INPUT_MALFORMED');
  throwsCode(() => treeManifest(with_((c) => (c.entries.find((e) => e.type === 'dir')!.sha256 = sha('')))), 'INPUT_MALFORMED');
  throwsCode(() => treeManifest(with_((c) => (c.entries[0]!.size = -1))), 'INPUT_MALFORMED');
  assert.equal(treeManifest(with_(() => undefined)), treeManifest(good));
});

test('hashFileSync hashes a file, follows a named symlink and refuses what is not a regular file', async (t) => {
  const root = tempDir(t);
  const body = randomBytes(700_000);
  writeFileSync(join(root, 'f'), body);
  assert.equal(hashFileSync(join(root, 'f')), sha(body));
  symlinkSync('f', join(root, 'l'));
  assert.equal(hashFileSync(join(root, 'l')), sha(body));
  writeFileSync(join(root, 'e'), '');
  assert.equal(hashFileSync(join(root, 'e')), sha(''));
  throwsCode(() => hashFileSync(join(root, 'missing')), 'FILE_NOT_FOUND');
  throwsCode(() => hashFileSync(root), 'USAGE');
  execFileSync('mkfifo', [join(root, 'fifo')]);
  throwsCode(() => hashFileSync(join(root, 'fifo')), 'INPUT_MALFORMED');
});

test('an idle worker pool does not keep the process alive', async (t) => {
  const root = tempDir(t);
  for (let i = 0; i < 600; i++) writeFileSync(join(root, `f${i}`), `${i}`);
  const expected = (await hashTree(root, { workers: 0 })).digest;
  const mod = new URL('./index.js', import.meta.url).href;
  const code = `const { hashTree } = await import(${JSON.stringify(mod)}); const t = await hashTree(${JSON.stringify(root)}, { workers: 2 }); console.log(t.digest);`;
  const r = spawnSync(process.execPath, ['--input-type=module', '-e', code], { encoding: 'utf8', timeout: 60_000 });
  assert.equal(r.signal, null, 'the child was killed: the pool kept it alive');
  assert.equal(r.status, 0, r.stderr);
  assert.equal(r.stdout.trim(), expected);
});
