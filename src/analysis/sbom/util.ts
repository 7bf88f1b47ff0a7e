import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { formatPurl, parsePurl, type Purl } from '../lockfile/index.js';
import type { Scope } from '../model.js';

/** Code-unit order: the same on every machine (localeCompare depends on the ICU locale). */
export function byCodeUnit(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/**
 * RFC 4122 name-based UUID (version 5, SHA-1). Serial numbers and namespaces are derived from
 * the SBOM's source digest so that the same input gives the same document; the CycloneDX
 * schema's serialNumber pattern accepts any RFC 4122 UUID.
 */
export function uuidV5(namespace: string, name: string): string {
  const ns = Buffer.from(namespace.replace(/-/g, ''), 'hex');
  const h = createHash('sha1').update(ns).update(name, 'utf8').digest();
  h[6] = (h[6]! & 0x0f) | 0x50;
  h[8] = (h[8]! & 0x3f) | 0x80;
  const x = h.subarray(0, 16).toString('hex');
  return `${x.slice(0, 8)}-${x.slice(8, 12)}-${x.slice(12, 16)}-${x.slice(16, 20)}-${x.slice(20)}`;
}

/** ssf's own UUID namespace for derived document ids (a random constant, fixed forever). */
export const SSF_UUID_NAMESPACE = '5b0c9a52-8f0e-4a43-9d4c-3c1f2a7e61d4';

let toolVersion: string | undefined;

/** ssf's version from its package.json (read once, only when a document is written). */
export function ssfVersion(): string {
  if (toolVersion === undefined) {
    try {
      const pkg = JSON.parse(readFileSync(new URL('../../../../package.json', import.meta.url), 'utf8')) as { version?: unknown };
      toolVersion = typeof pkg.version === 'string' ? pkg.version : 'unknown';
    } catch {
      toolVersion = 'unknown';
    }
  }
  return toolVersion;
}

/** required < optional < dev: the weaker of two scopes. */
export const SCOPE_RANK: Readonly<Record<Scope, number>> = { required: 0, optional: 1, dev: 2 };

// ---- package URLs: the lockfile part's parser and canonical writer (spec test vectors; npm
// names keep their case, which packageurl-js's own writer does not do).

export interface ParsedPurl {
  type: string;
  namespace?: string;
  name: string;
  version?: string;
  /** The canonical string form. */
  canonical: string;
}

/** Parses a package URL; undefined when it is not one. */
export function parsePurlLoose(s: string): ParsedPurl | undefined {
  if (s.length > 4096) return undefined;
  try {
    const p = parsePurl(s);
    const out: ParsedPurl = { type: p.type, name: p.name, canonical: formatPurl(p) };
    if (p.namespace) out.namespace = p.namespace;
    if (p.version) out.version = p.version;
    return out;
  } catch {
    return undefined;
  }
}

/** `pkg:<type>/<namespace>/<name>@<version>` in canonical form. */
export function makePurl(type: string, namespace: string | undefined, name: string, version: string | undefined): string {
  const p: Purl = { type, name };
  if (namespace) p.namespace = namespace;
  if (version) p.version = version;
  return formatPurl(p);
}

/** The full package name the ecosystem uses, from a purl's namespace and name. */
export function purlPackageName(p: Pick<ParsedPurl, 'type' | 'namespace' | 'name'>): string {
  if (!p.namespace) return p.name;
  return p.type === 'maven' ? `${p.namespace}:${p.name}` : `${p.namespace}/${p.name}`;
}

const ECOSYSTEMS: Readonly<Record<string, string>> = {
  npm: 'npm', pypi: 'PyPI', maven: 'Maven', golang: 'Go', cargo: 'crates.io', nuget: 'NuGet', gem: 'RubyGems',
  composer: 'Packagist', hex: 'Hex', pub: 'Pub', hackage: 'Hackage', cran: 'CRAN', swift: 'SwiftURL', conan: 'ConanCenter',
};

/**
 * The purl type and namespace/name of an OSV package (ecosystem and name), the inverse of
 * ecosystemOf and purlPackageName; undefined for an ecosystem without a purl type here.
 */
export function purlOfPackage(ecosystem: string, name: string): { type: string; namespace?: string; name: string } | undefined {
  const base = ecosystem.split(':')[0] ?? ecosystem;
  const type = Object.keys(ECOSYSTEMS).find((t) => ECOSYSTEMS[t] === base);
  if (type === undefined) return undefined;
  const cut = type === 'maven' ? name.lastIndexOf(':') : name.lastIndexOf('/');
  return cut > 0 ? { type, namespace: name.slice(0, cut), name: name.slice(cut + 1) } : { type, name };
}

/** The OSV ecosystem name for a purl type; the purl type itself when OSV has none. */
export function ecosystemOf(purlType: string): string {
  return ECOSYSTEMS[purlType] ?? purlType;
}
