import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { chmodSync, existsSync, lstatSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, readlinkSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { after, before, test } from 'node:test';
import { pathToFileURL } from 'node:url';
import { isSsfError } from '../core/index.js';
import { rejectsCode, throwsCode } from '../core/testing.js';
import { checkoutSource, parseGitLocation } from './source.js';

const HAS_SSH_KEYGEN = spawnSync('ssh-keygen', ['-?'], { encoding: 'utf8' }).error === undefined;

let tmp: string;
let n = 0;
before(() => {
  tmp = mkdtempSync(join(tmpdir(), 'ssf-source-'));
});
after(() => rmSync(tmp, { recursive: true, force: true }));

/** A stand-in for the observer's hash tree: sha256 over sorted (path, kind, mode, content or link target). */
async function hashTree(dir: string): Promise<string> {
  const h = createHash('sha256');
  const walk = (rel: string): void => {
    for (const name of readdirSync(join(dir, rel)).sort()) {
      const r = rel ? `${rel}/${name}` : name;
      const st = lstatSync(join(dir, r));
      if (st.isDirectory()) walk(r);
      else if (st.isSymbolicLink()) h.update(`l ${r} ${readlinkSync(join(dir, r))}\n`);
      else h.update(`f ${r} ${st.mode & 0o111 ? 'x' : '-'} ${createHash('sha256').update(readFileSync(join(dir, r))).digest('hex')}\n`);
    }
  };
  walk('');
  return `sha256:${h.digest('hex')}`;
}

function fresh(): string {
  const d = join(tmp, `dest${++n}`);
  mkdirSync(d);
  return d;
}

const GIT_ID = ['-c', 'user.name=Test', '-c', 'user.email=test@example.com', '-c', 'commit.gpgsign=false', '-c', 'init.defaultBranch=main'];
function git(cwd: string, ...args: string[]): string {
  return execFileSync('git', [...GIT_ID, ...args], { cwd, encoding: 'utf8', env: { ...process.env, GIT_CONFIG_GLOBAL: '/dev/null', GIT_CONFIG_NOSYSTEM: '1' } }).trim();
}

/** A repository with a file, an executable, a subdirectory and an inside symlink; returns [dir, first commit]. */
function makeRepo(name: string): [string, string] {
  const dir = join(tmp, name);
  mkdirSync(join(dir, 'src'), { recursive: true });
  git(dir, 'init', '-q');
  writeFileSync(join(dir, 'README.md'), 'hello\n');
  writeFileSync(join(dir, 'src', 'run.sh'), '#!/bin/sh\necho hi\n');
  chmodSync(join(dir, 'src', 'run.sh'), 0o755);
  symlinkSync('src/run.sh', join(dir, 'run'));
  git(dir, 'add', '.');
  git(dir, 'commit', '-q', '-m', 'one');
  return [dir, git(dir, 'rev-parse', 'HEAD')];
}

test('git: clones an exact commit (local path and file:// URL) into dest without .git', async () => {
  const [repo, c1] = makeRepo('repo-a');
  writeFileSync(join(repo, 'later.txt'), 'later\n');
  git(repo, 'add', '.');
  git(repo, 'commit', '-q', '-m', 'two');
  const d1 = fresh();
  const r1 = await checkoutSource({ git: { url: repo, commit: c1 } }, d1, { hashTree });
  assert.equal(r1.kind, 'git');
  assert.equal(r1.commit, c1);
  assert.equal(r1.uri, `git+${pathToFileURL(repo).href}`);
  assert.deepEqual(readdirSync(d1).sort(), ['README.md', 'run', 'src']); // no later.txt, no .git
  assert.equal(readlinkSync(join(d1, 'run')), 'src/run.sh');
  assert.ok(statSync(join(d1, 'src', 'run.sh')).mode & 0o100);
  assert.equal(r1.treeDigest, await hashTree(d1));
  assert.equal(r1.signature, undefined);
  // nothing left beside dest either
  assert.deepEqual(readdirSync(tmp).filter((f) => f.includes('ssf-git')), []);

  const d2 = fresh();
  const r2 = await checkoutSource({ git: { url: pathToFileURL(repo).href, commit: c1.toUpperCase() } }, d2, { hashTree });
  assert.equal(r2.commit, c1);
  assert.equal(r2.uri, `git+${pathToFileURL(repo).href}`);
  assert.equal(r2.treeDigest, r1.treeDigest);
  // relative to baseDir
  const d3 = fresh();
  const r3 = await checkoutSource({ git: { url: 'repo-a', commit: c1 } }, d3, { hashTree, baseDir: tmp });
  assert.equal(r3.treeDigest, r1.treeDigest);
});

test('git: a commit reachable only by id (no branch) is fetched by id', async () => {
  const [repo] = makeRepo('repo-b');
  git(repo, 'checkout', '-q', '-b', 'side');
  writeFileSync(join(repo, 'side.txt'), 'side\n');
  git(repo, 'add', '.');
  git(repo, 'commit', '-q', '-m', 'side');
  const side = git(repo, 'rev-parse', 'HEAD');
  git(repo, 'checkout', '-q', 'main');
  git(repo, 'branch', '-q', '-D', 'side');
  git(repo, 'config', 'uploadpack.allowAnySHA1InWant', 'true');
  const d = fresh();
  const r = await checkoutSource({ git: { url: repo, commit: side } }, d, { hashTree });
  assert.equal(r.commit, side);
  assert.ok(existsSync(join(d, 'side.txt')));
});

test('git: branch names, short or malformed ids, unknown commits and non-commits are SOURCE_INVALID; dest is left empty', async () => {
  const [repo] = makeRepo('repo-c');
  for (const commit of ['main', 'HEAD', git(repo, 'rev-parse', '--short', 'HEAD'), 'a'.repeat(64), `${'a'.repeat(39)}g`, '']) {
    const d = fresh();
    await rejectsCode(checkoutSource({ git: { url: repo, commit } }, d, { hashTree }), 'SOURCE_INVALID');
  }
  const d = fresh();
  await rejectsCode(checkoutSource({ git: { url: repo, commit: '0123456789abcdef0123456789abcdef01234567' } }, d, { hashTree }), 'SOURCE_INVALID');
  assert.deepEqual(readdirSync(d), []);
  const tree = git(repo, 'rev-parse', 'HEAD^{tree}');
  await assert.rejects(checkoutSource({ git: { url: repo, commit: tree } }, fresh(), { hashTree }), (e: unknown) => isSsfError(e, 'SOURCE_INVALID') && /not a commit/.test(e.message));
  // dest must be empty; exactly one of path/git
  const full = fresh();
  writeFileSync(join(full, 'x'), '');
  await rejectsCode(checkoutSource({ git: { url: repo, commit: git(repo, 'rev-parse', 'HEAD') } }, full, { hashTree }), 'SOURCE_INVALID');
  await rejectsCode(checkoutSource({}, fresh(), { hashTree }), 'SOURCE_INVALID');
  await rejectsCode(checkoutSource({ path: repo, git: { url: repo, commit: 'a'.repeat(40) } }, fresh(), { hashTree }), 'SOURCE_INVALID');
});

test('git urls: transport helpers, other protocols, credentials and option-like urls are refused', () => {
  for (const url of ['ext::sh -c touch% /tmp/pwned', 'fd::3', '-uhelp', 'git://example.com/x.git', 'http://example.com/x.git', 'https://user:token@example.com/x.git', 'https://token@example.com/x.git', 'file://host/x', 'ftp://example.com/x']) {
    throwsCode(() => parseGitLocation(url, '/base'), 'SOURCE_INVALID');
  }
  assert.deepEqual(parseGitLocation('https://example.com/x.git', '/b'), { cloneArg: 'https://example.com/x.git', uri: 'https://example.com/x.git' });
  assert.deepEqual(parseGitLocation('ssh://git@example.com/x.git', '/b'), { cloneArg: 'ssh://git@example.com/x.git', uri: 'ssh://git@example.com/x.git' });
  assert.deepEqual(parseGitLocation('git@example.com:x.git', '/b'), { cloneArg: 'git@example.com:x.git', uri: 'git@example.com:x.git' });
  assert.deepEqual(parseGitLocation('../r', '/b/c'), { cloneArg: '/b/r', uri: 'git+file:///b/r' });
});

test('git: hooks configured on the host do not run', async () => {
  const [repo, c1] = makeRepo('repo-d');
  const hooks = join(tmp, 'hooks');
  const marker = join(tmp, 'hook-ran');
  mkdirSync(hooks);
  for (const h of ['post-checkout', 'reference-transaction', 'post-index-change']) {
    writeFileSync(join(hooks, h), `#!/bin/sh\ntouch ${marker}\n`);
    chmodSync(join(hooks, h), 0o755);
  }
  const globalConfig = join(tmp, 'gitconfig-hooks');
  writeFileSync(globalConfig, `[core]\n\thooksPath = ${hooks}\n`);
  const saved = process.env.GIT_CONFIG_GLOBAL;
  // Sanity check: with this configuration git does run the hook.
  execFileSync('git', ['-c', 'advice.detachedHead=false', 'checkout', '-q', c1], { cwd: repo, env: { ...process.env, GIT_CONFIG_GLOBAL: globalConfig } });
  assert.ok(existsSync(marker), 'the hook should run for plain git');
  rmSync(marker);
  process.env.GIT_CONFIG_GLOBAL = globalConfig;
  try {
    await checkoutSource({ git: { url: repo, commit: c1 } }, fresh(), { hashTree });
  } finally {
    if (saved === undefined) delete process.env.GIT_CONFIG_GLOBAL;
    else process.env.GIT_CONFIG_GLOBAL = saved;
  }
  assert.ok(!existsSync(marker), 'a hook ran during checkoutSource');
});

test('git: ssh signatures are verified against allowed_signers', { skip: HAS_SSH_KEYGEN ? false : 'ssh-keygen not installed' }, async () => {
  const keys = join(tmp, 'keys');
  mkdirSync(keys);
  execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', 'dev', '-f', join(keys, 'dev')]);
  execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', 'other', '-f', join(keys, 'other')]);
  const allowed = join(keys, 'allowed_signers');
  writeFileSync(allowed, `dev@example.com namespaces="git" ${readFileSync(join(keys, 'dev.pub'), 'utf8')}`);
  const otherAllowed = join(keys, 'other_allowed');
  writeFileSync(otherAllowed, `other@example.com ${readFileSync(join(keys, 'other.pub'), 'utf8')}`);

  const [repo, unsigned] = makeRepo('repo-signed');
  writeFileSync(join(repo, 'signed.txt'), 'signed\n');
  git(repo, 'add', '.');
  git(repo, '-c', 'gpg.format=ssh', '-c', `user.signingkey=${join(keys, 'dev')}`, 'commit', '-q', '-S', '-m', 'signed');
  const signed = git(repo, 'rev-parse', 'HEAD');

  const d = fresh();
  const r = await checkoutSource({ git: { url: repo, commit: signed }, allowedSigners: allowed }, d, { hashTree });
  assert.equal(r.signature?.verified, true);
  assert.equal(r.signature?.format, 'ssh');
  assert.equal(r.signature?.signer, 'dev@example.com');
  assert.match(r.signature?.key ?? '', /^ED25519 SHA256:/);
  // relative allowedSigners resolves against baseDir
  const rel = await checkoutSource({ git: { url: repo, commit: signed }, allowedSigners: relative(tmp, allowed) }, fresh(), { hashTree, baseDir: tmp });
  assert.equal(rel.signature?.signer, 'dev@example.com');

  const d2 = fresh();
  await assert.rejects(checkoutSource({ git: { url: repo, commit: signed }, allowedSigners: otherAllowed }, d2, { hashTree }), (e: unknown) => isSsfError(e, 'SOURCE_SIGNATURE') && e.message.includes(signed));
  assert.deepEqual(readdirSync(d2), [], 'an unverified tree was left in dest');
  await assert.rejects(checkoutSource({ git: { url: repo, commit: unsigned }, allowedSigners: allowed }, fresh(), { hashTree }), (e: unknown) => isSsfError(e, 'SOURCE_SIGNATURE') && /not signed/.test(e.message));
  await rejectsCode(checkoutSource({ git: { url: repo, commit: signed }, allowedSigners: join(keys, 'missing') }, fresh(), { hashTree }), 'SOURCE_SIGNATURE');

  // path sources: the clean HEAD's signature
  const p = await checkoutSource({ path: repo, allowedSigners: allowed }, fresh(), { hashTree });
  assert.equal(p.commit, signed);
  assert.equal(p.signature?.signer, 'dev@example.com');
  writeFileSync(join(repo, 'dirty.txt'), 'x');
  await rejectsCode(checkoutSource({ path: repo, allowedSigners: allowed }, fresh(), { hashTree }), 'SOURCE_SIGNATURE');
  rmSync(join(repo, 'dirty.txt'));
});

test('path: copies the tree without .git, node_modules and .ssf; records HEAD only when clean', async () => {
  const [repo, c1] = makeRepo('repo-p');
  mkdirSync(join(repo, 'node_modules', 'x'), { recursive: true });
  writeFileSync(join(repo, 'node_modules', 'x', 'i.js'), '');
  mkdirSync(join(repo, 'src', 'node_modules'));
  mkdirSync(join(repo, '.ssf'));
  writeFileSync(join(repo, '.gitignore'), 'node_modules\n.ssf\n');
  git(repo, 'add', '.gitignore');
  git(repo, 'commit', '-q', '-m', 'ignore');
  const head = git(repo, 'rev-parse', 'HEAD');
  assert.notEqual(head, c1);

  const d = fresh();
  const r = await checkoutSource({ path: repo }, d, { hashTree });
  assert.equal(r.kind, 'path');
  assert.equal(r.uri, pathToFileURL(repo).href);
  assert.equal(r.commit, head);
  assert.deepEqual(readdirSync(d).sort(), ['.gitignore', 'README.md', 'run', 'src']);
  assert.deepEqual(readdirSync(join(d, 'src')), ['run.sh']);
  assert.equal(readlinkSync(join(d, 'run')), 'src/run.sh');
  assert.equal(statSync(join(d, 'src', 'run.sh')).mode & 0o777, 0o755);
  assert.equal(statSync(join(d, 'README.md')).mode & 0o777, 0o644);

  // the same tree from git and from the clean path digest alike
  const g = await checkoutSource({ git: { url: repo, commit: head } }, fresh(), { hashTree });
  assert.equal(g.treeDigest, r.treeDigest);

  // untracked, modified or ignored files: the copy is not HEAD's tree, so no commit
  const changes: [string, () => void][] = [
    ['untracked', () => writeFileSync(join(repo, 'new.txt'), 'x')],
    ['modified', () => writeFileSync(join(repo, 'README.md'), 'changed\n')],
    [
      'ignored',
      () => {
        writeFileSync(join(repo, '.git', 'info', 'exclude'), '*.log\n');
        writeFileSync(join(repo, 'debug.log'), 'x');
      },
    ],
  ];
  for (const [what, change] of changes) {
    change();
    const x = await checkoutSource({ path: repo }, fresh(), { hashTree });
    assert.equal(x.commit, undefined, what);
    git(repo, 'checkout', '-q', '--', 'README.md');
    rmSync(join(repo, 'new.txt'), { force: true });
    rmSync(join(repo, 'debug.log'), { force: true });
  }
  assert.equal((await checkoutSource({ path: repo }, fresh(), { hashTree })).commit, head, 'clean again');
  // a subdirectory of a work tree is not HEAD's tree either
  assert.equal((await checkoutSource({ path: join(repo, 'src') }, fresh(), { hashTree })).commit, undefined);
  // a plain directory
  const plain = join(tmp, 'plain');
  mkdirSync(plain);
  writeFileSync(join(plain, 'a'), 'a');
  assert.equal((await checkoutSource({ path: 'plain' }, fresh(), { hashTree, baseDir: tmp })).commit, undefined);
  await rejectsCode(checkoutSource({ path: join(tmp, 'nope') }, fresh(), { hashTree }), 'SOURCE_INVALID');
});

test('path: symlinks leaving the tree are PATH_ESCAPE, including through other links; inside links are kept', async () => {
  const mk = (name: string, links: [string, string][]): string => {
    const dir = join(tmp, name);
    mkdirSync(join(dir, 'd', 'e'), { recursive: true });
    writeFileSync(join(dir, 'd', 'e', 'f'), 'f');
    for (const [at, target] of links) symlinkSync(target, join(dir, at));
    return dir;
  };
  const escaping: [string, [string, string][]][] = [
    ['esc1', [['out', '../outside']]],
    ['esc2', [['out', '/etc/passwd']]],
    ['esc3', [['d/up', '..'], ['d/out', 'up/..']]], // lexically d/out -> d, really the parent of the tree
    ['esc4', [['d/e/l', '../../..']]],
    ['esc5', [['loop1', 'loop2'], ['loop2', 'loop1']]],
  ];
  for (const [name, links] of escaping) {
    const d = fresh();
    await assert.rejects(checkoutSource({ path: mk(name, links) }, d, { hashTree }), (e: unknown) => isSsfError(e, 'PATH_ESCAPE'), name);
    assert.deepEqual(readdirSync(d), [], `${name}: a partial copy was left`);
  }
  const ok = mk('inside', [['a', 'd/e/f'], ['d/b', '../d/e'], ['dangling', 'no/such/file'], ['abs', join(tmp, 'inside', 'd', 'e', 'f')]]);
  const d = fresh();
  await checkoutSource({ path: ok }, d, { hashTree });
  assert.equal(readlinkSync(join(d, 'a')), 'd/e/f');
  assert.equal(readlinkSync(join(d, 'd', 'b')), '../d/e');
  assert.equal(readlinkSync(join(d, 'dangling')), 'no/such/file');
  assert.equal(readlinkSync(join(d, 'abs')), 'd/e/f'); // absolute inside target made relative
  assert.equal(readFileSync(join(d, 'abs'), 'utf8'), 'f');
  // dest inside the source would copy forever
  const inner = join(ok, 'inner');
  mkdirSync(inner);
  await rejectsCode(checkoutSource({ path: ok }, inner, { hashTree }), 'PATH_ESCAPE');
});
