/**
 * What every lockfile reader shares: the SBOM builder (one component per name@version,
 * merged paths, the "most required" scope), SRI integrity to hashes, JSON errors with a
 * position, lockfile-key path checks and the warning cap.
 */
import { SsfError, sha256Hex, decodeBase64 } from '../../core/index.js';
import type { Component, Hash, HashAlg, Sbom, SbomSourceKind, Scope } from '../model.js';
import { npmPurl } from './purl.js';

/** At most this many warnings are kept; the rest are counted in one final line. */
export const MAX_WARNINGS = 1000;

const SCOPE_RANK: Record<Scope, number> = { required: 0, optional: 1, dev: 2 };

/** The more required of two scopes: required beats optional beats dev. */
export function moreRequired(a: Scope, b: Scope): Scope {
  return SCOPE_RANK[a] <= SCOPE_RANK[b] ? a : b;
}

const SRI_ALGS: Record<string, { alg: HashAlg; bytes: number }> = {
  sha1: { alg: 'SHA-1', bytes: 20 },
  sha256: { alg: 'SHA-256', bytes: 32 },
  sha384: { alg: 'SHA-384', bytes: 48 },
  sha512: { alg: 'SHA-512', bytes: 64 },
};

/**
 * Subresource-integrity text (`sha512-<base64> sha1-<base64>`) to hashes. Entries of an
 * unknown algorithm or the wrong length are reported through `warn` and skipped.
 */
export function sriToHashes(sri: string, warn: (msg: string) => void, where: string): Hash[] {
  const out: Hash[] = [];
  for (const tok of sri.split(/\s+/)) {
    if (tok === '') continue;
    const dash = tok.indexOf('-');
    const spec = dash > 0 ? SRI_ALGS[tok.slice(0, dash).toLowerCase()] : undefined;
    if (!spec) {
      warn(`${where}: integrity ${JSON.stringify(tok.slice(0, 40))} is not a known SRI hash; skipped`);
      continue;
    }
    const q = tok.indexOf('?', dash);
    let bytes: Buffer;
    try {
      bytes = decodeBase64(tok.slice(dash + 1, q === -1 ? undefined : q), 'integrity');
    } catch {
      warn(`${where}: integrity ${JSON.stringify(tok.slice(0, 40))} is not valid base64; skipped`);
      continue;
    }
    if (bytes.length !== spec.bytes) {
      warn(`${where}: ${spec.alg} integrity has ${bytes.length} bytes instead of ${spec.bytes}; skipped`);
      continue;
    }
    const hex = bytes.toString('hex');
    if (!out.some((h) => h.alg === spec.alg && h.hex === hex)) out.push({ alg: spec.alg, hex });
  }
  return out;
}

/** Parses lockfile JSON; errors name the file and, when the parser gives one, the line and column. */
export function parseLockJson(text: string, file: string): unknown {
  try {
    return JSON.parse(text);
  } catch (e) {
    const msg = (e as Error).message;
    const m = /at position (\d+)/.exec(msg);
    let where = '';
    if (m?.[1] && Number(m[1]) >= text.trimEnd().length) {
      where = ' (truncated: it ends before the JSON does)';
    } else if (m?.[1]) {
      const pos = Number(m[1]);
      let line = 1;
      let lineStart = 0;
      for (let i = text.indexOf('\n'); i !== -1 && i < pos; i = text.indexOf('\n', i + 1)) {
        line++;
        lineStart = i + 1;
      }
      where = ` at line ${line}, column ${pos - lineStart + 1}`;
    } else if (/end of JSON input/i.test(msg)) {
      where = ' (truncated: it ends before the JSON does)';
    }
    throw new SsfError('LOCKFILE_INVALID', `${file} is not valid JSON${where}: ${msg.split('\n')[0]}`, { cause: e });
  }
}

/**
 * A lockfile key or link target must stay inside the project: no absolute path, no drive
 * letter, no backslash, no `.` or `..` segment. Throws PATH_ESCAPE.
 */
export function checkRelativePath(p: string, file: string, what: string): void {
  if (p === '') return;
  if (p.startsWith('/') || p.includes('\\') || /^[A-Za-z]:/.test(p) || p.includes('\0')) {
    throw new SsfError('PATH_ESCAPE', `${file}: ${what} ${JSON.stringify(p)} is an absolute path; lockfile paths must be relative to the project`);
  }
  for (const seg of p.split('/')) {
    if (seg === '..' || seg === '.') {
      throw new SsfError('PATH_ESCAPE', `${file}: ${what} ${JSON.stringify(p)} has a "${seg}" segment; lockfile paths must stay inside the project`);
    }
  }
}

/** Narrow helpers for untrusted parsed data. */
export function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}
export function str(v: unknown): string | undefined {
  return typeof v === 'string' ? v : undefined;
}
/** A string→string map (dependency lists); other values are dropped. */
export function strMap(v: unknown): Array<[string, string]> {
  if (!isRecord(v)) return [];
  const out: Array<[string, string]> = [];
  for (const k in v) {
    const x = v[k];
    if (typeof x === 'string') out.push([k, x]);
    else if (typeof x === 'number') out.push([k, String(x)]);
  }
  return out;
}

export interface AddInput {
  name: string;
  version: string;
  path: string;
  scope: Scope;
  hashes?: Hash[];
  license?: string;
  resolved?: string;
  bundled?: boolean;
}

/** Collects components and edges; one component per name@version. */
export class SbomBuilder {
  readonly warnings: string[] = [];
  private dropped = 0;
  private readonly byKey = new Map<string, Component>();
  private readonly byRefMap = new Map<string, Component>();
  private readonly edges = new Map<string, Set<string>>();
  private readonly pathSeen = new Map<string, Set<string>>();

  constructor(
    readonly kind: SbomSourceKind,
    readonly file: string,
  ) {}

  warn = (msg: string): void => {
    if (this.warnings.length < MAX_WARNINGS) this.warnings.push(msg);
    else this.dropped++;
  };

  /** Adds one installed instance; returns the component's ref, or undefined when it cannot have a purl. */
  add(x: AddInput): string | undefined {
    const key = `${x.name}@${x.version}`;
    let c = this.byKey.get(key);
    if (!c) {
      let purl: string;
      try {
        purl = npmPurl(x.name, x.version);
      } catch (e) {
        this.warn(`${this.file}: ${x.path}: ${(e as Error).message}; entry skipped`);
        return undefined;
      }
      c = { ref: purl, ecosystem: 'npm', name: x.name, version: x.version, purl, hashes: x.hashes ?? [], scope: x.scope, paths: [x.path] };
      if (x.license !== undefined) c.license = x.license;
      if (x.resolved !== undefined) c.resolved = x.resolved;
      if (x.bundled) c.bundled = true;
      this.byKey.set(key, c);
      this.byRefMap.set(c.ref, c);
      this.pathSeen.set(key, new Set([x.path]));
      return c.ref;
    }
    const seen = this.pathSeen.get(key);
    if (seen && !seen.has(x.path)) {
      seen.add(x.path);
      c.paths.push(x.path);
    }
    c.scope = moreRequired(c.scope, x.scope);
    for (const h of x.hashes ?? []) {
      if (!c.hashes.some((o) => o.alg === h.alg && o.hex === h.hex)) c.hashes.push(h);
    }
    if (c.license === undefined && x.license !== undefined) c.license = x.license;
    if (c.resolved === undefined && x.resolved !== undefined) c.resolved = x.resolved;
    // A package counts as bundled only when every copy of it is.
    if (c.bundled && !x.bundled) delete c.bundled;
    return c.ref;
  }

  byRef(ref: string): Component | undefined {
    return this.byRefMap.get(ref);
  }

  edge(from: string, to: string): void {
    let s = this.edges.get(from);
    if (!s) this.edges.set(from, (s = new Set()));
    s.add(to);
  }

  /** Ensures a node appears in the dependency list even with no edges. */
  node(ref: string): void {
    if (!this.edges.has(ref)) this.edges.set(ref, new Set());
  }

  build(text: string, root: Sbom['root'], version: string | undefined): Sbom {
    if (this.dropped > 0) this.warnings.push(`… and ${this.dropped} more warnings`);
    const dependencies: Sbom['dependencies'] = [];
    dependencies.push({ ref: root.ref, dependsOn: [...(this.edges.get(root.ref) ?? [])] });
    for (const c of this.byKey.values()) dependencies.push({ ref: c.ref, dependsOn: [...(this.edges.get(c.ref) ?? [])] });
    const source: Sbom['source'] = { kind: this.kind, digest: `sha256:${sha256Hex(text)}` };
    if (this.file !== '') source.file = this.file;
    if (version !== undefined) source.version = version;
    return { root, components: [...this.byKey.values()], dependencies, source, warnings: this.warnings };
  }
}

/** The SBOM root from a package name and version; ref `root:` + purl (or + name when it has no purl). */
export function makeRoot(name: string | undefined, version: string | undefined, file: string): Sbom['root'] {
  let n = name;
  if (!n) {
    const parts = file.split(/[\\/]/);
    n = parts.length >= 2 ? parts[parts.length - 2] || 'root' : 'root';
  }
  const v = version ?? '';
  try {
    const purl = npmPurl(n, v);
    return { ref: `root:${purl}`, name: n, version: v, purl };
  } catch {
    return { ref: `root:${n}`, name: n, version: v };
  }
}

/** Reads a package.json text (optional): name, version and the three dependency lists. */
export interface PackageJsonInfo {
  name?: string;
  version?: string;
  dependencies: Array<[string, string]>;
  optionalDependencies: Array<[string, string]>;
  devDependencies: Array<[string, string]>;
  peerDependencies: Array<[string, string]>;
}

export function readPackageJson(text: string | undefined, file: string): PackageJsonInfo | undefined {
  if (text === undefined) return undefined;
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch (e) {
    throw new SsfError('LOCKFILE_INVALID', `the package.json beside ${file} is not valid JSON: ${(e as Error).message}`, { cause: e });
  }
  if (!isRecord(v)) throw new SsfError('LOCKFILE_INVALID', `the package.json beside ${file} is not a JSON object`);
  const info: PackageJsonInfo = {
    dependencies: strMap(v['dependencies']),
    optionalDependencies: strMap(v['optionalDependencies']),
    devDependencies: strMap(v['devDependencies']),
    peerDependencies: strMap(v['peerDependencies']),
  };
  const name = str(v['name']);
  const version = str(v['version']);
  if (name !== undefined) info.name = name;
  if (version !== undefined) info.version = version;
  return info;
}

/**
 * Scope by reachability, for formats that record no dev/optional flags (yarn, pnpm 9): a
 * package reached from a production dependency through required edges is required; reached
 * through an optional edge but not otherwise, optional; reached only from dev dependencies,
 * dev. `edges(ref)` lists (target, optional) pairs.
 */
export function scopesByReachability(
  starts: Array<{ ref: string; scope: Scope }>,
  edges: (ref: string) => Iterable<[string, boolean]>,
): Map<string, Scope> {
  const out = new Map<string, Scope>();
  // Three passes in rank order; each visits a node at most once per pass (linear).
  for (const pass of ['required', 'optional', 'dev'] as const) {
    for (const s of starts) {
      if (SCOPE_RANK[s.scope] <= SCOPE_RANK[pass] && !out.has(s.ref)) out.set(s.ref, pass);
    }
    // Everything marked so far is a start: an optional edge of a required package is followed in the optional pass.
    const queue: string[] = [...out.keys()];
    for (let i = 0; i < queue.length; i++) {
      const ref = queue[i] as string;
      for (const [to, optional] of edges(ref)) {
        if (pass === 'required' && optional) continue;
        if (out.has(to)) continue;
        out.set(to, pass);
        queue.push(to);
      }
    }
  }
  return out;
}
