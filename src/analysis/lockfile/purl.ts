/**
 * Package URLs (purl). Parsing splits the string by the specification's own algorithm
 * (docs/standard/specification.md, "How to parse") with strict percent-decoding; the split
 * components then go through packageurl-js (the official implementation) for its component
 * validation and the type-specific rules of every type it knows. The canonical string is
 * written here, not by packageurl-js, because its writer disagrees with the published test
 * vectors (see docs/lockfiles.md, "Package URLs"): it percent-encodes ':' and '/' differently
 * in qualifier values, leaves '+' and `!'()*` unencoded in versions, reads '+' in a qualifier
 * value as a space, and lowercases npm names, which the npm type definition says are
 * case-sensitive (`JSONStream` is a real, different package from `jsonstream`).
 */
import { createRequire } from 'node:module';
import { SsfError } from '../../core/index.js';

export interface Purl {
  type: string;
  namespace?: string;
  name: string;
  version?: string;
  qualifiers?: Record<string, string>;
  subpath?: string;
}

/** The part of packageurl-js's PackageURL this module uses. */
interface PackageUrlLike {
  type: string;
  namespace?: string;
  name: string;
  version?: string;
  qualifiers?: Record<string, string>;
  subpath?: string;
}
type PackageUrlCtor = new (
  type: unknown,
  namespace: unknown,
  name: unknown,
  version: unknown,
  qualifiers: unknown,
  subpath: unknown,
) => PackageUrlLike;

let ctor: PackageUrlCtor | undefined;
function packageUrl(): PackageUrlCtor {
  if (!ctor) {
    const req = createRequire(import.meta.url);
    ctor = (req('packageurl-js') as { PackageURL: PackageUrlCtor }).PackageURL;
  }
  return ctor;
}

// The spec's "allowed set" (alphanumerics and `.-_~`) plus ':', which must never be encoded.
const PLAIN = /^[A-Za-z0-9.\-_~:]*$/;
const HEX = '0123456789ABCDEF';

/** Percent-encodes every byte of the UTF-8 form outside the allowed set. */
function encodePart(s: string): string {
  if (PLAIN.test(s)) return s;
  const bytes = Buffer.from(s, 'utf8');
  const out: string[] = [];
  for (const b of bytes) {
    const c = String.fromCharCode(b);
    if (b < 0x80 && PLAIN.test(c)) out.push(c);
    else out.push('%', HEX[b >> 4] ?? '', HEX[b & 15] ?? '');
  }
  return out.join('');
}

const utf8 = new TextDecoder('utf-8', { fatal: true });

/** Strict percent-decoding: a '%' not followed by two hex digits, or bytes that are not UTF-8, are errors. */
function decodePart(s: string, what: string, input: string): string {
  if (!s.includes('%')) return s;
  const bytes: number[] = [];
  for (let i = 0; i < s.length; i++) {
    const ch = s.charCodeAt(i);
    if (ch === 0x25) {
      const hex = s.slice(i + 1, i + 3);
      if (!/^[0-9A-Fa-f]{2}$/.test(hex)) throw malformed(input, `bad percent-encoding in the ${what}`);
      bytes.push(parseInt(hex, 16));
      i += 2;
    } else if (ch < 0x80) {
      bytes.push(ch);
    } else {
      for (const b of Buffer.from(s[i] ?? '', 'utf8')) bytes.push(b);
    }
  }
  try {
    return utf8.decode(Uint8Array.from(bytes));
  } catch {
    throw malformed(input, `the ${what} is not UTF-8 after percent-decoding`);
  }
}

function malformed(input: string, why: string): SsfError {
  const shown = input.length > 200 ? `${input.slice(0, 200)}…` : input;
  return new SsfError('INPUT_MALFORMED', `package URL ${JSON.stringify(shown)}: ${why}`);
}

const TYPE_RE = /^[A-Za-z.\-+][A-Za-z0-9.\-+]*$/;
const QUALIFIER_KEY_RE = /^[a-z.\-_][a-z0-9.\-_]*$/;

/** Parses a purl string into its components (decoded); throws SsfError INPUT_MALFORMED naming the problem. */
export function parsePurl(s: string): Purl {
  if (typeof s !== 'string') throw new SsfError('INPUT_MALFORMED', 'a package URL must be a string');
  let rest = s;
  let subpath: string | undefined;
  const hash = rest.indexOf('#');
  if (hash !== -1) {
    const segs: string[] = [];
    for (const seg of rest.slice(hash + 1).split('/')) {
      if (seg === '') continue;
      const d = decodePart(seg, 'subpath', s);
      if (d === '.' || d === '..') continue;
      if (d.includes('/')) throw malformed(s, 'a subpath segment contains an encoded "/"');
      segs.push(d);
    }
    if (segs.length > 0) subpath = segs.join('/');
    rest = rest.slice(0, hash);
  }
  let qualifiers: Record<string, string> | undefined;
  const q = rest.indexOf('?');
  if (q !== -1) {
    for (const pair of rest.slice(q + 1).split('&')) {
      if (pair === '') continue;
      const eq = pair.indexOf('=');
      if (eq <= 0) throw malformed(s, `qualifier ${JSON.stringify(pair)} is not key=value`);
      const key = pair.slice(0, eq).toLowerCase();
      if (!QUALIFIER_KEY_RE.test(key)) throw malformed(s, `qualifier key ${JSON.stringify(key)} may only contain letters, digits, ".", "-" and "_" and must not start with a digit`);
      const value = decodePart(pair.slice(eq + 1), `qualifier ${key}`, s);
      qualifiers ??= {};
      if (Object.hasOwn(qualifiers, key)) throw malformed(s, `qualifier ${key} appears twice`);
      if (value !== '') qualifiers[key] = value;
    }
    if (qualifiers && Object.keys(qualifiers).length === 0) qualifiers = undefined;
    rest = rest.slice(0, q);
  }
  const colon = rest.indexOf(':');
  if (colon === -1 || rest.slice(0, colon).toLowerCase() !== 'pkg') throw malformed(s, 'it must start with the scheme "pkg:"');
  rest = rest.slice(colon + 1).replace(/^\/+/, '');
  const slash = rest.indexOf('/');
  if (slash <= 0) throw malformed(s, 'it has no type/name');
  const type = rest.slice(0, slash);
  if (!TYPE_RE.test(type)) throw malformed(s, `type ${JSON.stringify(type)} may only contain letters, digits, ".", "+" and "-" and must not start with a digit`);
  rest = rest.slice(slash + 1);
  let version: string | undefined;
  const at = rest.lastIndexOf('@');
  // An '@' that starts a segment is an (unencoded) npm scope, not the version separator.
  if (at > 0 && rest.charCodeAt(at - 1) !== 0x2f) {
    version = decodePart(rest.slice(at + 1), 'version', s);
    rest = rest.slice(0, at);
    if (version === '') version = undefined;
  }
  rest = rest.replace(/\/+$/, '');
  const lastSlash = rest.lastIndexOf('/');
  const name = decodePart(rest.slice(lastSlash + 1), 'name', s);
  if (name === '') throw malformed(s, 'the name is empty');
  let namespace: string | undefined;
  if (lastSlash !== -1) {
    const segs: string[] = [];
    for (const seg of rest.slice(0, lastSlash).split('/')) {
      if (seg === '') continue;
      const d = decodePart(seg, 'namespace', s);
      if (d.includes('/')) throw malformed(s, 'a namespace segment contains an encoded "/"');
      segs.push(d);
    }
    if (segs.length > 0) namespace = segs.join('/');
  }
  return normalise({ type, namespace, name, version, qualifiers, subpath }, s);
}

/** Validation and type-specific normalisation: packageurl-js, except that npm names keep their case. */
function normalise(p: Purl, shown: string): Purl {
  let v: PackageUrlLike;
  try {
    v = new (packageUrl())(p.type, p.namespace, p.name, p.version, p.qualifiers, p.subpath);
  } catch (e) {
    throw malformed(shown, (e as Error).message.replace(/^Invalid purl: /, ''));
  }
  const out: Purl = { type: v.type, name: v.name };
  const npm = v.type === 'npm';
  const namespace = npm ? p.namespace : v.namespace;
  if (namespace !== undefined && namespace !== '') out.namespace = namespace;
  if (npm) out.name = p.name;
  if (v.version !== undefined && v.version !== '') out.version = v.version;
  if (v.qualifiers) {
    const qs: Record<string, string> = {};
    for (const k of Object.keys(v.qualifiers).sort()) qs[k] = v.qualifiers[k] ?? '';
    if (Object.keys(qs).length > 0) out.qualifiers = qs;
  }
  if (v.subpath !== undefined && v.subpath !== '') out.subpath = v.subpath;
  return out;
}

/** Writes the canonical form of a purl (validated and normalised first). */
export function formatPurl(p: Purl): string {
  if (typeof p !== 'object' || p === null) throw new SsfError('INPUT_MALFORMED', 'a package URL must be an object');
  if (typeof p.type !== 'string' || !TYPE_RE.test(p.type)) {
    throw new SsfError('INPUT_MALFORMED', `package URL type ${JSON.stringify(p.type)} may only contain letters, digits, ".", "+" and "-" and must not start with a digit`);
  }
  if (typeof p.name !== 'string' || p.name === '') throw new SsfError('INPUT_MALFORMED', `package URL of type ${p.type} has no name`);
  if (p.qualifiers) {
    for (const k of Object.keys(p.qualifiers)) {
      if (!QUALIFIER_KEY_RE.test(k.toLowerCase())) {
        throw new SsfError('INPUT_MALFORMED', `package URL qualifier key ${JSON.stringify(k)} may only contain letters, digits, ".", "-" and "_" and must not start with a digit`);
      }
    }
  }
  const shown = `${p.type}/${p.namespace ? `${p.namespace}/` : ''}${p.name}`;
  for (const seg of (p.subpath ?? '').split('/')) {
    if (seg === '.' || seg === '..') throw malformed(shown, `subpath ${JSON.stringify(p.subpath)} contains a "." or ".." segment`);
  }
  const n = normalise(p, shown);
  const parts: string[] = ['pkg:', n.type, '/'];
  if (n.namespace !== undefined) {
    for (const seg of n.namespace.split('/')) if (seg !== '') parts.push(encodePart(seg), '/');
  }
  parts.push(encodePart(n.name));
  if (n.version !== undefined) parts.push('@', encodePart(n.version));
  if (n.qualifiers) {
    let sep = '?';
    for (const [k, v] of Object.entries(n.qualifiers)) {
      parts.push(sep, k, '=', encodePart(v));
      sep = '&';
    }
  }
  if (n.subpath !== undefined) {
    const segs = n.subpath.split('/').filter((x) => x !== '');
    if (segs.length > 0) parts.push('#', segs.map(encodePart).join('/'));
  }
  return parts.join('');
}

/**
 * The canonical purl of an npm package: the scope's '@' always encoded
 * (`pkg:npm/%40babel/core@7.24.0`), case kept. A name that is not an npm name shape
 * (empty, or a '/' outside `@scope/name`) is an INPUT_MALFORMED error.
 */
export function npmPurl(name: string, version: string): string {
  if (typeof name !== 'string' || name === '') throw new SsfError('INPUT_MALFORMED', 'an npm package name must be a non-empty string');
  let ns = '';
  let local = name;
  if (name.charCodeAt(0) === 0x40) {
    const slash = name.indexOf('/');
    if (slash <= 1 || slash === name.length - 1 || name.indexOf('/', slash + 1) !== -1) {
      throw new SsfError('INPUT_MALFORMED', `npm package name ${JSON.stringify(name)} is not of the form @scope/name`);
    }
    ns = name.slice(0, slash);
    local = name.slice(slash + 1);
  } else if (name.includes('/')) {
    throw new SsfError('INPUT_MALFORMED', `npm package name ${JSON.stringify(name)} contains "/" but has no @scope`);
  }
  const v = typeof version === 'string' && version !== '' ? `@${encodePart(version)}` : '';
  return ns === '' ? `pkg:npm/${encodePart(local)}${v}` : `pkg:npm/${encodePart(ns)}/${encodePart(local)}${v}`;
}
