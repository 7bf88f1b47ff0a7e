import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Ajv } from 'ajv';
import { throwsCode } from '../../core/testing.js';
import type { Finding, LicenseReport, SecretFinding, SecretReport, VulnReport } from '../model.js';
import { applyVex, parseVex } from '../vex/index.js';
import { formatLicenseTable, formatSecretTable, formatVulnTable, toSarif, vulnsPredicate } from './index.js';

const SCHEMA = join(dirname(fileURLToPath(import.meta.url)), '../../../../schema/sarif/sarif-2.1.0-rtm.5.json');

// The SARIF schema is draft-04; its keywords used here mean the same under ajv's draft-07 default.
// Formats are not checked by ajv (no ajv-formats); the URIs are checked by hand below.
function sarifValidator(): (doc: unknown) => string[] {
  const schema = JSON.parse(readFileSync(SCHEMA, 'utf8')) as Record<string, unknown>;
  delete schema['$schema'];
  delete schema['id'];
  // unicodeRegExp off: rtm.5's language pattern has a stray `]`, legal only in non-unicode regexps.
  const ajv = new Ajv({ strict: false, validateFormats: false, allErrors: true, unicodeRegExp: false });
  const validate = ajv.compile(schema);
  return (doc) => (validate(doc) ? [] : (validate.errors ?? []).map((e) => `${e.instancePath} ${e.message ?? ''} ${JSON.stringify(e.params)}`));
}

function finding(id: string, alias: string, name: string, version: string, extra: Partial<Finding> = {}): Finding {
  return {
    id,
    aliases: [alias],
    component: { ref: `${name}@${version}`, name, version, purl: `pkg:npm/${name.replace('@', '%40')}@${version}` },
    severity: 'high',
    fixed: [],
    matchedBy: 'SEMVER range: introduced 0, fixed 4.17.21',
    modified: '2024-01-01T00:00:00Z',
    ...extra,
  };
}

const VULNS: VulnReport = {
  db: { digest: 'sha256:' + '1'.repeat(64), date: '2026-05-30T10:00:00Z', advisories: 20412, source: 'https://example.invalid/npm/all.zip' },
  sbom: 'sha256:' + '2'.repeat(64),
  findings: [
    finding('GHSA-p6mc-m468-83gw', 'CVE-2020-8203', 'lodash', '4.17.15', {
      summary: 'Prototype Pollution in lodash',
      severity: 'high',
      score: 7.4,
      vector: 'CVSS:3.1/AV:N/AC:H/PR:N/UI:N/S:U/C:N/I:H/A:H',
      fixed: ['4.17.19'],
    }),
    finding('GHSA-35jh-r3h4-6jhm', 'CVE-2021-23337', 'lodash', '4.17.15', {
      summary: 'Command Injection in lodash',
      severity: 'high',
      score: 7.2,
      vector: 'CVSS:3.1/AV:N/AC:L/PR:H/UI:N/S:U/C:H/I:H/A:H',
      fixed: ['4.17.21'],
    }),
    finding('GHSA-3h5v-q93c-6h6q', 'CVE-2024-37890', 'ws', '8.17.0', { summary: 'ws affected by a DoS when handling a request with many HTTP headers', severity: 'medium', score: 5.9, fixed: ['8.17.1'] }),
    finding('GHSA-9c47-m6qq-7p4h', 'CVE-2022-46175', '@scope/json5', '2.2.1', { severity: 'unknown' }),
    finding('GHSA-c2qf-rxjj-qqgw', 'CVE-2022-25883', 'semver', '7.5.1', { severity: 'low', score: 3.1, summary: 'semver ReDoS' }),
  ],
  warnings: ['advisory GHSA-xxxx has an unknown range type GIT; skipped'],
};

const VEX = JSON.stringify({
  '@context': 'https://openvex.dev/ns/v0.2.0',
  '@id': 'https://ssf.invalid/vex/report-test',
  author: 'Example Security Team',
  timestamp: '2026-05-01T00:00:00Z',
  version: 1,
  statements: [
    {
      vulnerability: { name: 'CVE-2021-23337' },
      products: [{ '@id': 'pkg:npm/lodash@4.17.15' }],
      status: 'not_affected',
      justification: 'vulnerable_code_not_in_execute_path',
    },
    { vulnerability: { name: 'CVE-2024-37890' }, products: [{ '@id': 'pkg:npm/ws' }], status: 'under_investigation' },
  ],
});

function withVex(): VulnReport {
  const { findings } = applyVex(VULNS.findings, [{ doc: parseVex(VEX), signer: 'spiffe://example.internal/evidence/vex' }], { now: new Date('2026-06-01T00:00:00Z') });
  return { ...VULNS, findings };
}

const LICENSES: LicenseReport = {
  sbom: 'sha256:' + '2'.repeat(64),
  policy: 'sha256:' + '3'.repeat(64),
  findings: [
    { component: { ref: 'a', name: 'left-pad', version: '1.3.0', purl: 'pkg:npm/left-pad@1.3.0' }, declared: 'WTFPL', expression: 'WTFPL', status: 'denied', problems: ['WTFPL is on the deny list'] },
    { component: { ref: 'b', name: 'mystery', version: '0.0.1', purl: 'pkg:npm/mystery@0.0.1' }, declared: 'SEE LICENSE IN LICENSE.txt', status: 'unknown', problems: ['not an SPDX expression'] },
    { component: { ref: 'c', name: 'zlib-thing', version: '2.0.0', purl: 'pkg:npm/zlib-thing@2.0.0' }, declared: 'Zlib', expression: 'Zlib', status: 'unlisted', problems: [] },
    { component: { ref: 'd', name: 'lodash', version: '4.17.15', purl: 'pkg:npm/lodash@4.17.15' }, declared: 'MIT', expression: 'MIT', status: 'allowed', problems: [] },
  ],
};

// A secret as a scanner would find it: the finding carries only the fingerprint. The extra
// `match` field stands for any field a future or careless producer might add: it must not leak.
const AWS_KEY = 'AKIAIOSFODNN7EXAMPLE';
const SECRET_FINDING = { rule: 'aws-access-key-id', what: 'an AWS access key id', file: 'src/config dir/app.ts', line: 12, column: 17, fingerprint: 'sha256:0123456789abcdef', match: AWS_KEY } as SecretFinding;
const SECRETS: SecretReport = { root: 'sha256:' + '4'.repeat(64), filesScanned: 120, findings: [SECRET_FINDING], suppressed: 2, warnings: ['big.bin: binary, skipped'] };

test('toSarif writes a log that validates against the SARIF 2.1.0 schema', () => {
  const validate = sarifValidator();
  const log = toSarif({ vulns: withVex(), licenses: LICENSES, secrets: SECRETS, sbomFile: 'package-lock.json' }, { name: 'ssf', version: '0.4.0', informationUri: 'https://ssf.invalid/' });
  assert.deepEqual(validate(log), []);
  // Empty input is a valid log too; and the validator does reject a broken one (so the check is real).
  assert.deepEqual(validate(toSarif({}, { name: 'ssf', version: 'dev' })), []);
  const broken = structuredClone(log) as { runs: { results: Record<string, unknown>[] }[] };
  broken.runs[0]!.results[0]!['level'] = 'critical';
  assert.notDeepEqual(validate(broken), []);
  const noKind = structuredClone(log) as { runs: { results: { suppressions?: Record<string, unknown>[] }[] }[] };
  const suppressed = noKind.runs[0]!.results.find((r) => r.suppressions);
  delete suppressed!.suppressions![0]!['kind'];
  assert.notDeepEqual(validate(noKind), []);
  // What ajv does not check here: format uri on helpUri and informationUri, uri-reference on locations.
  const text = JSON.stringify(log);
  for (const m of text.matchAll(/"(helpUri|informationUri)":"([^"]+)"/g)) assert.doesNotThrow(() => new URL(m[2]!), m[2]);
  for (const m of text.matchAll(/"uri":"([^"]+)"/g)) assert.doesNotThrow(() => new URL(m[1]!, 'file:///repo/'), m[1]);
});

test('toSarif vulnerability rules and results: one rule per advisory, CVSS as security-severity, levels, VEX suppressions', () => {
  const log = toSarif({ vulns: withVex(), sbomFile: 'package-lock.json' }, { name: 'ssf', version: '0.4.0' }) as any;
  assert.equal(log.version, '2.1.0');
  assert.equal(log.runs.length, 1);
  const run = log.runs[0];
  const rules = run.tool.driver.rules as any[];
  assert.deepEqual(rules.map((r) => r.id).sort(), ['GHSA-35jh-r3h4-6jhm', 'GHSA-3h5v-q93c-6h6q', 'GHSA-9c47-m6qq-7p4h', 'GHSA-c2qf-rxjj-qqgw', 'GHSA-p6mc-m468-83gw']);
  const pollution = rules.find((r) => r.id === 'GHSA-p6mc-m468-83gw');
  assert.equal(pollution.properties['security-severity'], '7.4');
  assert.equal(pollution.shortDescription.text, 'Prototype Pollution in lodash');
  assert.match(pollution.help.text, /Fixed in: 4\.17\.19/);
  assert.match(pollution.help.text, /CVE-2020-8203/);
  assert.equal(rules.find((r) => r.id === 'GHSA-9c47-m6qq-7p4h').properties['security-severity'], undefined, 'no score, no security-severity');
  const results = run.results as any[];
  assert.equal(results.length, 5, 'suppressed findings stay in the log');
  for (const r of results) {
    assert.equal(rules[r.ruleIndex].id, r.ruleId, 'ruleIndex points at the rule');
    assert.equal(r.locations[0].physicalLocation.artifactLocation.uri, 'package-lock.json');
    assert.match(r.partialFingerprints['ssfComponentFinding/v1'], /^[0-9a-f]{32}$/);
  }
  const level = (id: string): string => results.find((r) => r.ruleId === id).level;
  assert.equal(level('GHSA-p6mc-m468-83gw'), 'error');
  assert.equal(level('GHSA-3h5v-q93c-6h6q'), 'warning');
  assert.equal(level('GHSA-c2qf-rxjj-qqgw'), 'note');
  assert.equal(level('GHSA-9c47-m6qq-7p4h'), 'error', 'unscored counts as high');
  const injection = results.find((r) => r.ruleId === 'GHSA-35jh-r3h4-6jhm');
  assert.deepEqual(injection.suppressions, [
    {
      kind: 'external',
      status: 'accepted',
      justification: 'VEX not_affected: vulnerable_code_not_in_execute_path (Example Security Team in https://ssf.invalid/vex/report-test, signed by spiffe://example.internal/evidence/vex)',
    },
  ]);
  const ws = results.find((r) => r.ruleId === 'GHSA-3h5v-q93c-6h6q');
  assert.equal(ws.suppressions, undefined, 'under_investigation is not a suppression');
  assert.equal(ws.properties.vex.status, 'under_investigation');
  assert.equal(results.find((r) => r.ruleId === 'GHSA-9c47-m6qq-7p4h').locations[0].logicalLocations[0].fullyQualifiedName, 'pkg:npm/%40scope/json5@2.2.1');
  assert.deepEqual(run.invocations[0].toolExecutionNotifications, [{ level: 'warning', message: { text: VULNS.warnings[0] } }]);
  assert.equal(run.properties.vulnerabilityDatabase.digest, VULNS.db.digest);
  // Fingerprints are stable across runs and differ between findings.
  const again = toSarif({ vulns: withVex(), sbomFile: 'package-lock.json' }, { name: 'ssf', version: '0.4.1' }) as any;
  assert.deepEqual(
    again.runs[0].results.map((r: any) => r.partialFingerprints),
    results.map((r) => r.partialFingerprints),
  );
  assert.equal(new Set(results.map((r) => r.partialFingerprints['ssfComponentFinding/v1'])).size, 5);
});

test('toSarif licence and secret results: levels, file:line:column, never the secret', () => {
  const log = toSarif({ licenses: LICENSES, secrets: SECRETS, sbomFile: 'sub dir/package-lock.json' }, { name: 'ssf', version: '0.4.0' }) as any;
  const results = log.runs[0].results as any[];
  assert.deepEqual(
    results.map((r) => [r.ruleId, r.level]),
    [
      ['license/denied', 'error'],
      ['license/unknown', 'warning'],
      ['license/unlisted', 'note'],
      ['secret/aws-access-key-id', 'error'],
    ],
    'allowed licences make no result',
  );
  assert.equal(results[0].locations[0].physicalLocation.artifactLocation.uri, 'sub%20dir/package-lock.json');
  const secret = results[3];
  assert.deepEqual(secret.locations[0].physicalLocation, { artifactLocation: { uri: 'src/config%20dir/app.ts' }, region: { startLine: 12, startColumn: 17 } });
  assert.equal(secret.partialFingerprints['ssfSecret/v1'], 'aws-access-key-id:sha256:0123456789abcdef');
  assert.equal(log.runs[0].properties.secretsSuppressed, 2);
  const text = JSON.stringify(log);
  assert.ok(!text.includes(AWS_KEY), 'the secret must not appear in SARIF');
  assert.ok(!formatSecretTable(SECRETS).join('\n').includes(AWS_KEY), 'nor in the table');
  // A fingerprint that is not sha256:<16 hex> could be the secret itself: refused, not printed.
  const leaky: SecretReport = { ...SECRETS, findings: [{ ...SECRET_FINDING, fingerprint: AWS_KEY }] };
  throwsCode(() => toSarif({ secrets: leaky }, { name: 'ssf', version: '0.4.0' }), 'INPUT_MALFORMED');
  throwsCode(() => formatSecretTable(leaky), 'INPUT_MALFORMED');
  try {
    formatSecretTable(leaky);
  } catch (e) {
    assert.ok(!(e as Error).message.includes(AWS_KEY), 'the error names the finding, not the value');
  }
});

test('vulnsPredicate follows the in-toto vulns v0.2 predicate: scanner, db, result ids and severities, metadata', () => {
  const p = vulnsPredicate(withVex(), { uri: 'pkg:npm/ssf@0.4.0', version: '0.4.0' }, { startedOn: new Date('2026-06-01T10:00:00Z'), finishedOn: '2026-06-01T10:00:02Z' }) as any;
  assert.deepEqual(Object.keys(p).sort(), ['metadata', 'scanner']);
  assert.deepEqual(p.metadata, { scanStartedOn: '2026-06-01T10:00:00.000Z', scanFinishedOn: '2026-06-01T10:00:02Z' });
  assert.equal(p.scanner.uri, 'pkg:npm/ssf@0.4.0');
  assert.equal(p.scanner.version, '0.4.0');
  assert.deepEqual(p.scanner.db, { uri: 'https://example.invalid/npm/all.zip', version: VULNS.db.digest, lastUpdate: VULNS.db.date });
  const result = p.scanner.result as any[];
  assert.equal(result.length, 5);
  assert.deepEqual(
    result.map((r) => r.id),
    ['GHSA-p6mc-m468-83gw', 'GHSA-35jh-r3h4-6jhm', 'GHSA-9c47-m6qq-7p4h', 'GHSA-3h5v-q93c-6h6q', 'GHSA-c2qf-rxjj-qqgw'],
    'most severe first (unscored counts as high, after the scored ones)',
  );
  const pollution = result[0];
  assert.deepEqual(pollution.severity, [
    { method: 'CVSS_V3', score: '7.4' },
    { method: 'severity', score: 'high' },
  ]);
  for (const r of result) for (const s of r.severity) assert.equal(typeof s.score, 'string', 'the spec makes score a string');
  assert.equal(pollution.annotations[0].purl, 'pkg:npm/lodash@4.17.15');
  assert.equal(result[1].annotations[0].vex.status, 'not_affected', 'VEX travels with the finding');
  // A local path is not a ResourceURI: db.uri is left out.
  const local = vulnsPredicate({ ...VULNS, db: { ...VULNS.db, source: '/var/lib/osv' } }, { uri: 'pkg:npm/ssf@0.4.0', version: '0.4.0' }) as any;
  assert.equal(local.scanner.db.uri, undefined);
  assert.match(local.metadata.scanStartedOn, /^\d{4}-\d\d-\d\dT/);
});

test('text tables: aligned columns, severity order, VEX shown, control characters neutralised', () => {
  const lines = formatVulnTable(withVex());
  assert.equal(lines.length, 6);
  assert.match(lines[0]!, /^SEVERITY\s+SCORE\s+ID\s+PACKAGE\s+VERSION\s+FIXED IN\s+VEX$/);
  const col = lines[0]!.indexOf('ID');
  for (const l of lines.slice(1)) assert.match(l.slice(col), /^GHSA-/, 'the ID column lines up');
  assert.match(lines[1]!, /^HIGH\s+7\.4\s+GHSA-p6mc/);
  assert.match(lines[3]!, /^UNKNOWN\s+-\s+GHSA-9c47/);
  assert.ok(lines.some((l) => /GHSA-35jh.*not_affected \(vulnerable_code_not_in_execute_path\)$/.test(l)));
  const evil: VulnReport = { ...VULNS, findings: [finding('GHSA-aaaa-bbbb-cccc', 'CVE-1', 'x\u001b[2Jy', '1.0.0')] };
  assert.ok(!formatVulnTable(evil).join('\n').includes('\u001b'));
  const lic = formatLicenseTable(LICENSES);
  assert.deepEqual(
    lic.map((l) => l.split(/\s{2,}/)[0]),
    ['STATUS', 'DENIED', 'UNKNOWN', 'UNLISTED', 'ALLOWED'],
  );
  const sec = formatSecretTable(SECRETS);
  assert.deepEqual(sec[1]!.split(/\s{2,}/), ['src/config dir/app.ts:12:17', 'aws-access-key-id', 'an AWS access key id', 'sha256:0123456789abcdef']);
});
