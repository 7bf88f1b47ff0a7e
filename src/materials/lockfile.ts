import { spawnSync } from 'node:child_process';
import { homedir } from 'node:os';
import { posix } from 'node:path';
import { SsfError } from '../core/index.js';
import { isStrong, parseIntegrity } from './sri.js';

/** One registry tarball a lockfile pins: where it goes, what it is, and the hash it must have. */
export interface LockedPackage {
  /** Install path from the lockfile, e.g. `node_modules/a/node_modules/b`. */
  path: string;
  /** The package's registry name (for an alias `npm:real@1`, the real name). */
  name: string;
  version: string;
  /** Subresource Integrity string as the lockfile gives it (contains a sha256/384/512 term). */
  integrity: string;
  /** Absolute tarball URL; computed from the registry when the lockfile omits it. */
  resolved: string;
  license?: string;
  dev: boolean;
  optional: boolean;
}

/** Which registries a lockfile may resolve from (gate B). */
export interface LockfilePolicy {
  /** The configured registry base URL, e.g. from `npm config get registry`. */
  registry: string;
  /** Allowed base URLs; defaults to `[registry]`. */
  allowedRegistries: string[];
}

/** The parsed lockfile. `packages` lists only registry tarballs (no root, links, folders or bundled entries). */
export interface ParsedLockfile {
  name?: string;
  version?: string;
  lockfileVersion: 2 | 3;
  packages: LockedPackage[];
}

/** Lockfiles above this size are refused before parsing. */
export const MAX_LOCKFILE_BYTES = 64 * 1024 * 1024;

// Names as npm's validate-npm-package-name accepts them for existing packages (legacy upper
// case included), restricted to URL-safe characters: they become path segments and URL parts.
const NAME_PART = /^(?![._])[A-Za-z0-9._~!'()*-]{1,214}$/;
// Semantic Versioning 2.0.0, the regular expression the specification publishes.
const SEMVER =
  /^(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)(?:-((?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*)(?:\.(?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*))*))?(?:\+([0-9a-zA-Z-]+(?:\.[0-9a-zA-Z-]+)*))?$/;

/** Is this a valid npm package name (`name` or `@scope/name`)? */
export function isPackageName(s: string): boolean {
  if (s.length > 214) return false;
  if (s.startsWith('@')) {
    const parts = s.slice(1).split('/');
    return parts.length === 2 && NAME_PART.test(parts[0] ?? '') && NAME_PART.test(parts[1] ?? '');
  }
  return NAME_PART.test(s) && s !== 'node_modules';
}

/** A registry base URL, normalised: no trailing slash, https (or http on a loopback host), no credentials. */
interface RegistryBase {
  readonly href: string;
  readonly origin: string;
  readonly path: string;
}

function isLoopback(hostname: string): boolean {
  return hostname === 'localhost' || hostname === '[::1]' || /^127(\.\d{1,3}){3}$/.test(hostname);
}

function parseBase(s: string, what: string): RegistryBase {
  let u: URL;
  try {
    u = new URL(s);
  } catch {
    throw new SsfError('DEPENDENCY_REGISTRY', `${what} ${JSON.stringify(s)} is not a URL`);
  }
  if (!(u.protocol === 'https:' || (u.protocol === 'http:' && isLoopback(u.hostname)))) {
    throw new SsfError('DEPENDENCY_REGISTRY', `${what} ${s} must use https (http only on a loopback address)`);
  }
  if (u.username || u.password || u.search || u.hash) {
    throw new SsfError('DEPENDENCY_REGISTRY', `${what} ${u.origin}… must not carry credentials, a query or a fragment`);
  }
  const path = u.pathname.replace(/\/+$/, '');
  return { href: u.origin + path, origin: u.origin, path };
}

/** The tarball path below a registry base: `name/-/name-1.0.0.tgz`, `@scope/name/-/name-1.0.0.tgz`. */
export function tarballPath(name: string, version: string): string {
  const base = name.startsWith('@') ? name.slice(name.indexOf('/') + 1) : name;
  return `${name}/-/${base}-${version}.tgz`;
}

type KeyKind = { kind: 'root' } | { kind: 'folder' } | { kind: 'package'; name: string };

/**
 * Classifies a `packages` key. Keys are paths relative to the project root, so any `..`,
 * absolute form or backslash is refused before the path is used for anything.
 */
function classifyKey(key: string, where: string): KeyKind {
  if (key === '') return { kind: 'root' };
  if (key.startsWith('/') || /^[A-Za-z]:/.test(key) || key.includes('\\') || key.includes('\0')) {
    throw new SsfError('PATH_ESCAPE', `${where}: the key is not a relative path inside the project`);
  }
  const segs = key.split('/');
  if (segs.includes('..')) throw new SsfError('PATH_ESCAPE', `${where}: the key leaves the project with ".."`);
  if (segs.some((s) => s === '' || s === '.')) throw new SsfError('LOCKFILE_INVALID', `${where}: the key has an empty or "." path segment`);
  const first = segs.indexOf('node_modules');
  if (first < 0) return { kind: 'folder' };
  let i = first;
  let name = '';
  while (i < segs.length) {
    if (segs[i] !== 'node_modules') throw new SsfError('LOCKFILE_INVALID', `${where}: expected "node_modules" at path segment ${i + 1}`);
    const a = segs[i + 1];
    if (a === undefined) throw new SsfError('LOCKFILE_INVALID', `${where}: the key ends in "node_modules" without a package name`);
    if (a.startsWith('@')) {
      name = `${a}/${segs[i + 2] ?? ''}`;
      i += 3;
    } else {
      name = a;
      i += 2;
    }
    if (!isPackageName(name)) throw new SsfError('LOCKFILE_INVALID', `${where}: ${JSON.stringify(name)} is not a valid package name`);
  }
  return { kind: 'package', name };
}

function quoteKey(key: string): string {
  return JSON.stringify(key.length > 120 ? key.slice(0, 120) + '…' : key);
}

/**
 * Parses an npm lockfile (v2 or v3) and applies gate B: every registry package is pinned to
 * an exact version with a strong integrity hash and resolves to a tarball under an allowed
 * registry. Links must stay inside the project. Errors name the file and the entry.
 */
export function parseNpmLockfile(text: string, file: string, policy: LockfilePolicy): ParsedLockfile {
  if (Buffer.byteLength(text, 'utf8') > MAX_LOCKFILE_BYTES) {
    throw new SsfError('INPUT_TOO_LARGE', `lockfile ${file} is larger than ${MAX_LOCKFILE_BYTES} bytes`);
  }
  const registry = parseBase(policy.registry, 'registry');
  const allowed = (policy.allowedRegistries.length > 0 ? policy.allowedRegistries : [policy.registry]).map((r) => parseBase(r, 'allowed registry'));
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (e) {
    throw new SsfError('LOCKFILE_INVALID', `lockfile ${file} is not valid JSON: ${(e as Error).message}`, { cause: e });
  }
  if (typeof doc !== 'object' || doc === null || Array.isArray(doc)) throw new SsfError('LOCKFILE_INVALID', `lockfile ${file} is not a JSON object`);
  const top = doc as Record<string, unknown>;
  const lv = top.lockfileVersion;
  if (lv === 1) {
    throw new SsfError('LOCKFILE_INVALID', `lockfile ${file} is lockfileVersion 1 (npm 6); regenerate it with npm 7 or later: npm install --package-lock-only --lockfile-version 3`);
  }
  if (lv !== 2 && lv !== 3) throw new SsfError('LOCKFILE_INVALID', `lockfile ${file} has lockfileVersion ${JSON.stringify(lv)}; only 2 and 3 are supported`);
  const pkgs = top.packages;
  if (typeof pkgs !== 'object' || pkgs === null || Array.isArray(pkgs)) {
    throw new SsfError('LOCKFILE_INVALID', `lockfile ${file} has no "packages" object`);
  }

  const out: LockedPackage[] = [];
  let rootName: string | undefined;
  let rootVersion: string | undefined;
  for (const [key, raw] of Object.entries(pkgs as Record<string, unknown>)) {
    const where = `lockfile ${file}: packages[${quoteKey(key)}]`;
    const kind = classifyKey(key, where);
    if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) throw new SsfError('LOCKFILE_INVALID', `${where} is not an object`);
    const e = raw as Record<string, unknown>;
    if (kind.kind === 'root') {
      if (typeof e.name === 'string') rootName = e.name;
      if (typeof e.version === 'string') rootVersion = e.version;
      continue;
    }
    if (e.link === true) {
      // A link's `resolved` is a path relative to the project root (a workspace or file: folder).
      const target = e.resolved;
      if (typeof target !== 'string' || target === '') throw new SsfError('LOCKFILE_INVALID', `${where} is a link without a target path`);
      const norm = posix.normalize(target.replace(/\\/g, '/'));
      if (posix.isAbsolute(norm) || /^[A-Za-z]:/.test(norm) || norm === '..' || norm.startsWith('../') || /^[a-z+]+:/i.test(target)) {
        throw new SsfError('PATH_ESCAPE', `${where} links to ${JSON.stringify(target)}, outside the project; only links to folders inside the project (workspaces) are allowed`);
      }
      continue;
    }
    // Bundled dependencies arrive inside their parent's tarball, which the parent's integrity covers.
    if (e.inBundle === true) continue;
    if (kind.kind === 'folder') continue; // a workspace folder: part of the source tree, not a download

    const aliasName = e.name;
    if (aliasName !== undefined && (typeof aliasName !== 'string' || !isPackageName(aliasName))) {
      throw new SsfError('LOCKFILE_INVALID', `${where} has an invalid "name"`);
    }
    const name = (aliasName as string | undefined) ?? kind.name;
    const version = e.version;
    if (typeof version !== 'string' || version === '') throw new SsfError('DEPENDENCY_UNPINNED', `${where} has no version`);
    if (!SEMVER.test(version)) throw new SsfError('DEPENDENCY_UNPINNED', `${where} version ${JSON.stringify(version.slice(0, 60))} is not an exact semantic version`);
    const integrity = e.integrity;
    if (typeof integrity !== 'string' || integrity.trim() === '') {
      throw new SsfError('DEPENDENCY_UNPINNED', `${where} (${name}@${version}) has no integrity hash; regenerate the lockfile with a registry that serves sha512 integrity`);
    }
    if (!isStrong(parseIntegrity(integrity, where))) {
      throw new SsfError('DEPENDENCY_UNPINNED', `${where} (${name}@${version}) is pinned only by sha1; refresh it so the lockfile carries sha512`);
    }

    let resolved: string;
    if (e.resolved === undefined) {
      resolved = `${registry.href}/${tarballPath(name, version)}`;
      if (!allowed.some((b) => b.href === registry.href)) {
        throw new SsfError('DEPENDENCY_REGISTRY', `${where} (${name}@${version}) would resolve from ${registry.href}, which is not an allowed registry`);
      }
    } else {
      if (typeof e.resolved !== 'string') throw new SsfError('LOCKFILE_INVALID', `${where} has a non-string "resolved"`);
      resolved = checkResolved(e.resolved, name, version, allowed, where);
    }

    const pkg: LockedPackage = { path: key, name, version, integrity: integrity.trim(), resolved, dev: e.dev === true, optional: e.optional === true };
    if (typeof e.license === 'string') pkg.license = e.license;
    out.push(pkg);
  }
  const result: ParsedLockfile = { lockfileVersion: lv, packages: out };
  if (rootName !== undefined) result.name = rootName;
  if (rootVersion !== undefined) result.version = rootVersion;
  return result;
}

/** A `resolved` URL must be exactly the registry tarball of this name and version under an allowed base. */
function checkResolved(resolved: string, name: string, version: string, allowed: RegistryBase[], where: string): string {
  const shown = resolved.length > 100 ? resolved.slice(0, 100) + '…' : resolved;
  let u: URL;
  try {
    u = new URL(resolved);
  } catch {
    throw new SsfError('DEPENDENCY_REGISTRY', `${where} resolves to ${JSON.stringify(shown)}, which is not a registry tarball URL`);
  }
  if (!(u.protocol === 'https:' || (u.protocol === 'http:' && isLoopback(u.hostname)))) {
    throw new SsfError('DEPENDENCY_REGISTRY', `${where} resolves to ${JSON.stringify(shown)}; only https registry tarballs are allowed (git, file, github: and other sources are refused)`);
  }
  if (u.username || u.password) throw new SsfError('DEPENDENCY_REGISTRY', `${where} resolves to a URL with credentials in it; remove them from the lockfile`);
  if (u.search || u.hash) throw new SsfError('DEPENDENCY_REGISTRY', `${where} resolves to ${JSON.stringify(shown)}, which has a query or fragment`);
  const base = allowed.find((b) => u.origin === b.origin && u.pathname.startsWith(b.path + '/'));
  if (!base) throw new SsfError('DEPENDENCY_REGISTRY', `${where} resolves to ${JSON.stringify(shown)}, which is not under an allowed registry (${allowed.map((b) => b.href).join(', ')})`);
  const expected = tarballPath(name, version);
  if (u.pathname.slice(base.path.length + 1) !== expected) {
    throw new SsfError('DEPENDENCY_REGISTRY', `${where} resolves to ${JSON.stringify(shown)}, which is not the tarball of ${name}@${version} (expected …/${expected})`);
  }
  return u.href;
}

let cachedRegistry: string | undefined;

/** The registry npm is configured with (`npm config get registry`, run once per process), without trailing slash. */
export function npmRegistry(): string {
  if (cachedRegistry !== undefined) return cachedRegistry;
  // Run outside any project so a project's .npmrc cannot choose the factory's registry.
  const r = spawnSync('npm', ['config', 'get', 'registry'], { cwd: homedir(), encoding: 'utf8', timeout: 60_000, stdio: ['ignore', 'pipe', 'pipe'] });
  if (r.error || r.status !== 0) {
    const why = r.error ? r.error.message : (r.stderr ?? '').trim().split('\n').pop();
    throw new SsfError('DEPENDENCY_REGISTRY', `cannot read the npm registry with "npm config get registry": ${why}`, { cause: r.error });
  }
  const value = r.stdout.trim();
  cachedRegistry = parseBase(value, 'npm registry').href;
  return cachedRegistry;
}
