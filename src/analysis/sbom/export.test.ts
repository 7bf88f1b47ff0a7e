import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { test } from 'node:test';
import { throwsCode } from '../../core/testing.js';
import type { Component, Sbom } from '../model.js';
import { importSbom, toCycloneDx, toSpdx, validateCycloneDx, validateSpdx } from './index.js';

const sha512 = 'a1'.repeat(64);
const sha1 = 'b2'.repeat(20);

function comp(ref: string, name: string, version: string, purl: string, extra: Partial<Component> = {}): Component {
  return { ref, ecosystem: 'npm', name, version, purl, hashes: [], scope: 'required', paths: [ref], ...extra };
}

/** A small project: scoped packages, an expression, a non-SPDX licence, dev and optional scopes, a graph. */
function model(): Sbom {
  return {
    root: { ref: 'root', name: '@acme/web', version: '2.1.0', purl: 'pkg:npm/%40acme/web@2.1.0' },
    components: [
      comp('node_modules/express', 'express', '4.19.2', 'pkg:npm/express@4.19.2', { license: 'MIT', hashes: [{ alg: 'SHA-512', hex: sha512 }, { alg: 'SHA-1', hex: sha1 }], resolved: 'https://registry.example.invalid/express/-/express-4.19.2.tgz' }),
      comp('node_modules/body-parser', 'body-parser', '1.20.2', 'pkg:npm/body-parser@1.20.2', { license: '(MIT OR Apache-2.0) AND BSD-3-Clause' }),
      comp('node_modules/@types/node', '@types/node', '20.11.0', 'pkg:npm/%40types/node@20.11.0', { license: 'MIT', scope: 'dev' }),
      comp('node_modules/@babel/core', '@babel/core', '7.24.0', 'pkg:npm/%40babel/core@7.24.0', { license: 'MIT', scope: 'dev', hashes: [{ alg: 'SHA-512', hex: 'c3'.repeat(64) }] }),
      comp('node_modules/chalk', 'chalk', '4.1.2', 'pkg:npm/chalk@4.1.2', { license: 'MIT', scope: 'dev' }),
      comp('node_modules/fsevents', 'fsevents', '2.3.3', 'pkg:npm/fsevents@2.3.3', { license: 'SEE LICENSE IN LICENSE.md', scope: 'optional', bundled: true }),
      comp('node_modules/left-pad', 'left-pad', '1.3.0', 'pkg:npm/left-pad@1.3.0', { license: 'WTFPL' }),
      comp('node_modules/odd', 'odd', '1.0.0-beta.1+build.5', 'pkg:npm/odd@1.0.0-beta.1%2Bbuild.5', { license: 'GPL-2.0-or-later WITH Classpath-exception-2.0' }),
      comp('node_modules/nolicence', 'nolicence', '0.0.1', 'pkg:npm/nolicence@0.0.1'),
    ],
    dependencies: [
      { ref: 'root', dependsOn: ['node_modules/express', 'node_modules/@types/node', 'node_modules/@babel/core', 'node_modules/left-pad', 'node_modules/odd', 'node_modules/nolicence'] },
      { ref: 'node_modules/express', dependsOn: ['node_modules/body-parser', 'node_modules/fsevents'] },
      { ref: 'node_modules/@babel/core', dependsOn: ['node_modules/chalk', 'node_modules/left-pad'] },
    ],
    source: { kind: 'npm-lockfile', file: 'package-lock.json', digest: `sha256:${'5e'.repeat(32)}`, version: '3' },
    warnings: [],
  };
}

const TS = new Date('2024-06-01T12:00:00Z');

/** What must survive a round trip, keyed by name@version (SPDX renames refs). */
function summary(s: Sbom): { components: string[]; edges: string[]; root: string } {
  const nv = new Map<string, string>([[s.root.ref, `${s.root.name}@${s.root.version}`]]);
  for (const c of s.components) nv.set(c.ref, `${c.name}@${c.version}`);
  return {
    root: `${s.root.name}@${s.root.version} ${s.root.purl ?? ''}`,
    components: s.components
      .map((c) => [`${c.name}@${c.version}`, c.ecosystem, c.purl, c.scope, c.license ?? '-', c.hashes.map((h) => `${h.alg}:${h.hex}`).sort().join(','), c.resolved ?? '-'].join(' '))
      .sort(),
    edges: s.dependencies.flatMap((d) => d.dependsOn.map((t) => `${nv.get(d.ref)} -> ${nv.get(t)}`)).sort(),
  };
}

test('toCycloneDx: a CycloneDX 1.6 document that validates against the schema', () => {
  const doc = toCycloneDx(model(), { timestamp: TS });
  assert.deepEqual(validateCycloneDx(doc), []);
  assert.equal(doc.specVersion, '1.6');
  assert.equal(doc.bomFormat, 'CycloneDX');
  const meta = doc.metadata as { timestamp: string; component: Record<string, unknown>; tools: { components: { name: string }[] } };
  assert.equal(meta.timestamp, '2024-06-01T12:00:00.000Z');
  assert.deepEqual([meta.component.group, meta.component.name, meta.component['bom-ref'], meta.component.type], ['@acme', 'web', 'root', 'application']);
  assert.equal(meta.tools.components[0]!.name, 'ssf');
  const comps = doc.components as Record<string, unknown>[];
  assert.deepEqual(comps.map((c) => c.purl), [...model().components.map((c) => c.purl)].sort(), 'sorted by purl');
  const byName = new Map(comps.map((c) => [`${c.group ? `${String(c.group)}/` : ''}${String(c.name)}`, c]));
  assert.deepEqual(byName.get('@babel/core')!.scope, 'excluded');
  assert.deepEqual(byName.get('@babel/core')!.properties, [{ name: 'cdx:npm:package:development', value: 'true' }, { name: 'cdx:npm:package:path', value: 'node_modules/@babel/core' }]);
  assert.equal(byName.get('fsevents')!.scope, 'optional');
  assert.equal(byName.get('express')!.scope, 'required');
  assert.deepEqual(byName.get('express')!.hashes, [{ alg: 'SHA-1', content: sha1 }, { alg: 'SHA-512', content: sha512 }]);
  assert.deepEqual(byName.get('express')!.licenses, [{ license: { id: 'MIT' } }]);
  assert.deepEqual(byName.get('body-parser')!.licenses, [{ expression: '(MIT OR Apache-2.0) AND BSD-3-Clause' }]);
  assert.deepEqual(byName.get('odd')!.licenses, [{ expression: 'GPL-2.0-or-later WITH Classpath-exception-2.0' }]);
  assert.deepEqual(byName.get('fsevents')!.licenses, [{ license: { name: 'SEE LICENSE IN LICENSE.md' } }]);
  assert.equal(byName.get('nolicence')!.licenses, undefined);
  const deps = doc.dependencies as { ref: string; dependsOn?: string[] }[];
  assert.deepEqual(deps.map((d) => d.ref), [...deps.map((d) => d.ref)].sort(), 'sorted by ref');
  assert.deepEqual(deps.find((d) => d.ref === 'node_modules/@babel/core')!.dependsOn, ['node_modules/chalk', 'node_modules/left-pad']);
});

test('toSpdx: an SPDX 2.3 document that validates against the schema', () => {
  const doc = toSpdx(model(), { timestamp: TS });
  assert.deepEqual(validateSpdx(doc), []);
  assert.equal((doc.creationInfo as { created: string }).created, '2024-06-01T12:00:00Z');
  assert.deepEqual((doc.creationInfo as { creators: string[] }).creators.length, 1);
  assert.match((doc.creationInfo as { creators: string[] }).creators[0]!, /^Tool: ssf-\d+\.\d+\.\d+/);
  assert.match(String(doc.documentNamespace), /^urn:uuid:[0-9a-f]{8}-[0-9a-f]{4}-5[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
  const pkgs = doc.packages as Record<string, unknown>[];
  for (const p of pkgs) assert.match(String(p.SPDXID), /^SPDXRef-[A-Za-z0-9.-]+$/);
  const byName = new Map(pkgs.map((p) => [String(p.name), p]));
  assert.equal(byName.get('@babel/core')!.SPDXID, 'SPDXRef-Package-babel.core-7.24.0');
  assert.equal(byName.get('odd')!.SPDXID, 'SPDXRef-Package-odd-1.0.0-beta.1-build.5');
  assert.deepEqual(byName.get('express')!.checksums, [{ algorithm: 'SHA1', checksumValue: sha1 }, { algorithm: 'SHA512', checksumValue: sha512 }]);
  assert.equal(byName.get('express')!.downloadLocation, 'https://registry.example.invalid/express/-/express-4.19.2.tgz');
  assert.equal(byName.get('chalk')!.downloadLocation, 'NOASSERTION');
  assert.equal(byName.get('nolicence')!.licenseDeclared, 'NOASSERTION');
  assert.equal(byName.get('@acme/web')!.primaryPackagePurpose, 'APPLICATION');
  const ref = String(byName.get('fsevents')!.licenseDeclared);
  assert.match(ref, /^LicenseRef-SEE-LICENSE-IN-LICENSE\.md-[0-9a-f]{8}$/);
  assert.deepEqual(doc.hasExtractedLicensingInfos, [{ licenseId: ref, extractedText: 'SEE LICENSE IN LICENSE.md', name: 'SEE LICENSE IN LICENSE.md' }]);
  const rels = (doc.relationships as Record<string, string>[]).map((r) => `${r.spdxElementId} ${r.relationshipType} ${r.relatedSpdxElement}`);
  assert.equal(rels[0], 'SPDXRef-DOCUMENT DESCRIBES SPDXRef-Package-acme.web-2.1.0');
  // Typed where a dependency enters a weaker scope; dev → dev and required → required stay DEPENDS_ON.
  assert.ok(rels.includes('SPDXRef-Package-babel.core-7.24.0 DEV_DEPENDENCY_OF SPDXRef-Package-acme.web-2.1.0'));
  assert.ok(rels.includes('SPDXRef-Package-fsevents-2.3.3 OPTIONAL_DEPENDENCY_OF SPDXRef-Package-express-4.19.2'));
  assert.ok(rels.includes('SPDXRef-Package-babel.core-7.24.0 DEPENDS_ON SPDXRef-Package-chalk-4.1.2'));
  assert.ok(rels.includes('SPDXRef-Package-acme.web-2.1.0 DEPENDS_ON SPDXRef-Package-express-4.19.2'));
  assert.equal(rels.length, 1 + 10);
});

test('round trip through CycloneDX keeps names, versions, purls, hashes, scopes, licences and the graph', () => {
  const s = model();
  const back = importSbom(JSON.stringify(toCycloneDx(s)), { file: 'bom.json' });
  assert.deepEqual(summary(back), summary(s));
  assert.deepEqual(back.warnings, []);
  assert.equal(back.source.kind, 'cyclonedx');
  assert.equal(back.source.version, '1.6');
  assert.equal(back.source.file, 'bom.json');
  // CycloneDX keeps refs, install paths and the bundled flag too.
  assert.deepEqual(back.components.map((c) => c.ref).sort(), s.components.map((c) => c.ref).sort());
  assert.deepEqual(back.components.find((c) => c.name === 'fsevents')!.bundled, true);
  assert.deepEqual(back.components.find((c) => c.name === 'chalk')!.paths, ['node_modules/chalk']);
});

test('round trip through SPDX keeps names, versions, purls, hashes, scopes, licences and the graph', () => {
  const s = model();
  const back = importSbom(JSON.stringify(toSpdx(s)), { file: 'sbom.spdx.json' });
  assert.deepEqual(summary(back), summary(s));
  assert.deepEqual(back.warnings, []);
  assert.equal(back.source.kind, 'spdx');
  assert.equal(back.source.version, 'SPDX-2.3');
});

test('output is deterministic: same SBOM and options give the same bytes, whatever the input order', () => {
  const a = model();
  const b = model();
  b.components.reverse();
  b.dependencies.reverse();
  for (const d of b.dependencies) d.dependsOn.reverse();
  for (const c of b.components) c.hashes.reverse();
  assert.equal(JSON.stringify(toCycloneDx(a, { timestamp: TS })), JSON.stringify(toCycloneDx(b, { timestamp: TS })));
  assert.equal(JSON.stringify(toSpdx(a, { timestamp: TS })), JSON.stringify(toSpdx(b, { timestamp: TS })));
  assert.equal(JSON.stringify(toCycloneDx(a)), JSON.stringify(toCycloneDx(a)));
  assert.equal((toCycloneDx(a) as { metadata: { timestamp?: string } }).metadata.timestamp, undefined, 'no invented time');
  assert.equal((toSpdx(a) as { creationInfo: { created: string } }).creationInfo.created, '1970-01-01T00:00:00Z');
});

test('serial number and namespace: derived from the source digest, or as given', () => {
  const a = model();
  const b = model();
  b.source.digest = `sha256:${'77'.repeat(32)}`;
  const serial = (s: Sbom): unknown => toCycloneDx(s).serialNumber;
  assert.match(String(serial(a)), /^urn:uuid:[0-9a-f]{8}-[0-9a-f]{4}-5[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
  assert.equal(serial(a), serial(model()));
  assert.notEqual(serial(a), serial(b));
  assert.notEqual(toSpdx(a).documentNamespace, toSpdx(b).documentNamespace);
  const given = 'urn:uuid:3e671687-395b-41f5-a30f-a58921a69b79';
  assert.equal(toCycloneDx(a, { serialNumber: given }).serialNumber, given);
  assert.equal(toSpdx(a, { namespace: 'https://sbom.example.invalid/acme-web-2.1.0' }).documentNamespace, 'https://sbom.example.invalid/acme-web-2.1.0');
  const tool = toCycloneDx(a, { tool: { name: 'factory', version: '9.9.9' } }) as { metadata: { tools: { components: unknown[] } } };
  assert.deepEqual(tool.metadata.tools.components, [{ type: 'application', name: 'factory', version: '9.9.9' }]);
  throwsCode(() => toCycloneDx(a, { serialNumber: 'urn:uuid:NOT-A-UUID' }), 'SBOM_INVALID');
  throwsCode(() => toSpdx(a, { namespace: 'https://x.example.invalid/doc#frag' }), 'SBOM_INVALID');
});

test('licences: case-corrected SPDX ids and expressions, free text kept as a name / LicenseRef', () => {
  const s = model();
  s.components = [
    comp('a', 'a', '1.0.0', 'pkg:npm/a@1.0.0', { license: 'mit' }),
    comp('b', 'b', '1.0.0', 'pkg:npm/b@1.0.0', { license: 'apache-2.0 or isc' }),
    comp('c', 'c', '1.0.0', 'pkg:npm/c@1.0.0', { license: 'GPL-2.0+' }),
    comp('d', 'd', '1.0.0', 'pkg:npm/d@1.0.0', { license: 'Apache 2' }),
    comp('e', 'e', '1.0.0', 'pkg:npm/e@1.0.0', { license: 'LicenseRef-Acme-Internal' }),
  ];
  s.dependencies = [];
  const cdx = toCycloneDx(s);
  assert.deepEqual(validateCycloneDx(cdx), []);
  const lic = (cdx.components as { name: string; licenses: unknown }[]).map((c) => [c.name, c.licenses]);
  assert.deepEqual(lic, [
    ['a', [{ license: { id: 'MIT' } }]],
    ['b', [{ expression: 'Apache-2.0 OR ISC' }]],
    ['c', [{ expression: 'GPL-2.0+' }]],
    ['d', [{ license: { name: 'Apache 2' } }]],
    ['e', [{ expression: 'LicenseRef-Acme-Internal' }]],
  ]);
  const spdx = toSpdx(s);
  const declared = (spdx.packages as { name: string; licenseDeclared: string }[]).slice(1).map((p) => p.licenseDeclared);
  assert.deepEqual(declared.slice(0, 3), ['MIT', 'Apache-2.0 OR ISC', 'GPL-2.0+']);
  assert.match(declared[3]!, /^LicenseRef-Apache-2-[0-9a-f]{8}$/);
  assert.equal(declared[4], 'LicenseRef-Acme-Internal');
  // A LicenseRef the SBOM names itself has no text to extract: SPDX requires it be defined, so the check says so.
  assert.deepEqual(validateSpdx(spdx), ['/packages/5/licenseDeclared: LicenseRef-Acme-Internal is not defined in hasExtractedLicensingInfos']);
});

test('a graph naming a ref that does not exist is refused, not written', () => {
  const s = model();
  s.dependencies.push({ ref: 'node_modules/express', dependsOn: ['node_modules/ghost'] });
  throwsCode(() => toCycloneDx(s), 'SBOM_INVALID');
  throwsCode(() => toSpdx(s), 'SBOM_INVALID');
  const dup = model();
  dup.components.push({ ...dup.components[0]! });
  throwsCode(() => toCycloneDx(dup), 'SBOM_INVALID');
  throwsCode(() => toSpdx(dup), 'SBOM_INVALID');
});

test('SPDXIDs stay unique when names collide after sanitising', () => {
  const s = model();
  s.components = [comp('x1', '@a/b', '1.0.0', 'pkg:npm/%40a/b@1.0.0'), comp('x2', 'a.b', '1.0.0', 'pkg:npm/a.b@1.0.0')];
  s.dependencies = [{ ref: 'root', dependsOn: ['x1', 'x2'] }];
  const doc = toSpdx(s);
  assert.deepEqual(validateSpdx(doc), []);
  assert.deepEqual((doc.packages as { SPDXID: string }[]).slice(1).map((p) => p.SPDXID).sort(), ['SPDXRef-Package-a.b-1.0.0', 'SPDXRef-Package-a.b-1.0.0-2']);
});

test('loading the sbom part does not load the CycloneDX library or packageurl-js', () => {
  const index = new URL('./index.js', import.meta.url).href;
  const script = `import { createRequire } from 'node:module';
    const m = await import(${JSON.stringify(index)});
    const loaded = () => Object.keys(createRequire(import.meta.url).cache).filter((k) => /cyclonedx-library|packageurl-js/.test(k)).length;
    const before = loaded();
    m.toCycloneDx({ root: { ref: 'r', name: 'r', version: '1' }, components: [], dependencies: [], source: { kind: 'npm-lockfile', digest: 'sha256:00' }, warnings: [] });
    console.log(before, loaded() > 0);`;
  const out = execFileSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8' }).trim();
  assert.equal(out, '0 true');
});
