import { createHash } from 'node:crypto';
import { openSync, readSync, closeSync, fstatSync } from 'node:fs';
import { SsfError } from './errors.js';

/** SHA-256 of bytes as a Buffer. */
export function sha256(data: Uint8Array | string): Buffer {
  return createHash('sha256').update(data).digest();
}

/** SHA-256 of bytes as lower-case hex. */
export function sha256Hex(data: Uint8Array | string): string {
  return createHash('sha256').update(data).digest('hex');
}

/** SHA-256 of a file's contents, read in large chunks without loading it whole. */
export function sha256File(path: string): string {
  let fd: number;
  try {
    fd = openSync(path, 'r');
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code === 'ENOENT' ? 'FILE_NOT_FOUND' : 'IO_FAILED';
    throw new SsfError(code, `cannot open ${path}: ${(e as Error).message}`, { cause: e });
  }
  try {
    if (fstatSync(fd).isDirectory()) throw new SsfError('USAGE', `${path} is a directory, not a file`);
    const h = createHash('sha256');
    const buf = Buffer.allocUnsafe(1 << 20);
    for (;;) {
      const n = readSync(fd, buf, 0, buf.length, null);
      if (n === 0) break;
      h.update(buf.subarray(0, n));
    }
    return h.digest('hex');
  } finally {
    closeSync(fd);
  }
}

/** A parsed `sha256:<hex>` reference. */
export interface DigestRef {
  readonly algorithm: 'sha256';
  readonly hex: string;
}

/** Parses `sha256:<64 hex>`; returns undefined when the string is not of that shape. */
export function parseDigestRef(s: string): DigestRef | undefined {
  const m = /^sha256:([0-9a-fA-F]{64})$/.exec(s);
  return m && m[1] ? { algorithm: 'sha256', hex: m[1].toLowerCase() } : undefined;
}
