import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { constants, lstatSync, promises as fsp, readlinkSync, realpathSync } from 'node:fs';
import { basename, dirname, isAbsolute, join, relative, resolve, sep } from 'node:path';
import { pathToFileURL } from 'node:url';
import { SsfError } from '../core/index.js';

/** Where the source comes from: a local directory, or a git repository at an exact commit. */
export interface SourceSpec {
  path?: string;
  git?: { url: string; commit: string /* 40 hex, exact */ };
  /** An ssh `allowed_signers` file: the commit must carry an ssh signature by one of its keys. */
  allowedSigners?: string;
}

/** What was checked out, for the provenance's materials. */
export interface SourceResult {
  kind: 'path' | 'git';
  /** `git+file:///abs`, the git URL as given, or `file:///abs` for a plain directory. */
  uri: string;
  commit?: string;
  /** Whatever the injected `hashTree` returned for the checked-out tree (`sha256:<hex>`). */
  treeDigest: string;
  /** `signer` is the allowed_signers principal; `key` the signing key's fingerprint. */
  signature?: { verified: true; format: 'ssh' | 'gpg'; signer: string; key?: string };
}

export interface CheckoutOptions {
  /** Digests the checked-out tree (the observer's hash tree); injected so materials does not define the digest. */
  hashTree: (dir: string) => Promise<string>;
  /** Relative `path`, git paths and `allowedSigners` are resolved against this (default: the working directory). */
  baseDir?: string;
}

/** Names never copied from a path source, at any depth. */
const EXCLUDED = new Set(['.git', 'node_modules', '.ssf']);

/**
 * Configuration forced on every git command: no hooks, no fsmonitor program, only the file,
 * https and ssh transports, no submodules, and every received object checked (index-pack
 * recomputes each object id, so the exported tree is the one the commit id names).
 */
const GIT_SAFE = [
  '-c', 'core.hooksPath=/dev/null',
  '-c', 'core.fsmonitor=false',
  '-c', 'protocol.allow=never',
  '-c', 'protocol.file.allow=always',
  '-c', 'protocol.https.allow=always',
  '-c', 'protocol.ssh.allow=always',
  '-c', 'submodule.recurse=false',
  '-c', 'transfer.fsckObjects=true',
  '-c', 'core.symlinks=true',
  '-c', 'core.autocrlf=false',
  '-c', 'advice.detachedHead=false',
];

/** Inherited GIT_* variables that may stay: they choose how to reach a server, not what git does to the tree. */
const GIT_ENV_KEEP = new Set(['GIT_SSH', 'GIT_SSH_COMMAND', 'GIT_SSH_VARIANT', 'GIT_SSL_CAINFO', 'GIT_SSL_CAPATH']);

/**
 * The environment for git. `isolated` also drops the system and global configuration, so
 * checkout and verification depend only on the commit (no smudge filters, eol rules or
 * signature programs from the host); cloning keeps them for credential helpers and proxies.
 */
function gitEnv(isolated: boolean): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) {
    if (k.startsWith('GIT_') && !GIT_ENV_KEEP.has(k)) continue; // GIT_DIR, GIT_CONFIG_COUNT… would redirect or reconfigure git
    env[k] = v;
  }
  env.GIT_TERMINAL_PROMPT = '0';
  env.GIT_PROTOCOL_FROM_USER = '0';
  if (isolated) {
    env.GIT_CONFIG_NOSYSTEM = '1';
    env.GIT_CONFIG_GLOBAL = '/dev/null';
  }
  return env;
}

interface GitResult {
  code: number;
  stdout: string;
  stderr: string;
}

function git(args: string[], opts: { cwd?: string; isolated?: boolean } = {}): Promise<GitResult> {
  return new Promise((resolvePromise, reject) => {
    const child = spawn('git', [...GIT_SAFE, ...args], { cwd: opts.cwd, env: gitEnv(opts.isolated ?? true), stdio: ['ignore', 'pipe', 'pipe'] });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout.on('data', (b: Buffer) => out.push(b));
    child.stderr.on('data', (b: Buffer) => err.push(b));
    child.on('error', (e) => reject(new SsfError('SOURCE_INVALID', `cannot run git: ${e.message}`, { cause: e })));
    child.on('close', (code) => resolvePromise({ code: code ?? -1, stdout: Buffer.concat(out).toString('utf8'), stderr: Buffer.concat(err).toString('utf8') }));
  });
}

async function gitOk(args: string[], what: string, opts: { cwd?: string; isolated?: boolean } = {}): Promise<string> {
  const r = await git(args, opts);
  if (r.code !== 0) {
    const why = r.stderr.trim().split('\n').filter(Boolean).pop() ?? `exit ${r.code}`;
    throw new SsfError('SOURCE_INVALID', `${what}: ${why}`);
  }
  return r.stdout;
}

/**
 * Checks out source into `dest` (an existing empty directory): a directory copy, or a git
 * clone at exactly the given commit with its signature optionally verified against an ssh
 * allowed_signers file. `dest` ends up without `.git`; the tree is digested by `hashTree`.
 */
export async function checkoutSource(spec: SourceSpec, dest: string, opts: CheckoutOptions): Promise<SourceResult> {
  if (typeof opts?.hashTree !== 'function') throw new SsfError('USAGE', 'checkoutSource needs a hashTree function');
  const baseDir = resolve(opts.baseDir ?? process.cwd());
  if ((spec.path === undefined) === (spec.git === undefined)) {
    throw new SsfError('SOURCE_INVALID', 'a source names exactly one of path and git');
  }
  await requireEmptyDir(dest);
  const allowedSigners = spec.allowedSigners === undefined ? undefined : resolve(baseDir, spec.allowedSigners);
  if (allowedSigners !== undefined) {
    const st = await fsp.stat(allowedSigners).catch(() => undefined);
    if (!st?.isFile()) throw new SsfError('SOURCE_SIGNATURE', `allowed signers file ${allowedSigners} does not exist or is not a file`);
  }
  const result = spec.git ? await checkoutGit(spec.git, dest, baseDir, allowedSigners) : await checkoutPath(resolve(baseDir, spec.path as string), dest, allowedSigners);
  return { ...result, treeDigest: await opts.hashTree(dest) };
}

async function requireEmptyDir(dest: string): Promise<void> {
  let entries: string[];
  try {
    entries = await fsp.readdir(dest);
  } catch (e) {
    throw new SsfError('SOURCE_INVALID', `checkout destination ${dest} is not a readable directory: ${(e as Error).message}`, { cause: e });
  }
  if (entries.length > 0) throw new SsfError('SOURCE_INVALID', `checkout destination ${dest} is not empty`);
}

// ---------------------------------------------------------------- git

const COMMIT_ID = /^[0-9a-f]{40}$/;

/** The argument to give `git clone` and the URI to record, or SOURCE_INVALID for forms that are refused. */
export function parseGitLocation(url: string, baseDir: string): { cloneArg: string; uri: string } {
  if (typeof url !== 'string' || url === '') throw new SsfError('SOURCE_INVALID', 'the git url is empty');
  if (url.startsWith('-')) throw new SsfError('SOURCE_INVALID', `git url ${JSON.stringify(url)} starts with "-"`);
  if (/[\0\n\r]/.test(url)) throw new SsfError('SOURCE_INVALID', 'the git url contains a control character');
  if (/^[A-Za-z][A-Za-z0-9+.-]*::/.test(url)) {
    throw new SsfError('SOURCE_INVALID', `git url ${JSON.stringify(url)} uses a transport helper ("::"); only https, ssh and local repositories are allowed`);
  }
  if (/^[A-Za-z][A-Za-z0-9+.-]*:\/\//.test(url)) {
    let u: URL;
    try {
      u = new URL(url);
    } catch {
      throw new SsfError('SOURCE_INVALID', `git url ${JSON.stringify(url)} is not a valid URL`);
    }
    if (u.protocol === 'file:') {
      if (u.host !== '') throw new SsfError('SOURCE_INVALID', `git url ${url} names a host; use file:///absolute/path`);
      return { cloneArg: u.href, uri: `git+${u.href}` };
    }
    if (u.protocol !== 'https:' && u.protocol !== 'ssh:') {
      throw new SsfError('SOURCE_INVALID', `git url ${JSON.stringify(url)} uses ${u.protocol}; only https, ssh and file are allowed`);
    }
    if (u.password || (u.protocol === 'https:' && u.username)) {
      throw new SsfError('SOURCE_INVALID', `git url ${u.protocol}//${u.host}… carries credentials; use a credential helper instead, URLs end up in provenance`);
    }
    return { cloneArg: url, uri: url };
  }
  // scp-like `user@host:path`: git treats a colon before the first slash as ssh.
  const colon = url.indexOf(':');
  const slash = url.indexOf('/');
  if (colon > 0 && (slash < 0 || colon < slash) && !url.startsWith('.')) return { cloneArg: url, uri: url };
  const abs = resolve(baseDir, url);
  return { cloneArg: abs, uri: `git+${pathToFileURL(abs).href}` };
}

async function checkoutGit(g: { url: string; commit: string }, dest: string, baseDir: string, allowedSigners: string | undefined): Promise<Omit<SourceResult, 'treeDigest'>> {
  const commit = typeof g.commit === 'string' ? g.commit.toLowerCase() : '';
  if (!COMMIT_ID.test(commit)) {
    throw new SsfError('SOURCE_INVALID', `git commit ${JSON.stringify(String(g.commit).slice(0, 80))} must be a full 40-hex commit id; branch names, tags and short ids are refused`);
  }
  const { cloneArg, uri } = parseGitLocation(g.url, baseDir);
  // The repository lives beside dest and is removed afterwards, so dest never holds a .git.
  const gitDir = join(dirname(resolve(dest)), `.${basename(dest)}.ssf-git-${randomBytes(6).toString('hex')}`);
  try {
    await gitOk(['clone', '--quiet', '--no-checkout', '--no-local', '--no-recurse-submodules', '--separate-git-dir', gitDir, '--', cloneArg, dest], `cloning ${uri}`, { isolated: false });
    const G = ['--git-dir', gitDir];
    let type = await git([...G, 'cat-file', '-t', commit]);
    if (type.code !== 0) {
      // Not on any branch or tag: ask the server for exactly this commit.
      await git([...G, 'fetch', '--quiet', '--no-tags', 'origin', commit], { isolated: false });
      type = await git([...G, 'cat-file', '-t', commit]);
    }
    if (type.code !== 0) throw new SsfError('SOURCE_INVALID', `commit ${commit} is not in ${uri}`);
    if (type.stdout.trim() !== 'commit') throw new SsfError('SOURCE_INVALID', `${commit} in ${uri} is a ${type.stdout.trim()}, not a commit`);
    // Verify before anything of the commit's tree is written out.
    const signature = allowedSigners === undefined ? undefined : await verifyCommit(G, commit, allowedSigners);
    await gitOk(['-C', dest, 'checkout', '--quiet', '--detach', commit], `checking out ${commit}`);
    const head = (await gitOk(['-C', dest, 'rev-parse', 'HEAD'], 'reading HEAD')).trim();
    if (head !== commit) throw new SsfError('SOURCE_INVALID', `checkout of ${commit} produced HEAD ${head}`);
    await fsp.rm(join(dest, '.git'), { force: true, recursive: true });
    return { kind: 'git', uri, commit, ...(signature ? { signature } : {}) };
  } catch (e) {
    // Leave dest empty on failure so a caller cannot use a half-made tree by mistake.
    await emptyDir(dest);
    throw e;
  } finally {
    await fsp.rm(gitDir, { recursive: true, force: true });
  }
}

async function emptyDir(dir: string): Promise<void> {
  for (const name of await fsp.readdir(dir).catch(() => [] as string[])) await fsp.rm(join(dir, name), { recursive: true, force: true });
}

/**
 * Verifies an ssh commit signature with git's own verifier (`ssh-keygen -Y find-principals`
 * and `-Y verify` under the hood) against the allowed_signers file, with host configuration
 * ignored so no other program or key list can be substituted.
 */
async function verifyCommit(gitArgs: string[], commit: string, allowedSigners: string): Promise<NonNullable<SourceResult['signature']>> {
  const raw = await gitOk([...gitArgs, 'cat-file', 'commit', commit], `reading commit ${commit}`);
  const header = raw.slice(0, raw.indexOf('\n\n') < 0 ? raw.length : raw.indexOf('\n\n'));
  const sig = /^gpgsig(?:-sha256)? (.*)$/m.exec(header)?.[1] ?? '';
  if (sig === '') throw new SsfError('SOURCE_SIGNATURE', `commit ${commit} is not signed`);
  if (!sig.startsWith('-----BEGIN SSH SIGNATURE-----')) {
    throw new SsfError('SOURCE_SIGNATURE', `commit ${commit} carries a non-ssh (${sig.includes('PGP') ? 'OpenPGP' : 'x509'}) signature; only ssh signatures can be checked against allowed_signers`);
  }
  const r = await git([...gitArgs, '-c', 'gpg.format=ssh', '-c', `gpg.ssh.allowedSignersFile=${allowedSigners}`, '-c', 'gpg.ssh.program=ssh-keygen', 'verify-commit', '--raw', commit]);
  const good = /^Good "git" signature for (.+) with (\S+) key (\S+)$/m.exec(r.stderr);
  if (r.code !== 0 || !good) {
    const why = r.stderr.trim().split('\n').filter(Boolean).pop() ?? `exit ${r.code}`;
    throw new SsfError('SOURCE_SIGNATURE', `commit ${commit} is not signed by a key in ${allowedSigners}: ${why}`);
  }
  return { verified: true, format: 'ssh', signer: good[1] as string, key: `${good[2]} ${good[3]}` };
}

// ---------------------------------------------------------------- path

async function checkoutPath(path: string, dest: string, allowedSigners: string | undefined): Promise<Omit<SourceResult, 'treeDigest'>> {
  let root: string;
  try {
    root = realpathSync(path);
  } catch (e) {
    throw new SsfError('SOURCE_INVALID', `source path ${path} does not exist`, { cause: e });
  }
  if (!lstatSync(root).isDirectory()) throw new SsfError('SOURCE_INVALID', `source path ${path} is not a directory`);
  const destReal = realpathSync(dest);
  // The destination may sit inside the source only under a directory the copy skips (the
  // default data dir .ssf lives in the project); anywhere else the copy would copy itself.
  if (destReal === root || destReal.startsWith(root + sep)) {
    const first = destReal.slice(root.length + 1).split(sep)[0] ?? '';
    if (!EXCLUDED.has(first)) throw new SsfError('PATH_ESCAPE', `checkout destination ${dest} is inside the source ${path}`);
  }
  const before = await cleanHead(root);
  try {
    await copyTree(root, [path, root], '', dest);
  } catch (e) {
    await emptyDir(dest);
    throw e;
  }
  const after = before === undefined ? undefined : await cleanHead(root);
  // Record the commit only if the copied tree is HEAD's tree throughout the copy.
  const commit = before !== undefined && before === after ? before : undefined;
  let signature: SourceResult['signature'];
  if (allowedSigners !== undefined) {
    if (commit === undefined) {
      await emptyDir(dest);
      throw new SsfError('SOURCE_SIGNATURE', `source path ${path} is not a clean git work tree at its top level, so there is no commit whose signature could be checked`);
    }
    try {
      signature = await verifyCommit(['-C', root], commit, allowedSigners);
    } catch (e) {
      await emptyDir(dest);
      throw e;
    }
  }
  return { kind: 'path', uri: pathToFileURL(root).href, ...(commit ? { commit } : {}), ...(signature ? { signature } : {}) };
}

/**
 * HEAD's commit id if `root` is the top of a git work tree whose files are exactly HEAD's
 * (no changes, untracked or ignored files outside the excluded names, no submodules);
 * otherwise undefined.
 */
async function cleanHead(root: string): Promise<string | undefined> {
  const top = await git(['-C', root, 'rev-parse', '--show-toplevel']);
  if (top.code !== 0) return undefined;
  let topReal: string;
  try {
    topReal = realpathSync(top.stdout.trim());
  } catch {
    return undefined;
  }
  if (topReal !== root) return undefined;
  const head = await git(['-C', root, 'rev-parse', '--verify', '--quiet', 'HEAD^{commit}']);
  if (head.code !== 0 || !COMMIT_ID.test(head.stdout.trim())) return undefined;
  const status = await git(['--no-optional-locks', '-C', root, 'status', '--porcelain=v1', '-z', '--untracked-files=all', '--ignored=matching']);
  if (status.code !== 0) return undefined;
  const fields = status.stdout.split('\0').filter(Boolean);
  for (let i = 0; i < fields.length; i++) {
    const f = fields[i] as string;
    const xy = f.slice(0, 2);
    const p = f.slice(3);
    if (xy[0] === 'R' || xy[0] === 'C') i++; // the original path follows as its own field
    if (p.split('/').some((s) => EXCLUDED.has(s))) continue;
    return undefined;
  }
  const stage = await git(['-C', root, 'ls-files', '--stage', '-z']);
  if (stage.code !== 0 || stage.stdout.split('\0').some((l) => l.startsWith('160000 '))) return undefined;
  return head.stdout.trim();
}

/** Copies `root/rel` into `dest/rel`: files (mode normalised to 644/755 as git does), dirs, and symlinks that stay inside. */
async function copyTree(root: string, roots: string[], rel: string, dest: string): Promise<void> {
  const from = rel === '' ? root : join(root, rel);
  const entries = await fsp.readdir(from, { withFileTypes: true });
  entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  for (const ent of entries) {
    if (EXCLUDED.has(ent.name)) continue;
    const r = rel === '' ? ent.name : join(rel, ent.name);
    const src = join(root, r);
    const to = join(dest, r);
    const st = await fsp.lstat(src);
    if (st.isDirectory()) {
      await fsp.mkdir(to, { mode: 0o755 });
      await copyTree(root, roots, r, dest);
    } else if (st.isFile()) {
      await fsp.copyFile(src, to, constants.COPYFILE_FICLONE);
      await fsp.chmod(to, st.mode & 0o111 ? 0o755 : 0o644);
    } else if (st.isSymbolicLink()) {
      const target = await fsp.readlink(src);
      const inside = linkTargetInside(root, roots, r, target);
      if (inside === undefined) throw new SsfError('PATH_ESCAPE', `symlink ${r} -> ${target} points outside the source tree`);
      // An absolute target inside the tree becomes relative, so the copy does not point back at the source.
      await fsp.symlink(isAbsolute(target) ? relative(dirname(join(dest, r)), join(dest, inside)) || '.' : target, to);
    } else {
      throw new SsfError('SOURCE_INVALID', `${r} in the source is a socket, fifo or device; only files, directories and symlinks are copied`);
    }
  }
}

/** `abs` relative to the first root it is inside, or undefined. */
function insideRoots(roots: string[], abs: string): string | undefined {
  for (const r of roots) {
    if (abs === r) return '';
    if (abs.startsWith(r + sep)) return abs.slice(r.length + 1);
  }
  return undefined;
}

/**
 * Resolves a symlink the way the kernel would, one component at a time, following links
 * inside the source tree (a lexical check alone misses `d/a -> ..` plus `d/b -> a/../..`).
 * Returns the target's path relative to the root, or undefined if it leaves the tree at any
 * point. Components that do not exist are taken lexically. `roots[0]` is the path as given,
 * `root` its real path; absolute targets may use either.
 */
function linkTargetInside(root: string, roots: string[], linkRel: string, target: string): string | undefined {
  let stack = linkRel.split(sep).slice(0, -1);
  const queue: string[] = [];
  const enqueue = (t: string): boolean => {
    if (isAbsolute(t)) {
      const rel = insideRoots(roots, resolve(t));
      if (rel === undefined) return false;
      stack = [];
      queue.unshift(...rel.split(sep).filter(Boolean));
      return true;
    }
    queue.unshift(...t.split('/'));
    return true;
  };
  if (!enqueue(target)) return undefined;
  let hops = 0;
  while (queue.length > 0) {
    const seg = queue.shift() as string;
    if (seg === '' || seg === '.') continue;
    if (seg === '..') {
      if (stack.length === 0) return undefined;
      stack.pop();
      continue;
    }
    stack.push(seg);
    let isLink = false;
    try {
      isLink = lstatSync(join(root, ...stack)).isSymbolicLink();
    } catch {
      isLink = false; // does not exist (yet): lexical from here
    }
    if (isLink) {
      if (++hops > 40) return undefined;
      const t = readlinkSync(join(root, ...stack));
      stack.pop();
      if (!enqueue(t)) return undefined;
    }
  }
  return stack.join(sep);
}
