/**
 * pnpm-lock.yaml, lockfileVersion 5.x (`/name/1.2.3` keys), 6.x (`/name@1.2.3`) and 9.x
 * (`name@1.2.3` in `packages`, the dependency graph in `snapshots`). Peer-resolution
 * variants (`_peer@1` in 5.x, `(peer@1)` from 6.0) are instances of one component.
 */
import { SsfError } from '../../core/index.js';
import type { Sbom, Scope } from '../model.js';
import { SbomBuilder, checkRelativePath, isRecord, makeRoot, readPackageJson, scopesByReachability, sriToHashes, str } from './common.js';
import { checkTextSize } from './npm.js';
import { yamlDoc } from './yarn.js';

export interface PnpmLockOptions {
  file?: string;
  /** The project's package.json text: the root's name and version (pnpm-lock.yaml records neither). */
  packageJson?: string;
}

/** name@version from a package key of the given lockfile major version; the peer suffix is dropped. */
function parseKey(key: string, major: number): [string, string] | undefined {
  let k = key.startsWith('/') ? key.slice(1) : key;
  if (major === 5) {
    const segs = k.split('/');
    const scoped = segs[0]?.startsWith('@') === true;
    const nameSegs = scoped ? 2 : 1;
    if (segs.length < nameSegs + 1) return undefined;
    const name = segs.slice(0, nameSegs).join('/');
    let version = segs.slice(nameSegs).join('/');
    const us = version.indexOf('_');
    if (us !== -1) version = version.slice(0, us);
    return name && version ? [name, version] : undefined;
  }
  const paren = k.indexOf('(');
  if (paren !== -1) k = k.slice(0, paren);
  const at = k.indexOf('@', 1);
  if (at === -1) return undefined;
  const name = k.slice(0, at);
  const version = k.slice(at + 1);
  return name && version ? [name, version] : undefined;
}

/** A dependency's value (`1.2.3`, `1.2.3(peer@1)`, `/other/1.0.0`, `other@1.0.0`) → the key it names. */
function depKeys(dep: string, value: string, major: number): string[] {
  if (value.startsWith('/')) return [value];
  if (major === 5) return [`/${dep}/${value}`];
  if (major === 6) return [`/${dep}@${value}`];
  // 9.x: `name@version` keys; an alias's value is itself a key (`string-width@4.2.3`).
  const out = [`${dep}@${value}`];
  const paren = value.indexOf('(');
  const at = value.indexOf('@', 1);
  if (at > 0 && (paren === -1 || at < paren)) out.push(value);
  return out;
}

/** An importer's (or v5/v6 top level's) dependency list: name → version value. */
function importerDeps(v: unknown): Array<[string, string]> {
  if (!isRecord(v)) return [];
  const out: Array<[string, string]> = [];
  for (const k in v) {
    const x = v[k];
    if (typeof x === 'string') out.push([k, x]);
    else if (typeof x === 'number') out.push([k, String(x)]);
    else if (isRecord(x) && typeof x['version'] === 'string') out.push([k, x['version']]);
  }
  return out;
}

function strDeps(v: unknown): Array<[string, string]> {
  return importerDeps(v);
}

/** SBOM of a pnpm-lock.yaml (lockfileVersion 5.x, 6.x or 9.x). */
export function sbomFromPnpmLock(text: string, opts: PnpmLockOptions = {}): Sbom {
  const file = opts.file ?? 'pnpm-lock.yaml';
  checkTextSize(text, file);
  const pkg = readPackageJson(opts.packageJson, file);
  const doc = yamlDoc(text, file);
  if (!isRecord(doc)) throw new SsfError('LOCKFILE_INVALID', `${file} is not a YAML mapping`);
  const lvRaw = doc['lockfileVersion'];
  const lv = typeof lvRaw === 'number' ? String(lvRaw) : str(lvRaw);
  const major = lv !== undefined && /^[0-9]+(\.[0-9]+)?$/.test(lv) ? Math.floor(Number(lv)) : NaN;
  if (major !== 5 && major !== 6 && major !== 9) {
    throw new SsfError('LOCKFILE_INVALID', `${file}: lockfileVersion ${JSON.stringify(lvRaw)} is not supported (5.x, 6.x or 9.x); regenerate it with a current pnpm`);
  }
  const b = new SbomBuilder('pnpm', file);
  const packages = isRecord(doc['packages']) ? doc['packages'] : {};
  const snapshots = major === 9 ? (isRecord(doc['snapshots']) ? doc['snapshots'] : {}) : packages;
  const keyRef = new Map<string, string>();

  const flagScope = (body: Record<string, unknown>): Scope =>
    body['dev'] === true ? 'dev' : body['optional'] === true ? 'optional' : 'required';

  for (const key in packages) {
    const body = packages[key];
    if (!isRecord(body)) {
      b.warn(`${file}: ${key}: entry is not a mapping; skipped`);
      continue;
    }
    const parsed = parseKey(key, major);
    const name = str(body['name']) ?? parsed?.[0];
    const version = str(body['version']) ?? parsed?.[1];
    if (!name || !version) {
      b.warn(`${file}: ${key}: cannot tell the package name and version; skipped`);
      continue;
    }
    const res = isRecord(body['resolution']) ? body['resolution'] : {};
    const integrity = str(res['integrity']);
    const ref = b.add({
      name,
      version,
      path: key,
      scope: major === 9 ? 'required' : flagScope(body),
      hashes: integrity ? sriToHashes(integrity, b.warn, `${file}: ${key}`) : [],
      resolved: str(res['tarball']),
    });
    if (ref !== undefined) keyRef.set(key, ref);
  }
  if (major === 9) {
    // Snapshots are the peer-resolved instances; each belongs to the package of its key without the suffix.
    for (const key in snapshots) {
      if (keyRef.has(key)) continue;
      const paren = key.indexOf('(');
      const base = paren === -1 ? key : key.slice(0, paren);
      const ref = keyRef.get(base);
      if (ref === undefined) {
        b.warn(`${file}: snapshot ${key} has no entry in packages; skipped`);
        continue;
      }
      const c = b.byRef(ref);
      if (c && !c.paths.includes(key)) c.paths.push(key);
      keyRef.set(key, ref);
    }
  }

  const resolve = (dep: string, value: string): string | undefined => {
    for (const k of depKeys(dep, value, major)) {
      const r = keyRef.get(k);
      if (r !== undefined) return r;
    }
    return undefined;
  };
  const edges = new Map<string, Array<[string, boolean]>>();
  for (const key in snapshots) {
    const from = keyRef.get(key);
    const body = snapshots[key];
    if (from === undefined || !isRecord(body)) continue;
    const list = edges.get(from) ?? [];
    for (const [kind, optional] of [
      ['dependencies', false],
      ['optionalDependencies', true],
    ] as const) {
      for (const [dep, value] of strDeps(body[kind])) {
        if (value.startsWith('link:')) continue;
        const t = resolve(dep, value);
        if (t === undefined) {
          if (!optional) b.warn(`${file}: ${key} needs ${dep}@${value}, which has no entry in the lockfile`);
          continue;
        }
        b.edge(from, t);
        list.push([t, optional]);
      }
    }
    edges.set(from, list);
  }

  // Importers: 9.x always; 5.x/6.x use `importers` for workspaces, else the top level is the one importer.
  const importers: Array<[string, Record<string, unknown>]> = [];
  if (isRecord(doc['importers'])) {
    for (const k in doc['importers']) {
      const v = doc['importers'][k];
      if (k !== '.') checkRelativePath(k, file, 'importer');
      if (isRecord(v)) importers.push([k, v]);
    }
  } else {
    importers.push(['.', doc]);
  }
  const root = makeRoot(pkg?.name, pkg?.version, file);
  b.node(root.ref);
  const starts: Array<{ ref: string; scope: Scope }> = [];
  for (const [imp, body] of importers) {
    for (const [kind, scope] of [
      ['dependencies', 'required'],
      ['optionalDependencies', 'optional'],
      ['devDependencies', 'dev'],
    ] as const) {
      for (const [dep, value] of importerDeps(body[kind])) {
        if (value.startsWith('link:')) continue; // another workspace package
        const t = resolve(dep, value);
        if (t === undefined) {
          if (kind !== 'optionalDependencies') b.warn(`${file}: importer ${imp} needs ${dep}@${value} (${kind}), which has no entry in the lockfile`);
          continue;
        }
        // Workspace importers other than the root are attributed to the root (docs/lockfiles.md).
        b.edge(root.ref, t);
        starts.push({ ref: t, scope });
      }
    }
  }
  if (major === 9) {
    const scopes = scopesByReachability(starts, (ref) => edges.get(ref) ?? []);
    for (const [ref, scope] of scopes) {
      const c = b.byRef(ref);
      if (c) c.scope = scope;
    }
  }
  return b.build(text, root, lv);
}
