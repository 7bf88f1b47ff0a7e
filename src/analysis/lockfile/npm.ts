/**
 * npm's package-lock.json / npm-shrinkwrap.json, lockfileVersion 1, 2 and 3, read without
 * running npm. v2 and v3 are read from `packages` (keys are install paths) and edges are
 * resolved by Node's node_modules lookup (nearest ancestor first), as npm's tree does; v1 is
 * read from the nested `dependencies` tree and its `requires` maps.
 */
import { SsfError } from '../../core/index.js';
import type { Sbom, Scope } from '../model.js';
import { SbomBuilder, checkRelativePath, isRecord, makeRoot, parseLockJson, readPackageJson, sriToHashes, str, strMap } from './common.js';

export interface NpmLockOptions {
  /** File name for messages and `sbom.source.file`. */
  file?: string;
  /** The project's package.json text: names the root's direct dependencies for lockfile v1, which does not record them. */
  packageJson?: string;
}

/** Lockfile text bigger than this is refused (INPUT_TOO_LARGE). */
export const MAX_LOCKFILE_BYTES = 256 * 1024 * 1024;

export function checkTextSize(text: string, file: string): void {
  if (typeof text !== 'string') throw new SsfError('LOCKFILE_INVALID', `${file}: lockfile content must be text`);
  // length counts UTF-16 units, at most the UTF-8 byte count for anything a lockfile holds but a lone surrogate
  if (text.length > MAX_LOCKFILE_BYTES) throw new SsfError('INPUT_TOO_LARGE', `${file} is larger than ${MAX_LOCKFILE_BYTES} bytes`);
}

function scopeOf(e: Record<string, unknown>): Scope {
  if (e['dev'] === true || e['devOptional'] === true) return 'dev';
  if (e['optional'] === true) return 'optional';
  return 'required';
}

function licenseOf(v: unknown): string | undefined {
  if (typeof v === 'string') return v;
  // Very old packages declare `{ type, url }`; npm copies what the manifest says.
  if (isRecord(v) && typeof v['type'] === 'string') return v['type'];
  return undefined;
}

/** `npm:real-name@1.2.3` (an alias) → [real-name, 1.2.3]. */
function splitAlias(version: string): [string, string] | undefined {
  if (!version.startsWith('npm:')) return undefined;
  const spec = version.slice(4);
  const at = spec.lastIndexOf('@');
  if (at <= 0) return undefined;
  return [spec.slice(0, at), spec.slice(at + 1)];
}

/** The package name an install path implies: what follows the last `node_modules/`. */
function nameFromPath(path: string): string {
  const i = path.lastIndexOf('node_modules/');
  if (i === 0 || (i > 0 && path[i - 1] === '/')) return path.slice(i + 'node_modules/'.length);
  const slash = path.lastIndexOf('/');
  return path.slice(slash + 1);
}

/** The folder whose node_modules is searched next: the install path one level up, or the root. */
function parentOf(path: string): string | undefined {
  if (path === '') return undefined;
  const i = path.lastIndexOf('/node_modules/');
  if (i !== -1) return path.slice(0, i);
  if (path.startsWith('node_modules/')) return '';
  // A workspace folder (`packages/a`) or a folder inside one: its parent folders, then the root.
  const slash = path.lastIndexOf('/');
  return slash === -1 ? '' : path.slice(0, slash);
}

/** SBOM of an npm lockfile (package-lock.json or npm-shrinkwrap.json, v1, v2 or v3). */
export function sbomFromNpmLockfile(text: string, opts: NpmLockOptions = {}): Sbom {
  const file = opts.file ?? 'package-lock.json';
  checkTextSize(text, file);
  const doc = parseLockJson(text, file);
  if (!isRecord(doc)) throw new SsfError('LOCKFILE_INVALID', `${file} is not a JSON object`);
  const lv = doc['lockfileVersion'];
  if (lv !== 1 && lv !== 2 && lv !== 3) {
    throw new SsfError('LOCKFILE_INVALID', `${file}: lockfileVersion ${JSON.stringify(lv)} is not supported (1, 2 or 3); regenerate it with a current npm`);
  }
  const b = new SbomBuilder('npm-lockfile', file);
  if (lv === 1 || (lv === 2 && !isRecord(doc['packages']))) return readV1(doc, text, b, opts);
  const packages = doc['packages'];
  if (!isRecord(packages)) throw new SsfError('LOCKFILE_INVALID', `${file}: lockfileVersion ${lv} needs a "packages" object`);
  return readPackages(doc, packages, text, b, String(lv));
}

interface Node {
  entry: Record<string, unknown>;
  ref?: string;
  /** For `link: true` entries: the install path of the target folder. */
  link?: string;
}

function readPackages(doc: Record<string, unknown>, packages: Record<string, unknown>, text: string, b: SbomBuilder, version: string): Sbom {
  const file = b.file;
  const nodes = new Map<string, Node>();
  const rootEntry = isRecord(packages['']) ? packages[''] : {};
  const root = makeRoot(str(rootEntry['name']) ?? str(doc['name']), str(rootEntry['version']) ?? str(doc['version']), file);
  const workspaces = new Set<string>();

  for (const path in packages) {
    const e = packages[path];
    if (path === '') {
      nodes.set('', { entry: rootEntry, ref: root.ref });
      continue;
    }
    checkRelativePath(path, file, 'package key');
    if (!isRecord(e)) {
      b.warn(`${file}: ${path}: entry is not an object; skipped`);
      continue;
    }
    if (e['link'] === true) {
      const target = str(e['resolved']);
      if (target === undefined) {
        b.warn(`${file}: ${path}: link without a "resolved" target; skipped`);
        continue;
      }
      checkRelativePath(target, file, `link target of ${path}`);
      workspaces.add(target);
      nodes.set(path, { entry: e, link: target });
      continue;
    }
    const name = str(e['name']) ?? nameFromPath(path);
    const ver = str(e['version']);
    if (ver === undefined || ver === '' || name === '') {
      b.warn(`${file}: ${path}: entry has no ${name === '' ? 'name' : 'version'}; skipped`);
      nodes.set(path, { entry: e });
      continue;
    }
    const integrity = str(e['integrity']);
    const bundled = e['inBundle'] === true;
    const hashes = integrity !== undefined ? sriToHashes(integrity, b.warn, `${file}: ${path}`) : [];
    const ref = b.add({
      name,
      version: ver,
      path,
      scope: scopeOf(e),
      hashes,
      license: licenseOf(e['license']),
      resolved: str(e['resolved']),
      bundled,
    });
    nodes.set(path, ref === undefined ? { entry: e } : { entry: e, ref });
  }

  // Node's lookup: <folder>/node_modules/<name>, then the same from each ancestor folder.
  const lookup = (from: string, dep: string): Node | undefined => {
    for (let dir: string | undefined = from; dir !== undefined; dir = parentOf(dir)) {
      const hit = nodes.get(dir === '' ? `node_modules/${dep}` : `${dir}/node_modules/${dep}`);
      if (hit) return hit.link !== undefined ? nodes.get(hit.link) : hit;
    }
    return undefined;
  };

  b.node(root.ref);
  for (const [path, n] of nodes) {
    if (n.ref === undefined) continue;
    const e = n.entry;
    const peerMeta = isRecord(e['peerDependenciesMeta']) ? e['peerDependenciesMeta'] : {};
    const lists: Array<[string, Array<[string, string]>]> = [
      ['dependencies', strMap(e['dependencies'])],
      ['optionalDependencies', strMap(e['optionalDependencies'])],
      ['peerDependencies', strMap(e['peerDependencies'])],
    ];
    if (path === '' || workspaces.has(path)) lists.push(['devDependencies', strMap(e['devDependencies'])]);
    for (const [kind, deps] of lists) {
      for (const [dep] of deps) {
        const target = lookup(path, dep);
        if (target?.ref !== undefined) {
          b.edge(n.ref, target.ref);
          continue;
        }
        if (target) continue; // found, but the entry itself was skipped with a warning
        const meta = peerMeta[dep];
        if (kind === 'optionalDependencies' || (kind === 'peerDependencies' && isRecord(meta) && meta['optional'] === true)) continue;
        b.warn(`${file}: ${path === '' ? 'the root package' : path} needs ${dep} (${kind}), which no node_modules folder up the tree provides (npm calls this tree invalid)`);
      }
    }
  }
  return b.build(text, root, version);
}

interface V1Node {
  path: string;
  children: Record<string, unknown>;
  parent: V1Node | undefined;
  ref?: string;
  entry: Record<string, unknown>;
}

function readV1(doc: Record<string, unknown>, text: string, b: SbomBuilder, opts: NpmLockOptions): Sbom {
  const file = b.file;
  const pkg = readPackageJson(opts.packageJson, file);
  const root = makeRoot(str(doc['name']) ?? pkg?.name, str(doc['version']) ?? pkg?.version, file);
  const top = isRecord(doc['dependencies']) ? doc['dependencies'] : {};
  const rootNode: V1Node = { path: '', children: top, parent: undefined, ref: root.ref, entry: {} };
  const all: V1Node[] = [];
  // Iterative walk: a hostile, deeply nested tree must not exhaust the stack.
  const stack: V1Node[] = [rootNode];
  const byChild = new Map<Record<string, unknown>, V1Node>();
  while (stack.length > 0) {
    const parent = stack.pop() as V1Node;
    for (const key in parent.children) {
      const e = parent.children[key];
      const path = parent.path === '' ? `node_modules/${key}` : `${parent.path}/node_modules/${key}`;
      checkRelativePath(path, file, 'dependency');
      if (!isRecord(e)) {
        b.warn(`${file}: ${path}: entry is not an object; skipped`);
        continue;
      }
      let name = key;
      let ver = str(e['version']) ?? '';
      const alias = splitAlias(ver);
      if (alias) [name, ver] = alias;
      const node: V1Node = { path, children: isRecord(e['dependencies']) ? e['dependencies'] : {}, parent, entry: e };
      if (ver === '') {
        b.warn(`${file}: ${path}: entry has no version; skipped`);
      } else {
        const integrity = str(e['integrity']);
        const ref = b.add({
          name,
          version: ver,
          path,
          scope: scopeOf(e),
          hashes: integrity !== undefined ? sriToHashes(integrity, b.warn, `${file}: ${path}`) : [],
          resolved: str(e['resolved']),
          bundled: e['bundled'] === true,
        });
        if (ref !== undefined) node.ref = ref;
      }
      all.push(node);
      byChild.set(e, node);
      stack.push(node);
    }
  }
  const lookup = (from: V1Node, dep: string): V1Node | undefined => {
    for (let n: V1Node | undefined = from; n; n = n.parent) {
      const e = n.children[dep];
      if (isRecord(e)) return byChild.get(e);
    }
    return undefined;
  };
  b.node(root.ref);
  const required = new Set<string>();
  for (const n of all) {
    if (n.ref === undefined) continue;
    for (const [dep] of strMap(n.entry['requires'])) {
      const t = lookup(n, dep);
      if (t?.ref !== undefined) {
        b.edge(n.ref, t.ref);
        required.add(t.path);
      } else if (!t) {
        b.warn(`${file}: ${n.path} requires ${dep}, which no dependencies level up the tree provides (npm calls this tree invalid)`);
      }
    }
  }
  if (pkg) {
    for (const [kind, list] of [
      ['dependencies', pkg.dependencies],
      ['optionalDependencies', pkg.optionalDependencies],
      ['devDependencies', pkg.devDependencies],
    ] as const) {
      for (const [dep] of list) {
        const t = lookup(rootNode, dep);
        if (t?.ref !== undefined) b.edge(root.ref, t.ref);
        else if (!t && kind !== 'optionalDependencies') b.warn(`${file}: package.json needs ${dep} (${kind}), which the lockfile does not list at the top level`);
      }
    }
  } else {
    // v1 does not record the root's own dependencies: take the top-level entries nothing else requires.
    b.warn(`${file}: lockfile v1 does not record the root's direct dependencies and no package.json was given; the root is taken to depend on every top-level entry no other entry requires`);
    for (const n of all) {
      if (n.parent === rootNode && n.ref !== undefined && !required.has(n.path)) b.edge(root.ref, n.ref);
    }
  }
  return b.build(text, root, String(doc['lockfileVersion']));
}
