/**
 * Tree digests: a canonical manifest of every file, symlink and directory under a root, and
 * the SHA-256 of that manifest. The observer records one before and after each task to prove
 * what a workspace held; docs/hashtree.md defines the format so other tools can recompute it.
 */
import { readdirSync, statSync, type Dirent } from 'node:fs';
import { availableParallelism } from 'node:os';
import { resolve } from 'node:path';
import { createHash } from 'node:crypto';
import { SsfError, type ErrorCode } from '../core/index.js';
import { hashRegularFile, hashSymlink, isFailure, READ_CHUNK, type FileHash, type HashFailure } from './hashtree-file.js';
import { sharedPool, type BatchReply } from './hashtree-pool.js';

/** One entry of a tree. */
export interface TreeEntry {
  /** Relative to the root, '/'-separated, no '.' or '..' components. */
  path: string;
  type: 'file' | 'symlink' | 'dir';
  /** 0o755 or 0o644 for files (the owner's execute bit only); 0 for symlinks and directories. */
  mode: number;
  /** Files: bytes hashed; symlinks: length of the target in bytes; directories: 0. */
  size: number;
  /** Hex SHA-256 of the file's content or of the symlink's target bytes; '' for directories. */
  sha256: string;
}

/** A tree's digest and the manifest it was computed from. */
export interface TreeDigest {
  /** 'sha256:<hex>' of treeManifest(this). */
  digest: string;
  /** Number of regular files. */
  files: number;
  /** Total size of the regular files. */
  bytes: number;
  /** Sorted by the UTF-8 bytes of the path. */
  entries: TreeEntry[];
}

/** Options for hashTree. */
export interface HashTreeOptions {
  /** Relative paths (e.g. 'node_modules', 'build/cache') left out with everything below them. */
  exclude?: string[];
  /** Hashing worker threads; 0 hashes on the calling thread. Default: available parallelism, at most 8. */
  workers?: number;
}

/** First line of every manifest: names the format, so a manifest's digest is never that of some other document. */
export const TREE_MANIFEST_HEADER = 'ssf-tree-v1\n';

/** Files per batch sent to a worker (measured: see docs/hashtree.md). */
const BATCH = 256;
const MAX_WORKERS = 64;
/** How long the walk runs before it lets worker replies in. */
const YIELD_MS = 2;

/** Hashes every entry under `dir` (not following symlinks) and returns the manifest and its digest. */
export async function hashTree(dir: string, opts: HashTreeOptions = {}): Promise<TreeDigest> {
  const exclude = checkExclude(opts.exclude);
  const workers = opts.workers ?? Math.min(availableParallelism(), 8);
  if (!Number.isSafeInteger(workers) || workers < 0 || workers > MAX_WORKERS) {
    throw new SsfError('USAGE', `hashTree workers ${String(workers)} must be a whole number from 0 to ${MAX_WORKERS}`);
  }
  const root = resolve(dir);
  // The root itself is what the caller named, so it is followed if it is a symlink; nothing below it is.
  let rootIsDir: boolean;
  try {
    rootIsDir = statSync(root).isDirectory();
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') throw new SsfError('FILE_NOT_FOUND', `directory ${dir} does not exist`, { cause: e });
    throw new SsfError('IO_FAILED', `cannot read directory ${dir}: ${String(code ?? e)}`, { cause: e });
  }
  if (!rootIsDir) throw new SsfError('USAGE', `${dir} is not a directory; give the directory to hash`);

  const entries: TreeEntry[] = [];
  let surrogates = false;
  const job = new Job(root, workers);
  try {
    const stack: string[] = [''];
    let rel: string | undefined;
    let lastYield = performance.now();
    while ((rel = stack.pop()) !== undefined) {
      // Let worker replies in now and then, so the pool gets new batches while the walk goes on.
      if (job.usesWorkers && performance.now() - lastYield > YIELD_MS) {
        await new Promise<void>((r) => setImmediate(r));
        lastYield = performance.now();
        if (job.isFailed) break;
      }
      const abs = rel === '' ? root : `${root}/${rel}`;
      for (const d of readDir(abs)) {
        const path = rel === '' ? d.name : `${rel}/${d.name}`;
        if (exclude !== undefined && exclude.has(path)) continue;
        if (d.name.includes('\n')) throw new SsfError('INPUT_MALFORMED', `${JSON.stringify(path)} in ${dir} contains a newline, which the tree manifest cannot represent; rename it`);
        if (!surrogates && /[\ud800-\udfff]/.test(d.name)) surrogates = true;
        if (d.isDirectory()) {
          entries.push({ path, type: 'dir', mode: 0, size: 0, sha256: '' });
          stack.push(path);
        } else if (d.isFile() || d.isSymbolicLink()) {
          const e: TreeEntry = { path, type: d.isFile() ? 'file' : 'symlink', mode: 0, size: 0, sha256: '' };
          entries.push(e);
          job.add(e);
        } else {
          throw new SsfError('INPUT_MALFORMED', `${path} in ${dir} is ${kindOf(d)}; a hashed tree may hold only files, symlinks and directories`);
        }
      }
    }
    job.finishWalk();
  } catch (e) {
    job.fail(e instanceof SsfError ? e : new SsfError('IO_FAILED', `cannot walk ${dir}: ${String(e)}`, { cause: e }));
  }
  // Sorting needs only the paths, so it runs while the workers are still hashing.
  if (!job.isFailed) entries.sort(surrogates ? compareUtf8 : compareUtf16);
  await job.result;

  let files = 0;
  let bytes = 0;
  for (const e of entries) {
    if (e.type === 'file') {
      files++;
      bytes += e.size;
    }
  }
  const t: TreeDigest = { digest: '', files, bytes, entries };
  t.digest = `sha256:${createHash('sha256').update(manifestOf(entries)).digest('hex')}`;
  return t;
}

/**
 * The exact text whose SHA-256 is t.digest: the header line, then one line per entry in path
 * byte order, `<f|l|d> <mode 3 octal digits> <sha256 hex, or - for a directory> <size> <path>\n`.
 * Refuses (INPUT_MALFORMED) entries that hashTree could not have produced.
 */
export function treeManifest(t: TreeDigest): string {
  let prev: string | undefined;
  for (const e of t.entries) {
    checkEntry(e);
    if (prev !== undefined && compareUtf8(prev, e.path) >= 0) {
      throw new SsfError('INPUT_MALFORMED', `tree entries ${JSON.stringify(prev)} and ${JSON.stringify(e.path)} are duplicated or not in path byte order`);
    }
    prev = e.path;
  }
  return manifestOf(t.entries);
}

/** Paths added in b, removed from a, and changed between them (type, mode, size or content). */
export function diffTrees(a: TreeDigest, b: TreeDigest): { added: string[]; removed: string[]; changed: string[] } {
  const before = new Map<string, TreeEntry>();
  for (const e of a.entries) before.set(e.path, e);
  const added: string[] = [];
  const changed: string[] = [];
  const seen = new Set<string>();
  for (const e of b.entries) {
    const o = before.get(e.path);
    seen.add(e.path);
    if (o === undefined) added.push(e.path);
    else if (o.type !== e.type || o.mode !== e.mode || o.size !== e.size || o.sha256 !== e.sha256) changed.push(e.path);
  }
  const removed = a.entries.filter((e) => !seen.has(e.path)).map((e) => e.path);
  return { added, removed, changed };
}

/** Hex SHA-256 of one file's content (a symlink given here is followed: the caller named it). */
export function hashFileSync(path: string): string {
  const r = hashRegularFile(path, Buffer.allocUnsafe(READ_CHUNK), false);
  if (isFailure(r)) throw new SsfError(r.code, r.message);
  return r.sha256;
}

function manifestOf(entries: readonly TreeEntry[]): string {
  const lines = new Array<string>(entries.length + 1);
  lines[0] = TREE_MANIFEST_HEADER;
  for (let i = 0; i < entries.length; i++) {
    const e = entries[i]!;
    const c = e.type === 'file' ? 'f' : e.type === 'symlink' ? 'l' : 'd';
    const mode = e.mode === 0o755 ? '755' : e.mode === 0o644 ? '644' : '000';
    lines[i + 1] = `${c} ${mode} ${e.type === 'dir' ? '-' : e.sha256} ${e.size} ${e.path}\n`;
  }
  return lines.join('');
}

const HEX64 = /^[0-9a-f]{64}$/;

function checkEntry(e: TreeEntry): void {
  const bad = (why: string): never => {
    throw new SsfError('INPUT_MALFORMED', `tree entry ${JSON.stringify(e.path)} ${why}`);
  };
  if (typeof e.path !== 'string' || !isTreePath(e.path)) bad('has a path that is not relative, /-separated and free of ., .., empty components, newline and NUL');
  if (!Number.isSafeInteger(e.size) || e.size < 0) bad('has a size that is not a whole number of bytes');
  switch (e.type) {
    case 'file':
      if (e.mode !== 0o755 && e.mode !== 0o644) bad('is a file whose mode is neither 0o755 nor 0o644');
      if (!HEX64.test(e.sha256)) bad('has a sha256 that is not 64 lower-case hex digits');
      break;
    case 'symlink':
      if (e.mode !== 0) bad('is a symlink whose mode is not 0');
      if (!HEX64.test(e.sha256)) bad('has a sha256 that is not 64 lower-case hex digits');
      break;
    case 'dir':
      if (e.mode !== 0 || e.size !== 0 || e.sha256 !== '') bad('is a directory with a mode, size or sha256');
      break;
    default:
      bad(`has unknown type ${JSON.stringify((e as { type: unknown }).type)}`);
  }
}

function isTreePath(p: string): boolean {
  if (p === '' || p.includes('\n') || p.includes('\0')) return false;
  for (const c of p.split('/')) if (c === '' || c === '.' || c === '..') return false;
  return isWellFormedUtf16(p);
}

function isWellFormedUtf16(s: string): boolean {
  return !/[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/.test(s);
}

function checkExclude(list: string[] | undefined): Set<string> | undefined {
  if (list === undefined || list.length === 0) return undefined;
  if (!Array.isArray(list)) throw new SsfError('USAGE', 'hashTree exclude must be an array of relative paths');
  const out = new Set<string>();
  for (const raw of list) {
    const p = typeof raw === 'string' ? raw.replace(/\/+$/, '') : raw;
    if (typeof p !== 'string' || p.startsWith('/') || !isTreePath(p)) {
      throw new SsfError('USAGE', `hashTree exclude ${JSON.stringify(raw)} must be a relative path inside the tree, such as "node_modules"`);
    }
    out.add(p);
  }
  return out;
}

/** readdir with ssf's error model; refuses names that are not valid UTF-8 (they cannot be written in the manifest faithfully). */
function readDir(abs: string): Dirent[] {
  let list: Dirent[];
  try {
    list = readdirSync(abs, { withFileTypes: true });
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') throw new SsfError('IO_FAILED', `${abs} changed while it was being hashed (${code}); hash again when the tree is quiet`, { cause: e });
    throw new SsfError('IO_FAILED', `cannot list ${abs}: ${String(code ?? e)}`, { cause: e });
  }
  // Node decodes names as UTF-8 with U+FFFD for invalid bytes; only then is the raw listing needed.
  if (list.some((d) => d.name.includes('\ufffd'))) {
    for (const raw of readdirSync(abs, { encoding: 'buffer' })) {
      if (!Buffer.from(raw.toString('utf8')).equals(raw)) {
        throw new SsfError('INPUT_MALFORMED', `a name in ${abs} is not valid UTF-8 (${raw.toString('hex')}); rename it`);
      }
    }
  }
  return list;
}

function kindOf(d: Dirent): string {
  if (d.isFIFO()) return 'a FIFO';
  if (d.isSocket()) return 'a socket';
  if (d.isCharacterDevice()) return 'a character device';
  if (d.isBlockDevice()) return 'a block device';
  return 'of an unknown type';
}

/** UTF-16 code unit order; equals UTF-8 byte order when no path has characters outside the BMP. */
function compareUtf16(a: TreeEntry, b: TreeEntry): number {
  return a.path < b.path ? -1 : a.path > b.path ? 1 : 0;
}

/** UTF-8 byte order (= code point order): surrogates (U+D800..DFFF) sort after U+E000..FFFF. */
function compareUtf8(a: TreeEntry | string, b: TreeEntry | string): number {
  const x = typeof a === 'string' ? a : a.path;
  const y = typeof b === 'string' ? b : b.path;
  const n = Math.min(x.length, y.length);
  for (let i = 0; i < n; i++) {
    let p = x.charCodeAt(i);
    let q = y.charCodeAt(i);
    if (p !== q) {
      if (p >= 0xd800 && q >= 0xd800) {
        p = p >= 0xe000 ? p - 0x800 : p + 0x2000;
        q = q >= 0xe000 ? q - 0x800 : q + 0x2000;
      }
      return p - q;
    }
  }
  return x.length - y.length;
}

/**
 * One hashTree call's hashing: batches of files and symlinks go to the worker pool (or are hashed
 * inline with workers: 0, or when the whole tree fits in one batch); `result` settles when the
 * walk is finished and every batch has answered, or at the first failure.
 */
class Job {
  readonly result: Promise<void>;
  private resolve!: () => void;
  private reject!: (e: SsfError) => void;
  private batch: TreeEntry[] = [];
  private outstanding = 0;
  private dispatched = false;
  get usesWorkers(): boolean {
    return this.dispatched;
  }
  get isFailed(): boolean {
    return this.failed;
  }
  private walked = false;
  private failed = false;
  private buf: Buffer | undefined;

  constructor(
    private readonly root: string,
    private readonly workers: number,
  ) {
    this.result = new Promise<void>((res, rej) => {
      this.resolve = res;
      this.reject = rej;
    });
    // A worker may fail while the walk is still yielding, before anyone awaits `result`:
    // mark it handled so Node does not treat it as an unhandled rejection (hashTree awaits it).
    this.result.catch(() => undefined);
  }

  add(e: TreeEntry): void {
    this.batch.push(e);
    if (this.batch.length >= BATCH) this.flush(false);
  }

  finishWalk(): void {
    if (this.batch.length > 0) this.flush(true);
    this.walked = true;
    this.settleIfDone();
  }

  fail(e: SsfError): void {
    if (this.failed) return;
    this.failed = true;
    this.reject(e);
  }

  private flush(last: boolean): void {
    const items = this.batch;
    this.batch = [];
    if (this.workers === 0 || (last && !this.dispatched)) {
      this.hashInline(items);
      return;
    }
    this.dispatched = true;
    const kinds = new Uint8Array(items.length);
    const paths = new Array<string>(items.length);
    for (let i = 0; i < items.length; i++) {
      paths[i] = items[i]!.path;
      kinds[i] = items[i]!.type === 'symlink' ? 1 : 0;
    }
    this.outstanding++;
    sharedPool().submit(this.root, paths, kinds, this.workers, () => !this.failed, (reply) => {
      this.outstanding--;
      if (this.failed) return;
      if (reply instanceof Error) {
        this.fail(new SsfError('INTERNAL', `a hashing worker failed: ${reply.message}`, { cause: reply }));
        return;
      }
      this.apply(items, reply);
      this.settleIfDone();
    });
  }

  private apply(items: TreeEntry[], reply: BatchReply): void {
    if (reply.failure !== undefined) {
      this.fail(failureError(reply.failure));
      return;
    }
    for (let i = 0; i < items.length; i++) {
      const e = items[i]!;
      e.sha256 = reply.hex.slice(i * 64, i * 64 + 64);
      e.size = reply.sizes[i]!;
      e.mode = reply.modes[i]!;
    }
  }

  private hashInline(items: TreeEntry[]): void {
    const buf = (this.buf ??= Buffer.allocUnsafe(READ_CHUNK));
    for (const e of items) {
      const abs = `${this.root}/${e.path}`;
      const r: FileHash | HashFailure = e.type === 'symlink' ? hashSymlink(abs) : hashRegularFile(abs, buf, true);
      if (isFailure(r)) throw failureError(r);
      e.sha256 = r.sha256;
      e.size = r.size;
      e.mode = r.mode;
    }
  }

  private settleIfDone(): void {
    if (this.walked && this.outstanding === 0 && !this.failed) this.resolve();
  }
}

function failureError(f: HashFailure): SsfError {
  return new SsfError(f.code as ErrorCode, f.message);
}
