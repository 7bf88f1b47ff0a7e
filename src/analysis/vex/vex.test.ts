import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { throwsCode } from '../../core/testing.js';
import type { Finding } from '../model.js';
import { applyVex, parseVex, vexSuppresses, MAX_VEX_BYTES, type VexDocument } from './index.js';

// Findings as the matcher reports them, for real advisories (ids and aliases as OSV publishes them).
function finding(id: string, alias: string, name: string, version: string, extra: Partial<Finding> = {}): Finding {
  const purl = `pkg:npm/${name.replace('@', '%40')}@${version}`;
  return {
    id,
    aliases: [alias],
    component: { ref: `${name}@${version}`, name, version, purl },
    severity: 'high',
    score: 7.2,
    fixed: [],
    matchedBy: 'SEMVER range',
    modified: '2024-01-01T00:00:00Z',
    ...extra,
  };
}
const lodashInjection = (): Finding => finding('GHSA-35jh-r3h4-6jhm', 'CVE-2021-23337', 'lodash', '4.17.20');
const lodashPollution = (): Finding => finding('GHSA-p6mc-m468-83gw', 'CVE-2020-8203', 'lodash', '4.17.15');
const ws = (): Finding => finding('GHSA-3h5v-q93c-6h6q', 'CVE-2024-37890', 'ws', '8.17.0');
const json5 = (): Finding => finding('GHSA-9c47-m6qq-7p4h', 'CVE-2022-46175', 'json5', '2.2.1');

const NOW = new Date('2026-06-01T00:00:00Z');
const ARTIFACT = 'sha256:' + 'ab'.repeat(32);

function openvex(statements: unknown[], extra: Record<string, unknown> = {}): string {
  return JSON.stringify({
    '@context': 'https://openvex.dev/ns/v0.2.0',
    '@id': 'https://ssf.invalid/vex/example-2026-0001',
    author: 'Example Security Team <security@example.invalid>',
    role: 'Document Creator',
    timestamp: '2026-01-10T12:00:00Z',
    version: 1,
    statements,
    ...extra,
  });
}

// A v0.2.0 document in the shape vexctl writes: vulnerability and product structs, nested subcomponents.
const V020 = JSON.stringify(
  {
    '@context': 'https://openvex.dev/ns/v0.2.0',
    '@id': 'https://openvex.dev/docs/public/vex-7d6e3e0f2a',
    author: 'Example Security Team <security@example.invalid>',
    role: 'Document Creator',
    timestamp: '2026-01-10T12:00:00.123456789-06:00',
    version: 2,
    tooling: 'vexctl/0.3.0',
    statements: [
      {
        vulnerability: { '@id': 'https://nvd.nist.gov/vuln/detail/CVE-2021-23337', name: 'CVE-2021-23337', aliases: ['GHSA-35jh-r3h4-6jhm'] },
        products: [{ '@id': 'pkg:npm/lodash@4.17.20' }],
        status: 'not_affected',
        justification: 'vulnerable_code_not_in_execute_path',
        impact_statement: 'template() is never called with untrusted input.',
      },
      {
        vulnerability: { name: 'GHSA-3h5v-q93c-6h6q' },
        products: [
          {
            '@id': 'pkg:oci/hello-service@sha256%3A' + 'ab'.repeat(32),
            identifiers: { purl: 'pkg:npm/hello-service@1.0.0' },
            hashes: { 'sha-256': 'AB'.repeat(32) },
            subcomponents: [{ '@id': 'pkg:npm/ws@8.17.0' }],
          },
        ],
        status: 'affected',
        action_statement: 'Upgrade ws to 8.17.1.',
        timestamp: '2026-01-11T08:00:00Z',
      },
    ],
  },
  null,
  2,
);

// The older form: unversioned context, string ids, string products, version as a string.
const LEGACY = JSON.stringify({
  '@context': 'https://openvex.dev/ns',
  '@id': 'https://openvex.dev/docs/example/vex-9fb3463de1b57',
  author: 'Wolfi J Inkinson',
  role: 'Document Creator',
  timestamp: '2023-01-08T18:02:03.647787998-06:00',
  version: '1',
  statements: [
    { vulnerability: 'CVE-2022-46175', products: ['pkg:npm/json5@2.2.1'], status: 'fixed' },
    {
      vulnerability: 'CVE-2020-8203',
      products: ['pkg:npm/hello-service@1.0.0'],
      subcomponents: ['pkg:npm/lodash@4.17.15'],
      status: 'under_investigation',
    },
  ],
});

// CycloneDX 1.6 VEX: the vulnerabilities refer to components of the BOM by bom-ref.
const CDX = JSON.stringify({
  bomFormat: 'CycloneDX',
  specVersion: '1.6',
  serialNumber: 'urn:uuid:3e671687-395b-41f5-a30f-a58921a69b79',
  version: 3,
  metadata: {
    timestamp: '2026-02-01T00:00:00Z',
    authors: [{ name: 'Example Security Team', email: 'security@example.invalid' }],
    component: { type: 'application', 'bom-ref': 'app', name: 'hello-service', version: '1.0.0', purl: 'pkg:npm/hello-service@1.0.0' },
    properties: [{ name: 'ssf:vex:expires', value: '2026-12-31T00:00:00Z' }],
  },
  components: [{ type: 'library', 'bom-ref': 'lodash@4.17.20', name: 'lodash', version: '4.17.20', purl: 'pkg:npm/lodash@4.17.20' }],
  vulnerabilities: [
    {
      id: 'CVE-2021-23337',
      source: { name: 'NVD', url: 'https://nvd.nist.gov/vuln/detail/CVE-2021-23337' },
      references: [{ id: 'GHSA-35jh-r3h4-6jhm', source: { name: 'GitHub' } }],
      analysis: {
        state: 'not_affected',
        justification: 'code_not_reachable',
        response: ['will_not_fix'],
        detail: 'lodash.template is not reachable from any entry point.',
        firstIssued: '2026-01-20T00:00:00Z',
        lastUpdated: '2026-01-25T00:00:00Z',
      },
      affects: [{ ref: 'lodash@4.17.20' }],
    },
    {
      id: 'GHSA-9c47-m6qq-7p4h',
      analysis: { state: 'resolved' },
      affects: [{ ref: 'urn:cdx:3e671687-395b-41f5-a30f-a58921a69b79/3#app' }],
      properties: [{ name: 'ssf:vex:expires', value: '2026-03-01T00:00:00Z' }],
    },
    { id: 'CVE-2024-37890', analysis: { state: 'in_triage' }, affects: [{ ref: 'pkg:npm/ws@8.17.0' }] },
  ],
});

test('parseVex reads an OpenVEX v0.2.0 document: structs, aliases, hashes, nested subcomponents, inherited timestamps', () => {
  const doc = parseVex(V020, { file: 'app.openvex.json' });
  assert.equal(doc.format, 'openvex');
  assert.equal(doc.id, 'https://openvex.dev/docs/public/vex-7d6e3e0f2a');
  assert.equal(doc.author, 'Example Security Team <security@example.invalid>');
  assert.equal(doc.version, 2);
  assert.equal(doc.digest, `sha256:${createHash('sha256').update(V020).digest('hex')}`);
  const [a, b] = doc.statements;
  assert.ok(a && b);
  assert.equal(a.vulnerability, 'CVE-2021-23337');
  assert.deepEqual(a.aliases, ['GHSA-35jh-r3h4-6jhm']);
  assert.equal(a.status, 'not_affected');
  assert.equal(a.justification, 'vulnerable_code_not_in_execute_path');
  assert.equal(a.timestamp, '2026-01-10T12:00:00.123456789-06:00', 'inherits the document timestamp');
  assert.deepEqual(b.products, ['pkg:oci/hello-service@sha256%3A' + 'ab'.repeat(32), 'pkg:npm/hello-service@1.0.0', ARTIFACT]);
  assert.deepEqual(b.subcomponents, ['pkg:npm/ws@8.17.0']);
  assert.equal(b.actionStatement, 'Upgrade ws to 8.17.1.');
  assert.equal(b.timestamp, '2026-01-11T08:00:00Z');
});

test('parseVex reads the older https://openvex.dev/ns form with string ids and products', () => {
  const doc = parseVex(LEGACY);
  assert.equal(doc.version, 1);
  assert.deepEqual(
    doc.statements.map((s) => [s.vulnerability, s.products, s.subcomponents, s.status]),
    [
      ['CVE-2022-46175', ['pkg:npm/json5@2.2.1'], [], 'fixed'],
      ['CVE-2020-8203', ['pkg:npm/hello-service@1.0.0'], ['pkg:npm/lodash@4.17.15'], 'under_investigation'],
    ],
  );
});

test('parseVex reads CycloneDX VEX: states and justifications mapped, refs resolved to purls, expiry properties', () => {
  const doc = parseVex(CDX, { file: 'app.cdx.json' });
  assert.equal(doc.format, 'cyclonedx');
  assert.equal(doc.id, 'urn:uuid:3e671687-395b-41f5-a30f-a58921a69b79');
  assert.equal(doc.author, 'Example Security Team <security@example.invalid>');
  assert.equal(doc.version, 3);
  assert.equal(doc.expires, '2026-12-31T00:00:00Z');
  const [a, b, c] = doc.statements;
  assert.ok(a && b && c);
  assert.deepEqual(a.products, ['pkg:npm/lodash@4.17.20']);
  assert.deepEqual(a.aliases, ['GHSA-35jh-r3h4-6jhm']);
  assert.equal(a.status, 'not_affected');
  assert.equal(a.justification, 'vulnerable_code_not_in_execute_path');
  assert.equal(a.originalJustification, 'not_affected/code_not_reachable');
  assert.equal(a.impactStatement, 'lodash.template is not reachable from any entry point.');
  assert.equal(a.actionStatement, 'response: will_not_fix');
  assert.equal(a.timestamp, '2026-01-25T00:00:00Z');
  assert.equal(a.expires, '2026-12-31T00:00:00Z', 'inherits the document expiry');
  assert.deepEqual(b.products, ['pkg:npm/hello-service@1.0.0'], 'a BOM-link resolves through metadata.component');
  assert.equal(b.status, 'fixed');
  assert.equal(b.expires, '2026-03-01T00:00:00Z');
  assert.equal(b.timestamp, '2026-02-01T00:00:00Z');
  assert.equal(c.status, 'under_investigation');
});

test('parseVex refuses malformed documents with VEX_INVALID naming the file and field', () => {
  const stmt = { vulnerability: { name: 'CVE-2021-23337' }, products: [{ '@id': 'pkg:npm/lodash@4.17.20' }], status: 'fixed' };
  const cases: [string, string, RegExp][] = [
    ['missing status', openvex([{ ...stmt, status: undefined }]), /statements\[0\]\.status is missing/],
    ['unknown status', openvex([{ ...stmt, status: 'safe' }]), /statements\[0\]\.status must be one of/],
    ['not_affected without justification', openvex([{ ...stmt, status: 'not_affected' }]), /without a justification or impact_statement/],
    ['unknown justification', openvex([{ ...stmt, status: 'not_affected', justification: 'not_exploitable' }]), /justification must be one of/],
    ['wrong @context', openvex([stmt], { '@context': 'https://openvex.dev/ns/v9' }), /@context must be one of/],
    ['no @id', openvex([stmt], { '@id': '' }), /@id must be a non-empty string/],
    ['bad timestamp', openvex([stmt], { timestamp: 'yesterday' }), /timestamp must be an RFC 3339 date-time/],
    ['bad statement timestamp', openvex([{ ...stmt, timestamp: '2026-13-45' }]), /statements\[0\]\.timestamp/],
    ['bad expires', openvex([stmt], { expires: '90d' }), /^x\.json: expires must be/],
    ['no statements', openvex([]), /statements must hold at least one/],
    ['no vulnerability', openvex([{ ...stmt, vulnerability: undefined }]), /vulnerability is missing/],
    ['product without id', openvex([{ ...stmt, products: [{ hashes: {} }] }]), /products\[0\] names no product/],
    ['truncated', openvex([stmt]).slice(0, 80), /is not valid JSON/],
    ['neither format', JSON.stringify({ statements: [] }), /neither OpenVEX/],
    ['array', '[]', /must be a JSON object/],
    ['cdx bad state', CDX.replace('"in_triage"', '"maybe"'), /vulnerabilities\[2\]\.analysis\.state must be one of/],
    ['cdx bad justification', CDX.replace('code_not_reachable', 'not_reachable'), /analysis\.justification must be one of/],
    ['cdx without analysis', CDX.replace('{"state":"in_triage"}', 'null'), /vulnerabilities\[2\]\.analysis must be an object/],
    ['cdx without author', CDX.replace(/"authors":\[[^\]]*\],/, ''), /metadata\.authors must name the author/],
  ];
  for (const [name, text, re] of cases) {
    throwsCode(() => parseVex(text, { file: 'x.json' }), 'VEX_INVALID');
    try {
      parseVex(text, { file: 'x.json' });
    } catch (e) {
      assert.match((e as Error).message, re, name);
      assert.match((e as Error).message, /^x\.json/, `${name}: names the file`);
    }
  }
});

test('parseVex refuses a huge document before parsing it', () => {
  const filler = 'x'.repeat(MAX_VEX_BYTES);
  throwsCode(() => parseVex(openvex([], { tooling: filler })), 'VEX_INVALID');
});

function apply(findings: Finding[], texts: string[], products?: string[]): ReturnType<typeof applyVex> {
  const docs = texts.map((t) => ({ doc: parseVex(t), signer: 'spiffe://example.internal/evidence/vex' }));
  return applyVex(findings, docs, products ? { now: NOW, products } : { now: NOW });
}

test('applyVex matches by id and by alias (GHSA ↔ CVE), records author, document and signer', () => {
  // The statement names the CVE; the finding's id is the GHSA with the CVE as alias.
  const { findings, warnings } = apply([lodashInjection(), ws()], [V020]);
  assert.deepEqual(warnings, []);
  const [l, w] = findings;
  assert.deepEqual(l?.vex, {
    status: 'not_affected',
    justification: 'vulnerable_code_not_in_execute_path',
    impactStatement: 'template() is never called with untrusted input.',
    author: 'Example Security Team <security@example.invalid>',
    document: 'https://openvex.dev/docs/public/vex-7d6e3e0f2a',
    signer: 'spiffe://example.internal/evidence/vex',
  });
  assert.equal(vexSuppresses(l!), true);
  assert.equal(w?.vex, undefined, 'the ws statement names the artifact, which was not given');
  // By the finding's own id: the statement names the GHSA directly.
  const byId = openvex([{ vulnerability: { name: 'GHSA-35jh-r3h4-6jhm' }, products: [{ '@id': 'pkg:npm/lodash@4.17.20' }], status: 'fixed' }]);
  assert.equal(apply([lodashInjection()], [byId]).findings[0]?.vex?.status, 'fixed');
  // Case differences in ids do not matter.
  const lower = openvex([{ vulnerability: { name: 'ghsa-35jh-r3h4-6jhm' }, products: [{ '@id': 'pkg:npm/lodash@4.17.20' }], status: 'fixed' }]);
  assert.equal(apply([lodashInjection()], [lower]).findings[0]?.vex?.status, 'fixed');
  // A different vulnerability on the same package is untouched.
  assert.equal(apply([lodashPollution()], [byId]).findings[0]?.vex, undefined);
});

test('applyVex product purls: with a version only that version, without a version every version', () => {
  const versioned = openvex([{ vulnerability: { name: 'CVE-2020-8203' }, products: [{ '@id': 'pkg:npm/lodash@4.17.20' }], status: 'fixed' }]);
  assert.equal(apply([lodashPollution()], [versioned]).findings[0]?.vex, undefined, '4.17.15 is not 4.17.20');
  const any = openvex([{ vulnerability: { name: 'CVE-2020-8203' }, products: [{ identifiers: { purl: 'pkg:npm/lodash' } }], status: 'fixed' }]);
  assert.equal(apply([lodashPollution()], [any]).findings[0]?.vex?.status, 'fixed');
  // Scoped names compare canonically (%40 and @ are the same purl); another name is not matched.
  const scoped = finding('GHSA-xxxx-yyyy-zzzz', 'CVE-2099-0001', '@babel/core', '7.24.0');
  const scopedDoc = openvex([{ vulnerability: { name: 'CVE-2099-0001' }, products: [{ '@id': 'pkg:npm/@babel/core@7.24.0' }], status: 'fixed' }]);
  assert.equal(apply([scoped], [scopedDoc]).findings[0]?.vex?.status, 'fixed');
  const other = openvex([{ vulnerability: { name: 'CVE-2020-8203' }, products: [{ '@id': 'pkg:npm/lodash-es' }], status: 'fixed' }]);
  assert.equal(apply([lodashPollution()], [other]).findings[0]?.vex, undefined);
});

test('applyVex: a subcomponent under the artifact product applies; other components and other artifacts do not', () => {
  // Statement 2 of V020: product = the artifact (by digest, purl and oci purl), subcomponent ws@8.17.0.
  const r = apply([ws(), finding('GHSA-3h5v-q93c-6h6q', 'CVE-2024-37890', 'ws', '7.5.9')], [V020], [ARTIFACT.toUpperCase().replace('SHA256', 'sha256')]);
  assert.equal(r.findings[0]?.vex?.status, 'affected');
  assert.equal(r.findings[0]?.vex?.actionStatement, 'Upgrade ws to 8.17.1.');
  assert.equal(vexSuppresses(r.findings[0]!), false, 'affected does not suppress');
  assert.equal(r.findings[1]?.vex, undefined, 'ws@7.5.9 is not the listed subcomponent');
  // The artifact named by purl works too; another artifact does not.
  assert.equal(apply([ws()], [V020], ['pkg:npm/hello-service@1.0.0']).findings[0]?.vex?.status, 'affected');
  assert.equal(apply([ws()], [V020], ['sha256:' + 'cd'.repeat(32)]).findings[0]?.vex, undefined);
  // A statement about the artifact without subcomponents covers every component of it (legacy form, fixed).
  const whole = openvex([{ vulnerability: 'CVE-2024-37890', products: ['pkg:npm/hello-service@1.0.0'], status: 'fixed' }], { '@context': 'https://openvex.dev/ns' });
  assert.equal(apply([ws()], [whole], ['pkg:npm/hello-service@1.0.0']).findings[0]?.vex?.status, 'fixed');
  assert.equal(apply([ws()], [whole]).findings[0]?.vex, undefined, 'without the artifact nothing says the product contains ws');
});

test('applyVex: under_investigation is recorded but does not suppress; fixed does', () => {
  const r = apply([lodashPollution(), json5()], [LEGACY], ['pkg:npm/hello-service@1.0.0']);
  assert.equal(r.findings[0]?.vex?.status, 'under_investigation');
  assert.equal(vexSuppresses(r.findings[0]!), false);
  assert.equal(r.findings[1]?.vex?.status, 'fixed');
  assert.equal(vexSuppresses(r.findings[1]!), true);
  assert.equal(vexSuppresses(lodashPollution()), false, 'no VEX, no suppression');
});

test('applyVex: the newest statement wins, document order breaks ties, across documents', () => {
  const stmt = (status: string, timestamp?: string): Record<string, unknown> => ({
    vulnerability: { name: 'CVE-2021-23337' },
    products: [{ '@id': 'pkg:npm/lodash@4.17.20' }],
    status,
    ...(status === 'not_affected' ? { justification: 'vulnerable_code_not_present' } : {}),
    ...(timestamp ? { timestamp } : {}),
  });
  // Newer first in the document: order does not matter, the timestamp does.
  const newerFirst = openvex([stmt('fixed', '2026-03-01T00:00:00Z'), stmt('affected', '2026-02-01T00:00:00Z')]);
  assert.equal(apply([lodashInjection()], [newerFirst]).findings[0]?.vex?.status, 'fixed');
  // Same timestamp (both inherit the document's): the later statement wins.
  const tie = openvex([stmt('under_investigation'), stmt('not_affected')]);
  assert.equal(apply([lodashInjection()], [tie]).findings[0]?.vex?.status, 'not_affected');
  // Across documents: the CycloneDX statement (2026-01-25) is newer than V020's (2026-01-10, −06:00).
  const cross = apply([lodashInjection()], [CDX, V020]).findings[0]?.vex;
  assert.equal(cross?.document, 'urn:uuid:3e671687-395b-41f5-a30f-a58921a69b79');
  // Timestamps compare as instants, not strings: 2026-01-10T23:00-06:00 is after 2026-01-11T01:00Z.
  const zoned = openvex([stmt('fixed', '2026-01-10T23:00:00-06:00'), stmt('affected', '2026-01-11T01:00:00Z')]);
  assert.equal(apply([lodashInjection()], [zoned]).findings[0]?.vex?.status, 'fixed');
});

test('applyVex ignores expired statements with a warning naming the document and statement; no expiry applies', () => {
  const stmt = { vulnerability: { name: 'CVE-2021-23337' }, products: [{ '@id': 'pkg:npm/lodash@4.17.20' }], status: 'fixed' };
  const expiredDoc = openvex([stmt], { expires: '2026-05-31T23:59:59Z' });
  const r = apply([lodashInjection()], [expiredDoc]);
  assert.equal(r.findings[0]?.vex, undefined);
  assert.deepEqual(r.warnings, ['VEX document https://ssf.invalid/vex/example-2026-0001 statement 0 (CVE-2021-23337) expired at 2026-05-31T23:59:59Z; ignored']);
  // A statement's own expiry overrides the document's, both ways.
  const renewed = openvex([{ ...stmt, expires: '2027-01-01T00:00:00Z' }], { expires: '2026-01-31T00:00:00Z' });
  const ok = apply([lodashInjection()], [renewed]);
  assert.equal(ok.findings[0]?.vex?.status, 'fixed');
  assert.equal(ok.findings[0]?.vex?.expires, '2027-01-01T00:00:00Z');
  assert.deepEqual(ok.warnings, []);
  // An expired newer statement does not hide an older valid one.
  const mixed = openvex([
    { ...stmt, status: 'affected', action_statement: 'upgrade' },
    { ...stmt, timestamp: '2026-04-01T00:00:00Z', expires: '2026-05-01T00:00:00Z' },
  ]);
  const m = apply([lodashInjection()], [mixed]);
  assert.equal(m.findings[0]?.vex?.status, 'affected');
  assert.equal(m.warnings.length, 1);
  // CycloneDX expiry property: the json5 entry expired on 2026-03-01.
  const c = apply([json5()], [CDX], ['pkg:npm/hello-service@1.0.0']);
  assert.equal(c.findings[0]?.vex, undefined);
  assert.match(c.warnings[0] ?? '', /urn:uuid:3e671687.* statement 1 \(GHSA-9c47-m6qq-7p4h\) expired/);
});

test('applyVex never removes findings nor changes its input', () => {
  const input = [lodashInjection(), lodashPollution(), ws()];
  const before = structuredClone(input);
  const { findings } = apply(input, [V020, CDX, LEGACY], [ARTIFACT]);
  assert.equal(findings.length, 3);
  assert.deepEqual(input, before);
  assert.deepEqual(
    findings.map((f) => f.vex?.status),
    ['not_affected', undefined, 'under_investigation'],
  );
});

test('applyVex: a statement without products is ignored with a warning', () => {
  const doc: VexDocument = parseVex(openvex([{ vulnerability: 'CVE-2021-23337', status: 'fixed' }]));
  const r = applyVex([lodashInjection()], [{ doc }], { now: NOW, products: [ARTIFACT] });
  assert.equal(r.findings[0]?.vex, undefined);
  assert.match(r.warnings[0] ?? '', /names no product/);
});
