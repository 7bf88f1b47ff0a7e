/**
 * Finding and reading a lockfile on disk: which file wins in a directory, the size limit
 * (checked with stat before reading), and the sibling package.json a format needs.
 */
import { statSync, readFileSync, existsSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { SsfError } from '../../core/index.js';
import type { Sbom } from '../model.js';
import { MAX_LOCKFILE_BYTES, sbomFromNpmLockfile } from './npm.js';
import { sbomFromYarnLock } from './yarn.js';
import { sbomFromPnpmLock } from './pnpm.js';

/** In order of preference: what npm itself would read first, then pnpm, then yarn. */
const LOCKFILE_NAMES = ['package-lock.json', 'npm-shrinkwrap.json', 'pnpm-lock.yaml', 'yarn.lock'] as const;

/** The lockfile in `dir`: package-lock.json > npm-shrinkwrap.json > pnpm-lock.yaml > yarn.lock; FILE_NOT_FOUND otherwise. */
export function findLockfile(dir: string): string {
  let st;
  try {
    st = statSync(dir);
  } catch (e) {
    throw new SsfError('FILE_NOT_FOUND', `directory ${dir} does not exist`, { cause: e });
  }
  if (!st.isDirectory()) throw new SsfError('USAGE', `${dir} is not a directory`);
  for (const name of LOCKFILE_NAMES) {
    const p = join(dir, name);
    if (existsSync(p)) return p;
  }
  throw new SsfError('FILE_NOT_FOUND', `${dir} has no lockfile (${LOCKFILE_NAMES.join(', ')}); run your package manager's install once to create one`);
}

function readLimited(path: string, what: string): string {
  let size: number;
  try {
    const st = statSync(path);
    if (!st.isFile()) throw new SsfError('LOCKFILE_INVALID', `${what} ${path} is not a regular file`);
    size = st.size;
  } catch (e) {
    if (e instanceof SsfError) throw e;
    throw new SsfError('FILE_NOT_FOUND', `${what} ${path} does not exist`, { cause: e });
  }
  if (size > MAX_LOCKFILE_BYTES) throw new SsfError('INPUT_TOO_LARGE', `${what} ${path} is ${size} bytes, more than the ${MAX_LOCKFILE_BYTES} bytes ssf reads`);
  try {
    return readFileSync(path, 'utf8');
  } catch (e) {
    throw new SsfError('IO_FAILED', `cannot read ${what} ${path}: ${(e as Error).message}`, { cause: e });
  }
}

function siblingPackageJson(lockfile: string): string | undefined {
  const p = join(dirname(lockfile), 'package.json');
  return existsSync(p) ? readLimited(p, 'package.json') : undefined;
}

/** The SBOM of a lockfile, or of the lockfile findLockfile picks in a directory. */
export function readLockfile(pathOrDir: string): Sbom {
  let path = pathOrDir;
  let isDir = false;
  try {
    isDir = statSync(pathOrDir).isDirectory();
  } catch (e) {
    throw new SsfError('FILE_NOT_FOUND', `${pathOrDir} does not exist`, { cause: e });
  }
  if (isDir) path = findLockfile(pathOrDir);
  const text = readLimited(path, 'lockfile');
  const name = basename(path);
  const kind = detectKind(name, text);
  switch (kind) {
    case 'npm':
      return sbomFromNpmLockfile(text, { file: path, packageJson: siblingPackageJson(path) });
    case 'pnpm':
      return sbomFromPnpmLock(text, { file: path, packageJson: siblingPackageJson(path) });
    case 'yarn':
      return sbomFromYarnLock(text, { file: path, packageJson: siblingPackageJson(path) });
  }
}

/** By file name first; a renamed file by its first bytes. */
function detectKind(name: string, text: string): 'npm' | 'pnpm' | 'yarn' {
  if (name.endsWith('.json')) return 'npm';
  if (name === 'pnpm-lock.yaml' || name.endsWith('.yaml') || name.endsWith('.yml')) return 'pnpm';
  if (name === 'yarn.lock') return 'yarn';
  const head = text.slice(0, 4096).trimStart();
  if (head.startsWith('{')) return 'npm';
  if (/^lockfileVersion:/m.test(head)) return 'pnpm';
  if (/^# yarn lockfile v1|^__metadata:/m.test(head)) return 'yarn';
  throw new SsfError('LOCKFILE_INVALID', `${name} is not a lockfile ssf recognises (package-lock.json, npm-shrinkwrap.json, pnpm-lock.yaml or yarn.lock)`);
}
