import { SsfError, parseJson, sha256Hex } from '../../core/index.js';
import type { Component, Dependency, Hash, HashAlg, Sbom, SbomSourceKind, Scope } from '../model.js';
import { PROP_NPM_BUNDLED, PROP_NPM_DEVELOPMENT, PROP_NPM_PATH } from './cyclonedx.js';
import { SCOPE_RANK, byCodeUnit, ecosystemOf, makePurl, parsePurlLoose, purlPackageName } from './util.js';

/** Largest SBOM document importSbom reads (64 MiB; a 1,200-package CycloneDX document is about 1 MB). */
export const MAX_SBOM_BYTES = 64 * 1024 * 1024;

/** Components nested deeper than this inside other components are skipped with a warning. */
export const MAX_COMPONENT_DEPTH = 32;

const HEX_LEN: Readonly<Record<HashAlg, number>> = { 'SHA-1': 40, 'SHA-256': 64, 'SHA-384': 96, 'SHA-512': 128 };

const show = (v: unknown): string => {
  const s = typeof v === 'string' ? v : JSON.stringify(v) ?? String(v);
  return JSON.stringify(s.length > 80 ? `${s.slice(0, 77)}...` : s);
};

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

function bad(what: string): never {
  throw new SsfError('SBOM_INVALID', what);
}

/** What a reader found for one component, before deduplication. */
interface Raw {
  ref: string;
  name: string;
  version: string;
  purl?: string;
  /** The CycloneDX group, used to name a component that has no valid purl. */
  group?: string;
  hashes: Hash[];
  license?: string;
  scope?: Scope;
  paths: string[];
  resolved?: string;
  bundled?: boolean;
}

/**
 * Collects components, merging those with the same (ecosystem, name, version): the model keeps
 * one component per package, while third-party SBOMs may list a package once per install path
 * (cyclonedx-npm's nested components do). Edges to a merged component are redirected.
 */
class Collector {
  readonly warnings: string[] = [];
  readonly components = new Map<string, Component>();
  /** Source ref → canonical ref (the root's or a kept component's). */
  readonly alias = new Map<string, string>();
  private readonly byKey = new Map<string, string>();
  private readonly seenRefs = new Set<string>();
  private noPurl = 0;
  private rootKey: string | undefined;
  root: Sbom['root'] = { ref: '', name: '', version: '' };

  /** Registers a source ref, refusing duplicates: edges would be ambiguous. */
  claim(ref: string, where: string): void {
    if (this.seenRefs.has(ref)) bad(`${where}: the reference ${show(ref)} is used twice; references must be unique within the document`);
    this.seenRefs.add(ref);
  }

  /** A unique ref for an element that came without one. */
  freshRef(base: string): string {
    let ref = base;
    for (let n = 2; this.seenRefs.has(ref); n++) ref = `${base}#${n}`;
    return ref;
  }

  identify(r: Pick<Raw, 'name' | 'version' | 'purl' | 'group'>, where: string): { ecosystem: string; name: string; version: string; purl: string } {
    const p = r.purl === undefined ? undefined : parsePurlLoose(r.purl);
    if (r.purl !== undefined && p === undefined) this.warnings.push(`${where}: purl ${show(r.purl)} is not a valid package URL; ignored`);
    if (p) {
      const version = r.version || p.version || '';
      // The canonical purl with the component's version, when the purl carried none.
      const purl = p.version || !version ? p.canonical : makePurl(p.type, p.namespace, p.name, version);
      return { ecosystem: ecosystemOf(p.type), name: purlPackageName(p), version, purl };
    }
    const name = r.group ? `${r.group}/${r.name}` : r.name;
    return { ecosystem: 'generic', name, version: r.version, purl: makePurl('generic', r.group, r.name, r.version) };
  }

  setRoot(r: Pick<Raw, 'ref' | 'name' | 'version' | 'purl' | 'group'>, where: string): void {
    const id = this.identify(r, where);
    this.root = { ref: r.ref, name: id.name, version: id.version };
    if (r.purl !== undefined && parsePurlLoose(r.purl)) this.root.purl = id.purl;
    if (r.purl !== undefined) this.rootKey = `${id.ecosystem}\0${id.name}\0${id.version}`;
    this.alias.set(r.ref, r.ref);
  }

  add(r: Raw, where: string): void {
    const id = this.identify(r, where);
    if (id.ecosystem === 'generic' && (r.purl === undefined || parsePurlLoose(r.purl) === undefined)) this.noPurl++;
    const key = `${id.ecosystem}\0${id.name}\0${id.version}`;
    if (key === this.rootKey) {
      // Some tools list the described package among the components as well.
      this.alias.set(r.ref, this.root.ref);
      return;
    }
    const existing = this.byKey.get(key);
    if (existing !== undefined) {
      const c = this.components.get(existing)!;
      this.alias.set(r.ref, existing);
      for (const h of r.hashes) {
        const same = c.hashes.find((x) => x.alg === h.alg);
        if (!same) c.hashes.push(h);
        else if (same.hex !== h.hex) this.warnings.push(`${where}: ${id.name}@${id.version} is listed twice with different ${h.alg} hashes; kept the first`);
      }
      if (r.scope !== undefined && SCOPE_RANK[r.scope] < SCOPE_RANK[c.scope]) c.scope = r.scope;
      for (const p of r.paths) if (!c.paths.includes(p)) c.paths.push(p);
      if (c.license === undefined && r.license !== undefined) c.license = r.license;
      if (c.resolved === undefined && r.resolved !== undefined) c.resolved = r.resolved;
      return;
    }
    const c: Component = { ref: r.ref, ecosystem: id.ecosystem, name: id.name, version: id.version, purl: id.purl, hashes: [...r.hashes], scope: r.scope ?? 'required', paths: [...r.paths] };
    if (r.license !== undefined) c.license = r.license;
    if (r.resolved !== undefined) c.resolved = r.resolved;
    if (r.bundled) c.bundled = true;
    this.byKey.set(key, r.ref);
    this.alias.set(r.ref, r.ref);
    this.components.set(r.ref, c);
  }

  finish(kind: SbomSourceKind, text: string, version: string, file: string | undefined, edges: Map<string, Set<string>>): Sbom {
    if (this.noPurl > 0) this.warnings.push(`${this.noPurl} component(s) have no valid purl; named pkg:generic/… and matched against no advisory ecosystem`);
    const dependencies: Dependency[] = [...edges]
      .filter(([, to]) => to.size > 0)
      .map(([ref, to]) => ({ ref, dependsOn: [...to].sort(byCodeUnit) }))
      .sort((a, b) => byCodeUnit(a.ref, b.ref));
    const components = [...this.components.values()].sort((a, b) => byCodeUnit(a.purl, b.purl) || byCodeUnit(a.ref, b.ref));
    for (const c of components) {
      c.hashes.sort((a, b) => byCodeUnit(a.alg, b.alg));
      c.paths.sort(byCodeUnit);
    }
    const source: Sbom['source'] = { kind, digest: `sha256:${sha256Hex(text)}`, version };
    if (file !== undefined) source.file = file;
    return { root: this.root, components, dependencies, source, warnings: this.warnings };
  }
}

/** Adds `from → to` after resolving both through the alias table; warns about unknown refs. */
function addEdge(col: Collector, edges: Map<string, Set<string>>, from: string, to: string, where: string): boolean {
  const f = col.alias.get(from);
  const t = col.alias.get(to);
  if (f === undefined || t === undefined) {
    col.warnings.push(`${where}: ${show(f === undefined ? from : to)} is not an element of the document; edge dropped`);
    return false;
  }
  if (f === t) return true;
  let set = edges.get(f);
  if (!set) edges.set(f, (set = new Set()));
  set.add(t);
  return true;
}

function hashOf(alg: unknown, hex: unknown, where: string, warnings: string[]): Hash | undefined {
  const a = typeof alg === 'string' ? (alg.toUpperCase().replace(/^SHA-?(1|256|384|512)$/, 'SHA-$1') as HashAlg) : undefined;
  if (a === undefined || !(a in HEX_LEN)) return undefined; // MD5, SHA-3, BLAKE…: not kept (model has SHA-1/2 only)
  if (typeof hex !== 'string' || hex.length !== HEX_LEN[a] || !/^[0-9a-fA-F]+$/.test(hex)) {
    warnings.push(`${where}: ${a} value ${show(hex)} is not ${HEX_LEN[a]} hex digits; dropped`);
    return undefined;
  }
  return { alg: a, hex: hex.toLowerCase() };
}

/**
 * Reads a CycloneDX (1.4, 1.5, 1.6) or SPDX (2.2, 2.3) JSON document into the shared model.
 * What is kept and what is dropped is listed in docs/sbom.md. SBOM_INVALID for anything else.
 */
export function importSbom(text: string, opts: { file?: string } = {}): Sbom {
  const name = opts.file ?? 'the SBOM';
  // Cheap bound first (a UTF-16 unit is at least one UTF-8 byte), then the exact byte count.
  if (text.length > MAX_SBOM_BYTES || Buffer.byteLength(text, 'utf8') > MAX_SBOM_BYTES) {
    throw new SsfError('INPUT_TOO_LARGE', `${name} is larger than ${MAX_SBOM_BYTES} bytes, the most ssf reads as an SBOM; split it or raise the limit`);
  }
  const doc = parseJson(text.charCodeAt(0) === 0xfeff ? text.slice(1) : text, name, 'SBOM_INVALID');
  if (!isObject(doc)) bad(`${name} is not a JSON object; expected a CycloneDX or SPDX document`);
  if ('bomFormat' in doc) return importCycloneDx(doc, text, name, opts.file);
  if ('spdxVersion' in doc) return importSpdx(doc, text, name, opts.file);
  bad(`${name} has neither bomFormat (CycloneDX) nor spdxVersion (SPDX); ssf reads CycloneDX 1.4-1.6 and SPDX 2.2-2.3 JSON`);
}

// ---- CycloneDX

const CDX_VERSIONS = ['1.4', '1.5', '1.6'];

function cdxLicense(v: unknown, where: string): string | undefined {
  if (v === undefined) return undefined;
  if (!Array.isArray(v)) bad(`${where}/licenses must be an array`);
  const entries = v.filter(isObject);
  // Declared licences describe the package; a concluded one is someone's analysis. Keep the
  // declared ones when both are present.
  const declared = entries.filter((e) => (isObject(e.license) ? e.license.acknowledgement : e.acknowledgement) !== 'concluded');
  const parts: string[] = [];
  for (const e of declared.length > 0 ? declared : entries) {
    if (typeof e.expression === 'string' && e.expression.trim() !== '') parts.push(e.expression.trim());
    else if (isObject(e.license)) {
      const s = typeof e.license.id === 'string' ? e.license.id : typeof e.license.name === 'string' ? e.license.name : undefined;
      if (s !== undefined && s.trim() !== '') parts.push(s.trim());
    }
  }
  if (parts.length <= 1) return parts[0];
  // Several licence entries: all of them apply (AND), the reading that cannot under-report.
  return parts.map((p) => (/\s/.test(p) ? `(${p})` : p)).join(' AND ');
}

function importCycloneDx(doc: Record<string, unknown>, text: string, name: string, file: string | undefined): Sbom {
  if (doc.bomFormat !== 'CycloneDX') bad(`${name}: bomFormat is ${show(doc.bomFormat)}, not "CycloneDX"`);
  const version = doc.specVersion;
  if (typeof version !== 'string' || !CDX_VERSIONS.includes(version)) bad(`${name}: CycloneDX specVersion ${show(version)} is not supported; ssf reads 1.4, 1.5 and 1.6`);
  const col = new Collector();

  const raw = (c: Record<string, unknown>, where: string): Raw => {
    if (typeof c.name !== 'string' || c.name === '') bad(`${name} ${where}: a component needs a non-empty string name`);
    if (c.version !== undefined && typeof c.version !== 'string') bad(`${name} ${where}/version must be a string`);
    if (c.purl !== undefined && typeof c.purl !== 'string') bad(`${name} ${where}/purl must be a string`);
    if (c.group !== undefined && typeof c.group !== 'string') bad(`${name} ${where}/group must be a string`);
    let ref: string;
    if (c['bom-ref'] !== undefined) {
      if (typeof c['bom-ref'] !== 'string' || c['bom-ref'] === '') bad(`${name} ${where}/bom-ref must be a non-empty string`);
      ref = c['bom-ref'];
      col.claim(ref, `${name} ${where}`);
    } else {
      ref = col.freshRef(typeof c.purl === 'string' ? c.purl : `${c.group ? `${c.group}/` : ''}${c.name}@${c.version ?? ''}`);
      col.claim(ref, `${name} ${where}`);
    }
    const props = new Map<string, string[]>();
    if (c.properties !== undefined) {
      if (!Array.isArray(c.properties)) bad(`${name} ${where}/properties must be an array`);
      for (const p of c.properties) {
        if (isObject(p) && typeof p.name === 'string' && typeof p.value === 'string') props.set(p.name, [...(props.get(p.name) ?? []), p.value]);
      }
    }
    const hashes: Hash[] = [];
    if (c.hashes !== undefined) {
      if (!Array.isArray(c.hashes)) bad(`${name} ${where}/hashes must be an array`);
      for (const h of c.hashes) {
        const x = isObject(h) ? hashOf(h.alg, h.content, `${name} ${where}`, col.warnings) : undefined;
        if (x && !hashes.some((y) => y.alg === x.alg)) hashes.push(x);
      }
    }
    const dev = c.scope === 'excluded' || (props.get(PROP_NPM_DEVELOPMENT) ?? []).includes('true');
    const r: Raw = {
      ref,
      name: c.name,
      version: typeof c.version === 'string' ? c.version : '',
      hashes,
      scope: dev ? 'dev' : c.scope === 'optional' ? 'optional' : 'required',
      paths: [...new Set(props.get(PROP_NPM_PATH) ?? [])],
    };
    if (typeof c.purl === 'string') r.purl = c.purl;
    if (typeof c.group === 'string' && c.group !== '') r.group = c.group;
    const lic = cdxLicense(c.licenses, `${name} ${where}`);
    if (lic !== undefined) r.license = lic;
    if (Array.isArray(c.externalReferences)) {
      const dist = c.externalReferences.find((e) => isObject(e) && e.type === 'distribution' && typeof e.url === 'string');
      if (isObject(dist)) r.resolved = dist.url as string;
    }
    if ((props.get(PROP_NPM_BUNDLED) ?? []).includes('true')) r.bundled = true;
    return r;
  };

  // Nested components (cyclonedx-npm nests node_modules; assemblies nest parts) are flattened,
  // breadth-first with an explicit queue, so depth never grows the stack.
  const walk = (list: unknown, where: string, depth: number, queue: [unknown, string, number][]): void => {
    if (list === undefined) return;
    if (!Array.isArray(list)) bad(`${name} ${where} must be an array`);
    if (depth > MAX_COMPONENT_DEPTH) {
      col.warnings.push(`${name} ${where}: components nested more than ${MAX_COMPONENT_DEPTH} levels deep; ${list.length} skipped with everything inside them`);
      return;
    }
    list.forEach((c, i) => {
      if (!isObject(c)) bad(`${name} ${where}/${i} must be an object`);
      col.add(raw(c, `${where}/${i}`), `${name} ${where}/${i}`);
      if (c.components !== undefined) queue.push([c.components, `${where}/${i}/components`, depth + 1]);
    });
  };

  const metadata = doc.metadata;
  if (metadata !== undefined && !isObject(metadata)) bad(`${name}: metadata must be an object`);
  const queue: [unknown, string, number][] = [];
  if (isObject(metadata) && metadata.component !== undefined) {
    if (!isObject(metadata.component)) bad(`${name}: metadata.component must be an object`);
    const r = raw(metadata.component, '/metadata/component');
    col.setRoot(r, `${name} /metadata/component`);
    queue.push([metadata.component.components, '/metadata/component/components', 1]);
  } else {
    const ref = col.freshRef('root');
    col.claim(ref, name);
    col.setRoot({ ref, name: 'unnamed', version: '' }, name);
    col.warnings.push(`${name} has no metadata.component: the SBOM's root is unnamed and nothing depends on it`);
  }
  queue.unshift([doc.components, '/components', 1]);
  for (let q = queue.shift(); q !== undefined; q = queue.shift()) walk(q[0], q[1], q[2], queue);

  const edges = new Map<string, Set<string>>();
  if (doc.dependencies !== undefined) {
    if (!Array.isArray(doc.dependencies)) bad(`${name}: dependencies must be an array`);
    doc.dependencies.forEach((d, i) => {
      if (!isObject(d) || typeof d.ref !== 'string') bad(`${name} /dependencies/${i}: needs a string ref`);
      if (d.dependsOn === undefined) return;
      if (!Array.isArray(d.dependsOn)) bad(`${name} /dependencies/${i}/dependsOn must be an array`);
      if (!col.alias.has(d.ref)) {
        col.warnings.push(`${name} /dependencies/${i}: ${show(d.ref)} is not a component of the document; its ${d.dependsOn.length} edge(s) dropped`);
        return;
      }
      d.dependsOn.forEach((to, j) => {
        if (typeof to !== 'string') bad(`${name} /dependencies/${i}/dependsOn/${j} must be a string`);
        addEdge(col, edges, d.ref as string, to, `${name} /dependencies/${i}/dependsOn/${j}`);
      });
    });
  }
  return col.finish('cyclonedx', text, version, file, edges);
}

// ---- SPDX

const SPDX_VERSIONS = ['SPDX-2.2', 'SPDX-2.3'];

/** Relationship types read as dependency edges: direction (`a`: A depends on B, `b`: B depends on A) and scope. */
const RELATIONSHIPS: Readonly<Record<string, { from: 'a' | 'b'; scope: Scope }>> = {
  DEPENDS_ON: { from: 'a', scope: 'required' },
  DEPENDENCY_OF: { from: 'b', scope: 'required' },
  RUNTIME_DEPENDENCY_OF: { from: 'b', scope: 'required' },
  PROVIDED_DEPENDENCY_OF: { from: 'b', scope: 'required' },
  HAS_PREREQUISITE: { from: 'a', scope: 'required' },
  PREREQUISITE_FOR: { from: 'b', scope: 'required' },
  STATIC_LINK: { from: 'a', scope: 'required' },
  DYNAMIC_LINK: { from: 'a', scope: 'required' },
  CONTAINS: { from: 'a', scope: 'required' },
  CONTAINED_BY: { from: 'b', scope: 'required' },
  OPTIONAL_DEPENDENCY_OF: { from: 'b', scope: 'optional' },
  OPTIONAL_COMPONENT_OF: { from: 'b', scope: 'optional' },
  DEV_DEPENDENCY_OF: { from: 'b', scope: 'dev' },
  BUILD_DEPENDENCY_OF: { from: 'b', scope: 'dev' },
  TEST_DEPENDENCY_OF: { from: 'b', scope: 'dev' },
  DEV_TOOL_OF: { from: 'b', scope: 'dev' },
  BUILD_TOOL_OF: { from: 'b', scope: 'dev' },
  TEST_TOOL_OF: { from: 'b', scope: 'dev' },
};

const SPDX_ALGS: Readonly<Record<string, HashAlg>> = { SHA1: 'SHA-1', SHA256: 'SHA-256', SHA384: 'SHA-384', SHA512: 'SHA-512' };

function importSpdx(doc: Record<string, unknown>, text: string, name: string, file: string | undefined): Sbom {
  const version = doc.spdxVersion;
  if (typeof version !== 'string' || !SPDX_VERSIONS.includes(version)) bad(`${name}: spdxVersion ${show(version)} is not supported; ssf reads SPDX-2.2 and SPDX-2.3 JSON`);
  if (doc.SPDXID !== undefined && doc.SPDXID !== 'SPDXRef-DOCUMENT') bad(`${name}: the document's SPDXID must be SPDXRef-DOCUMENT`);
  const packages = doc.packages ?? [];
  if (!Array.isArray(packages)) bad(`${name}: packages must be an array`);
  const relationships = doc.relationships ?? [];
  if (!Array.isArray(relationships)) bad(`${name}: relationships must be an array`);
  const col = new Collector();

  // Licence names for LicenseRef-s (ssf writes the declared text as the name).
  const refNames = new Map<string, string>();
  if (Array.isArray(doc.hasExtractedLicensingInfos)) {
    for (const x of doc.hasExtractedLicensingInfos) {
      if (isObject(x) && typeof x.licenseId === 'string' && typeof x.name === 'string' && x.name.trim() !== '') refNames.set(x.licenseId, x.name);
    }
  }

  const pkgs = new Map<string, Raw>();
  packages.forEach((p, i) => {
    const where = `${name} /packages/${i}`;
    if (!isObject(p)) bad(`${where} must be an object`);
    if (typeof p.SPDXID !== 'string' || p.SPDXID === '') bad(`${where}: SPDXID must be a non-empty string`);
    if (typeof p.name !== 'string' || p.name === '') bad(`${where}: name must be a non-empty string`);
    if (p.versionInfo !== undefined && typeof p.versionInfo !== 'string') bad(`${where}/versionInfo must be a string`);
    col.claim(p.SPDXID, where);
    const r: Raw = { ref: p.SPDXID, name: p.name, version: typeof p.versionInfo === 'string' ? p.versionInfo : '', hashes: [], paths: [] };
    if (p.externalRefs !== undefined && !Array.isArray(p.externalRefs)) bad(`${where}/externalRefs must be an array`);
    const purl = (Array.isArray(p.externalRefs) ? p.externalRefs : []).find(
      (e) => isObject(e) && e.referenceType === 'purl' && (e.referenceCategory === 'PACKAGE-MANAGER' || e.referenceCategory === 'PACKAGE_MANAGER') && typeof e.referenceLocator === 'string',
    );
    if (isObject(purl)) r.purl = purl.referenceLocator as string;
    if (p.checksums !== undefined && !Array.isArray(p.checksums)) bad(`${where}/checksums must be an array`);
    for (const c of Array.isArray(p.checksums) ? p.checksums : []) {
      if (!isObject(c) || typeof c.algorithm !== 'string') continue;
      const alg = SPDX_ALGS[c.algorithm];
      const h = alg === undefined ? undefined : hashOf(alg, c.checksumValue, where, col.warnings);
      if (h && !r.hashes.some((x) => x.alg === h.alg)) r.hashes.push(h);
    }
    const lic = p.licenseDeclared;
    if (typeof lic === 'string' && lic.trim() !== '' && lic !== 'NOASSERTION' && lic !== 'NONE') r.license = refNames.get(lic.trim()) ?? lic.trim();
    const dl = p.downloadLocation;
    if (typeof dl === 'string' && dl !== 'NOASSERTION' && dl !== 'NONE' && dl !== '') r.resolved = dl;
    pkgs.set(p.SPDXID, r);
  });

  // The root: the one package the document describes; otherwise the document itself, with
  // every described package as a direct dependency.
  const described = new Set<string>();
  if (doc.documentDescribes !== undefined && !Array.isArray(doc.documentDescribes)) bad(`${name}: documentDescribes must be an array`);
  for (const d of Array.isArray(doc.documentDescribes) ? doc.documentDescribes : []) if (typeof d === 'string') described.add(d);
  relationships.forEach((r, i) => {
    if (!isObject(r) || typeof r.spdxElementId !== 'string' || typeof r.relatedSpdxElement !== 'string' || typeof r.relationshipType !== 'string') {
      bad(`${name} /relationships/${i}: needs string spdxElementId, relationshipType and relatedSpdxElement`);
    }
    if (r.relationshipType === 'DESCRIBES' && r.spdxElementId === 'SPDXRef-DOCUMENT') described.add(r.relatedSpdxElement);
    if (r.relationshipType === 'DESCRIBED_BY' && r.relatedSpdxElement === 'SPDXRef-DOCUMENT') described.add(r.spdxElementId);
  });
  const describedPkgs = [...described].filter((d) => pkgs.has(d)).sort(byCodeUnit);
  const rootId = describedPkgs.length === 1 ? describedPkgs[0]! : 'SPDXRef-DOCUMENT';
  if (rootId === 'SPDXRef-DOCUMENT') {
    col.setRoot({ ref: rootId, name: typeof doc.name === 'string' && doc.name !== '' ? doc.name : 'unnamed', version: '' }, name);
  } else {
    col.setRoot(pkgs.get(rootId)!, `${name} package ${rootId}`);
  }
  for (const [id, r] of pkgs) if (id !== rootId) col.add(r, `${name} package ${id}`);

  // Typed edges, then scopes: a package's scope is the weakest edge type on its strongest
  // path from the root (required < optional < dev), the inverse of what toSpdx writes.
  const edges = new Map<string, Set<string>>();
  const typed: { from: string; to: string; scope: Scope }[] = [];
  if (rootId === 'SPDXRef-DOCUMENT') {
    for (const d of describedPkgs) if (addEdge(col, edges, rootId, d, `${name} documentDescribes`)) typed.push({ from: rootId, to: col.alias.get(d)!, scope: 'required' });
  }
  relationships.forEach((r: Record<string, string>, i) => {
    const rule = RELATIONSHIPS[r.relationshipType!];
    if (!rule) return;
    const [a, b] = [r.spdxElementId!, r.relatedSpdxElement!];
    // Edges to files, snippets, NOASSERTION or other documents are not package dependencies.
    if (!col.alias.has(a) || !col.alias.has(b)) return;
    const [from, to] = rule.from === 'a' ? [a, b] : [b, a];
    if (addEdge(col, edges, from, to, `${name} /relationships/${i}`)) typed.push({ from: col.alias.get(from)!, to: col.alias.get(to)!, scope: rule.scope });
  });
  applyScopes(col, typed);
  return col.finish('spdx', text, version, file, edges);
}

function applyScopes(col: Collector, typed: { from: string; to: string; scope: Scope }[]): void {
  const best = new Map<string, Scope>([[col.root.ref, 'required']]);
  const out = new Map<string, { to: string; scope: Scope }[]>();
  for (const e of typed) out.set(e.from, [...(out.get(e.from) ?? []), e]);
  // Three passes, strongest scope first: reachability using only edges at most that weak.
  for (const level of ['required', 'optional', 'dev'] as const) {
    const queue = [...best.keys()];
    for (let ref = queue.pop(); ref !== undefined; ref = queue.pop()) {
      for (const e of out.get(ref) ?? []) {
        if (SCOPE_RANK[e.scope] > SCOPE_RANK[level] || best.has(e.to)) continue;
        best.set(e.to, level);
        queue.push(e.to);
      }
    }
  }
  let unreachable = 0;
  for (const c of col.components.values()) {
    const s = best.get(c.ref);
    if (s === undefined) unreachable++;
    c.scope = s ?? 'required';
  }
  // Unknown place in the graph: counted as required, so that scans and licence checks include it.
  if (unreachable > 0) col.warnings.push(`${unreachable} package(s) are not reachable from the root through dependency relationships; their scope is taken as required`);
}
