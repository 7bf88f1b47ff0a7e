import { createHash, randomBytes } from 'node:crypto';
import { closeSync, createWriteStream, lstatSync, mkdirSync, openSync, readFileSync, readSync, readdirSync, readlinkSync, renameSync, statSync, unlinkSync, type Stats } from 'node:fs';
import { dirname, isAbsolute, join, relative, resolve } from 'node:path';
import { Readable, Transform, type TransformCallback } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { once } from 'node:events';
import { constants as zc, createGzip } from 'node:zlib';
import * as tar from 'tar-stream';
import { SsfError, toSsfError } from '../core/index.js';

/** Options for deterministicTarGz. */
export interface TarOptions {
  /** Directory path inside the archive that the directory's contents go under, e.g. `app/`. */
  prefix?: string;
  /** Modification time of every entry, in seconds since the epoch; default SOURCE_DATE_EPOCH, else 0. */
  mtime?: number;
}

/** What deterministicTarGz wrote. */
export interface TarResult {
  /** sha256 of the gzip file. */
  digest: string;
  /** sha256 of the uncompressed tar stream (an OCI layer's diff_id). */
  diffId: string;
  /** Bytes of the gzip file. */
  size: number;
  /** Regular files and symlinks in the archive (directories not counted). */
  files: number;
}

/** The gzip level every archive is compressed with; part of the determinism contract. */
export const GZIP_LEVEL = 6;
/** RFC 1952 OS byte written into every archive: 3 (Unix), whatever platform zlib was built for. */
const GZIP_OS_UNIX = 3;
/** tar-stream encodes mtime as a 32-bit signed number of seconds. */
const MAX_MTIME = 2 ** 31 - 1;
/** Files up to this size are read whole; larger ones are streamed in chunks of this size. */
const CHUNK = 1 << 20;
/** Symlink hops followed when checking where a link leads (Linux's MAXSYMLINKS). */
const MAX_HOPS = 40;

type EntryKind = 'file' | 'directory' | 'symlink';

interface Entry {
  /** Name inside the archive; directories end with `/`. */
  readonly name: string;
  readonly kind: EntryKind;
  /** Source path on disk (absent for prefix directories). */
  readonly abs?: string;
  readonly mode: number;
  readonly size: number;
  readonly linkname?: string;
}

/** Splits an archive prefix into directory names; PATH_ESCAPE for `..`. */
export function prefixParts(prefix: string): string[] {
  if (prefix.includes('\0')) throw new SsfError('PATH_ESCAPE', `archive prefix ${JSON.stringify(prefix)} contains a NUL byte`);
  const parts = prefix.split('/').filter((p) => p !== '' && p !== '.');
  if (parts.includes('..')) throw new SsfError('PATH_ESCAPE', `archive prefix ${JSON.stringify(prefix)} contains '..'; give a path below the archive root`);
  return parts;
}

function resolveMtime(mtime: number | undefined, env: NodeJS.ProcessEnv): number {
  let value = mtime;
  let source = 'mtime';
  if (value === undefined && env.SOURCE_DATE_EPOCH !== undefined && env.SOURCE_DATE_EPOCH !== '') {
    source = 'SOURCE_DATE_EPOCH';
    // reproducible-builds.org: a malformed value must be an error, not silently ignored.
    if (!/^\d{1,10}$/.test(env.SOURCE_DATE_EPOCH)) throw new SsfError('USAGE', `SOURCE_DATE_EPOCH ${JSON.stringify(env.SOURCE_DATE_EPOCH)} is not a whole number of seconds; unset it or fix it`);
    value = Number(env.SOURCE_DATE_EPOCH);
  }
  value ??= 0;
  if (!Number.isSafeInteger(value) || value < 0 || value > MAX_MTIME) throw new SsfError('USAGE', `${source} ${value} must be a whole number of seconds between 0 and ${MAX_MTIME}`);
  return value;
}

function normalizedMode(kind: EntryKind, st: Stats): number {
  switch (kind) {
    case 'directory':
      return 0o755;
    case 'symlink':
      return 0o777;
    case 'file':
      // Any execute bit makes the file executable for everyone; nothing else of the mode survives.
      return st.mode & 0o111 ? 0o755 : 0o644;
  }
}

/**
 * Does a symlink at `linkRel` (relative to the archive root) with `target` lead outside the
 * root? Resolved component by component through the other links in the tree, the way the
 * kernel would after extraction, so `d/up -> ..` followed by `x -> d/up/../..` is caught even
 * though `x`'s target looks harmless lexically.
 */
function linkEscapes(linkRel: string, target: string, links: ReadonlyMap<string, string>): string | undefined {
  if (target.startsWith('/')) return 'is absolute';
  const parts = linkRel.split('/').slice(0, -1);
  let pending = target.split('/');
  let hops = 0;
  while (pending.length > 0) {
    const c = pending.shift() as string;
    if (c === '' || c === '.') continue;
    if (c === '..') {
      if (parts.length === 0) return 'leads above the archive root';
      parts.pop();
      continue;
    }
    parts.push(c);
    const t = links.get(parts.join('/'));
    if (t === undefined) continue;
    if (++hops > MAX_HOPS) return 'is part of a symlink loop';
    if (t.startsWith('/')) return 'passes through an absolute symlink';
    parts.pop();
    pending = [...t.split('/'), ...pending];
  }
  return undefined;
}

/** Walks `root` into archive entries, sorted by the bytes of their names. */
function collect(root: string, prefix: string[]): Entry[] {
  let rootStat: Stats;
  try {
    rootStat = statSync(root);
  } catch (e) {
    throw toSsfError(e, 'IO_FAILED');
  }
  if (!rootStat.isDirectory()) throw new SsfError('USAGE', `${root} is not a directory; give the directory to archive`);
  const base = prefix.length > 0 ? `${prefix.join('/')}/` : '';
  const entries: Entry[] = prefix.map((_, i) => ({ name: `${prefix.slice(0, i + 1).join('/')}/`, kind: 'directory', mode: 0o755, size: 0 }));
  const links = new Map<string, string>();
  const stack: string[] = [''];
  while (stack.length > 0) {
    const rel = stack.pop() as string;
    const dir = rel === '' ? root : join(root, rel);
    let names: string[];
    try {
      names = readdirSync(dir);
    } catch (e) {
      throw toSsfError(e, 'IO_FAILED');
    }
    for (const n of names) {
      const childRel = rel === '' ? n : `${rel}/${n}`;
      // readdir decodes names as UTF-8; a replacement character means the name was not UTF-8
      // and would not survive into the archive as the same bytes.
      if (n.includes('\uFFFD')) throw new SsfError('INPUT_MALFORMED', `${join(dir, n)}: file name is not valid UTF-8; rename it before archiving`);
      const abs = join(root, childRel);
      let st: Stats;
      try {
        st = lstatSync(abs);
      } catch (e) {
        throw toSsfError(e, 'IO_FAILED');
      }
      if (st.isDirectory()) {
        entries.push({ name: `${base}${childRel}/`, kind: 'directory', abs, mode: normalizedMode('directory', st), size: 0 });
        stack.push(childRel);
      } else if (st.isFile()) {
        entries.push({ name: `${base}${childRel}`, kind: 'file', abs, mode: normalizedMode('file', st), size: st.size });
      } else if (st.isSymbolicLink()) {
        let target: string;
        try {
          target = readlinkSync(abs);
        } catch (e) {
          throw toSsfError(e, 'IO_FAILED');
        }
        links.set(childRel, target);
        entries.push({ name: `${base}${childRel}`, kind: 'symlink', abs, mode: normalizedMode('symlink', st), size: 0, linkname: target });
      } else {
        // Devices, FIFOs and sockets have no place in a build artifact; refusing beats a silent drop.
        throw new SsfError('INPUT_MALFORMED', `${abs} is a device, FIFO or socket; only files, directories and symlinks can be archived`);
      }
    }
  }
  for (const [rel, target] of links) {
    const why = linkEscapes(rel, target, links);
    if (why) throw new SsfError('PATH_ESCAPE', `symlink ${join(root, rel)} -> ${target} ${why}; only links that stay inside ${root} can be archived`);
  }
  const keyed = entries.map((e) => ({ e, key: Buffer.from(e.name, 'utf8') }));
  keyed.sort((a, b) => Buffer.compare(a.key, b.key));
  return keyed.map((k) => k.e);
}

function header(e: Entry, mtime: Date): Partial<tar.Header> & { name: string } {
  return {
    name: e.name,
    type: e.kind,
    mode: e.mode,
    uid: 0,
    gid: 0,
    uname: '',
    gname: '',
    mtime,
    size: e.kind === 'file' ? e.size : 0,
    ...(e.linkname !== undefined ? { linkname: e.linkname } : {}),
  };
}

function changed(path: string): SsfError {
  return new SsfError('IO_FAILED', `${path} changed size while it was being archived; archive a directory nothing else is writing to`);
}

/** Writes one entry into the pack stream; resolves when tar-stream has taken all of it. */
async function addEntry(pack: tar.Pack, e: Entry, mtime: Date): Promise<void> {
  const h = header(e, mtime);
  if (e.kind !== 'file') {
    await new Promise<void>((resolve, reject) => pack.entry(h, (err) => (err ? reject(err) : resolve())));
    return;
  }
  const abs = e.abs as string;
  if (e.size <= CHUNK) {
    let data: Buffer;
    try {
      data = readFileSync(abs);
    } catch (err) {
      throw toSsfError(err, 'IO_FAILED');
    }
    if (data.length !== e.size) throw changed(abs);
    await new Promise<void>((resolve, reject) => pack.entry(h, data, (err) => (err ? reject(err) : resolve())));
    return;
  }
  let fd: number;
  try {
    fd = openSync(abs, 'r');
  } catch (err) {
    throw toSsfError(err, 'IO_FAILED');
  }
  try {
    let settle: (err?: Error | null) => void = () => undefined;
    const finish = new Promise<void>((resolve, reject) => {
      settle = (err) => (err ? reject(err) : resolve());
    });
    const sink = pack.entry(h, (err) => settle(err));
    let written = 0;
    for (;;) {
      const buf = Buffer.allocUnsafe(CHUNK);
      const n = readSync(fd, buf, 0, CHUNK, null);
      if (n === 0) break;
      written += n;
      if (written > e.size) {
        sink.destroy(changed(abs));
        throw changed(abs);
      }
      if (!sink.write(buf.subarray(0, n))) await once(sink, 'drain');
    }
    if (written !== e.size) {
      sink.destroy(changed(abs));
      throw changed(abs);
    }
    sink.end(null);
    await finish;
  } finally {
    closeSync(fd);
  }
}

/**
 * Gathers the many small pieces tar-stream emits (a 512-byte header, a body, padding per entry)
 * into large chunks: zlib does one thread-pool round trip per chunk it is given, which
 * dominated the time for trees of many small files.
 */
class Coalesce extends Transform {
  private parts: Buffer[] = [];
  private held = 0;
  constructor(private readonly target = 256 * 1024) {
    super();
  }
  override _transform(chunk: Buffer, _enc: BufferEncoding, cb: TransformCallback): void {
    this.parts.push(chunk);
    this.held += chunk.length;
    if (this.held >= this.target) this.flushParts();
    cb();
  }
  override _flush(cb: TransformCallback): void {
    this.flushParts();
    cb();
  }
  private flushParts(): void {
    if (this.held === 0) return;
    this.push(this.parts.length === 1 ? this.parts[0] : Buffer.concat(this.parts, this.held));
    this.parts = [];
    this.held = 0;
  }
}

class Tap extends Transform {
  readonly hash = createHash('sha256');
  bytes = 0;
  constructor(private readonly patch?: (chunk: Buffer, offset: number) => void) {
    super();
  }
  override _transform(chunk: Buffer, _enc: BufferEncoding, cb: TransformCallback): void {
    this.patch?.(chunk, this.bytes);
    this.hash.update(chunk);
    this.bytes += chunk.length;
    cb(null, chunk);
  }
}

/**
 * Writes `dir` as a gzip-compressed tar that depends only on the directory's names, contents,
 * kinds and execute bits: sorted entries, fixed mtime, owner 0:0 without names, normalised
 * modes, ustar headers with PAX only for long or non-ASCII names, a fixed gzip level with no
 * name or time in the gzip header. The file appears at `out` only when complete.
 */
export async function deterministicTarGz(dir: string, out: string, opts: TarOptions = {}): Promise<TarResult> {
  const prefix = prefixParts(opts.prefix ?? '');
  const mtime = new Date(resolveMtime(opts.mtime, process.env) * 1000);
  const rel = relative(resolve(dir), resolve(out));
  // An archive written inside the tree it archives would include its own earlier copies.
  if (rel !== '' && rel !== '..' && !rel.startsWith('../') && !isAbsolute(rel)) throw new SsfError('USAGE', `output ${out} is inside the directory ${dir} being archived; write it elsewhere`);
  const entries = collect(dir, prefix);
  const tmp = `${out}.${randomBytes(6).toString('hex')}.tmp`;
  try {
    mkdirSync(dirname(out), { recursive: true });
  } catch (e) {
    throw toSsfError(e, 'IO_FAILED');
  }
  const pack = tar.pack();
  const tarTap = new Tap();
  // zlib writes the OS byte (offset 9) of the platform it was built for (3 on Linux, 19 on
  // macOS, 10 on Windows); fixing it keeps the bytes equal across platforms.
  const gzTap = new Tap((chunk, offset) => {
    if (offset <= 9 && offset + chunk.length > 9) chunk[9 - offset] = GZIP_OS_UNIX;
  });
  const gzip = createGzip({ level: GZIP_LEVEL, strategy: zc.Z_DEFAULT_STRATEGY, memLevel: 8, windowBits: 15 });
  const done = pipeline(Readable.from(pack as unknown as AsyncIterable<Buffer>), new Coalesce(), tarTap, gzip, gzTap, createWriteStream(tmp, { flags: 'wx', mode: 0o644 }));
  // If the pipeline fails (disk full), stop feeding entries instead of waiting forever.
  let failure: unknown;
  const failed = new Promise<never>((_, reject) => {
    done.catch((e: unknown) => {
      failure = e;
      reject(e);
    });
  });
  failed.catch(() => undefined);
  let files = 0;
  try {
    for (const e of entries) {
      if (failure !== undefined) throw failure;
      await Promise.race([addEntry(pack, e, mtime), failed]);
      if (e.kind !== 'directory') files++;
    }
    pack.finalize();
    await done;
    renameSync(tmp, out);
  } catch (e) {
    pack.destroy(e instanceof Error ? e : new Error(String(e)));
    await done.catch(() => undefined);
    try {
      unlinkSync(tmp);
    } catch {
      // never created or already gone
    }
    throw toSsfError(e, 'IO_FAILED');
  }
  return {
    digest: `sha256:${gzTap.hash.digest('hex')}`,
    diffId: `sha256:${tarTap.hash.digest('hex')}`,
    size: gzTap.bytes,
    files,
  };
}
