import { PackageURL } from 'packageurl-js';

/** A parsed package URL reduced to what VEX matching compares. */
export interface PurlKey {
  type: string;
  namespace: string;
  name: string;
  version?: string;
  qualifiers: Record<string, string>;
  subpath?: string;
}

/** Parses a purl into its canonical parts; undefined when the string is not a valid purl. */
export function purlKey(s: string): PurlKey | undefined {
  if (!s.startsWith('pkg:')) return undefined;
  let p: PackageURL;
  try {
    p = PackageURL.fromString(s);
  } catch {
    return undefined;
  }
  const qualifiers: Record<string, string> = {};
  for (const [k, v] of Object.entries(p.qualifiers ?? {})) if (typeof v === 'string') qualifiers[k.toLowerCase()] = v;
  const key: PurlKey = { type: p.type.toLowerCase(), namespace: p.namespace ?? '', name: p.name, qualifiers };
  if (p.version) key.version = p.version;
  if (p.subpath) key.subpath = p.subpath;
  return key;
}

/**
 * Does a VEX product (or subcomponent) purl name this component purl? Type, namespace and name
 * must be equal after canonical parsing; a version, qualifier or subpath in the product must be
 * present and equal in the component, while the product may leave any of them out to cover all.
 */
export function purlCovers(product: PurlKey, component: PurlKey): boolean {
  if (product.type !== component.type || product.namespace !== component.namespace || product.name !== component.name) return false;
  if (product.version !== undefined && product.version !== component.version) return false;
  if (product.subpath !== undefined && product.subpath !== component.subpath) return false;
  for (const [k, v] of Object.entries(product.qualifiers)) if (component.qualifiers[k] !== v) return false;
  return true;
}
