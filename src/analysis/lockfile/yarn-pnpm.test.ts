import { test } from 'node:test';
import assert from 'node:assert/strict';
import { copyFileSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { throwsCode } from '../../core/testing.js';
import type { Sbom } from '../model.js';
import { readLockfile, sbomFromPnpmLock, sbomFromYarnLock } from './index.js';

const DATA = join(dirname(fileURLToPath(import.meta.url)), '../../../../src/analysis/lockfile/testdata/yarn-pnpm');
const read = (f: string): string => readFileSync(join(DATA, f), 'utf8');
const PKG = read('package.json');

/** The same project (see testdata/yarn-pnpm/package.json) as each tool writes it. */
const EXPECTED = [
  'pkg:npm/debug@2.6.9 required',
  'pkg:npm/fsevents@2.3.3 optional',
  'pkg:npm/is-number@7.0.0 dev',
  'pkg:npm/ms@2.0.0 required',
  'pkg:npm/ms@2.1.3 required',
];

function check(s: Sbom, withHashes: boolean): void {
  assert.deepEqual(s.warnings, []);
  assert.deepEqual(s.components.map((c) => `${c.purl} ${c.scope}`).sort(), EXPECTED);
  assert.equal(s.root.ref, 'root:pkg:npm/%40acme/app@3.0.0');
  const deps = new Map(s.dependencies.map((d) => [d.ref, [...d.dependsOn].sort()]));
  assert.deepEqual(deps.get(s.root.ref), ['pkg:npm/debug@2.6.9', 'pkg:npm/fsevents@2.3.3', 'pkg:npm/is-number@7.0.0', 'pkg:npm/ms@2.1.3']);
  assert.deepEqual(deps.get('pkg:npm/debug@2.6.9'), ['pkg:npm/ms@2.0.0']);
  const debug = s.components.find((c) => c.name === 'debug');
  if (withHashes) {
    assert.deepEqual(debug?.hashes, [
      { alg: 'SHA-512', hex: Buffer.from('bC7ElrdJaJnPbAP+1EotYvqZsb3ecl5wi6Bfi6BJTUcNowp6cvspg0jXznRTKDjm/E7AdgFBVeAPVMNcKGsHMA==', 'base64').toString('hex') },
    ]);
  } else {
    assert.deepEqual(debug?.hashes, []);
  }
}

test('yarn v1: components, scopes from package.json, edges, integrity, merged patterns', () => {
  const s = sbomFromYarnLock(read('yarn-v1.lock'), { file: 'yarn.lock', packageJson: PKG });
  check(s, true);
  assert.equal(s.source.kind, 'yarn-v1');
  const ms = s.components.find((c) => c.purl === 'pkg:npm/ms@2.1.3');
  assert.deepEqual(ms?.paths, ['ms@^2.1.1, ms@^2.1.3']);
  assert.equal(ms?.resolved, 'https://registry.yarnpkg.com/ms/-/ms-2.1.3.tgz#574c8138ce1d2b5861f0b44579dbadd60c6615b2');
});

test('yarn berry: components and graph; zip-cache checksums are not recorded as tarball hashes; patches merge', () => {
  const s = sbomFromYarnLock(read('yarn-berry.lock'), { file: 'yarn.lock', packageJson: PKG });
  check(s, false);
  assert.equal(s.source.kind, 'yarn-berry');
  assert.equal(s.source.version, '8');
  const fsevents = s.components.find((c) => c.name === 'fsevents');
  assert.equal(fsevents?.paths.length, 2, 'the npm entry and its builtin patch are one component');
  // Without package.json the root's deps come from the workspace entry and the gap is said.
  const bare = sbomFromYarnLock(read('yarn-berry.lock'));
  assert.equal(bare.warnings.length, 1);
  assert.match(bare.warnings[0] ?? '', /no dev flags and no package.json/);
  assert.equal(bare.root.name, '@acme/app');
  assert.equal(bare.dependencies.find((d) => d.ref === bare.root.ref)?.dependsOn.length, 4);
});

test('pnpm 5.4, 6.0 and 9.0: the same project gives the same SBOM', () => {
  for (const [f, v] of [
    ['pnpm-v5.yaml', '5.4'],
    ['pnpm-v6.yaml', '6.0'],
    ['pnpm-v9.yaml', '9.0'],
  ] as const) {
    const s = sbomFromPnpmLock(read(f), { file: f, packageJson: PKG });
    check(s, true);
    assert.equal(s.source.kind, 'pnpm');
    assert.equal(s.source.version, v);
  }
});

test('readLockfile picks up the sibling package.json for yarn and pnpm', () => {
  const dir = mkdtempSync(join(tmpdir(), 'ssf-yarn-'));
  try {
    copyFileSync(join(DATA, 'package.json'), join(dir, 'package.json'));
    copyFileSync(join(DATA, 'yarn-v1.lock'), join(dir, 'yarn.lock'));
    check(readLockfile(dir), true);
    copyFileSync(join(DATA, 'pnpm-v9.yaml'), join(dir, 'pnpm-lock.yaml'));
    check(readLockfile(dir), true);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('pnpm 9: peer variants are one component; aliases and missing snapshots are handled', () => {
  const text = `lockfileVersion: '9.0'

importers:

  .:
    dependencies:
      react-dom:
        specifier: ^18.0.0
        version: 18.3.1(react@18.3.1)
      react:
        specifier: ^18.0.0
        version: 18.3.1
      string-width-cjs:
        specifier: npm:string-width@^4.2.0
        version: string-width@4.2.3
      local:
        specifier: link:../local
        version: link:../local

packages:

  react-dom@18.3.1:
    resolution: {integrity: sha512-5m4nQKp+rZRb09LNH59GM4BxTh9251/ylbKIbpe7TpGxfJ+9kv6BLkLBXIjjspbgbnIBNqlI23tRnTWT0snUIw==}
    peerDependencies:
      react: ^18.3.1

  react@18.3.1:
    resolution: {integrity: sha512-wS+hAgJShR0KhEvPJArfuPVN1+Hz1t0Y6n5jLrGQbkb4urgPE/0Rve+1kMB1v/oWgHgm4WIcV+i7F2pTVj+2iQ==}

  string-width@4.2.3:
    resolution: {integrity: sha512-wKyQRQpjJ0sIp62ErSZdGsjMJWsap5oRNihHhu6G7JVO/9jIB6UyevL+tXuOqrng8j/cxKTWyWUwvSTriiZz/g==}

snapshots:

  react-dom@18.3.1(react@18.3.1):
    dependencies:
      react: 18.3.1
      scheduler: 0.23.2

  react@18.3.1: {}

  string-width@4.2.3: {}

  ghost@1.0.0: {}
`;
  const s = sbomFromPnpmLock(text, { file: 'pnpm-lock.yaml' });
  assert.deepEqual(s.components.map((c) => c.purl).sort(), ['pkg:npm/react-dom@18.3.1', 'pkg:npm/react@18.3.1', 'pkg:npm/string-width@4.2.3']);
  assert.deepEqual(s.components.find((c) => c.name === 'react-dom')?.paths, ['react-dom@18.3.1', 'react-dom@18.3.1(react@18.3.1)']);
  assert.deepEqual(s.dependencies.find((d) => d.ref === 'pkg:npm/react-dom@18.3.1')?.dependsOn, ['pkg:npm/react@18.3.1']);
  assert.equal(s.dependencies.find((d) => d.ref === s.root.ref)?.dependsOn.length, 3);
  const w = s.warnings.join('\n');
  assert.match(w, /react-dom@18\.3\.1\(react@18\.3\.1\) needs scheduler@0\.23\.2, which has no entry/);
  assert.match(w, /snapshot ghost@1\.0\.0 has no entry in packages/);
  assert.equal(s.root.name, 'root');
});

test('yarn v1: malformed text is LOCKFILE_INVALID with file:line', () => {
  const good = read('yarn-v1.lock');
  const cases: Array<[string, RegExp]> = [
    [good.replace('  version "2.6.9"', '   version "2.6.9"'), /yarn\.lock:6: indentation/],
    [good.replace('  version "2.6.9"', '  version "2.6.9'), /yarn\.lock:6: unterminated quoted string/],
    [good.replace('debug@^2.6.9:', 'debug@^2.6.9'), /yarn\.lock:5: /],
    [good.replace('  version "2.6.9"', '\tversion "2.6.9"'), /yarn\.lock:6/],
    [good + '      deep "x"\n', /indentation jumps/],
    [good.replace('  version "2.6.9"', '  version "2.6.9" extra'), /more than one value/],
  ];
  for (const [text, re] of cases) {
    throwsCode(() => sbomFromYarnLock(text, { file: 'yarn.lock' }), 'LOCKFILE_INVALID');
    assert.throws(() => sbomFromYarnLock(text, { file: 'yarn.lock' }), re);
  }
  // Without package.json: every component required, and that is said.
  const bare = sbomFromYarnLock(good);
  assert.ok(bare.components.every((c) => c.scope === 'required'));
  assert.match(bare.warnings.join('\n'), /no package\.json was given/);
  // An unresolvable dependency is a warning.
  const s = sbomFromYarnLock(good.replace('    ms "2.0.0"', '    ms "9.9.9"'), { packageJson: PKG });
  assert.match(s.warnings.join('\n'), /debug@\^2\.6\.9 needs ms@9\.9\.9/);
});

test('yarn v1 parser: a huge line or many quotes is linear work, not a hang', () => {
  const long = `"${'a\\"'.repeat(200_000)}":\n  version "1.0.0"\n`;
  const s = sbomFromYarnLock(`# yarn lockfile v1\n\n${long}`);
  assert.equal(s.components.length, 1);
  throwsCode(() => sbomFromYarnLock(`"${'\\'.repeat(300_001)}:\n`), 'LOCKFILE_INVALID');
});

test('yarn berry and pnpm: bad YAML, unknown versions, escaping importers, alias bombs', () => {
  throwsCode(() => sbomFromYarnLock('__metadata:\n  version: 8\n"a@npm:1":\n  version: [\n'), 'LOCKFILE_INVALID');
  assert.throws(() => sbomFromYarnLock('__metadata:\n  version: 8\n"a@npm:1":\n  version: [\n', { file: 'y.lock' }), /y\.lock:\d+:\d+: not valid YAML/);
  throwsCode(() => sbomFromYarnLock('__metadata:\n  cacheKey: 8\n'), 'LOCKFILE_INVALID');
  throwsCode(() => sbomFromPnpmLock("lockfileVersion: '10.0'\n"), 'LOCKFILE_INVALID');
  throwsCode(() => sbomFromPnpmLock('packages: {}\n'), 'LOCKFILE_INVALID');
  throwsCode(() => sbomFromPnpmLock('- a\n- b\n'), 'LOCKFILE_INVALID');
  throwsCode(() => sbomFromPnpmLock("lockfileVersion: '9.0'\nimporters:\n  ../../outside:\n    dependencies: {}\n"), 'PATH_ESCAPE');
  // A billion-laughs document: refused by the alias limit, not expanded.
  const lines = ["lockfileVersion: '9.0'", 'a0: &a0 [x, x, x, x, x, x, x, x, x, x]'];
  for (let i = 1; i < 12; i++) lines.push(`a${i}: &a${i} [*a${i - 1}, *a${i - 1}, *a${i - 1}, *a${i - 1}, *a${i - 1}, *a${i - 1}, *a${i - 1}, *a${i - 1}, *a${i - 1}, *a${i - 1}]`);
  throwsCode(() => sbomFromPnpmLock(`${lines.join('\n')}\n`), 'LOCKFILE_INVALID');
});
