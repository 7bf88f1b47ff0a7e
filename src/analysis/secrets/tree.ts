import { closeSync, constants, fstatSync, openSync, readSync, readdirSync, statSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { join } from 'node:path';
import { SsfError } from '../../core/index.js';
import type { SecretFinding, SecretReport } from '../model.js';
import { AllowlistMatcher, globToRegExp, type Allowlist } from './allowlist.js';
import { scanText } from './scan.js';

export interface ScanSecretsOptions {
  allowlist?: Allowlist;
  /** Larger files are skipped with a warning. Default 1 MiB. */
  maxFileBytes?: number;
  /** Files and directories visited before the scan stops with a warning. Default 100,000. */
  maxFiles?: number;
  /** Bytes read in all before the scan stops with a warning. Default 1 GiB. */
  maxTotalBytes?: number;
  /** Names (any depth) or globs (relative paths) not to enter. Default `.git` and `node_modules`; a list given replaces it. */
  exclude?: string[];
}

export const SCAN_DEFAULTS = { maxFileBytes: 1024 * 1024, maxFiles: 100_000, maxTotalBytes: 1024 * 1024 * 1024, exclude: ['.git', 'node_modules'] } as const;

/** First line of the scanned-files manifest whose SHA-256 is the report's `root`. */
export const SECRETS_MANIFEST_HEADER = 'ssf-secrets-scan-v1\n';
/** Warning lines kept in a report; the rest are counted in one line. */
const MAX_WARNINGS = 200;
/** Bytes looked at for a NUL to call a file binary (as git and grep do). */
const BINARY_PROBE = 8192;

function positive(v: number | undefined, dflt: number, what: string): number {
  if (v === undefined) return dflt;
  if (!Number.isSafeInteger(v) || v <= 0) throw new SsfError('USAGE', `${what} must be a positive integer, not ${v}`);
  return v;
}

/**
 * Walks a tree and scans every text file. Never follows a symlink (the root itself may be
 * one), skips excluded directories, binary files (a NUL in the first 8 KiB) and files over
 * `maxFileBytes`, and stops at `maxFiles` entries or `maxTotalBytes`, with a warning each.
 */
export async function scanSecrets(root: string, opts: ScanSecretsOptions = {}): Promise<SecretReport> {
  const maxFileBytes = positive(opts.maxFileBytes, SCAN_DEFAULTS.maxFileBytes, 'maxFileBytes');
  const maxFiles = positive(opts.maxFiles, SCAN_DEFAULTS.maxFiles, 'maxFiles');
  const maxTotalBytes = positive(opts.maxTotalBytes, SCAN_DEFAULTS.maxTotalBytes, 'maxTotalBytes');
  const exclude = opts.exclude ?? [...SCAN_DEFAULTS.exclude];
  const excludeNames = new Set(exclude.filter((e) => !/[/*?]/.test(e)));
  const excludeGlobs = exclude.filter((e) => /[/*?]/.test(e)).map(globToRegExp);
  const excluded = (name: string, rel: string): boolean => excludeNames.has(name) || excludeGlobs.some((g) => g.test(rel));
  const allow = opts.allowlist ? new AllowlistMatcher(opts.allowlist) : undefined;

  let st;
  try {
    st = statSync(root);
  } catch (e) {
    throw new SsfError('FILE_NOT_FOUND', `cannot scan ${root}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}; name an existing directory`, { cause: e });
  }
  if (!st.isDirectory()) throw new SsfError('FILE_NOT_FOUND', `${root} is not a directory; name the directory to scan`);

  const warnings: string[] = [];
  let dropped = 0;
  const warn = (w: string): void => {
    if (warnings.length < MAX_WARNINGS) warnings.push(w);
    else dropped++;
  };
  const findings: SecretFinding[] = [];
  const manifest: string[] = [];
  let suppressed = 0;
  let visited = 0;
  let total = 0;
  let stopped = false;
  const buf = Buffer.allocUnsafe(Math.min(maxFileBytes + 1, 64 * 1024 * 1024));

  // Depth-first with an explicit stack (no recursion limit); names sorted for a stable order.
  const stack: string[] = [''];
  while (stack.length > 0 && !stopped) {
    const dir = stack.pop() ?? '';
    let entries;
    try {
      entries = readdirSync(join(root, dir), { withFileTypes: true });
    } catch (e) {
      warn(`${dir || '.'}: cannot read the directory (${(e as NodeJS.ErrnoException).code ?? 'error'}); skipped`);
      continue;
    }
    entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    const subdirs: string[] = [];
    for (const d of entries) {
      const rel = dir === '' ? d.name : `${dir}/${d.name}`;
      if (d.isSymbolicLink()) continue;
      if (excluded(d.name, rel)) continue;
      if (++visited > maxFiles) {
        warn(`stopped after ${maxFiles} files and directories (maxFiles); the rest of the tree was not scanned`);
        stopped = true;
        break;
      }
      if (d.isDirectory()) {
        subdirs.push(rel);
        continue;
      }
      if (!d.isFile()) continue;
      const r = readFile(join(root, rel), maxFileBytes, buf);
      if (r.kind === 'skip') {
        warn(`${rel}: ${r.why}; skipped`);
        continue;
      }
      total += r.bytes.length;
      if (total > maxTotalBytes) {
        warn(`stopped after ${maxTotalBytes} bytes (maxTotalBytes); ${rel} and the rest of the tree were not scanned`);
        stopped = true;
        break;
      }
      if (r.bytes.subarray(0, BINARY_PROBE).includes(0)) {
        warn(`${rel}: binary (a NUL byte in the first ${BINARY_PROBE} bytes); skipped`);
        continue;
      }
      manifest.push(`${createHash('sha256').update(r.bytes).digest('hex')}  ${JSON.stringify(rel)}\n`);
      for (const f of scanText(r.bytes.toString('utf8'), rel)) {
        if (allow?.allows(f)) suppressed++;
        else findings.push(f);
      }
    }
    for (let i = subdirs.length - 1; i >= 0; i--) stack.push(subdirs[i] ?? '');
  }
  if (dropped > 0) warnings.push(`... and ${dropped} more warnings`);
  manifest.sort();
  const digest = createHash('sha256').update(SECRETS_MANIFEST_HEADER).update(manifest.join('')).digest('hex');
  return { root: `sha256:${digest}`, filesScanned: manifest.length, findings, suppressed, warnings };
}

type Read = { kind: 'ok'; bytes: Buffer } | { kind: 'skip'; why: string };

/** Reads a regular file without following a symlink swapped in since readdir, up to `max` bytes. */
function readFile(path: string, max: number, buf: Buffer): Read {
  let fd: number;
  try {
    fd = openSync(path, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK);
  } catch (e) {
    return { kind: 'skip', why: `cannot open (${(e as NodeJS.ErrnoException).code ?? 'error'})` };
  }
  try {
    const st = fstatSync(fd);
    if (!st.isFile()) return { kind: 'skip', why: 'not a regular file' };
    if (st.size > max) return { kind: 'skip', why: `${st.size} bytes, over the ${max}-byte limit (maxFileBytes)` };
    const target = max + 1 <= buf.length ? buf : Buffer.allocUnsafe(max + 1);
    let n = 0;
    for (;;) {
      const k = readSync(fd, target, n, target.length - n, null);
      if (k === 0) break;
      n += k;
      if (n > max) return { kind: 'skip', why: `grew past the ${max}-byte limit while being read` };
    }
    return { kind: 'ok', bytes: Buffer.from(target.subarray(0, n)) };
  } catch (e) {
    return { kind: 'skip', why: `cannot read (${(e as NodeJS.ErrnoException).code ?? 'error'})` };
  } finally {
    closeSync(fd);
  }
}
