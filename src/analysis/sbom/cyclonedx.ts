import { createRequire } from 'node:module';
import type * as CDX from '@cyclonedx/cyclonedx-library';
import { SsfError } from '../../core/index.js';
import type { Component, Sbom } from '../model.js';
import { parseSpdx, renderSpdx } from './license.js';
import type { DocOptions } from './options.js';
import { SSF_UUID_NAMESPACE, byCodeUnit, ssfVersion, uuidV5 } from './util.js';

const require = createRequire(import.meta.url);
let cdx: typeof CDX | undefined;

/** The CycloneDX library costs ~80-130 ms to load; only commands that write CycloneDX pay it. */
function library(): typeof CDX {
  return (cdx ??= require('@cyclonedx/cyclonedx-library') as typeof CDX);
}

/** cdx:npm property taxonomy (https://github.com/CycloneDX/cyclonedx-property-taxonomy), as npm sbom and cyclonedx-npm write it. */
export const PROP_NPM_DEVELOPMENT = 'cdx:npm:package:development';
export const PROP_NPM_BUNDLED = 'cdx:npm:package:bundled';
export const PROP_NPM_PATH = 'cdx:npm:package:path';

const SERIAL = /^urn:uuid:[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

/** Splits an npm scoped name into CycloneDX group and name, as cyclonedx-npm does. */
function groupAndName(c: { ecosystem?: string; name: string }): { group?: string; name: string } {
  const m = c.ecosystem === 'npm' ? /^(@[^/]+)\/(.+)$/.exec(c.name) : null;
  return m ? { group: m[1]!, name: m[2]! } : { name: c.name };
}

function licenseOf(lib: typeof CDX, raw: string): CDX.Models.License {
  const tree = parseSpdx(raw);
  if (tree === undefined) return new lib.Models.NamedLicense(raw.trim() || raw);
  // A single listed id goes in license.id (the form the schema's enum checks); anything else
  // (compound, WITH, `+`, LicenseRef-, ids newer than the schema's list) is an expression.
  if ('license' in tree && !tree.plus && !tree.exception && lib.SPDX.isSupportedSpdxId(tree.license)) return new lib.Models.SpdxLicense(tree.license);
  return new lib.Models.LicenseExpression(renderSpdx(tree));
}

/**
 * The SBOM as a CycloneDX 1.6 JSON object, built with the official CycloneDX library.
 * Deterministic for the same SBOM and options: components sorted by purl (then ref),
 * dependencies by ref, hashes by algorithm.
 */
export function toCycloneDx(sbom: Sbom, opts: DocOptions = {}): Record<string, unknown> {
  const lib = library();
  const { Models, Enums } = lib;
  const serialNumber = opts.serialNumber ?? `urn:uuid:${uuidV5(SSF_UUID_NAMESPACE, `cyclonedx:${sbom.source.digest}`)}`;
  if (!SERIAL.test(serialNumber)) throw new SsfError('SBOM_INVALID', `serial number ${JSON.stringify(serialNumber)} is not urn:uuid:<lower-case RFC 4122 UUID>; pass one in that form`);
  const tool = opts.tool ?? { name: 'ssf', version: ssfVersion() };

  const rootNames = groupAndName({ ecosystem: sbom.root.purl?.startsWith('pkg:npm/') ? 'npm' : '', name: sbom.root.name });
  const root = new Models.Component(Enums.ComponentType.Application, rootNames.name, { bomRef: sbom.root.ref, version: sbom.root.version });
  if (rootNames.group) root.group = rootNames.group;
  if (sbom.root.purl) root.purl = sbom.root.purl;

  const toolComponent = new Models.Component(Enums.ComponentType.Application, tool.name, { version: tool.version });
  const metadata = new Models.Metadata({ component: root, tools: new Models.Tools({ components: new Models.ComponentRepository([toolComponent]) }) });
  if (opts.timestamp) metadata.timestamp = opts.timestamp;
  const bom = new Models.Bom({ metadata, serialNumber });
  bom.version = 1;

  const byRef = new Map<string, CDX.Models.Component>([[sbom.root.ref, root]]);
  const sorted = [...sbom.components].sort((a, b) => byCodeUnit(a.purl, b.purl) || byCodeUnit(a.ref, b.ref));
  for (const c of sorted) {
    if (byRef.has(c.ref)) throw new SsfError('SBOM_INVALID', `component ref ${JSON.stringify(c.ref)} occurs twice in the SBOM; refs must be unique`);
    const component = makeComponent(lib, c);
    byRef.set(c.ref, component);
    bom.components.add(component);
  }

  for (const d of [...sbom.dependencies].sort((a, b) => byCodeUnit(a.ref, b.ref))) {
    const from = byRef.get(d.ref);
    if (!from) throw new SsfError('SBOM_INVALID', `dependency from ${JSON.stringify(d.ref)}, which is neither the root nor a component`);
    for (const to of [...d.dependsOn].sort(byCodeUnit)) {
      const target = byRef.get(to);
      if (!target) throw new SsfError('SBOM_INVALID', `${JSON.stringify(d.ref)} depends on ${JSON.stringify(to)}, which is neither the root nor a component`);
      from.dependencies.add(target.bomRef);
    }
  }

  // The library's own sorting uses localeCompare (locale-dependent); everything above is
  // inserted in code-unit order instead, and sortLists stays off.
  const serializer = new lib.Serialize.JsonSerializer(new lib.Serialize.JSON.Normalize.Factory(lib.Spec.Spec1dot6));
  const out = JSON.parse(serializer.serialize(bom, { sortLists: false })) as Record<string, unknown>;
  // The library lists the root's entry first, then the components'; ssf's order is by ref.
  if (Array.isArray(out.dependencies)) (out.dependencies as { ref: string }[]).sort((a, b) => byCodeUnit(a.ref, b.ref));
  return out;
}

function makeComponent(lib: typeof CDX, c: Component): CDX.Models.Component {
  const { Models, Enums } = lib;
  const gn = groupAndName(c);
  const component = new Models.Component(Enums.ComponentType.Library, gn.name, { bomRef: c.ref, version: c.version, purl: c.purl });
  if (gn.group) component.group = gn.group;
  // CycloneDX scopes: required, optional, excluded. "excluded" is the spec's word for
  // components used only for tests and builds (not reachable at runtime): npm's dev
  // dependencies. npm sbom writes them as "optional" plus cdx:npm:package:development=true;
  // ssf writes the spec's scope and the same property, so both readings agree.
  component.scope = c.scope === 'dev' ? Enums.ComponentScope.Excluded : c.scope === 'optional' ? Enums.ComponentScope.Optional : Enums.ComponentScope.Required;
  for (const h of [...c.hashes].sort((a, b) => byCodeUnit(a.alg, b.alg))) component.hashes.set(h.alg as CDX.Enums.HashAlgorithm, h.hex);
  if (c.license !== undefined && c.license.trim() !== '') component.licenses.add(licenseOf(lib, c.license));
  if (c.resolved) {
    component.externalReferences.add(new Models.ExternalReference(c.resolved, Enums.ExternalReferenceType.Distribution));
  }
  if (c.scope === 'dev') component.properties.add(new Models.Property(PROP_NPM_DEVELOPMENT, 'true'));
  if (c.bundled) component.properties.add(new Models.Property(PROP_NPM_BUNDLED, 'true'));
  for (const p of [...c.paths].sort(byCodeUnit)) component.properties.add(new Models.Property(PROP_NPM_PATH, p));
  return component;
}
