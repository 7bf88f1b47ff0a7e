/**
 * The parts of npm's cache format (cacache: content-v2 and index-v5, and make-fetch-happen's
 * HTTP cache entries) that ssf writes so that `npm ci --offline --cache DIR` installs from it.
 * Checked against npm 11 (cacache 20, make-fetch-happen 15, pacote 21).
 */
import { createHash } from 'node:crypto';
import { join } from 'node:path';
import type { SriHash } from './sri.js';

/** `DIR/_cacache/content-v2/<algo>/<hex[0:2]>/<hex[2:4]>/<hex[4:]>`: where cacache keeps content by digest. */
export function contentPath(cacheDir: string, h: SriHash): string {
  const hex = h.digest.toString('hex');
  return join(cacheDir, '_cacache', 'content-v2', h.algorithm, hex.slice(0, 2), hex.slice(2, 4), hex.slice(4));
}

/** cacache's temporary directory; same file system as the content, so renames are atomic. */
export function tmpDir(cacheDir: string): string {
  return join(cacheDir, '_cacache', 'tmp');
}

/** `DIR/_cacache/index-v5/<sha256(key) split 2/2/rest>`: the bucket file holding a key's index entries. */
export function bucketPath(cacheDir: string, key: string): string {
  const hex = createHash('sha256').update(key).digest('hex');
  return join(cacheDir, '_cacache', 'index-v5', hex.slice(0, 2), hex.slice(2, 4), hex.slice(4));
}

/** One index-v5 line: `\n<sha1(json)>\t<json>`; cacache drops lines whose sha1 does not match. */
export function bucketLine(entry: IndexEntry): string {
  const json = JSON.stringify(entry);
  return `\n${createHash('sha1').update(json).digest('hex')}\t${json}`;
}

/** An index-v5 entry as cacache writes it. */
export interface IndexEntry {
  key: string;
  integrity: string;
  time: number;
  size: number;
  metadata?: unknown;
}

/** The cache key make-fetch-happen uses for a GET of `url` (URL without credentials or fragment). */
export function httpCacheKey(url: string): string {
  const u = new URL(url);
  u.username = '';
  u.password = '';
  u.hash = '';
  return `make-fetch-happen:request-cache:${u.href}`;
}

/**
 * The Accept header pacote sends for abbreviated ("corgi") packuments. make-fetch-happen only
 * answers from the cache when the stored request's media types equal the new request's, so
 * the stored entry must carry exactly this value.
 */
export const CORGI_ACCEPT = 'application/vnd.npm.install-v1+json; q=1.0, application/json; q=0.8, */*';

/** The index entry of a cached HTTP response, as make-fetch-happen writes it (only the fields it reads). */
export function httpEntry(url: string, integrity: string, size: number, accept: string | undefined, contentType: string, time: number): IndexEntry {
  return {
    key: httpCacheKey(url),
    integrity,
    time,
    size,
    metadata: {
      time,
      url,
      reqHeaders: accept === undefined ? {} : { accept },
      resHeaders: { 'content-type': contentType },
      options: { compress: true },
    },
  };
}
