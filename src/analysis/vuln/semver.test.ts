import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import { throwsCode } from '../../core/testing.js';
import { compareSemver } from './index.js';
import { parseSemver } from './semver.js';

const npmSemver = createRequire(import.meta.url)('semver') as { compare(a: string, b: string): number };

test('precedence example of semver.org section 11', () => {
  const ordered = ['1.0.0-alpha', '1.0.0-alpha.1', '1.0.0-alpha.beta', '1.0.0-beta', '1.0.0-beta.2', '1.0.0-beta.11', '1.0.0-rc.1', '1.0.0'];
  for (let i = 0; i < ordered.length; i++) {
    for (let j = 0; j < ordered.length; j++) {
      assert.equal(compareSemver(ordered[i] as string, ordered[j] as string), Math.sign(i - j), `${ordered[i]} vs ${ordered[j]}`);
    }
  }
  assert.equal(compareSemver('1.0.0', '2.0.0'), -1);
  assert.equal(compareSemver('2.0.0', '2.1.0'), -1);
  assert.equal(compareSemver('2.1.0', '2.1.1'), -1);
  assert.equal(compareSemver('1.10.0', '1.9.0'), 1, 'numeric, not lexical');
});

test('build metadata is ignored; numeric identifiers compare by value at any length', () => {
  assert.equal(compareSemver('1.0.0+build.1', '1.0.0+build.2'), 0);
  assert.equal(compareSemver('1.0.0-rc.1+a', '1.0.0-rc.1'), 0);
  assert.equal(compareSemver('1.0.0-99999999999999999999', '1.0.0-100000000000000000000'), -1);
  assert.equal(compareSemver('1.0.0-2', '1.0.0-10'), -1);
  assert.equal(compareSemver('1.0.0-1', '1.0.0-a'), -1, 'numeric below alphanumeric');
  assert.equal(compareSemver('1.0.0-a-b', '1.0.0-a'), 1);
});

test('agrees with npm semver on a grid of versions', () => {
  const cores = ['0.0.0', '0.0.1', '0.1.0', '1.0.0', '1.0.10', '1.2.3', '10.0.0'];
  const pres = ['', '-0', '-1', '-10', '-alpha', '-alpha.1', '-alpha.beta', '-beta.2', '-beta.11', '-rc.1', '-rc.1.1', '-x-y', '-0a'];
  const all = cores.flatMap((c) => pres.map((p) => c + p));
  let n = 0;
  for (const a of all) {
    for (const b of all) {
      assert.equal(compareSemver(a, b), npmSemver.compare(a, b), `${a} vs ${b}`);
      n++;
    }
  }
  assert.equal(n, all.length ** 2);
});

test('refuses what SemVer 2.0 refuses', () => {
  for (const bad of ['1.0', 'v1.0.0', '01.0.0', '1.0.0-01', '1.0.0-', '1.0.0+', ' 1.0.0', '1.0.0 ', '1.0.0-a..b', '9007199254740992.0.0', '*', '0', '']) {
    assert.equal(parseSemver(bad), undefined, bad);
  }
  throwsCode(() => compareSemver('1.0', '1.0.0'), 'INPUT_MALFORMED');
  throwsCode(() => compareSemver('1.0.0', 'latest'), 'INPUT_MALFORMED');
});
