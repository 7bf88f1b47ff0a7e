import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { throwsCode } from '../../core/testing.js';
import type { Component, Sbom } from '../model.js';
import { evaluateLicenses, licenseAllowed, loadLicensePolicy, normalizeLicense, type LicensePolicy } from './index.js';

test('declared licences as npm packages write them', () => {
  const cases: [string | undefined, string | undefined, boolean, RegExp[]][] = [
    // declared, expression, corrected, problems (one regex per expected line)
    ['MIT', 'MIT', false, []],
    ['(MIT OR Apache-2.0)', 'MIT OR Apache-2.0', false, []],
    ['Apache-2.0 WITH LLVM-exception', 'Apache-2.0 WITH LLVM-exception', false, []],
    ['BSD-3-Clause AND MIT', 'BSD-3-Clause AND MIT', false, []],
    ['(MIT AND (BSD-2-Clause OR ISC))', 'MIT AND (BSD-2-Clause OR ISC)', false, []],
    ['(MIT AND BSD-2-Clause) OR ISC', 'MIT AND BSD-2-Clause OR ISC', false, []],
    ['((MIT))', 'MIT', false, []],
    ['mit  or\tapache-2.0', 'MIT OR Apache-2.0', false, [/"mit" is spelled MIT/, /"apache-2.0" is spelled Apache-2.0/]],
    ['GPL-2.0', 'GPL-2.0', false, [/GPL-2.0 is a deprecated SPDX id, read as GPL-2.0-only/]],
    ['GPL-2.0+', 'GPL-2.0+', false, [/deprecated.*GPL-2.0-or-later/]],
    ['GPL-3.0-or-later', 'GPL-3.0-or-later', false, []],
    ['MIT License', 'MIT', true, [/"MIT License" is not an SPDX expression; corrected to MIT/]],
    ['Apache 2.0', 'Apache-2.0', true, [/corrected to Apache-2.0/]],
    ['MIT OR Apache 2.0', 'MIT OR Apache-2.0', true, [/corrected to MIT OR Apache-2.0/]],
    ['UNLICENSED', undefined, false, [/UNLICENSED/]],
    ['SEE LICENSE IN LICENSE.md', undefined, false, [/named by a file \("LICENSE.md"\)/]],
    ['LicenseRef-Proprietary', 'LicenseRef-Proprietary', false, []],
    ['licenseref-Proprietary', 'LicenseRef-Proprietary', false, []],
    ['DocumentRef-spdx-tool-1.2:LicenseRef-MIT-Style-2', 'DocumentRef-spdx-tool-1.2:LicenseRef-MIT-Style-2', false, []],
    ['', undefined, false, [/no licence declared/]],
    [undefined, undefined, false, [/no licence declared/]],
    ['   ', undefined, false, [/no licence declared/]],
    ['this is not a licence at all', undefined, false, [/not an SPDX expression and no SPDX id fits/]],
    ['MIT AND', undefined, false, [/not an SPDX expression/]],
    ['MIT OR (Apache-2.0', undefined, false, [/not an SPDX expression/]],
    ['MIT WITH Apache-2.0', undefined, false, [/not an SPDX expression/]],
  ];
  for (const [declared, expression, corrected, problems] of cases) {
    const n = normalizeLicense(declared);
    assert.equal(n.expression, expression, `expression of ${JSON.stringify(declared)}`);
    assert.equal(n.corrected, corrected, `corrected for ${JSON.stringify(declared)}`);
    assert.equal(n.problems.length, problems.length, `problems of ${JSON.stringify(declared)}: ${JSON.stringify(n.problems)}`);
    problems.forEach((re, i) => assert.match(n.problems[i] ?? '', re));
  }
});

test('normalised expressions are fixed points', () => {
  for (const s of ['(MIT OR Apache-2.0)', 'mit and (isc or bsd-2-clause)', 'GPL-2.0-only WITH Classpath-exception-2.0 OR MIT', 'Apache-2.0+']) {
    const once = normalizeLicense(s).expression ?? assert.fail(s);
    assert.equal(normalizeLicense(once).expression, once);
    assert.deepEqual(normalizeLicense(once).problems, []);
  }
});

test('a huge declaration is refused as a problem without being parsed', () => {
  const n = normalizeLicense(`MIT OR ${'x'.repeat(100 * 1024)}`);
  assert.equal(n.expression, undefined);
  assert.match(n.problems[0] ?? '', /102407 characters long, over the 4096-character limit/);
  // A long but valid expression under the limit still parses.
  const long = Array.from({ length: 300 }, () => 'MIT').join(' OR ');
  assert.ok(long.length < 4096);
  assert.equal(normalizeLicense(long).expression, long);
});

const POLICY = `# licences we ship
allow:
  - MIT
  - apache-2.0
  - BSD-3-Clause
  - GPL-2.0-only WITH Classpath-exception-2.0
  - LicenseRef-Acme
deny:
  - GPL-3.0          # deprecated spelling of GPL-3.0-only
  - AGPL-3.0-only
  - GPL-2.0-only
`;

test('loading a policy: ids case-corrected, digest of the bytes', () => {
  const p = loadLicensePolicy(POLICY, 'licenses.yaml');
  assert.deepEqual(p.allow, ['MIT', 'apache-2.0', 'BSD-3-Clause', 'GPL-2.0-only WITH Classpath-exception-2.0', 'LicenseRef-Acme']);
  assert.equal(p.digest, `sha256:${createHash('sha256').update(POLICY).digest('hex')}`);
  // JSON is YAML too.
  assert.deepEqual(loadLicensePolicy('{"allow":["MIT"],"deny":[]}').allow, ['MIT']);
  assert.deepEqual(loadLicensePolicy('allow: [MIT]\n').deny, []);
});

test('malformed policies and unknown ids are refused, naming the id and the file', () => {
  const bad: [string, RegExp][] = [
    ['allow: [MIT, Apache2]\n', /"Apache2".*licenses\.yaml.*unknown SPDX id "Apache2"/],
    ['deny: ["MIT WITH Nonsense-exception"]\n', /unknown SPDX id "Nonsense-exception"/],
    ['allow: ["MIT OR ISC"]\n', /combines licences with OR/],
    ['allow: [MIT]\ndeny: [mit]\n', /both allowed and denied/],
    ['allow: MIT\n', /must be a list/],
    ['allow: [1]\n', /must be a list/],
    ['alow: [MIT]\n', /unknown key "alow"/],
    ['- MIT\n', /must be a mapping/],
    ['allow: [MIT\n', /not valid YAML/],
    ['allow: [MIT]\nallow: [ISC]\n', /not valid YAML/],
  ];
  for (const [text, re] of bad) {
    throwsCode(() => loadLicensePolicy(text, 'licenses.yaml'), 'LICENSE_POLICY_INVALID');
    assert.throws(() => loadLicensePolicy(text, 'licenses.yaml'), re);
  }
  throwsCode(() => loadLicensePolicy(`allow: [${'MIT, '.repeat(300_000)}]`), 'INPUT_TOO_LARGE');
  // A policy built in code is checked the same way when it is used.
  throwsCode(() => licenseAllowed('MIT', { allow: ['Nope-1.0'], deny: [] }), 'LICENSE_POLICY_INVALID');
});

test('policy evaluation: the OR / AND / WITH truth table', () => {
  const p = loadLicensePolicy(POLICY, 'licenses.yaml');
  const table: [string, 'allowed' | 'denied' | 'unlisted', RegExp][] = [
    // single licences
    ['MIT', 'allowed', /allows MIT$/],
    ['GPL-3.0-only', 'denied', /denies GPL-3.0-only/],
    ['ISC', 'unlisted', /neither allows nor denies ISC/],
    ['LicenseRef-Acme', 'allowed', /LicenseRef-Acme/],
    ['LicenseRef-Other', 'unlisted', /LicenseRef-Other/],
    // OR: the best branch
    ['MIT OR Apache-2.0', 'allowed', /allows MIT \(one way/],
    ['MIT OR GPL-3.0-only', 'allowed', /allows MIT/],
    ['GPL-3.0-only OR MIT', 'allowed', /allows MIT/],
    ['MIT OR ISC', 'allowed', /allows MIT/],
    ['ISC OR GPL-3.0-only', 'unlisted', /neither allows nor denies ISC$/],
    ['GPL-3.0-only OR AGPL-3.0-only', 'denied', /every way .* denies: GPL-3.0-only, AGPL-3.0-only/],
    ['ISC OR 0BSD', 'unlisted', /ISC, 0BSD/],
    // AND: the worst branch
    ['MIT AND Apache-2.0', 'allowed', /allows MIT, Apache-2.0/],
    ['MIT AND GPL-3.0-only', 'denied', /denies: GPL-3.0-only/],
    ['MIT AND ISC', 'unlisted', /neither allows nor denies ISC$/],
    ['ISC AND GPL-3.0-only', 'denied', /GPL-3.0-only/],
    // nesting
    ['MIT AND (ISC OR Apache-2.0)', 'allowed', /MIT, Apache-2.0/],
    ['(MIT OR GPL-3.0-only) AND (AGPL-3.0-only OR Apache-2.0)', 'allowed', /MIT, Apache-2.0/],
    ['(MIT AND GPL-3.0-only) OR (ISC AND AGPL-3.0-only)', 'denied', /GPL-3.0-only, AGPL-3.0-only/],
    ['(MIT AND GPL-3.0-only) OR ISC', 'unlisted', /ISC/],
    // WITH: the pair when listed, else the base licence
    ['GPL-2.0-only WITH Classpath-exception-2.0', 'allowed', /allows GPL-2.0-only WITH Classpath-exception-2.0/],
    ['GPL-2.0-only', 'denied', /denies GPL-2.0-only/],
    ['GPL-2.0-only WITH GCC-exception-2.0', 'denied', /denies GPL-2.0-only WITH GCC-exception-2.0/],
    ['Apache-2.0 WITH LLVM-exception', 'allowed', /allows Apache-2.0 WITH LLVM-exception/],
    ['ISC WITH LLVM-exception', 'unlisted', /ISC WITH LLVM-exception/],
    // deprecated spellings match their current ids, both ways
    ['GPL-3.0', 'denied', /denies GPL-3.0/],
    ['GPL-2.0-with-classpath-exception', 'allowed', /GPL-2.0-with-classpath-exception/],
    ['AGPL-3.0', 'denied', /AGPL-3.0/],
    // "or later": an allowed base allows it; a denied base alone does not deny it
    ['MIT+', 'allowed', /MIT\+/],
    ['GPL-3.0-or-later', 'unlisted', /GPL-3.0-or-later/],
    ['GPL-3.0+', 'unlisted', /GPL-3.0\+/],
  ];
  for (const [expr, status, why] of table) {
    const d = licenseAllowed(expr, p);
    assert.equal(d.status, status, `${expr}: ${d.why}`);
    assert.match(d.why, why, expr);
  }
  const later: LicensePolicy = { allow: ['GPL-2.0-only'], deny: ['GPL-3.0-or-later'] };
  assert.equal(licenseAllowed('GPL-2.0+', later).status, 'allowed');
  assert.equal(licenseAllowed('GPL-2.0-or-later', later).status, 'allowed');
  assert.equal(licenseAllowed('GPL-3.0+', later).status, 'denied');
  throwsCode(() => licenseAllowed('MIT OR', p), 'INPUT_MALFORMED');
});

function sbomOf(licenses: (string | undefined)[]): Sbom {
  const components: Component[] = licenses.map((license, i) => ({
    ref: `pkg:npm/p${i}@1.0.0`,
    ecosystem: 'npm',
    name: `p${i}`,
    version: '1.0.0',
    purl: `pkg:npm/p${i}@1.0.0`,
    hashes: [],
    ...(license !== undefined ? { license } : {}),
    scope: 'required',
    paths: [`node_modules/p${i}`],
  }));
  return {
    root: { ref: 'root', name: 'app', version: '1.0.0' },
    components,
    dependencies: [{ ref: 'root', dependsOn: components.map((c) => c.ref) }],
    source: { kind: 'npm-lockfile', digest: `sha256:${'ab'.repeat(32)}` },
    warnings: [],
  };
}

test('evaluateLicenses: one finding per component, with and without a policy', () => {
  const sbom = sbomOf(['MIT', '(MIT OR GPL-3.0)', 'GPL-3.0', 'ISC', 'MIT License', 'GPL-3.0 License', undefined, 'nonsense', 'UNLICENSED']);
  const none = evaluateLicenses(sbom);
  assert.equal(none.sbom, sbom.source.digest);
  assert.equal(none.policy, undefined);
  assert.deepEqual(
    none.findings.map((f) => f.status),
    ['unlisted', 'unlisted', 'unlisted', 'unlisted', 'unknown', 'unknown', 'unknown', 'unknown', 'unknown'],
  );
  const p = loadLicensePolicy(POLICY, 'licenses.yaml');
  const r = evaluateLicenses(sbom, p);
  assert.equal(r.policy, p.digest);
  assert.deepEqual(
    r.findings.map((f) => [f.component.name, f.declared, f.expression, f.status]),
    [
      ['p0', 'MIT', 'MIT', 'allowed'],
      ['p1', '(MIT OR GPL-3.0)', 'MIT OR GPL-3.0', 'allowed'],
      ['p2', 'GPL-3.0', 'GPL-3.0', 'denied'],
      ['p3', 'ISC', 'ISC', 'unlisted'],
      // a guessed expression is never allowed
      ['p4', 'MIT License', 'MIT', 'unknown'],
      ['p5', 'GPL-3.0 License', 'GPL-3.0-or-later', 'unlisted'],
      ['p6', undefined, undefined, 'unknown'],
      ['p7', 'nonsense', undefined, 'unknown'],
      ['p8', 'UNLICENSED', undefined, 'unknown'],
    ],
  );
  assert.match(r.findings[2]?.problems.join('\n') ?? '', /deprecated[\s\S]*denies GPL-3.0/);
  assert.match(r.findings[4]?.problems.join('\n') ?? '', /corrected to MIT[\s\S]*only as a guess/);
  assert.deepEqual(r.findings[0]?.problems, []);
  // but a guess the policy denies is denied
  const strict = evaluateLicenses(sbom, { allow: ['MIT'], deny: ['GPL-3.0-or-later'] });
  assert.equal(strict.findings[5]?.status, 'denied');
  assert.equal(strict.policy, undefined);
});
