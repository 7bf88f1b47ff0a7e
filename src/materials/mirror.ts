import { randomBytes } from 'node:crypto';
import { constants, existsSync, readFileSync, promises as fsp } from 'node:fs';
import { dirname, join } from 'node:path';
import { SsfError } from '../core/index.js';
import { registryFetch } from './https-fetch.js';
import { bucketLine, bucketPath, contentPath, CORGI_ACCEPT, httpEntry, tmpDir, type IndexEntry } from './cacache.js';
import { npmRegistry, tarballPath, type LockedPackage } from './lockfile.js';
import { IntegrityChecker, parseIntegrity, sriOf, type Integrity, type SriHash } from './sri.js';

/** What one `ensure` call did. `packages` counts distinct tarballs (by content digest). */
export interface MirrorStats {
  packages: number;
  fetched: number;
  cached: number;
  bytesFetched: number;
}

/** What `runCache` built. */
export interface RunCacheStats {
  dir: string;
  tarballs: number;
  packuments: number;
  linked: number;
  copied: number;
}

/** Where the sandboxed install sees its npm cache. */
export const NPM_SANDBOX_CACHE = '/opt/ssf/npm-cache';

/** A single tarball larger than this is refused (the largest public npm tarballs are a few hundred MB). */
export const MAX_TARBALL_BYTES = 1024 * 1024 * 1024;

/** One distinct tarball to mirror: its content digest and every package entry that wants it. */
interface Want {
  readonly integrity: Integrity;
  readonly pkg: LockedPackage;
  readonly target: string;
}

/**
 * A content-addressed mirror of npm tarballs, stored in npm's own cache layout
 * (`DIR/_cacache/content-v2/<algo>/…`), so npm reads it offline by integrity. Content is
 * written only after every hash the lockfile gives has been checked, via a temporary file
 * and a rename, so a reader never sees partial or unverified bytes.
 */
export class NpmMirror {
  private readonly dir: string;
  constructor(dir: string) {
    this.dir = dir;
  }

  /** Where the URLs a content file was verified against are recorded (outside npm's layout). */
  private sourcesPath(target: string): string {
    return join(this.dir, 'ssf-sources', `${target.slice(target.indexOf('content-v2') + 'content-v2'.length + 1).replace(/\//g, '-')}.urls`);
  }

  private verifiedFrom(target: string): Set<string> {
    try {
      return new Set(readFileSync(this.sourcesPath(target), 'utf8').split('\n').filter((l) => l !== ''));
    } catch {
      return new Set();
    }
  }

  private async recordSource(target: string, url: string): Promise<void> {
    const urls = this.verifiedFrom(target);
    if (urls.has(url)) return;
    urls.add(url);
    const p = this.sourcesPath(target);
    await fsp.mkdir(dirname(p), { recursive: true });
    const tmp = `${p}.${randomBytes(6).toString('hex')}`;
    await fsp.writeFile(tmp, [...urls].sort().join('\n') + '\n');
    await fsp.rename(tmp, p);
  }

  /** The directory to give npm as `--cache` (it holds `_cacache`). */
  cacheDir(): string {
    return this.dir;
  }

  /** Is the content with this integrity (its strongest hash) in the mirror? Malformed integrity is simply absent. */
  has(integrity: string): boolean {
    let i: Integrity;
    try {
      i = parseIntegrity(integrity, 'integrity', 'INPUT_MALFORMED');
    } catch {
      return false;
    }
    return existsSync(contentPath(this.dir, i.strongest));
  }

  /**
   * Makes sure every package's tarball is in the mirror: downloads what is missing from its
   * `resolved` URL (concurrency 16 by default), verifies it, stores it. With `offline`,
   * anything missing is FETCH_FAILED instead of a download.
   */
  async ensure(pkgs: LockedPackage[], opts: { fetch?: typeof fetch; concurrency?: number; offline?: boolean } = {}): Promise<MirrorStats> {
    const concurrency = opts.concurrency ?? 16;
    if (!Number.isInteger(concurrency) || concurrency < 1) throw new SsfError('USAGE', `mirror concurrency must be a positive integer, not ${concurrency}`);
    const doFetch = opts.fetch ?? registryFetch();
    // Content is reused only for a URL it was verified against: a lockfile entry that names
    // another package's integrity must not borrow that package's cached tarball.
    const wants = distinct(pkgs, this.dir, true);
    const missing = wants.filter((w) => !existsSync(w.target) || !this.verifiedFrom(w.target).has(w.pkg.resolved));
    const stats: MirrorStats = { packages: wants.length, fetched: 0, cached: wants.length - missing.length, bytesFetched: 0 };
    if (missing.length === 0) return stats;
    if (opts.offline) {
      const names = missing.slice(0, 3).map((w) => `${w.pkg.name}@${w.pkg.version}`).join(', ');
      throw new SsfError('FETCH_FAILED', `${missing.length} package(s) are not in the mirror and the run is offline: ${names}${missing.length > 3 ? ', …' : ''}`);
    }
    await fsp.mkdir(tmpDir(this.dir), { recursive: true });
    let next = 0;
    let failure: unknown;
    let failures = 0;
    const worker = async (): Promise<void> => {
      while (failure === undefined && next < missing.length) {
        const w = missing[next++] as Want;
        try {
          // Await first: `stats.bytesFetched += await …` would read the total before the await and lose concurrent updates.
          const size = await this.download(w, doFetch);
          stats.bytesFetched += size;
          stats.fetched++;
        } catch (e) {
          failures++;
          failure ??= e;
        }
      }
    };
    await Promise.all(Array.from({ length: Math.min(concurrency, missing.length) }, worker));
    if (failure !== undefined) {
      if (failures > 1 && failure instanceof SsfError) throw new SsfError(failure.code, `${failure.message} (and ${failures - 1} more failure(s))`, { cause: failure });
      throw failure;
    }
    return stats;
  }

  /** Downloads one tarball into a temporary file, checks it, renames it into place; returns its size. */
  private async download(w: Want, doFetch: typeof fetch): Promise<number> {
    const { pkg } = w;
    const id = `${pkg.name}@${pkg.version}`;
    let lastError: unknown;
    // Transport failures and 5xx are retried twice at once; a 4xx or a hash mismatch is final.
    for (let attempt = 0; attempt < 3; attempt++) {
      let res: Response;
      try {
        res = await doFetch(pkg.resolved, { redirect: 'follow' });
      } catch (e) {
        lastError = new SsfError('FETCH_FAILED', `${id}: GET ${pkg.resolved} failed: ${transportReason(e)}`, { cause: e });
        continue;
      }
      if (!res.ok || !res.body) {
        await res.body?.cancel().catch(() => undefined);
        lastError = new SsfError('FETCH_FAILED', `${id}: GET ${pkg.resolved} answered HTTP ${res.status}`);
        if (res.status >= 500) continue;
        throw lastError;
      }
      const tmp = join(tmpDir(this.dir), `ssf-${randomBytes(8).toString('hex')}`);
      const fh = await fsp.open(tmp, 'wx', 0o644);
      let size = 0;
      const check = new IntegrityChecker(w.integrity);
      let stored = false;
      try {
        try {
          for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
            size += chunk.length;
            if (size > MAX_TARBALL_BYTES) throw new SsfError('INPUT_TOO_LARGE', `${id}: ${pkg.resolved} is larger than ${MAX_TARBALL_BYTES} bytes`);
            check.update(chunk);
            let off = 0;
            while (off < chunk.length) off += (await fh.write(chunk, off, chunk.length - off)).bytesWritten;
          }
        } catch (e) {
          if (e instanceof SsfError) throw e;
          lastError = new SsfError('FETCH_FAILED', `${id}: reading ${pkg.resolved} failed: ${(e as Error).message}`, { cause: e });
          continue;
        }
        const bad = check.mismatch();
        if (bad !== undefined) {
          throw new SsfError('INTEGRITY_MISMATCH', `${id}: ${pkg.resolved} has ${bad.slice(0, 30)}…, the lockfile pins ${pkg.integrity.slice(0, 30)}…; the tarball was not stored`);
        }
        await fh.sync();
        await fh.chmod(0o444);
        await fh.close();
        await fsp.mkdir(dirname(w.target), { recursive: true });
        await fsp.rename(tmp, w.target);
        stored = true;
        await this.recordSource(w.target, pkg.resolved);
        return size;
      } finally {
        if (!stored) {
          await fh.close().catch(() => undefined);
          await fsp.rm(tmp, { force: true });
        }
      }
    }
    throw lastError;
  }

  /**
   * Builds a per-run npm cache in `dest` (a new or empty directory) holding exactly these
   * packages: tarballs hard-linked from the mirror (copied across file systems), plus the
   * index entries npm needs when the lockfile has no `resolved` URLs (HTTP-cache entries for
   * each tarball URL and an abbreviated packument per name listing only the locked versions).
   * npm must be able to write to it (it compacts index buckets on read); the mirror's own
   * files are never opened for writing by npm because content is immutable in cacache.
   * `uid`/`gid` chown what this writes (directories, index files), never the linked tarballs.
   */
  async runCache(dest: string, pkgs: LockedPackage[], opts: { uid?: number; gid?: number; now?: number } = {}): Promise<RunCacheStats> {
    await fsp.mkdir(dest, { recursive: true });
    if ((await fsp.readdir(dest)).length > 0) throw new SsfError('IO_FAILED', `run cache directory ${dest} is not empty`);
    const now = opts.now ?? Date.now();
    const owned = new Set<string>([dest]);
    const mkdirOwned = async (d: string): Promise<void> => {
      const first = await fsp.mkdir(d, { recursive: true });
      if (first !== undefined) {
        for (let p = d; p.length >= first.length; p = dirname(p)) owned.add(p);
      }
    };
    const stats: RunCacheStats = { dir: dest, tarballs: 0, packuments: 0, linked: 0, copied: 0 };

    // Tarballs: hard links into the same content layout. File-system calls overlap, because
    // on slow disks their latency, not their number, is the cost.
    const wants = distinct(pkgs, this.dir);
    const sizes = new Map<string, number>();
    await parallel(wants, IO_PARALLELISM, async (w) => {
      const to = contentPath(dest, w.integrity.strongest);
      await mkdirOwned(dirname(to));
      try {
        await fsp.link(w.target, to);
        stats.linked++;
      } catch (e) {
        const code = (e as NodeJS.ErrnoException).code;
        if (code === 'ENOENT') throw new SsfError('FETCH_FAILED', `${w.pkg.name}@${w.pkg.version} is not in the mirror ${this.dir}; run ensure first`);
        if (code !== 'EXDEV' && code !== 'EPERM' && code !== 'EMLINK') throw new SsfError('IO_FAILED', `cannot link ${w.target} into ${dest}: ${(e as Error).message}`, { cause: e });
        await fsp.copyFile(w.target, to, constants.COPYFILE_FICLONE);
        stats.copied++;
      }
      sizes.set(sriString(w.integrity.strongest), (await fsp.stat(to)).size);
      stats.tarballs++;
    });

    // The HTTP-cache entry of each tarball URL, and one abbreviated packument per registry and name.
    const buckets = new Map<string, IndexEntry[]>();
    const addEntry = (e: IndexEntry): void => {
      const path = bucketPath(dest, e.key);
      const list = buckets.get(path) ?? [];
      if (!list.some((x) => x.key === e.key)) list.push(e);
      buckets.set(path, list);
    };
    const packuments = new Map<string, { url: string; name: string; versions: Map<string, LockedPackage> }>();
    for (const p of pkgs) {
      const strongest = sriString(parseIntegrity(p.integrity, `${p.path} integrity`).strongest);
      addEntry(httpEntry(p.resolved, strongest, sizes.get(strongest) ?? 0, undefined, 'application/octet-stream', now));
      const suffix = '/' + tarballPath(p.name, p.version);
      const resolved = new URL(p.resolved).href;
      if (!resolved.endsWith(suffix)) continue; // not a registry-shaped URL: npm will use the resolved URL itself
      const base = resolved.slice(0, -suffix.length);
      const url = `${base}/${p.name.replace('/', '%2f')}`;
      const doc = packuments.get(url) ?? { url, name: p.name, versions: new Map<string, LockedPackage>() };
      doc.versions.set(p.version, p);
      packuments.set(url, doc);
    }
    await parallel([...packuments.values()], IO_PARALLELISM, async (doc) => {
      const versions: Record<string, unknown> = {};
      const sorted = [...doc.versions.keys()].sort(compareSemver);
      for (const v of sorted) {
        const p = doc.versions.get(v) as LockedPackage;
        versions[v] = { name: doc.name, version: v, dist: { tarball: p.resolved, integrity: p.integrity } };
      }
      const body = Buffer.from(JSON.stringify({ name: doc.name, 'dist-tags': { latest: sorted[sorted.length - 1] }, versions }));
      const sri = sriOf(body, 'sha512');
      const target = contentPath(dest, parseIntegrity(sri, 'packument').strongest);
      await mkdirOwned(dirname(target));
      await fsp.writeFile(target, body, { mode: 0o444 });
      owned.add(target);
      addEntry(httpEntry(doc.url, sri, body.length, CORGI_ACCEPT, 'application/json', now));
      stats.packuments++;
    });
    await parallel([...buckets], IO_PARALLELISM, async ([path, entries]) => {
      await mkdirOwned(dirname(path));
      await fsp.writeFile(path, entries.map(bucketLine).join(''), { mode: 0o644 });
      owned.add(path);
    });
    await mkdirOwned(tmpDir(dest));
    if (opts.uid !== undefined || opts.gid !== undefined) {
      await parallel([...owned], IO_PARALLELISM, (p) => fsp.chown(p, opts.uid ?? -1, opts.gid ?? -1));
    }
    return stats;
  }
}

/** How many file-system calls runCache keeps in flight (libuv runs them on its thread pool). */
const IO_PARALLELISM = 32;

/** Runs fn over items with at most `limit` in flight; the first failure is thrown after the in-flight ones settle. */
async function parallel<T>(items: readonly T[], limit: number, fn: (item: T) => Promise<unknown>): Promise<void> {
  let next = 0;
  let failure: { e: unknown } | undefined;
  const worker = async (): Promise<void> => {
    while (failure === undefined && next < items.length) {
      const item = items[next++] as T;
      try {
        await fn(item);
      } catch (e) {
        failure ??= { e };
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  if (failure) throw failure.e;
}

function sriString(h: SriHash): string {
  return `${h.algorithm}-${h.digest.toString('base64')}`;
}

/** Groups packages by content digest; two entries pinning the same content share one download. */
function distinct(pkgs: LockedPackage[], dir: string, perUrl = false): Want[] {
  const byTarget = new Map<string, Want>();
  for (const pkg of pkgs) {
    const integrity = parseIntegrity(pkg.integrity, `${pkg.path} (${pkg.name}@${pkg.version}) integrity`);
    const target = contentPath(dir, integrity.strongest);
    const key = perUrl ? `${target}\n${pkg.resolved}` : target;
    const seen = byTarget.get(key);
    if (!seen) {
      byTarget.set(key, { integrity, pkg, target });
      continue;
    }
    // Same content asked for twice: check every hash either entry names.
    const hashes = [...seen.integrity.hashes];
    for (const h of integrity.hashes) {
      if (!hashes.some((x) => x.algorithm === h.algorithm && x.digest.equals(h.digest))) hashes.push(h);
    }
    byTarget.set(key, { ...seen, integrity: { hashes, strongest: seen.integrity.strongest } });
  }
  return [...byTarget.values()];
}

/** Semantic-version precedence (build metadata ignored), for picking `latest` in a packument. */
export function compareSemver(a: string, b: string): number {
  const split = (v: string): [number[], string[]] => {
    const [core = '', pre] = v.split('+')[0]?.split(/-(.*)/s) ?? [''];
    return [core.split('.').map(Number), pre ? pre.split('.') : []];
  };
  const [ca, pa] = split(a);
  const [cb, pb] = split(b);
  for (let i = 0; i < 3; i++) {
    const d = (ca[i] ?? 0) - (cb[i] ?? 0);
    if (d !== 0) return d;
  }
  if (pa.length === 0 || pb.length === 0) return pb.length - pa.length;
  for (let i = 0; i < Math.max(pa.length, pb.length); i++) {
    const x = pa[i];
    const y = pb[i];
    if (x === undefined) return -1;
    if (y === undefined) return 1;
    const nx = /^\d+$/.test(x);
    const ny = /^\d+$/.test(y);
    if (nx && ny) {
      const d = Number(x) - Number(y);
      if (d !== 0) return d;
    } else if (nx !== ny) return nx ? -1 : 1;
    else if (x !== y) return x < y ? -1 : 1;
  }
  return 0;
}

/**
 * Arguments after `npm-cli.js` for the sandboxed install: clean install from the lockfile,
 * offline, no lifecycle scripts, no audit/fund/update-notifier traffic, no log files in the
 * cache, no git dependencies, and the registry the mirror was filled for (so npm's cache keys
 * match and a project's .npmrc cannot redirect it).
 */
export function npmCiArgs(opts: { cache?: string; registry?: string } = {}): string[] {
  const registry = (opts.registry ?? npmRegistry()).replace(/\/+$/, '');
  return [
    'ci',
    '--offline',
    '--ignore-scripts',
    '--no-audit',
    '--no-fund',
    '--no-update-notifier',
    '--logs-max=0',
    '--allow-git=none',
    '--cache',
    opts.cache ?? NPM_SANDBOX_CACHE,
    '--registry',
    `${registry}/`,
  ];
}

/** fetch's own message is only "fetch failed"; the reason is in the cause. TLS trust problems get a hint. */
function transportReason(e: unknown): string {
  const cause = (e as { cause?: { code?: string; message?: string } }).cause;
  const code = cause?.code ?? '';
  const text = cause?.message ?? (e as Error).message;
  if (/CERT|SELF_SIGNED|UNABLE_TO_VERIFY/.test(code)) return `${text} (${code}); if this network needs a CA bundle, set NODE_EXTRA_CA_CERTS to it`;
  return code ? `${text} (${code})` : text;
}
