/**
 * yarn.lock, both kinds: yarn v1's own indented text format (parsed here) and yarn berry's
 * (2+) YAML with `__metadata`. Neither records dev or optional flags, so scopes come from
 * reachability from the project's package.json when one is given.
 */
import { parseDocument } from 'yaml';
import { SsfError } from '../../core/index.js';
import type { Sbom, Scope } from '../model.js';
import {
  SbomBuilder,
  isRecord,
  makeRoot,
  readPackageJson,
  scopesByReachability,
  sriToHashes,
  str,
  strMap,
  type PackageJsonInfo,
} from './common.js';
import { checkTextSize } from './npm.js';

export interface YarnLockOptions {
  file?: string;
  /** The project's package.json text: the root's name, version and direct dependencies, and which are dev. */
  packageJson?: string;
}

/** SBOM of a yarn.lock; v1 or berry is detected from the content. */
export function sbomFromYarnLock(text: string, opts: YarnLockOptions = {}): Sbom {
  const file = opts.file ?? 'yarn.lock';
  checkTextSize(text, file);
  const pkg = readPackageJson(opts.packageJson, file);
  if (/^__metadata:/m.test(text)) return readBerry(text, file, pkg);
  return readV1(text, file, pkg);
}

// ---------------------------------------------------------------------------------------
// yarn v1

type V1Value = string | V1Object;
interface V1Object {
  [k: string]: V1Value;
}

function v1Error(file: string, line: number, why: string): SsfError {
  return new SsfError('LOCKFILE_INVALID', `${file}:${line}: ${why}`);
}

/** Reads one token at `i`: a JSON-style quoted string or a bare word. Returns [value, next index]. */
function readToken(s: string, i: number, file: string, line: number): [string, number] {
  if (s.charCodeAt(i) === 0x22) {
    let j = i + 1;
    for (; j < s.length; j++) {
      const c = s.charCodeAt(j);
      if (c === 0x5c) j++;
      else if (c === 0x22) break;
    }
    if (j >= s.length) throw v1Error(file, line, 'unterminated quoted string');
    try {
      return [JSON.parse(s.slice(i, j + 1)) as string, j + 1];
    } catch {
      throw v1Error(file, line, 'bad escape in a quoted string');
    }
  }
  let j = i;
  for (; j < s.length; j++) {
    const c = s.charCodeAt(j);
    if (c === 0x20 || c === 0x09 || c === 0x2c) break;
    // A colon ends a bare key only at the end of the line or before a space.
    if (c === 0x3a && (j + 1 === s.length || s.charCodeAt(j + 1) === 0x20)) break;
  }
  if (j === i) throw v1Error(file, line, `unexpected ${JSON.stringify(s[i] ?? '')}`);
  return [s.slice(i, j), j];
}

/** Parses yarn v1's lockfile format into nested objects; top-level keys keep their `, `-joined pattern lists split. */
export function parseYarnV1(text: string, file: string): Map<string, { patterns: string[]; body: V1Object; line: number }> {
  const entries = new Map<string, { patterns: string[]; body: V1Object; line: number }>();
  const stack: Array<{ indent: number; obj: V1Object }> = [];
  const lines = text.split('\n');
  for (let n = 0; n < lines.length; n++) {
    let raw = lines[n] as string;
    if (raw.endsWith('\r')) raw = raw.slice(0, -1);
    let indent = 0;
    while (raw.charCodeAt(indent) === 0x20) indent++;
    if (indent === raw.length || raw.charCodeAt(indent) === 0x23) continue;
    const lineNo = n + 1;
    if (raw.charCodeAt(indent) === 0x09) throw v1Error(file, lineNo, 'tab indentation');
    if (indent % 2 !== 0) throw v1Error(file, lineNo, 'indentation is not a multiple of two spaces');
    while (stack.length > 0 && (stack[stack.length - 1] as { indent: number }).indent >= indent) stack.pop();
    if (indent > 0 && stack.length === 0) throw v1Error(file, lineNo, 'indented line outside any entry');
    if (stack.length > 0 && indent !== (stack[stack.length - 1] as { indent: number }).indent + 2) {
      throw v1Error(file, lineNo, 'indentation jumps more than one level');
    }
    // Tokens: keys separated by ", " and a final ":" (an object), or one key then a value.
    const keys: string[] = [];
    let i = indent;
    let [tok, next] = readToken(raw, i, file, lineNo);
    keys.push(tok);
    i = next;
    let isObject = false;
    let value: string | undefined;
    for (;;) {
      if (i >= raw.length) break;
      const c = raw.charCodeAt(i);
      if (c === 0x3a) {
        if (raw.slice(i + 1).trim() !== '') throw v1Error(file, lineNo, 'text after ":"');
        isObject = true;
        break;
      }
      if (c === 0x2c) {
        i++;
        while (raw.charCodeAt(i) === 0x20) i++;
        [tok, next] = readToken(raw, i, file, lineNo);
        keys.push(tok);
        i = next;
        continue;
      }
      if (c === 0x20) {
        while (raw.charCodeAt(i) === 0x20) i++;
        if (i >= raw.length) break;
        if (keys.length > 1) throw v1Error(file, lineNo, 'a key list must end with ":"');
        [value, next] = readToken(raw, i, file, lineNo);
        if (raw.slice(next).trim() !== '') throw v1Error(file, lineNo, 'more than one value');
        break;
      }
      throw v1Error(file, lineNo, `unexpected ${JSON.stringify(raw[i])}`);
    }
    if (!isObject && value === undefined) throw v1Error(file, lineNo, 'a key without a value or ":"');
    if (stack.length === 0) {
      if (!isObject) throw v1Error(file, lineNo, 'top-level entries must be "pattern:" blocks');
      const body: V1Object = {};
      const entry = { patterns: keys, body, line: lineNo };
      for (const k of keys) entries.set(k, entry);
      stack.push({ indent, obj: body });
      continue;
    }
    const parent = (stack[stack.length - 1] as { obj: V1Object }).obj;
    const key = keys[0] as string;
    if (isObject) {
      const child: V1Object = {};
      parent[key] = child;
      stack.push({ indent, obj: child });
    } else {
      parent[key] = value as string;
    }
  }
  return entries;
}

/** `name@range` → name (the '@' of a scope is not the separator). */
function patternName(pattern: string): string {
  const at = pattern.indexOf('@', 1);
  return at === -1 ? pattern : pattern.slice(0, at);
}

/** yarn v1 alias `alias@npm:real@^1` → the real package's name. */
function realName(pattern: string): string {
  const name = patternName(pattern);
  const range = pattern.slice(name.length + 1);
  if (range.startsWith('npm:')) return patternName(range.slice(4));
  return name;
}

function readV1(text: string, file: string, pkg: PackageJsonInfo | undefined): Sbom {
  const b = new SbomBuilder('yarn-v1', file);
  const entries = parseYarnV1(text, file);
  const refOf = new Map<object, string>();
  const bodies: Array<{ body: V1Object; ref: string; key: string }> = [];
  for (const [, e] of entries) {
    if (refOf.has(e.body)) continue;
    const key = e.patterns.join(', ');
    const version = typeof e.body['version'] === 'string' ? e.body['version'] : undefined;
    if (version === undefined || version === '') {
      b.warn(`${file}:${e.line}: ${key} has no version; skipped`);
      refOf.set(e.body, '');
      continue;
    }
    const integrity = typeof e.body['integrity'] === 'string' ? e.body['integrity'] : undefined;
    const ref = b.add({
      name: realName(e.patterns[0] as string),
      version,
      path: key,
      scope: 'required',
      hashes: integrity ? sriToHashes(integrity, b.warn, `${file}:${e.line}`) : [],
      resolved: typeof e.body['resolved'] === 'string' ? e.body['resolved'] : undefined,
    });
    refOf.set(e.body, ref ?? '');
    if (ref !== undefined) bodies.push({ body: e.body, ref, key });
  }
  const resolve = (name: string, range: string): string | undefined => {
    const e = entries.get(`${name}@${range}`);
    const r = e ? refOf.get(e.body) : undefined;
    return r === '' ? undefined : r;
  };
  const out = new Map<string, Array<[string, boolean]>>();
  for (const { body, ref, key } of bodies) {
    const list: Array<[string, boolean]> = out.get(ref) ?? [];
    for (const [kind, optional] of [
      ['dependencies', false],
      ['optionalDependencies', true],
    ] as const) {
      const deps = body[kind];
      if (!isRecord(deps)) continue;
      for (const [dep, range] of strMap(deps)) {
        const t = resolve(dep, range);
        if (t !== undefined) {
          b.edge(ref, t);
          list.push([t, optional]);
        } else if (!optional) {
          b.warn(`${file}: ${key} needs ${dep}@${range}, which the lockfile does not resolve`);
        }
      }
    }
    out.set(ref, list);
  }
  const root = makeRoot(pkg?.name, pkg?.version, file);
  b.node(root.ref);
  finishScopes(b, root.ref, pkg, resolve, out, file, 'yarn v1 records no dev or optional flags');
  return b.build(text, root, '1');
}

/** Root edges and reachability scopes from package.json; without one, every component stays required. */
function finishScopes(
  b: SbomBuilder,
  rootRef: string,
  pkg: PackageJsonInfo | undefined,
  resolve: (name: string, range: string) => string | undefined,
  edges: Map<string, Array<[string, boolean]>>,
  file: string,
  why: string,
  fallbackRoots: string[] = [],
): void {
  const starts: Array<{ ref: string; scope: Scope }> = [];
  if (pkg) {
    for (const [list, scope, kind] of [
      [pkg.dependencies, 'required', 'dependencies'],
      [pkg.optionalDependencies, 'optional', 'optionalDependencies'],
      [pkg.devDependencies, 'dev', 'devDependencies'],
    ] as const) {
      for (const [dep, range] of list) {
        const t = resolve(dep, range);
        if (t === undefined) {
          if (kind !== 'optionalDependencies') b.warn(`${file}: package.json needs ${dep}@${range} (${kind}), which the lockfile does not resolve`);
          continue;
        }
        b.edge(rootRef, t);
        starts.push({ ref: t, scope });
      }
    }
  } else {
    b.warn(`${file}: ${why} and no package.json was given; every component is marked required`);
    for (const r of fallbackRoots) b.edge(rootRef, r);
    return;
  }
  const scopes = scopesByReachability(starts, (ref) => edges.get(ref) ?? []);
  for (const [ref, scope] of scopes) {
    const c = b.byRef(ref);
    if (c) c.scope = scope;
  }
}

// ---------------------------------------------------------------------------------------
// yarn berry

function yamlDoc(text: string, file: string): unknown {
  const doc = parseDocument(text, { prettyErrors: false, uniqueKeys: false });
  const err = doc.errors[0];
  if (err) {
    const off = err.pos[0];
    let where = '';
    if (off >= 0 && off <= text.length) {
      const before = text.slice(0, off);
      const line = before.split('\n').length;
      where = `:${line}:${off - before.lastIndexOf('\n')}`;
    }
    throw new SsfError('LOCKFILE_INVALID', `${file}${where}: not valid YAML: ${err.message.split('\n')[0]}`);
  }
  try {
    return doc.toJS({ maxAliasCount: 100 });
  } catch (e) {
    throw new SsfError('LOCKFILE_INVALID', `${file}: ${(e as Error).message}`, { cause: e });
  }
}
export { yamlDoc };

/** `name@protocol:rest` → [name, protocol+rest]. */
function splitDescriptor(d: string): [string, string] {
  const at = d.indexOf('@', 1);
  return at === -1 ? [d, ''] : [d.slice(0, at), d.slice(at + 1)];
}

function readBerry(text: string, file: string, pkg: PackageJsonInfo | undefined): Sbom {
  const b = new SbomBuilder('yarn-berry', file);
  const doc = yamlDoc(text, file);
  if (!isRecord(doc)) throw new SsfError('LOCKFILE_INVALID', `${file} is not a YAML mapping`);
  const meta = doc['__metadata'];
  const version = isRecord(meta) ? (str(meta['version']) ?? (typeof meta['version'] === 'number' ? String(meta['version']) : undefined)) : undefined;
  if (version === undefined || !/^[0-9]+$/.test(version)) throw new SsfError('LOCKFILE_INVALID', `${file}: __metadata.version is missing or not a number`);
  const byDescriptor = new Map<string, string>();
  const items: Array<{ key: string; body: Record<string, unknown>; ref: string }> = [];
  let rootEntry: Record<string, unknown> | undefined;
  let rootName: string | undefined;
  const ROOT = '\0root';
  for (const key in doc) {
    if (key === '__metadata') continue;
    const body = doc[key];
    if (!isRecord(body)) {
      b.warn(`${file}: ${key}: entry is not a mapping; skipped`);
      continue;
    }
    const resolution = str(body['resolution']) ?? '';
    const [name, locator] = splitDescriptor(resolution);
    let ref: string | undefined;
    if (locator === 'workspace:.') {
      rootEntry = body;
      rootName = name;
      ref = ROOT;
    } else {
      const v = str(body['version']) ?? (typeof body['version'] === 'number' ? String(body['version']) : undefined);
      if (name === '' || v === undefined) {
        b.warn(`${file}: ${key}: entry has no resolution or version; skipped`);
        continue;
      }
      // Berry's checksum is of its zip cache archive, not of the registry tarball: no hash is recorded.
      ref = b.add({ name, version: v, path: key, scope: 'required' });
      if (ref === undefined) continue;
    }
    for (const d of key.split(',')) byDescriptor.set(d.trim(), ref);
    items.push({ key, body, ref });
  }
  const resolve = (dep: string, range: string): string | undefined => {
    const direct = byDescriptor.get(`${dep}@${range}`);
    if (direct !== undefined) return direct;
    // Yarn writes semver ranges without the default protocol in dependency lists.
    return /^[a-z][a-z0-9+.-]*:/i.test(range) ? undefined : byDescriptor.get(`${dep}@npm:${range}`);
  };
  const root = makeRoot(pkg?.name ?? rootName, pkg?.version ?? str(rootEntry?.['version']), file);
  b.node(root.ref);
  const edges = new Map<string, Array<[string, boolean]>>();
  const rootDeps: string[] = [];
  for (const { key, body, ref } of items) {
    const from = ref === ROOT ? root.ref : ref;
    const metaDeps = isRecord(body['dependenciesMeta']) ? body['dependenciesMeta'] : {};
    const list: Array<[string, boolean]> = edges.get(from) ?? [];
    for (const [dep, range] of strMap(body['dependencies'])) {
      const m = metaDeps[dep];
      const optional = isRecord(m) && m['optional'] === true;
      const t = resolve(dep, range);
      if (t === undefined || t === ROOT) {
        if (t === undefined && !optional) b.warn(`${file}: ${key} needs ${dep}@${range}, which the lockfile does not resolve`);
        continue;
      }
      if (ref === ROOT) {
        rootDeps.push(t);
        continue; // the root's edges come from package.json when there is one
      }
      b.edge(from, t);
      list.push([t, optional]);
    }
    edges.set(from, list);
  }
  if (pkg) {
    finishScopes(b, root.ref, pkg, resolve, edges, file, '');
  } else {
    finishScopes(b, root.ref, undefined, resolve, edges, file, 'yarn berry records no dev flags', rootDeps);
  }
  return b.build(text, root, version);
}
