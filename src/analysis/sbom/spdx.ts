import { createHash } from 'node:crypto';
import { SsfError } from '../../core/index.js';
import type { Component, HashAlg, Sbom, Scope } from '../model.js';
import { parseSpdx, renderSpdx } from './license.js';
import type { DocOptions } from './options.js';
import { SCOPE_RANK, SSF_UUID_NAMESPACE, byCodeUnit, ssfVersion, uuidV5 } from './util.js';

export const SPDX_ALG: Readonly<Record<HashAlg, string>> = { 'SHA-1': 'SHA1', 'SHA-256': 'SHA256', 'SHA-384': 'SHA384', 'SHA-512': 'SHA512' };

/** An SPDX idstring: letters, digits, `.` and `-` only. */
export function sanitizeId(s: string): string {
  const out = s.replace(/^@/, '').replace(/\//g, '.').replace(/[^A-Za-z0-9.-]+/g, '-');
  return out === '' ? 'x' : out;
}

/**
 * The relationship type for the edge `from → to`. The model keeps a scope per component
 * (how it sits relative to the project), SPDX 2.3 a type per edge. An edge is typed where
 * the dependency enters a weaker scope: `B DEV_DEPENDENCY_OF A` when B is dev and A is not,
 * `B OPTIONAL_DEPENDENCY_OF A` when B is optional and A is required; every other edge is
 * `A DEPENDS_ON B`. Reading it back (import.ts) a package's scope is the weakest edge type
 * on its strongest path from the root, which gives the same scopes for any SBOM whose
 * scopes follow its graph (as lockfile SBOMs do).
 */
function edgeType(from: Scope, to: Scope): 'DEPENDS_ON' | 'DEV_DEPENDENCY_OF' | 'OPTIONAL_DEPENDENCY_OF' {
  if (SCOPE_RANK[to] <= SCOPE_RANK[from]) return 'DEPENDS_ON';
  return to === 'dev' ? 'DEV_DEPENDENCY_OF' : 'OPTIONAL_DEPENDENCY_OF';
}

interface Extracted { licenseId: string; extractedText: string; name: string }

/**
 * The SBOM as an SPDX 2.3 JSON object (written by hand; the field mapping is in
 * docs/sbom.md). Deterministic for the same SBOM and options.
 */
export function toSpdx(sbom: Sbom, opts: DocOptions = {}): Record<string, unknown> {
  const tool = opts.tool ?? { name: 'ssf', version: ssfVersion() };
  const namespace = opts.namespace ?? `urn:uuid:${uuidV5(SSF_UUID_NAMESPACE, `spdx:${sbom.source.digest}`)}`;
  if (namespace.includes('#') || !/^[A-Za-z][A-Za-z0-9+.-]*:\S+$/.test(namespace)) {
    throw new SsfError('SBOM_INVALID', `SPDX document namespace ${JSON.stringify(namespace)} is not an absolute URI without '#'; pass one`);
  }
  const created = (opts.timestamp ?? new Date(0)).toISOString().replace(/\.\d{3}Z$/, 'Z');

  // SPDXIDs: root first, then components in purl order; a clash after sanitising gets a counter.
  const used = new Set<string>(['SPDXRef-DOCUMENT']);
  const idOf = new Map<string, string>();
  const assign = (ref: string, name: string, version: string): string => {
    const base = `SPDXRef-Package-${sanitizeId(name)}-${sanitizeId(version || 'unversioned')}`;
    let id = base;
    for (let n = 2; used.has(id); n++) id = `${base}-${n}`;
    used.add(id);
    idOf.set(ref, id);
    return id;
  };
  const sorted = [...sbom.components].sort((a, b) => byCodeUnit(a.purl, b.purl) || byCodeUnit(a.ref, b.ref));
  const rootId = assign(sbom.root.ref, sbom.root.name, sbom.root.version);
  const scopeOf = new Map<string, Scope>([[sbom.root.ref, 'required']]);
  for (const c of sorted) {
    if (idOf.has(c.ref)) throw new SsfError('SBOM_INVALID', `component ref ${JSON.stringify(c.ref)} occurs twice in the SBOM; refs must be unique`);
    assign(c.ref, c.name, c.version);
    scopeOf.set(c.ref, c.scope);
  }

  const extracted = new Map<string, Extracted>();
  const packages: Record<string, unknown>[] = [];
  const rootPkg: Record<string, unknown> = {
    SPDXID: rootId,
    name: sbom.root.name,
    versionInfo: sbom.root.version || undefined,
    downloadLocation: 'NOASSERTION',
    filesAnalyzed: false,
    licenseDeclared: 'NOASSERTION',
    primaryPackagePurpose: 'APPLICATION',
    externalRefs: sbom.root.purl ? [{ referenceCategory: 'PACKAGE-MANAGER', referenceType: 'purl', referenceLocator: sbom.root.purl }] : undefined,
  };
  packages.push(rootPkg);
  for (const c of sorted) packages.push(packageOf(c, idOf.get(c.ref)!, extracted));

  const relationships: Record<string, string>[] = [{ spdxElementId: 'SPDXRef-DOCUMENT', relationshipType: 'DESCRIBES', relatedSpdxElement: rootId }];
  const edges: Record<string, string>[] = [];
  for (const d of sbom.dependencies) {
    const from = idOf.get(d.ref);
    const fromScope = scopeOf.get(d.ref);
    if (from === undefined || fromScope === undefined) throw new SsfError('SBOM_INVALID', `dependency from ${JSON.stringify(d.ref)}, which is neither the root nor a component`);
    for (const toRef of new Set(d.dependsOn)) {
      const to = idOf.get(toRef);
      const toScope = scopeOf.get(toRef);
      if (to === undefined || toScope === undefined) throw new SsfError('SBOM_INVALID', `${JSON.stringify(d.ref)} depends on ${JSON.stringify(toRef)}, which is neither the root nor a component`);
      const type = edgeType(fromScope, toScope);
      edges.push(type === 'DEPENDS_ON' ? { spdxElementId: from, relationshipType: type, relatedSpdxElement: to } : { spdxElementId: to, relationshipType: type, relatedSpdxElement: from });
    }
  }
  edges.sort((a, b) => byCodeUnit(a.spdxElementId!, b.spdxElementId!) || byCodeUnit(a.relationshipType!, b.relationshipType!) || byCodeUnit(a.relatedSpdxElement!, b.relatedSpdxElement!));
  relationships.push(...edges);

  const doc: Record<string, unknown> = {
    spdxVersion: 'SPDX-2.3',
    dataLicense: 'CC0-1.0',
    SPDXID: 'SPDXRef-DOCUMENT',
    name: sbom.root.version ? `${sbom.root.name}@${sbom.root.version}` : sbom.root.name,
    documentNamespace: namespace,
    creationInfo: { created, creators: [`Tool: ${tool.name}-${tool.version}`] },
    documentDescribes: [rootId],
    packages,
    relationships,
  };
  if (extracted.size > 0) doc.hasExtractedLicensingInfos = [...extracted.values()].sort((a, b) => byCodeUnit(a.licenseId, b.licenseId));
  return JSON.parse(JSON.stringify(doc)) as Record<string, unknown>;
}

/**
 * licenseDeclared: the case-corrected SPDX expression, or for free text a LicenseRef-
 * (sanitised text plus 8 hex digits of its SHA-256, so different texts never share an id)
 * listed in hasExtractedLicensingInfos with the raw text; NOASSERTION when none was declared.
 */
function declaredLicense(raw: string | undefined, extracted: Map<string, Extracted>): string {
  if (raw === undefined || raw.trim() === '') return 'NOASSERTION';
  const tree = parseSpdx(raw);
  if (tree !== undefined) return renderSpdx(tree);
  const text = raw.trim();
  const id = `LicenseRef-${sanitizeId(text).slice(0, 48)}-${createHash('sha256').update(text).digest('hex').slice(0, 8)}`;
  extracted.set(id, { licenseId: id, extractedText: text, name: text });
  return id;
}

function packageOf(c: Component, id: string, extracted: Map<string, Extracted>): Record<string, unknown> {
  return {
    SPDXID: id,
    name: c.name,
    versionInfo: c.version || undefined,
    downloadLocation: c.resolved || 'NOASSERTION',
    filesAnalyzed: false,
    checksums: c.hashes.length > 0
      ? [...c.hashes].sort((a, b) => byCodeUnit(a.alg, b.alg)).map((h) => ({ algorithm: SPDX_ALG[h.alg], checksumValue: h.hex }))
      : undefined,
    licenseDeclared: declaredLicense(c.license, extracted),
    primaryPackagePurpose: 'LIBRARY',
    externalRefs: c.purl ? [{ referenceCategory: 'PACKAGE-MANAGER', referenceType: 'purl', referenceLocator: c.purl }] : undefined,
  };
}
