import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { affects, parseAdvisory, type OsvAdvisory } from './index.js';
import { compileAdvisory } from './evaluate.js';
import { OSV_VECTORS } from './testing.js';

function real(id: string): OsvAdvisory {
  const file = join(OSV_VECTORS, 'advisories', `${id}.json`);
  return parseAdvisory(readFileSync(file, 'utf8'), file);
}

/** [package, version, affected?, fixed versions expected when affected] */
type Case = [string, string, boolean, string[]?];

function check(a: OsvAdvisory, cases: Case[]): void {
  for (const [name, version, expected, fixed] of cases) {
    const r = affects(a, 'npm', name, version);
    assert.equal(r.affected, expected, `${a.id} ${name}@${version}: expected ${expected ? 'affected' : 'not affected'} (${r.matchedBy})`);
    if (expected) {
      assert.notEqual(r.matchedBy, '');
      if (fixed) assert.deepEqual(r.fixed, fixed, `${a.id} ${name}@${version} fixed`);
    } else {
      assert.deepEqual(r, { affected: false, matchedBy: '', fixed: [] });
    }
  }
}

// Every case below comes from the records' affected[].ranges[].events, not their prose.

test('GHSA-35jh-r3h4-6jhm (lodash, lodash-es): introduced 0, fixed 4.17.21', () => {
  const a = real('GHSA-35jh-r3h4-6jhm');
  for (const pkg of ['lodash', 'lodash-es']) {
    check(a, [
      [pkg, '0.0.0', true, ['4.17.21']],
      [pkg, '0.1.0-alpha', true],
      [pkg, '4.17.20', true, ['4.17.21']],
      [pkg, '4.17.21-rc.1', true, ['4.17.21']], // a prerelease sorts below its release
      [pkg, '4.17.21', false],
      [pkg, '4.17.21+build.5', false], // build metadata does not change precedence
      [pkg, '4.17.22', false],
      [pkg, '5.0.0', false],
    ]);
  }
  assert.equal(affects(a, 'npm', 'lodash', '4.17.20').matchedBy, 'ECOSYSTEM range: introduced 0, fixed 4.17.21');
  check(a, [['lodash.template', '4.5.0', false], ['Lodash', '4.17.20', false]]); // names compare exactly
  assert.equal(affects(a, 'PyPI', 'lodash', '4.17.20').affected, false, 'another ecosystem is another package');
});

test('GHSA-3h5v-q93c-6h6q (ws): four affected entries, one interval each', () => {
  check(real('GHSA-3h5v-q93c-6h6q'), [
    ['ws', '0.4.0', false],
    ['ws', '2.0.99', false],
    ['ws', '2.1.0-rc.1', false],
    ['ws', '2.1.0', true, ['5.2.4']],
    ['ws', '5.2.3', true, ['5.2.4']],
    ['ws', '5.2.4-0', true, ['5.2.4']],
    ['ws', '5.2.4', false],
    ['ws', '5.99.99', false],
    ['ws', '6.0.0-beta.1', false],
    ['ws', '6.0.0', true, ['6.2.3']],
    ['ws', '6.2.2', true, ['6.2.3']],
    ['ws', '6.2.3', false],
    ['ws', '7.0.0', true, ['7.5.10']],
    ['ws', '7.5.9', true, ['7.5.10']],
    ['ws', '7.5.10', false],
    ['ws', '8.0.0', true, ['8.17.1']],
    ['ws', '8.17.0', true, ['8.17.1']],
    ['ws', '8.17.1', false],
    ['ws', '9.0.0', false],
  ]);
});

test('GHSA-9c47-m6qq-7p4h (json5): [2.0.0, 2.2.2) and [0, 1.0.2)', () => {
  check(real('GHSA-9c47-m6qq-7p4h'), [
    ['json5', '0.5.1', true, ['1.0.2']],
    ['json5', '1.0.1', true, ['1.0.2']],
    ['json5', '1.0.2', false],
    ['json5', '1.99.0', false],
    ['json5', '2.0.0-0', false], // between the two intervals
    ['json5', '2.0.0', true, ['2.2.2']],
    ['json5', '2.2.1', true, ['2.2.2']],
    ['json5', '2.2.2', false],
    ['json5', '2.2.3', false],
  ]);
});

test('GHSA-c2qf-rxjj-qqgw (semver): three entries', () => {
  check(real('GHSA-c2qf-rxjj-qqgw'), [
    ['semver', '5.7.1', true, ['5.7.2']],
    ['semver', '5.7.2', false],
    ['semver', '5.7.3', false],
    ['semver', '6.0.0', true, ['6.3.1']],
    ['semver', '6.3.0', true, ['6.3.1']],
    ['semver', '6.3.1', false],
    ['semver', '7.0.0', true, ['7.5.2']],
    ['semver', '7.5.1', true, ['7.5.2']],
    ['semver', '7.5.2-rc.1', true, ['7.5.2']],
    ['semver', '7.5.2', false],
    ['semver', '7.6.0', false],
  ]);
});

test('GHSA-p6mc-m468-83gw (lodash): introduced 0, fixed 4.17.20', () => {
  check(real('GHSA-p6mc-m468-83gw'), [
    ['lodash', '4.17.19', true, ['4.17.20']],
    ['lodash', '4.17.20-beta', true],
    ['lodash', '4.17.20', false],
    ['lodash-es', '4.17.15', true, ['4.17.20']],
    ['lodash-es', '4.17.20', false],
  ]);
});

test('GHSA-p8p7-x288-28g6 (request, @cypress/request): last_affected is inclusive', () => {
  const a = real('GHSA-p8p7-x288-28g6');
  check(a, [
    ['request', '2.0.0', true, []],
    ['request', '2.88.2', true, []], // last_affected itself is affected
    ['request', '2.88.3-alpha', false], // above 2.88.2 in SemVer order
    ['request', '2.88.3', false],
    ['@cypress/request', '2.88.11', true, []],
    ['@cypress/request', '2.88.12', false],
    ['@cypress/request', '3.0.0', false],
  ]);
  assert.equal(affects(a, 'npm', 'request', '2.88.2').matchedBy, 'ECOSYSTEM range: introduced 0, last_affected 2.88.2');
});

test('GHSA-xvch-5gv4-984h (minimist): [1.0.0, 1.2.6) and [0, 0.2.4)', () => {
  check(real('GHSA-xvch-5gv4-984h'), [
    ['minimist', '0.0.8', true, ['0.2.4']],
    ['minimist', '0.2.3', true, ['0.2.4']],
    ['minimist', '0.2.4', false],
    ['minimist', '0.9.9', false],
    ['minimist', '1.0.0-rc', false],
    ['minimist', '1.0.0', true, ['1.2.6']],
    ['minimist', '1.2.5', true, ['1.2.6']],
    ['minimist', '1.2.6', false],
  ]);
});

function adv(affected: unknown[], extra: Record<string, unknown> = {}): OsvAdvisory {
  return parseAdvisory(JSON.stringify({ id: 'TEST-1', modified: '2024-01-01T00:00:00Z', affected, ...extra }));
}
const pkg = { ecosystem: 'npm', name: 'p' };

test('several intervals in one range, events in any order', () => {
  const a = adv([
    {
      package: pkg,
      ranges: [{ type: 'SEMVER', events: [{ fixed: '3.2.5' }, { introduced: '3.0.0' }, { fixed: '1.0.2' }, { introduced: '1.0.0' }] }],
    },
  ]);
  check(a, [
    ['p', '0.9.0', false],
    ['p', '1.0.0', true, ['1.0.2', '3.2.5']],
    ['p', '1.0.1', true],
    ['p', '1.0.2', false],
    ['p', '2.0.0', false],
    ['p', '3.0.0', true, ['3.2.5']],
    ['p', '3.2.4', true],
    ['p', '3.2.5', false],
  ]);
  assert.equal(affects(a, 'npm', 'p', '3.1.0').matchedBy, 'SEMVER range: introduced 3.0.0, fixed 3.2.5');
});

test('limit: a version must be below some limit; "*" is infinity; no limit means "*"', () => {
  const one = adv([{ package: pkg, ranges: [{ type: 'SEMVER', events: [{ introduced: '1.0.0' }, { limit: '2.0.0' }] }] }]);
  check(one, [
    ['p', '0.9.0', false],
    ['p', '1.0.0', true],
    ['p', '1.9.9', true],
    ['p', '2.0.0-rc.1', true],
    ['p', '2.0.0', false],
    ['p', '5.0.0', false],
  ]);
  assert.equal(affects(one, 'npm', 'p', '1.5.0').matchedBy, 'SEMVER range: introduced 1.0.0, limit 2.0.0');
  const two = adv([
    { package: pkg, ranges: [{ type: 'SEMVER', events: [{ introduced: '1.0.0' }, { fixed: '1.2.0' }, { limit: '1.5.0' }, { limit: '3.0.0' }] }] },
  ]);
  check(two, [
    ['p', '1.1.0', true],
    ['p', '1.3.0', false], // fixed, although below both limits
    ['p', '2.0.0', false],
  ]);
  const limitedAbove = adv([{ package: pkg, ranges: [{ type: 'SEMVER', events: [{ introduced: '1.0.0' }, { limit: '1.5.0' }, { limit: '3.0.0' }] }] }]);
  check(limitedAbove, [['p', '2.0.0', true], ['p', '3.0.0', false]]); // below one of the limits is enough
  const star = adv([{ package: pkg, ranges: [{ type: 'SEMVER', events: [{ introduced: '1.0.0' }, { limit: '*' }] }] }]);
  check(star, [['p', '999.0.0', true], ['p', '0.1.0', false]]);
  const open = adv([{ package: pkg, ranges: [{ type: 'SEMVER', events: [{ introduced: '0' }] }] }]);
  check(open, [['p', '0.0.0-0', true], ['p', '123.4.5', true]]);
});

test('equal versions: the record order of events decides, as the pseudo-code walks them', () => {
  const a = adv([{ package: pkg, ranges: [{ type: 'SEMVER', events: [{ introduced: '1.0.0' }, { fixed: '1.0.0' }] }] }]);
  check(a, [['p', '1.0.0', false], ['p', '2.0.0', false]]);
});

test('versions lists match exact strings, alone or beside ranges', () => {
  const a = adv([
    { package: pkg, versions: ['1.2.3', '2.0.0-beta.1', 'not-semver'] },
    { package: pkg, ranges: [{ type: 'SEMVER', events: [{ introduced: '3.0.0' }, { fixed: '3.1.0' }] }], versions: ['9.9.9'] },
  ]);
  check(a, [
    ['p', '1.2.3', true, []],
    ['p', '1.2.4', false],
    ['p', '2.0.0-beta.1', true],
    ['p', '2.0.0', false],
    ['p', 'not-semver', true],
    ['p', '1.2.3+build', false], // a list names exact versions
    ['p', '3.0.5', true, ['3.1.0']],
    ['p', '9.9.9', true, []],
  ]);
  assert.equal(affects(a, 'npm', 'p', '1.2.3').matchedBy, 'versions list');
});

test('GIT and unknown range types are skipped with warnings; the other ranges still apply', () => {
  const a = adv([
    {
      package: pkg,
      ranges: [
        { type: 'GIT', repo: 'https://example.invalid/p.git', events: [{ introduced: '0' }, { fixed: 'a'.repeat(40) }] },
        { type: 'GIT', repo: 'https://example.invalid/p.git', events: [{ introduced: 'b'.repeat(40) }] },
        { type: 'FANCY', events: [{ introduced: '0' }] },
        { type: 'SEMVER', events: [{ introduced: '2.0.0' }, { fixed: '2.1.0' }] },
      ],
    },
  ]);
  check(a, [['p', '1.0.0', false], ['p', '2.0.5', true, ['2.1.0']]]);
  const w = compileAdvisory(a).warnings;
  assert.equal(w.filter((x) => x.includes('GIT')).length, 1, 'one GIT warning per advisory');
  assert.ok(w.some((x) => x.includes('unknown range type "FANCY"')));
});

test('bad events are skipped with a warning, never a crash', () => {
  const a = adv([
    {
      package: pkg,
      ranges: [
        {
          type: 'SEMVER',
          events: [{ introduced: '1.0' }, { introduced: '2.0.0', fixed: '2.1.0' }, { unknown: '3.0.0' }, {}, { introduced: '4.0.0' }, { fixed: 'v4.1.0' }, { fixed: '4.2.0' }],
        },
        { type: 'SEMVER', events: [{ fixed: '1.0.0' }] },
      ],
    },
  ]);
  check(a, [
    ['p', '1.5.0', false], // the unparseable introduced 1.0 is skipped
    ['p', '2.0.5', false], // the two-key event is skipped
    ['p', '4.1.0', true, ['4.2.0']], // the `v`-prefixed fixed is skipped
    ['p', '4.2.0', false],
  ]);
  const w = compileAdvisory(a).warnings;
  assert.equal(w.length, 6, w.join('\n'));
  assert.ok(w.some((x) => x.includes('no usable introduced event')));
});

test('ECOSYSTEM ranges of ecosystems without a known ordering are skipped; their versions lists still match', () => {
  const a = adv([{ package: { ecosystem: 'Maven', name: 'g:p' }, ranges: [{ type: 'ECOSYSTEM', events: [{ introduced: '0' }] }], versions: ['1.0'] }]);
  assert.equal(affects(a, 'Maven', 'g:p', '2.0.0').affected, false);
  assert.equal(affects(a, 'Maven', 'g:p', '1.0').affected, true);
  assert.ok(compileAdvisory(a).warnings.some((x) => x.includes('no version ordering known for ecosystem "Maven"')));
  // SEMVER ranges are ecosystem-independent.
  const g = adv([{ package: { ecosystem: 'Go', name: 'example.com/m' }, ranges: [{ type: 'SEMVER', events: [{ introduced: '0' }, { fixed: '1.2.0' }] }] }]);
  assert.equal(affects(g, 'Go', 'example.com/m', '1.1.0').affected, true);
});

test('PyPI ECOSYSTEM ranges are evaluated in PEP 440 order: pre-, post- and development releases, epochs, local versions, normalised spellings', () => {
  const py = (events: Record<string, string>[], extra: Record<string, unknown> = {}): ReturnType<typeof adv> =>
    adv([{ package: { ecosystem: 'PyPI', name: 'Django' }, ranges: [{ type: 'ECOSYSTEM', events }], ...extra }]);
  // As PyPI advisories are written: introduced at a release, fixed at a patch release.
  const a = py([{ introduced: '4.2' }, { fixed: '4.2.16' }]);
  assert.deepEqual(compileAdvisory(a).warnings, []);
  for (const [v, want] of [
    ['4.2', true], ['4.2.0', true], ['4.2.15', true], ['4.2.16rc1', true], ['4.2.16.dev0', true], ['4.2.15.post1', true],
    ['4.2.16', false], ['4.2.16.post1', false], ['4.2.17', false], ['4.2rc1', false], ['4.2a1', false], ['4.1.9', false],
    ['4.2.0+ubuntu1', true], ['v4.2.3', true], ['4.2.16-RC1', true], ['1!1.0', false], ['10.0', false],
  ] as const) {
    assert.equal(affects(a, 'PyPI', 'django', v).affected, want, v);
  }
  assert.match(affects(a, 'PyPI', 'django', '4.2.1').matchedBy, /^ECOSYSTEM range: introduced 4\.2, fixed 4\.2\.16$/);
  // An epoch sorts above every version without one; last_affected is inclusive; a dev release is below its pre-releases.
  const b = py([{ introduced: '0' }, { last_affected: '1!2.0' }]);
  assert.equal(affects(b, 'PyPI', 'django', '1!2.0').affected, true);
  assert.equal(affects(b, 'PyPI', 'django', '1!2.0.post1').affected, false);
  assert.equal(affects(b, 'PyPI', 'django', '99.0').affected, true);
  const c = py([{ introduced: '2.0a1' }, { fixed: '2.0' }]);
  assert.equal(affects(c, 'PyPI', 'django', '2.0.dev5').affected, false);
  assert.equal(affects(c, 'PyPI', 'django', '2.0b3').affected, true);
  // Fixed versions come back in PEP 440 order, not string order.
  const d = adv([{ package: { ecosystem: 'PyPI', name: 'p' }, ranges: [
    { type: 'ECOSYSTEM', events: [{ introduced: '0' }, { fixed: '1.10' }] },
    { type: 'ECOSYSTEM', events: [{ introduced: '0' }, { fixed: '1.9.post1' }] },
    { type: 'ECOSYSTEM', events: [{ introduced: '0' }, { fixed: '1.9rc1' }] },
  ] }]);
  assert.deepEqual(affects(d, 'PyPI', 'p', '1.8').fixed, ['1.9rc1', '1.9.post1', '1.10']);
  // A boundary that is no PEP 440 version is skipped with a warning naming the ordering; a
  // component version that is none matches versions lists only.
  const e = py([{ introduced: '0' }, { fixed: 'not-a-version' }], { versions: ['nightly'] });
  assert.ok(compileAdvisory(e).warnings.some((x) => x.includes('fixed "not-a-version" is not a PEP 440 version; skipped')));
  assert.equal(affects(e, 'PyPI', 'django', 'nightly').affected, true);
  assert.equal(affects(e, 'PyPI', 'django', 'also not a version').affected, false);
});

test('a version that is not SemVer matches versions lists only', () => {
  const a = adv([{ package: pkg, ranges: [{ type: 'SEMVER', events: [{ introduced: '0' }] }], versions: ['1.0'] }]);
  assert.equal(affects(a, 'npm', 'p', 'latest').affected, false);
  assert.equal(affects(a, 'npm', 'p', '1.0').affected, true);
});

test('withdrawn advisories affect nothing', () => {
  const a = adv([{ package: pkg, ranges: [{ type: 'SEMVER', events: [{ introduced: '0' }] }] }], { withdrawn: '2024-02-01T00:00:00Z' });
  assert.equal(affects(a, 'npm', 'p', '1.0.0').affected, false);
});

test('affected entries without a package are ignored', () => {
  const a = adv([{ ranges: [{ type: 'SEMVER', events: [{ introduced: '0' }] }] }]);
  assert.equal(affects(a, 'npm', 'p', '1.0.0').affected, false);
});
