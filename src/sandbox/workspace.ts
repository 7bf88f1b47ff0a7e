import { chmodSync, chownSync, lstatSync, mkdirSync } from 'node:fs';
import { SsfError } from '../core/index.js';
import { SANDBOX_GID, SANDBOX_UID } from './spec.js';

/**
 * Creates (or adopts) a workspace directory a sandbox may mount read-write: mode 0755, owned by
 * the sandbox user 65534:65534. Only the directory itself is changed, never its contents.
 */
export function prepareWorkspaceDir(path: string): void {
  try {
    mkdirSync(path, { recursive: true, mode: 0o755 });
    // lstat: a symlink planted at the workspace path must not redirect the chown elsewhere.
    if (!lstatSync(path).isDirectory()) throw new SsfError('IO_FAILED', `workspace ${path} exists and is not a directory; remove it or pick another path`);
    chownSync(path, SANDBOX_UID, SANDBOX_GID);
    chmodSync(path, 0o755);
  } catch (e) {
    if (e instanceof SsfError) throw e;
    const code = (e as NodeJS.ErrnoException).code;
    const hint = code === 'EPERM' ? ' (changing the owner to 65534 needs root)' : '';
    throw new SsfError('IO_FAILED', `cannot prepare workspace ${path}: ${(e as Error).message}${hint}`, { cause: e });
  }
}
