import { statSync } from 'node:fs';
import { basename } from 'node:path';
import { SsfError, readTextFile } from '../core/index.js';
import type { Sbom } from './model.js';
import { readLockfile } from './lockfile/index.js';
import { importSbom, MAX_SBOM_BYTES } from './sbom/index.js';

const LOCKFILE_NAMES = new Set(['package-lock.json', 'npm-shrinkwrap.json', 'yarn.lock', 'pnpm-lock.yaml']);

/**
 * What `ssf sbom|scan|licenses PATH` reads: a project directory (its lockfile is found), a
 * lockfile, or a CycloneDX / SPDX JSON document someone else produced. Every evidence command
 * and pipeline task goes through here, so they accept the same inputs.
 */
export function readSbomInput(path: string): Sbom {
  let st;
  try {
    st = statSync(path);
  } catch {
    throw new SsfError('FILE_NOT_FOUND', `${path} does not exist; name a project directory, a lockfile or an SBOM`);
  }
  if (st.isDirectory() || LOCKFILE_NAMES.has(basename(path))) return readLockfile(path);
  if (!st.isFile()) throw new SsfError('FILE_NOT_FOUND', `${path} is not a regular file`);
  if (st.size > MAX_SBOM_BYTES) throw new SsfError('INPUT_TOO_LARGE', `${path} is ${st.size} bytes; the limit for an SBOM is ${MAX_SBOM_BYTES}`);
  return importSbom(readTextFile(path, 'SBOM', MAX_SBOM_BYTES), { file: basename(path) });
}
