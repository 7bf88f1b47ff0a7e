import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { throwsCode } from '../../core/testing.js';
import type { Sbom } from '../model.js';
import { MAX_SBOM_BYTES, importSbom } from './index.js';

const VECTORS = join(dirname(fileURLToPath(import.meta.url)), '../../../../vectors');
const sha512 = 'd4'.repeat(64);

const byName = (s: Sbom, name: string): Sbom['components'][number] => {
  const c = s.components.find((x) => x.name === name);
  assert.ok(c, `no component ${name}`);
  return c;
};
const edges = (s: Sbom): string[] => {
  const nv = new Map<string, string>([[s.root.ref, s.root.name]]);
  for (const c of s.components) nv.set(c.ref, c.name);
  return s.dependencies.flatMap((d) => d.dependsOn.map((t) => `${nv.get(d.ref)} -> ${nv.get(t)}`)).sort();
};

test('the SPDX 2.3 example imports: the described package is the root, files and unknown hashes are dropped', () => {
  const text = readFileSync(join(VECTORS, 'spdx/SPDXJSONExample-v2.3.spdx.json'), 'utf8');
  const s = importSbom(text, { file: 'SPDXJSONExample-v2.3.spdx.json' });
  assert.deepEqual(s.root, { ref: 'SPDXRef-Package', name: 'glibc', version: '2.11.1' });
  assert.deepEqual(s.source, { kind: 'spdx', file: 'SPDXJSONExample-v2.3.spdx.json', version: 'SPDX-2.3', digest: `sha256:${createHash('sha256').update(text).digest('hex')}` });
  assert.deepEqual(s.components.map((c) => `${c.name}@${c.version} ${c.purl} ${c.ecosystem}`).sort(), [
    'Apache Commons Lang@ pkg:generic/Apache%20Commons%20Lang generic',
    'Saxon@8.8 pkg:generic/Saxon@8.8 generic',
    'org.apache.jena:apache-jena@3.12.0 pkg:maven/org.apache.jena/apache-jena@3.12.0 Maven',
  ]);
  const saxon = byName(s, 'Saxon');
  assert.equal(saxon.license, 'MPL-1.0');
  assert.deepEqual(saxon.hashes, [{ alg: 'SHA-1', hex: '85ed0817af83a24ad8da68c2b5094de69833983c' }]);
  assert.equal(saxon.resolved, 'https://sourceforge.net/projects/saxon/files/Saxon-B/8.8.0.7/saxonb8-8-0-7j.zip/download');
  assert.equal(saxon.scope, 'required');
  assert.equal(byName(s, 'Apache Commons Lang').license, undefined, 'NOASSERTION is no licence');
  // glibc DYNAMIC_LINK Saxon is the only package-to-package dependency.
  assert.deepEqual(edges(s), ['glibc -> Saxon']);
  assert.ok(s.warnings.includes('2 package(s) are not reachable from the root through dependency relationships; their scope is taken as required'), s.warnings.join('\n'));
  assert.ok(s.warnings.some((w) => w.startsWith('2 component(s) have no valid purl')), s.warnings.join('\n'));
});

test('CycloneDX 1.4 in the shape cyclonedx-npm 1.x writes (group, legacy tools array, nested components)', () => {
  const doc = {
    bomFormat: 'CycloneDX',
    specVersion: '1.4',
    serialNumber: 'urn:uuid:1b4e28ba-2fa1-11d2-883f-0016d3cca427',
    version: 1,
    metadata: {
      timestamp: '2023-03-01T10:00:00.000Z',
      tools: [{ vendor: '@cyclonedx', name: 'cyclonedx-npm', version: '1.9.2' }],
      component: { type: 'application', name: 'web', group: '@acme', version: '2.1.0', 'bom-ref': '@acme/web@2.1.0', purl: 'pkg:npm/%40acme/web@2.1.0' },
    },
    components: [
      {
        type: 'library', name: 'core', group: '@babel', version: '7.24.0', 'bom-ref': '@babel/core@7.24.0', scope: 'optional',
        purl: 'pkg:npm/%40babel/core@7.24.0', hashes: [{ alg: 'SHA-512', content: sha512.toUpperCase() }, { alg: 'MD5', content: 'ab'.repeat(16) }],
        licenses: [{ license: { id: 'MIT' } }],
        properties: [{ name: 'cdx:npm:package:development', value: 'true' }, { name: 'cdx:npm:package:path', value: 'node_modules/@babel/core' }],
        components: [
          {
            type: 'library', name: 'semver', version: '6.3.1', 'bom-ref': '@babel/core@7.24.0|semver@6.3.1', purl: 'pkg:npm/semver@6.3.1',
            licenses: [{ license: { id: 'ISC' } }], properties: [{ name: 'cdx:npm:package:path', value: 'node_modules/@babel/core/node_modules/semver' }],
          },
        ],
      },
      { type: 'library', name: 'semver', version: '6.3.1', 'bom-ref': 'semver@6.3.1', purl: 'pkg:npm/semver@6.3.1', scope: 'required', properties: [{ name: 'cdx:npm:package:path', value: 'node_modules/semver' }] },
      { type: 'library', name: 'JSONStream', version: '1.3.5', 'bom-ref': 'JSONStream@1.3.5', purl: 'pkg:npm/JSONStream@1.3.5', licenses: [{ license: { name: '(MIT OR Apache-2.0)' } }] },
    ],
    dependencies: [
      { ref: '@acme/web@2.1.0', dependsOn: ['@babel/core@7.24.0', 'semver@6.3.1', 'JSONStream@1.3.5'] },
      { ref: '@babel/core@7.24.0', dependsOn: ['@babel/core@7.24.0|semver@6.3.1'] },
      { ref: 'semver@6.3.1', dependsOn: [] },
    ],
  };
  const s = importSbom(JSON.stringify(doc));
  assert.deepEqual(s.root, { ref: '@acme/web@2.1.0', name: '@acme/web', version: '2.1.0', purl: 'pkg:npm/%40acme/web@2.1.0' });
  assert.equal(s.source.version, '1.4');
  assert.deepEqual(s.components.map((c) => `${c.name}@${c.version}`), ['@babel/core@7.24.0', 'JSONStream@1.3.5', 'semver@6.3.1']);
  const babel = byName(s, '@babel/core');
  assert.equal(babel.scope, 'dev', 'cdx:npm:package:development marks it dev');
  assert.deepEqual(babel.hashes, [{ alg: 'SHA-512', hex: sha512 }], 'hex lower-cased, MD5 not kept');
  assert.equal(babel.license, 'MIT');
  // The nested semver and the top-level one are the same package: merged, both paths kept, the stronger scope.
  const semver = byName(s, 'semver');
  assert.equal(semver.ref, 'semver@6.3.1');
  assert.deepEqual(semver.paths, ['node_modules/@babel/core/node_modules/semver', 'node_modules/semver']);
  assert.equal(semver.scope, 'required');
  assert.equal(byName(s, 'JSONStream').purl, 'pkg:npm/JSONStream@1.3.5', 'npm names keep their case');
  assert.equal(byName(s, 'JSONStream').license, '(MIT OR Apache-2.0)');
  assert.deepEqual(edges(s), ['@acme/web -> @babel/core', '@acme/web -> JSONStream', '@acme/web -> semver', '@babel/core -> semver']);
  assert.deepEqual(s.warnings, []);
});

test('CycloneDX 1.5 as `npm sbom` writes it (scoped names in name, dev as optional + property)', () => {
  const doc = {
    $schema: 'http://cyclonedx.org/schema/bom-1.5.schema.json',
    bomFormat: 'CycloneDX',
    specVersion: '1.5',
    serialNumber: 'urn:uuid:0d2a4c7e-5a0b-4d8e-9d6b-1a2b3c4d5e6f',
    version: 1,
    metadata: {
      timestamp: '2024-05-01T00:00:00.000Z',
      lifecycles: [{ phase: 'pre-build' }],
      tools: [{ vendor: 'npm', name: 'cli', version: '10.8.2' }],
      component: { 'bom-ref': 'hello-service@1.0.0', type: 'library', name: 'hello-service', version: '1.0.0', scope: 'required', purl: 'pkg:npm/hello-service@1.0.0', properties: [], externalReferences: [] },
    },
    components: [
      {
        'bom-ref': '@types/node@20.11.0', type: 'library', name: '@types/node', version: '20.11.0', scope: 'optional', purl: 'pkg:npm/%40types/node@20.11.0',
        properties: [{ name: 'cdx:npm:package:development', value: 'true' }], externalReferences: [{ type: 'distribution', url: 'https://registry.example.invalid/@types/node/-/node-20.11.0.tgz' }],
        hashes: [{ alg: 'SHA-512', content: sha512 }], licenses: [{ license: { id: 'MIT' } }],
      },
      { 'bom-ref': 'fsevents@2.3.3', type: 'library', name: 'fsevents', version: '2.3.3', scope: 'optional', purl: 'pkg:npm/fsevents@2.3.3', properties: [], externalReferences: [], licenses: [{ license: { id: 'MIT' } }] },
      { 'bom-ref': 'ms@2.1.3', type: 'library', name: 'ms', version: '2.1.3', scope: 'required', purl: 'pkg:npm/ms@2.1.3', properties: [{ name: 'cdx:npm:package:bundled', value: 'true' }], externalReferences: [], licenses: [{ license: { id: 'MIT' } }, { license: { name: 'Custom', acknowledgement: 'concluded' } }] },
      { 'bom-ref': 'dual@1.0.0', type: 'library', name: 'dual', version: '1.0.0', purl: 'pkg:npm/dual@1.0.0', licenses: [{ license: { id: 'MIT' } }, { expression: 'Apache-2.0 OR ISC' }] },
    ],
    dependencies: [
      { ref: 'hello-service@1.0.0', dependsOn: ['@types/node@20.11.0', 'fsevents@2.3.3', 'ms@2.1.3', 'dual@1.0.0'] },
      { ref: '@types/node@20.11.0', dependsOn: [] },
      { ref: 'ms@2.1.3', dependsOn: ['left-pad@1.3.0'] },
    ],
  };
  const s = importSbom(JSON.stringify(doc), { file: 'npm-sbom.json' });
  assert.equal(s.source.version, '1.5');
  assert.equal(byName(s, '@types/node').scope, 'dev');
  assert.equal(byName(s, '@types/node').resolved, 'https://registry.example.invalid/@types/node/-/node-20.11.0.tgz');
  assert.equal(byName(s, 'fsevents').scope, 'optional');
  assert.equal(byName(s, 'ms').bundled, true);
  assert.equal(byName(s, 'ms').license, 'MIT', 'a concluded licence does not replace the declared one');
  assert.equal(byName(s, 'dual').license, 'MIT AND (Apache-2.0 OR ISC)', 'several licence entries all apply');
  assert.deepEqual(edges(s), ['hello-service -> @types/node', 'hello-service -> dual', 'hello-service -> fsevents', 'hello-service -> ms']);
  assert.deepEqual(s.warnings, ['npm-sbom.json /dependencies/2/dependsOn/0: "left-pad@1.3.0" is not an element of the document; edge dropped']);
});

test('SPDX 2.2 in the shape npm sbom writes (X_DEPENDENCY_OF edges, PACKAGE_MANAGER category)', () => {
  const doc = {
    spdxVersion: 'SPDX-2.2',
    dataLicense: 'CC0-1.0',
    SPDXID: 'SPDXRef-DOCUMENT',
    name: 'hello-service@1.0.0',
    documentNamespace: 'https://sbom.example.invalid/hello-service-1.0.0-2c4e',
    creationInfo: { created: '2022-11-01T09:00:00Z', creators: ['Tool: hand-written'] },
    documentDescribes: ['SPDXRef-Package-hello-service-1.0.0'],
    packages: [
      { SPDXID: 'SPDXRef-Package-hello-service-1.0.0', name: 'hello-service', versionInfo: '1.0.0', downloadLocation: 'NOASSERTION', filesAnalyzed: false, licenseConcluded: 'NOASSERTION', licenseDeclared: 'MIT', copyrightText: 'NOASSERTION', externalRefs: [{ referenceCategory: 'PACKAGE_MANAGER', referenceType: 'purl', referenceLocator: 'pkg:npm/hello-service@1.0.0' }] },
      { SPDXID: 'SPDXRef-Package-express-4.19.2', name: 'express', versionInfo: '4.19.2', downloadLocation: 'https://registry.example.invalid/express/-/express-4.19.2.tgz', filesAnalyzed: false, licenseConcluded: 'NOASSERTION', licenseDeclared: 'MIT', copyrightText: 'NOASSERTION', checksums: [{ algorithm: 'SHA512', checksumValue: sha512 }, { algorithm: 'MD5', checksumValue: 'ab'.repeat(16) }], externalRefs: [{ referenceCategory: 'PACKAGE_MANAGER', referenceType: 'purl', referenceLocator: 'pkg:npm/express@4.19.2' }] },
      { SPDXID: 'SPDXRef-Package-debug-2.6.9', name: 'debug', versionInfo: '2.6.9', downloadLocation: 'NOASSERTION', filesAnalyzed: false, licenseConcluded: 'NOASSERTION', licenseDeclared: 'NONE', copyrightText: 'NOASSERTION', externalRefs: [{ referenceCategory: 'PACKAGE_MANAGER', referenceType: 'purl', referenceLocator: 'pkg:npm/debug@2.6.9' }] },
      { SPDXID: 'SPDXRef-Package-jest-29.7.0', name: 'jest', versionInfo: '29.7.0', downloadLocation: 'NOASSERTION', filesAnalyzed: false, licenseConcluded: 'NOASSERTION', licenseDeclared: 'LicenseRef-jest', copyrightText: 'NOASSERTION', externalRefs: [{ referenceCategory: 'PACKAGE_MANAGER', referenceType: 'purl', referenceLocator: 'pkg:npm/jest@29.7.0' }] },
      { SPDXID: 'SPDXRef-Package-chalk-4.1.2', name: 'chalk', versionInfo: '4.1.2', downloadLocation: 'NOASSERTION', filesAnalyzed: false, licenseConcluded: 'NOASSERTION', licenseDeclared: 'MIT', copyrightText: 'NOASSERTION', externalRefs: [{ referenceCategory: 'PACKAGE_MANAGER', referenceType: 'purl', referenceLocator: 'pkg:npm/chalk@4.1.2' }] },
      { SPDXID: 'SPDXRef-Package-fsevents-2.3.3', name: 'fsevents', versionInfo: '2.3.3', downloadLocation: 'NOASSERTION', filesAnalyzed: false, licenseConcluded: 'NOASSERTION', licenseDeclared: 'MIT', copyrightText: 'NOASSERTION', externalRefs: [{ referenceCategory: 'PACKAGE_MANAGER', referenceType: 'purl', referenceLocator: 'pkg:npm/fsevents@2.3.3' }] },
    ],
    hasExtractedLicensingInfos: [{ licenseId: 'LicenseRef-jest', extractedText: 'Copyright (c) Meta Platforms... (full text)', name: 'Jest licence' }],
    relationships: [
      { spdxElementId: 'SPDXRef-DOCUMENT', relationshipType: 'DESCRIBES', relatedSpdxElement: 'SPDXRef-Package-hello-service-1.0.0' },
      { spdxElementId: 'SPDXRef-Package-express-4.19.2', relationshipType: 'DEPENDENCY_OF', relatedSpdxElement: 'SPDXRef-Package-hello-service-1.0.0' },
      { spdxElementId: 'SPDXRef-Package-debug-2.6.9', relationshipType: 'DEPENDENCY_OF', relatedSpdxElement: 'SPDXRef-Package-express-4.19.2' },
      { spdxElementId: 'SPDXRef-Package-jest-29.7.0', relationshipType: 'DEV_DEPENDENCY_OF', relatedSpdxElement: 'SPDXRef-Package-hello-service-1.0.0' },
      { spdxElementId: 'SPDXRef-Package-chalk-4.1.2', relationshipType: 'DEPENDENCY_OF', relatedSpdxElement: 'SPDXRef-Package-jest-29.7.0' },
      { spdxElementId: 'SPDXRef-Package-debug-2.6.9', relationshipType: 'DEPENDENCY_OF', relatedSpdxElement: 'SPDXRef-Package-jest-29.7.0' },
      { spdxElementId: 'SPDXRef-Package-fsevents-2.3.3', relationshipType: 'OPTIONAL_DEPENDENCY_OF', relatedSpdxElement: 'SPDXRef-Package-jest-29.7.0' },
    ],
  };
  const s = importSbom(JSON.stringify(doc));
  assert.equal(s.source.version, 'SPDX-2.2');
  assert.deepEqual(s.root, { ref: 'SPDXRef-Package-hello-service-1.0.0', name: 'hello-service', version: '1.0.0', purl: 'pkg:npm/hello-service@1.0.0' });
  assert.deepEqual(edges(s), ['express -> debug', 'hello-service -> express', 'hello-service -> jest', 'jest -> chalk', 'jest -> debug', 'jest -> fsevents']);
  // debug is reached through express (required) as well as through jest (dev): required wins.
  assert.deepEqual(s.components.map((c) => `${c.name} ${c.scope}`), ['chalk dev', 'debug required', 'express required', 'fsevents dev', 'jest dev']);
  assert.equal(byName(s, 'debug').license, undefined, 'NONE: no licence declared');
  assert.equal(byName(s, 'jest').license, 'Jest licence', 'a LicenseRef reads as its name');
  assert.deepEqual(byName(s, 'express').hashes, [{ alg: 'SHA-512', hex: sha512 }]);
  assert.equal(byName(s, 'express').resolved, 'https://registry.example.invalid/express/-/express-4.19.2.tgz');
  assert.deepEqual(s.warnings, []);
});

test('an SPDX document describing several packages gets the document as its root', () => {
  const pkg = (id: string, name: string): Record<string, unknown> => ({ SPDXID: id, name, versionInfo: '1.0.0', downloadLocation: 'NOASSERTION', externalRefs: [{ referenceCategory: 'PACKAGE-MANAGER', referenceType: 'purl', referenceLocator: `pkg:npm/${name}@1.0.0` }] });
  const doc = {
    spdxVersion: 'SPDX-2.3', dataLicense: 'CC0-1.0', SPDXID: 'SPDXRef-DOCUMENT', name: 'two-apps', documentNamespace: 'urn:uuid:0d2a4c7e-5a0b-4d8e-9d6b-1a2b3c4d5e6f',
    creationInfo: { created: '2024-01-01T00:00:00Z', creators: ['Tool: x'] },
    packages: [pkg('SPDXRef-a', 'a'), pkg('SPDXRef-b', 'b'), pkg('SPDXRef-c', 'c')],
    relationships: [
      { spdxElementId: 'SPDXRef-DOCUMENT', relationshipType: 'DESCRIBES', relatedSpdxElement: 'SPDXRef-a' },
      { spdxElementId: 'SPDXRef-b', relationshipType: 'DESCRIBED_BY', relatedSpdxElement: 'SPDXRef-DOCUMENT' },
      { spdxElementId: 'SPDXRef-b', relationshipType: 'DEPENDS_ON', relatedSpdxElement: 'SPDXRef-c' },
    ],
  };
  const s = importSbom(JSON.stringify(doc));
  assert.deepEqual(s.root, { ref: 'SPDXRef-DOCUMENT', name: 'two-apps', version: '' });
  assert.deepEqual(edges(s), ['b -> c', 'two-apps -> a', 'two-apps -> b']);
  assert.deepEqual(s.warnings, []);
});

const cdx = (extra: Record<string, unknown>): string => JSON.stringify({ bomFormat: 'CycloneDX', specVersion: '1.6', version: 1, metadata: { component: { type: 'application', name: 'app', 'bom-ref': 'app' } }, ...extra });

test('hostile input: clear SBOM_INVALID errors, never a crash', () => {
  throwsCode(() => importSbom(cdx({}).slice(0, 40)), 'SBOM_INVALID');
  throwsCode(() => importSbom(''), 'SBOM_INVALID');
  throwsCode(() => importSbom('[1,2]'), 'SBOM_INVALID');
  throwsCode(() => importSbom('{"hello":"world"}'), 'SBOM_INVALID');
  throwsCode(() => importSbom(cdx({ bomFormat: 'CycloneDx' })), 'SBOM_INVALID');
  throwsCode(() => importSbom(cdx({ specVersion: '1.3' })), 'SBOM_INVALID');
  throwsCode(() => importSbom(cdx({ specVersion: '9.9' })), 'SBOM_INVALID');
  throwsCode(() => importSbom(cdx({ specVersion: 1.6 })), 'SBOM_INVALID');
  throwsCode(() => importSbom(cdx({ components: { 0: { type: 'library', name: 'x' } } })), 'SBOM_INVALID');
  throwsCode(() => importSbom(cdx({ components: ['x'] })), 'SBOM_INVALID');
  throwsCode(() => importSbom(cdx({ components: [{ type: 'library' }] })), 'SBOM_INVALID');
  throwsCode(() => importSbom(cdx({ components: [{ type: 'library', name: 'x', components: 'nope' }] })), 'SBOM_INVALID');
  throwsCode(() => importSbom(cdx({ components: [{ type: 'library', name: 'x', hashes: {} }] })), 'SBOM_INVALID');
  throwsCode(() => importSbom(cdx({ dependencies: {} })), 'SBOM_INVALID');
  throwsCode(() => importSbom(cdx({ dependencies: [{ dependsOn: [] }] })), 'SBOM_INVALID');
  throwsCode(() => importSbom(JSON.stringify({ spdxVersion: 'SPDX-2.1', packages: [] })), 'SBOM_INVALID');
  throwsCode(() => importSbom(JSON.stringify({ spdxVersion: 'SPDX-2.3', packages: {} })), 'SBOM_INVALID');
  throwsCode(() => importSbom(JSON.stringify({ spdxVersion: 'SPDX-2.3', packages: [{ name: 'no-id' }] })), 'SBOM_INVALID');
  // A million nested arrays: parsed (JSON.parse is not recursive), then refused on shape, no stack overflow.
  throwsCode(() => importSbom(`{"bomFormat":"CycloneDX","specVersion":"1.6","components":${'['.repeat(1_000_000)}${']'.repeat(1_000_000)}}`), 'SBOM_INVALID');
});

test('duplicate bom-refs and SPDXIDs are refused: the graph would be ambiguous', () => {
  const c = (ref: string, name: string): Record<string, unknown> => ({ type: 'library', name, version: '1.0.0', 'bom-ref': ref, purl: `pkg:npm/${name}@1.0.0` });
  throwsCode(() => importSbom(cdx({ components: [c('x', 'a'), c('x', 'b')] })), 'SBOM_INVALID');
  throwsCode(() => importSbom(cdx({ components: [c('app', 'a')] })), 'SBOM_INVALID');
  throwsCode(() => importSbom(cdx({ components: [{ ...c('n', 'a'), components: [c('n', 'b')] }] })), 'SBOM_INVALID');
  const p = { SPDXID: 'SPDXRef-x', name: 'x', downloadLocation: 'NOASSERTION' };
  throwsCode(() => importSbom(JSON.stringify({ spdxVersion: 'SPDX-2.3', packages: [p, p] })), 'SBOM_INVALID');
});

test('purls with odd characters: valid ones are canonicalised, invalid ones are named in a warning', () => {
  const c = (name: string, purl: string): Record<string, unknown> => ({ type: 'library', name, version: '1.0.0', 'bom-ref': name, purl });
  const s = importSbom(cdx({
    components: [
      c('pct', 'pkg:npm/%zz@1.0.0'),
      c('notpurl', 'not a purl at all'),
      c('nul', 'pkg:npm/a\u0000b@1.0.0'),
      c('unicode', 'pkg:npm/%E2%9C%93@1.0.0'),
      c('scope', 'pkg:npm/@scope/name@1.0.0'),
      c('long', `pkg:npm/${'x'.repeat(5000)}@1`),
    ],
  }));
  assert.equal(s.components.length, 6);
  assert.equal(byName(s, '✓').purl, 'pkg:npm/%E2%9C%93@1.0.0');
  assert.equal(byName(s, '@scope/name').purl, 'pkg:npm/%40scope/name@1.0.0', 'an unencoded scope @ is read and written encoded');
  for (const name of ['pct', 'notpurl', 'long']) {
    const x = byName(s, name);
    assert.equal(x.purl, `pkg:generic/${name}@1.0.0`);
    assert.equal(x.ecosystem, 'generic');
  }
  assert.equal(s.warnings.filter((w) => w.includes('is not a valid package URL')).length, s.components.filter((x) => x.ecosystem === 'generic').length);
  for (const w of s.warnings) assert.ok(!w.includes('\u0000') && w.length < 400, `warning is bounded and printable: ${JSON.stringify(w)}`);
});

test('components nested deeper than the bound are skipped with a warning; the rest is flattened', () => {
  let inner: Record<string, unknown> | undefined;
  for (let d = 60; d >= 1; d--) {
    const node: Record<string, unknown> = { type: 'library', name: `lvl${d}`, version: '1.0.0', 'bom-ref': `lvl${d}`, purl: `pkg:npm/lvl${d}@1.0.0` };
    if (inner) node.components = [inner];
    inner = node;
  }
  const s = importSbom(cdx({ components: [inner] }));
  assert.equal(s.components.length, 32);
  assert.ok(s.components.some((c) => c.name === 'lvl32') && !s.components.some((c) => c.name === 'lvl33'));
  assert.equal(s.warnings.length, 1);
  assert.match(s.warnings[0]!, /nested more than 32 levels deep; 1 skipped/);
});

test('a CycloneDX document without metadata.component gets an unnamed root and a warning', () => {
  const s = importSbom(JSON.stringify({ bomFormat: 'CycloneDX', specVersion: '1.6', components: [{ type: 'library', name: 'lodash', version: '4.17.21', purl: 'pkg:npm/lodash@4.17.21' }] }));
  assert.equal(s.root.name, 'unnamed');
  assert.equal(s.components[0]!.ref, 'pkg:npm/lodash@4.17.21', 'a component without bom-ref is named by its purl');
  assert.equal(s.warnings.length, 1);
  const dupRoot = importSbom(cdx({ metadata: { component: { type: 'application', name: 'app', version: '1', 'bom-ref': 'app', purl: 'pkg:npm/app@1' } }, components: [{ type: 'library', name: 'app', version: '1', 'bom-ref': 'app-again', purl: 'pkg:npm/app@1' }], dependencies: [{ ref: 'app-again', dependsOn: [] }] }));
  assert.deepEqual(dupRoot.components, [], 'the root listed as a component too is the root');
});

test('size bound: INPUT_TOO_LARGE above MAX_SBOM_BYTES, counted in UTF-8 bytes; a UTF-8 BOM is tolerated', () => {
  throwsCode(() => importSbom(' '.repeat(MAX_SBOM_BYTES + 1)), 'INPUT_TOO_LARGE');
  throwsCode(() => importSbom('é'.repeat(MAX_SBOM_BYTES / 2 + 1)), 'INPUT_TOO_LARGE');
  const text = `\ufeff${cdx({})}`;
  const s = importSbom(text);
  assert.equal(s.source.digest, `sha256:${createHash('sha256').update(text).digest('hex')}`);
});
