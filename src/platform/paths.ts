import { existsSync, lstatSync, readdirSync } from 'node:fs';
import { basename, dirname, isAbsolute, join, relative, resolve, sep } from 'node:path';
import { SsfError } from '../core/index.js';

/** A path inside `root`; PATH_ESCAPE when `rel` would leave it (absolute, `..`, or through a symlink). */
export function insideWorkspace(root: string, rel: string, what: string): string {
  if (isAbsolute(rel)) throw new SsfError('PATH_ESCAPE', `${what} ${JSON.stringify(rel)} must be relative to its workspace`);
  const p = resolve(root, rel);
  if (p !== root && !p.startsWith(root + sep)) throw new SsfError('PATH_ESCAPE', `${what} ${JSON.stringify(rel)} leaves its workspace`);
  // Refuse symlinks on the way: a task could have planted one pointing at the host.
  let cur = root;
  for (const part of relative(root, p).split(sep).filter((s) => s !== '')) {
    cur = join(cur, part);
    if (existsSync(cur) && lstatSync(cur).isSymbolicLink()) throw new SsfError('PATH_ESCAPE', `${what} ${JSON.stringify(rel)} goes through a symbolic link (${relative(root, cur)})`);
  }
  return p;
}

/** Regular files in `root` matching `pattern` (a relative path; `*` allowed in the last part), sorted. */
export function matchFiles(root: string, pattern: string, what: string): string[] {
  const dir = insideWorkspace(root, dirname(pattern), what);
  const base = basename(pattern);
  if (!existsSync(dir)) throw new SsfError('FILE_NOT_FOUND', `${what}: ${dirname(pattern)} does not exist in its workspace`);
  const re = new RegExp(`^${base.split('*').map((s) => s.replace(/[.+?^${}()|[\]\\]/g, '\\$&')).join('[^/]*')}$`);
  const hits = readdirSync(dir).filter((n) => re.test(n)).sort().map((n) => join(dir, n));
  for (const h of hits) {
    const st = lstatSync(h);
    if (st.isSymbolicLink()) throw new SsfError('PATH_ESCAPE', `${what}: ${relative(root, h)} is a symbolic link; name regular files only`);
    if (!st.isFile()) throw new SsfError('FILE_NOT_FOUND', `${what}: ${relative(root, h)} is not a regular file`);
  }
  if (hits.length === 0) throw new SsfError('FILE_NOT_FOUND', `${what}: no file matches ${pattern}`);
  return hits;
}

/** Exactly one file in `root` matching `pattern`. */
export function matchOne(root: string, pattern: string, what: string): string {
  const hits = matchFiles(root, pattern, what);
  if (hits.length !== 1) throw new SsfError('FILE_NOT_FOUND', `${what}: ${hits.length} files match ${pattern}`);
  return hits[0] as string;
}
