import { closeSync, fsyncSync, mkdirSync, openSync, readFileSync, renameSync, statSync, unlinkSync, writeFileSync, writeSync } from 'node:fs';
import { dirname } from 'node:path';
import { randomBytes } from 'node:crypto';
import { SsfError } from './errors.js';

/**
 * Writes a file so that readers see either the old or the new content, never a torn one:
 * write to a temporary sibling, fsync, rename over. `mode` 0o600 for private keys.
 */
export function writeFileAtomic(path: string, data: string | Uint8Array, mode = 0o644): void {
  // A device or pipe (`--output /dev/null`, `/dev/stdout`, a FIFO) is written to, never
  // replaced: renaming over /dev/null would turn it into a regular file for the whole machine.
  let special = false;
  try {
    const st = statSync(path);
    special = !st.isFile() && !st.isDirectory();
  } catch {
    // does not exist yet: the atomic path below creates it
  }
  if (special) {
    try {
      writeFileSync(path, data);
      return;
    } catch (e) {
      throw new SsfError('IO_FAILED', `cannot write ${path}: ${(e as Error).message}`, { cause: e });
    }
  }
  const tmp = `${path}.${randomBytes(6).toString('hex')}.tmp`;
  try {
    mkdirSync(dirname(path), { recursive: true });
    const fd = openSync(tmp, 'wx', mode);
    try {
      const buf = typeof data === 'string' ? Buffer.from(data) : data;
      let off = 0;
      while (off < buf.length) off += writeSync(fd, buf, off, buf.length - off);
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    renameSync(tmp, path);
  } catch (e) {
    try {
      unlinkSync(tmp);
    } catch {
      // nothing was written, or it is already gone
    }
    throw new SsfError('IO_FAILED', `cannot write ${path}: ${(e as Error).message}`, { cause: e });
  }
}

/** Reads a text file with ssf's error model (FILE_NOT_FOUND / IO_FAILED / INPUT_TOO_LARGE). */
export function readTextFile(path: string, what: string, maxBytes = 64 * 1024 * 1024): string {
  try {
    const buf = readFileSync(path);
    if (buf.length > maxBytes) throw new SsfError('INPUT_TOO_LARGE', `${what} ${path} is larger than ${maxBytes} bytes`);
    return buf.toString('utf8');
  } catch (e) {
    if (e instanceof SsfError) throw e;
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') throw new SsfError('FILE_NOT_FOUND', `${what} ${path} does not exist`, { cause: e });
    if (code === 'EISDIR') throw new SsfError('USAGE', `${what} ${path} is a directory, not a file`, { cause: e });
    throw new SsfError('IO_FAILED', `cannot read ${what} ${path}: ${(e as Error).message}`, { cause: e });
  }
}
