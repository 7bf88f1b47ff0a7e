import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { isDateTime, isIdnEmail, isIriReference, isUri, validateCycloneDx, validateSpdx } from './validate.js';

const VECTORS = join(dirname(fileURLToPath(import.meta.url)), '../../../../vectors');
const CDX = join(VECTORS, 'cyclonedx/1.6');
const read = (p: string): unknown => JSON.parse(readFileSync(p, 'utf8'));

test('every CycloneDX 1.6 schema test resource: valid-* passes and invalid-* fails', () => {
  const files = readdirSync(CDX).filter((f) => f.endsWith('.json')).sort();
  assert.equal(files.length, 70, 'the copied set has 45 valid and 25 invalid documents');
  const wrong: string[] = [];
  for (const f of files) {
    const errs = validateCycloneDx(read(join(CDX, f)));
    if (f.startsWith('valid-') && errs.length > 0) wrong.push(`${f}: ${errs.join('; ')}`);
    if (f.startsWith('invalid-') && errs.length === 0) wrong.push(`${f}: accepted`);
  }
  assert.deepEqual(wrong, []);
});

test('validateCycloneDx: one line per error, JSON pointer first', () => {
  const doc = read(join(CDX, 'invalid-component-type-1.6.json'));
  const errs = validateCycloneDx(doc);
  assert.ok(errs.includes('/components/0/type: must be equal to one of the allowed values ("application", "framework", "library", "container", "platform", "operating-system", "device", "device-driver", "firmware", "file", "machine-learning-model", "data", "cryptographic-asset")'), errs.join('\n'));
  assert.deepEqual(validateCycloneDx({ bomFormat: 'CycloneDX', specVersion: '1.6', extra: 1 }), ['/: must NOT have additional properties (extra)']);
  assert.ok(validateCycloneDx('not an object').length > 0);
});

test('formats are enforced (valid-signatures passes only because "uri" is: its JSF algorithm is oneOf enum | uri)', () => {
  const doc = read(join(CDX, 'valid-metadata-timestamp-1.6.json')) as { metadata: { timestamp: string } };
  assert.deepEqual(validateCycloneDx(doc), []);
  doc.metadata.timestamp = '2020-04-13T20:20:39';
  assert.deepEqual(validateCycloneDx(doc), ['/metadata/timestamp: must match format "date-time"']);
  doc.metadata.timestamp = '2021-02-29T20:20:39Z';
  assert.equal(validateCycloneDx(doc).length, 1, 'no 29 February in 2021');
});

test('format checks', () => {
  for (const s of ['2024-02-29T23:59:60Z', '2020-04-13T20:20:39+00:00', '2020-04-13t20:20:39.123-05:30', '2020-04-13 20:20:39Z']) assert.ok(isDateTime(s), s);
  for (const s of ['2023-02-29T00:00:00Z', '2020-13-01T00:00:00Z', '2020-04-13T24:00:00Z', '2020-04-13T20:20Z', '2020-04-13', '2020-04-13T20:20:39+25:00']) assert.ok(!isDateTime(s), s);
  for (const s of ['https://example.com/a?b=c#d', 'urn:uuid:3e671687-395b-41f5-a30f-a58921a69b79', 'http://[::1]:8080/x', 'mailto:a@b.c']) assert.ok(isUri(s), s);
  for (const s of ['/relative', 'has space:x', 'http://a/%zz', 'http://a/b#c#d', 'RS256', 'http://a/<b>']) assert.ok(!isUri(s), s);
  for (const s of ['https://例え.jp/パス', '../relative/path', '#frag', '', 'https://example.com/%41']) assert.ok(isIriReference(s), s);
  for (const s of ['a b', 'http://x/"q"', 'http://x/%g0', '1a:b', 'http://x/{y}', 'http://x/\\']) assert.ok(!isIriReference(s), s);
  for (const s of ['a@example.com', 'первый@пример.рф', "o'brien+tag@mail.example.org"]) assert.ok(isIdnEmail(s), s);
  for (const s of ['a@b', '@example.com', 'a@@example.com', 'a b@example.com', 'a..b@example.com', 'a@-x.com']) assert.ok(!isIdnEmail(s), s);
});

test('the SPDX 2.3 JSON example validates', () => {
  assert.deepEqual(validateSpdx(read(join(VECTORS, 'spdx/SPDXJSONExample-v2.3.spdx.json'))), []);
});

test('validateSpdx: schema errors and the rules the schema cannot express', () => {
  const base = read(join(VECTORS, 'spdx/SPDXJSONExample-v2.3.spdx.json')) as Record<string, unknown> & { packages: Record<string, unknown>[]; relationships: Record<string, unknown>[] };
  const clone = (): typeof base => structuredClone(base);

  const noName = clone();
  delete noName.packages[0]!.name;
  assert.deepEqual(validateSpdx(noName), ["/packages/0: must have required property 'name'"]);

  const badRel = clone();
  badRel.relationships[0]!.relationshipType = 'USES';
  assert.ok(validateSpdx(badRel).some((e) => e.startsWith('/relationships/0/relationshipType: must be equal to one of the allowed values')));

  const dup = clone();
  dup.packages[1]!.SPDXID = dup.packages[0]!.SPDXID;
  assert.deepEqual(validateSpdx(dup), [`/packages/1/SPDXID: ${String(dup.packages[0]!.SPDXID)} is used twice`]);

  const dangling = clone();
  dangling.relationships[2]!.relatedSpdxElement = 'SPDXRef-Nowhere';
  assert.deepEqual(validateSpdx(dangling), ['/relationships/2/relatedSpdxElement: "SPDXRef-Nowhere" is not an element of this document']);

  const badId = clone();
  badId.packages[0]!.SPDXID = 'SPDXRef-has space';
  assert.ok(validateSpdx(badId).includes("/packages/0/SPDXID: must be SPDXRef- followed by letters, digits, '.' or '-'"));

  const undefinedRef = clone();
  undefinedRef.packages[0]!.licenseDeclared = 'MIT OR LicenseRef-Missing';
  assert.deepEqual(validateSpdx(undefinedRef), ['/packages/0/licenseDeclared: LicenseRef-Missing is not defined in hasExtractedLicensingInfos']);

  const v22 = clone();
  v22.spdxVersion = 'SPDX-2.2';
  assert.deepEqual(validateSpdx(v22), ['/spdxVersion: must be SPDX-2.3 (got "SPDX-2.2")']);
});

test('uniqueItems (checked in linear time by ssf) still finds duplicates, whatever the key order', () => {
  const doc = { bomFormat: 'CycloneDX', specVersion: '1.6', components: [{ type: 'library', name: 'a', version: '1' }, { type: 'library', name: 'b' }, { version: '1', name: 'a', type: 'library' }] };
  assert.deepEqual(validateCycloneDx(doc), ['/components: must NOT have duplicate items (items ## 2 and 0 are identical)']);
  doc.components[2]!.version = '2';
  assert.deepEqual(validateCycloneDx(doc), []);
  doc.components.push({ type: 'library', name: 'b' });
  assert.deepEqual(validateCycloneDx(doc), ['/components: must NOT have duplicate items (items ## 3 and 1 are identical)']);
});
