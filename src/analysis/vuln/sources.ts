import { closeSync, lstatSync, openSync, readdirSync, readFileSync, readSync, statSync, type Stats } from 'node:fs';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import * as zlib from 'node:zlib';
import yauzl from 'yauzl';
import { SsfError, isSsfError } from '../../core/index.js';
import { parseAdvisory, type OsvAdvisory } from './osv.js';

/**
 * Reading OSV records out of import sources: one JSON file, a directory tree, a zip archive
 * (OSV's per-ecosystem all.zip) or an http(s) URL of either. Every size is bounded before
 * or while it is read; nothing is ever written to disk from an archive.
 */

export interface ImportLimits {
  /** Largest file on disk or download accepted (bytes). */
  maxBytes: number;
  /** Largest single advisory (bytes of JSON). */
  maxAdvisoryBytes: number;
  /** Most entries in a zip archive, or files in a directory tree. */
  maxEntries: number;
  /** Most bytes all of a zip archive's .json entries may expand to. */
  maxTotalBytes: number;
  /** Highest uncompressed:compressed ratio of an entry of at least ratioFloor bytes. */
  maxRatio: number;
  ratioFloor: number;
  /** Deepest directory nesting followed. */
  maxDepth: number;
}

export const DEFAULT_LIMITS: Readonly<ImportLimits> = {
  maxBytes: 1024 * 1024 * 1024,
  maxAdvisoryBytes: 8 * 1024 * 1024,
  maxEntries: 2_000_000,
  maxTotalBytes: 4 * 1024 * 1024 * 1024,
  maxRatio: 100,
  ratioFloor: 1024 * 1024,
  maxDepth: 32,
};

/** Receives each record read from a source; malformed ones are reported through `skip`. */
export interface RecordSink {
  put(a: OsvAdvisory): void;
  skip(where: string, reason: string): void;
}

const ZIP_MAGIC = [0x50, 0x4b]; // "PK": local file header or (empty archive) end of central directory

export function looksLikeZip(head: Uint8Array): boolean {
  return head.length >= 4 && head[0] === ZIP_MAGIC[0] && head[1] === ZIP_MAGIC[1] && (head[2] === 3 || head[2] === 5) && (head[3] === 4 || head[3] === 6);
}

function isJsonName(name: string): boolean {
  return name.toLowerCase().endsWith('.json');
}

/** Reads the first bytes of a file (to tell a zip from JSON). */
export function readHead(path: string, n: number): Buffer {
  const fd = openSync(path, 'r');
  try {
    const buf = Buffer.alloc(n);
    const got = readSync(fd, buf, 0, n, 0);
    return buf.subarray(0, got);
  } finally {
    closeSync(fd);
  }
}

/** Parses one record found inside a directory or archive; malformed ones are skipped, not fatal. */
function offer(sink: RecordSink, text: string, where: string): void {
  let a: OsvAdvisory;
  try {
    a = parseAdvisory(text, where);
  } catch (e) {
    if (isSsfError(e, 'VULNDB_INVALID')) {
      sink.skip(where, e.message);
      return;
    }
    throw e;
  }
  sink.put(a);
}

/** Imports every .json file under `dir` (hidden directories and symbolic links are not followed). */
export function readDirectory(dir: string, sink: RecordSink, limits: ImportLimits): void {
  let files = 0;
  const walk = (path: string, rel: string, depth: number): void => {
    if (depth > limits.maxDepth) {
      sink.skip(rel, `nested deeper than ${limits.maxDepth} directories; not read`);
      return;
    }
    const names = readdirSync(path).sort();
    for (const name of names) {
      const p = join(path, name);
      const r = rel === '' ? name : `${rel}/${name}`;
      const st = lstatSync(p);
      if (st.isSymbolicLink()) {
        if (isJsonName(name)) sink.skip(r, 'a symbolic link; not followed');
        continue;
      }
      if (st.isDirectory()) {
        if (!name.startsWith('.')) walk(p, r, depth + 1);
        continue;
      }
      if (!st.isFile() || !isJsonName(name)) continue;
      if (++files > limits.maxEntries) {
        throw new SsfError('VULNDB_INVALID', `${dir} holds more than ${limits.maxEntries} .json files; import a smaller tree`);
      }
      if (st.size > limits.maxAdvisoryBytes) {
        sink.skip(r, `${st.size} bytes, over the ${limits.maxAdvisoryBytes}-byte limit for one advisory`);
        continue;
      }
      offer(sink, readFileSync(p, 'utf8'), r);
    }
  };
  walk(dir, '', 0);
}

function zipError(source: string, reason: string, cause?: unknown): SsfError {
  return new SsfError('VULNDB_INVALID', `zip archive ${source}: ${reason}; nothing from it was imported`, { cause });
}

function nextEntry(zip: yauzl.ZipFile): Promise<yauzl.Entry | undefined> {
  return new Promise((resolve, reject) => {
    const onEntry = (e: yauzl.Entry): void => {
      cleanup();
      resolve(e);
    };
    const onEnd = (): void => {
      cleanup();
      resolve(undefined);
    };
    const onError = (err: Error): void => {
      cleanup();
      reject(err);
    };
    const cleanup = (): void => {
      zip.off('entry', onEntry);
      zip.off('end', onEnd);
      zip.off('error', onError);
    };
    zip.on('entry', onEntry);
    zip.on('end', onEnd);
    zip.on('error', onError);
    zip.readEntry();
  });
}

/** The entry's stored bytes, as they are in the archive (decompressed by the caller, synchronously). */
function readRaw(zip: yauzl.ZipFile, entry: yauzl.Entry): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    // yauzl accepts `decompress: false` only for deflated entries; stored ones come raw anyway.
    const opts = entry.compressionMethod === 8 ? { decompress: false as const } : {};
    zip.openReadStream(entry, opts, (err, stream: Readable) => {
      if (err) {
        reject(err);
        return;
      }
      const chunks: Buffer[] = [];
      let n = 0;
      stream.on('data', (c: Buffer) => {
        n += c.length;
        chunks.push(c);
      });
      stream.on('error', reject);
      stream.on('end', () => resolve(Buffer.concat(chunks, n)));
    });
  });
}

/**
 * Decompresses one entry. Inflating synchronously into a buffer capped at the declared size
 * is several times faster than yauzl's per-entry inflate streams, and just as bounded: a
 * stream that would expand past its declared size fails instead of growing.
 */
function decompress(entry: yauzl.Entry, raw: Buffer): Buffer {
  const size = entry.uncompressedSize;
  let bytes: Buffer;
  if (entry.compressionMethod === 0) bytes = raw;
  else if (entry.compressionMethod === 8) bytes = zlib.inflateRawSync(raw, { maxOutputLength: Math.max(1, size) });
  else throw new Error(`unsupported compression method ${entry.compressionMethod}`);
  if (bytes.length !== size) throw new Error(`expands to ${bytes.length} bytes, not the ${size} its header declares`);
  // yauzl does not check CRC-32; a damaged stored (uncompressed) entry would otherwise pass.
  if (typeof zlib.crc32 === 'function' && zlib.crc32(bytes) !== entry.crc32) throw new Error('fails its CRC-32 check');
  return bytes;
}

/**
 * Imports the .json entries of a zip archive (a file path or bytes). Any sign of a hostile or
 * damaged archive (too many entries, an entry too large or too compressed, a truncated or
 * corrupt file) fails the whole archive with VULNDB_INVALID; the caller rolls back.
 */
export async function readZip(input: string | Buffer, label: string, sink: RecordSink, limits: ImportLimits): Promise<void> {
  // decodeStrings: false keeps yauzl from rejecting the archive over names like `../x` or `/x`:
  // names are only labels here, nothing is written to disk.
  const opts: yauzl.Options = { lazyEntries: true, validateEntrySizes: true, decodeStrings: false, autoClose: true };
  let zip: yauzl.ZipFile;
  try {
    zip = typeof input === 'string' ? await yauzl.openPromise(input, opts) : await yauzl.fromBufferPromise(input, opts);
  } catch (e) {
    throw zipError(label, `not a readable zip archive (${(e as Error).message})`, e);
  }
  try {
    if (zip.entryCount > limits.maxEntries) throw zipError(label, `${zip.entryCount} entries, over the limit of ${limits.maxEntries}`);
    let total = 0;
    for (;;) {
      let entry: yauzl.Entry | undefined;
      try {
        entry = await nextEntry(zip);
      } catch (e) {
        throw zipError(label, `corrupt central directory (${(e as Error).message})`, e);
      }
      if (!entry) break;
      const raw = entry.fileName as unknown;
      const name = Buffer.isBuffer(raw) ? raw.toString('utf8') : String(raw);
      if (name.endsWith('/') || !isJsonName(name)) continue;
      const shown = JSON.stringify(name.length > 200 ? `${name.slice(0, 200)}…` : name);
      if (entry.uncompressedSize > limits.maxAdvisoryBytes) {
        throw zipError(label, `entry ${shown} expands to ${entry.uncompressedSize} bytes, over the ${limits.maxAdvisoryBytes}-byte limit for one advisory (a zip bomb?)`);
      }
      total += entry.uncompressedSize;
      if (total > limits.maxTotalBytes) throw zipError(label, `entries expand to more than ${limits.maxTotalBytes} bytes in total (a zip bomb?)`);
      if (entry.uncompressedSize >= limits.ratioFloor) {
        const ratio = entry.compressedSize === 0 ? Infinity : entry.uncompressedSize / entry.compressedSize;
        if (ratio > limits.maxRatio) {
          throw zipError(label, `entry ${shown} has a compression ratio of ${Math.round(ratio)}:1, over the limit of ${limits.maxRatio}:1 (a zip bomb?)`);
        }
      }
      // Deflate never grows data by more than a few bytes per 16 KiB block.
      if (entry.compressedSize > limits.maxAdvisoryBytes + 64 * 1024) {
        throw zipError(label, `entry ${shown} is ${entry.compressedSize} bytes compressed, over the ${limits.maxAdvisoryBytes}-byte limit for one advisory`);
      }
      let bytes: Buffer;
      try {
        bytes = decompress(entry, await readRaw(zip, entry));
      } catch (e) {
        throw zipError(label, `entry ${shown} cannot be read (${(e as Error).message})`, e);
      }
      offer(sink, bytes.toString('utf8'), `${label}!${name}`);
    }
  } finally {
    zip.close();
  }
}

/** A URL as it may be shown and stored: without user name, password, query or fragment. */
export function redactUrl(u: URL): string {
  return `${u.protocol}//${u.host}${u.pathname}`;
}

/** Downloads an http(s) URL into memory, bounded by maxBytes while streaming. */
export async function download(url: URL, fetchFn: typeof fetch, maxBytes: number): Promise<Buffer> {
  const shown = redactUrl(url);
  let res: Response;
  try {
    res = await fetchFn(url, { redirect: 'follow', signal: AbortSignal.timeout(15 * 60 * 1000) });
  } catch (e) {
    throw new SsfError('FETCH_FAILED', `GET ${shown} failed: ${(e as Error).message}; check the URL and the network`, { cause: e });
  }
  if (!res.ok) {
    await res.body?.cancel().catch(() => undefined);
    throw new SsfError('FETCH_FAILED', `GET ${shown} answered HTTP ${res.status}; check the URL`);
  }
  const declared = Number(res.headers.get('content-length') ?? NaN);
  if (Number.isFinite(declared) && declared > maxBytes) {
    await res.body?.cancel().catch(() => undefined);
    throw new SsfError('INPUT_TOO_LARGE', `GET ${shown}: ${declared} bytes, over the ${maxBytes}-byte limit; raise maxBytes or import a smaller source`);
  }
  if (!res.body) return Buffer.alloc(0);
  const reader = res.body.getReader();
  const chunks: Uint8Array[] = [];
  let n = 0;
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      n += value.length;
      if (n > maxBytes) {
        await reader.cancel().catch(() => undefined);
        throw new SsfError('INPUT_TOO_LARGE', `GET ${shown}: more than ${maxBytes} bytes; raise maxBytes or import a smaller source`);
      }
      chunks.push(value);
    }
  } catch (e) {
    if (e instanceof SsfError) throw e;
    throw new SsfError('FETCH_FAILED', `GET ${shown}: the download broke off (${(e as Error).message}); try again`, { cause: e });
  }
  return Buffer.concat(chunks, n);
}

/** Stats a local source: FILE_NOT_FOUND when missing, IO_FAILED otherwise. */
export function statSource(path: string): Stats {
  try {
    return statSync(path);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') throw new SsfError('FILE_NOT_FOUND', `advisory source ${path} does not exist; give an OSV .json file, a directory, a .zip or an http(s) URL`, { cause: e });
    throw new SsfError('IO_FAILED', `cannot read advisory source ${path}: ${(e as Error).message}`, { cause: e });
  }
}
