import { test } from 'node:test';
import assert from 'node:assert/strict';
import { cvss } from './index.js';

// Published base scores: FIRST's CVSS v3.1 and v4.0 example documents and calculators, NVD.
const PUBLISHED: [string, '2.0' | '3.0' | '3.1' | '4.0', number, string][] = [
  ['CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H', '3.1', 9.8, 'critical'],
  ['CVSS:3.1/AV:N/AC:L/PR:N/UI:R/S:C/C:L/I:L/A:N', '3.1', 6.1, 'medium'], // FIRST v3.1 examples: phpMyAdmin CVE-2013-1937
  ['CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:N/A:N', '3.1', 7.5, 'high'], // FIRST v3.1 examples: Heartbleed CVE-2014-0160
  ['CVSS:3.1/AV:L/AC:L/PR:N/UI:R/S:U/C:H/I:H/A:H', '3.1', 7.8, 'high'], // FIRST v3.1 examples: Adobe Reader CVE-2009-0658
  ['CVSS:3.0/AV:N/AC:L/PR:L/UI:N/S:C/C:L/I:L/A:N', '3.0', 6.4, 'medium'], // FIRST v3.0 examples: MySQL CVE-2013-0375
  ['CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:H/VI:H/VA:H/SC:N/SI:N/SA:N', '4.0', 9.3, 'critical'],
  ['CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:H/VI:H/VA:H/SC:H/SI:H/SA:H', '4.0', 10, 'critical'],
  ['CVSS:4.0/AV:L/AC:L/AT:N/PR:L/UI:N/VC:H/VI:H/VA:H/SC:N/SI:N/SA:N', '4.0', 8.5, 'high'], // FIRST v4.0 examples: CVE-2022-41741
  ['CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:H/VI:N/VA:N/SC:N/SI:N/SA:N', '4.0', 8.7, 'high'],
  ['CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:P/VC:N/VI:N/VA:N/SC:L/SI:L/SA:N', '4.0', 5.3, 'medium'], // stored XSS as GitHub scores it
  ['CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:N/VI:N/VA:N/SC:N/SI:N/SA:N', '4.0', 0, 'none'],
  ['AV:N/AC:L/Au:N/C:P/I:N/A:N', '2.0', 5, 'medium'], // NVD v2: Heartbleed
  ['AV:N/AC:L/Au:N/C:N/I:N/A:C', '2.0', 7.8, 'high'], // FIRST v2 guide: CVE-2002-0392
];

test('computes the published base scores', () => {
  for (const [vector, version, score, severity] of PUBLISHED) {
    assert.deepEqual(cvss(vector), { version, score, severity }, vector);
  }
});

test('a 3.0 vector is scored by the 3.0 formulas (its Roundup differs from 3.1 only in rare cases) and keeps its version', () => {
  assert.deepEqual(cvss('CVSS:3.0/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H'), { version: '3.0', score: 9.8, severity: 'critical' });
});

test('temporal and threat metrics do not change the base score', () => {
  assert.equal(cvss('CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H/E:U/RL:O/RC:U')?.score, 9.8);
  assert.equal(cvss('CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:H/VI:H/VA:H/SC:N/SI:N/SA:N/E:U')?.score, 9.3);
});

test('incomplete, unknown or malformed vectors are undefined, never a throw', () => {
  for (const bad of [
    '',
    'garbage',
    'CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H', // A missing
    'CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:X',
    'CVSS:3.1/AV:Q/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H',
    'CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H/FOO:1',
    'CVSS:3.1/AV:N/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H',
    'CVSS:3.2/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H',
    'CVSS:5.0/AV:N',
    'CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:H/VI:H/VA:H/SC:N/SI:N',
    'AV:N/AC:L/Au:N/C:C/I:C',
    'CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H/',
    'x'.repeat(10_000),
  ]) {
    assert.equal(cvss(bad), undefined, bad.slice(0, 60));
  }
});
