import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { isSsfError } from '../core/index.js';
import { throwsCode } from '../core/testing.js';
import { isPackageName, parseNpmLockfile, tarballPath } from './lockfile.js';

const REG = 'https://registry.example.test/';
const policy = { registry: REG, allowedRegistries: [] as string[] };
const I512 = `sha512-${createHash('sha512').update('a').digest('base64')}`;
const I512b = `sha512-${createHash('sha512').update('b').digest('base64')}`;
const I1 = `sha1-${createHash('sha1').update('a').digest('base64')}`;

function lock(packages: Record<string, unknown>, lockfileVersion: unknown = 3): string {
  return JSON.stringify({ name: 'p', version: '1.0.0', lockfileVersion, requires: true, packages: { '': { name: 'p', version: '1.0.0' }, ...packages } });
}

test('a v3 lockfile: scoped, nested, dev, optional, alias; links, workspace folders and bundled entries are not downloads', () => {
  const r = parseNpmLockfile(
    lock({
      'node_modules/a': { version: '1.2.3', integrity: I512, license: 'MIT' },
      'node_modules/@s/b': { version: '2.0.0-rc.1', integrity: `${I512b} ${I1}`, dev: true },
      'node_modules/a/node_modules/c': { version: '0.0.1', integrity: I512, optional: true, license: { type: 'odd' } },
      'node_modules/c-cjs': { name: 'c', version: '4.2.3', integrity: I512 },
      'node_modules/ws': { resolved: 'packages/ws', link: true },
      'packages/ws': { name: 'ws', version: '1.0.0' },
      'packages/ws/node_modules/d': { version: '1.0.0', integrity: I512, resolved: 'https://registry.example.test/d/-/d-1.0.0.tgz' },
      'node_modules/a/node_modules/bundled': { version: '1.0.0', inBundle: true },
    }),
    'package-lock.json',
    policy,
  );
  assert.equal(r.lockfileVersion, 3);
  assert.equal(r.name, 'p');
  assert.deepEqual(
    r.packages.map((p) => [p.path, p.name, p.version, p.resolved, p.dev, p.optional, p.license]),
    [
      ['node_modules/a', 'a', '1.2.3', 'https://registry.example.test/a/-/a-1.2.3.tgz', false, false, 'MIT'],
      ['node_modules/@s/b', '@s/b', '2.0.0-rc.1', 'https://registry.example.test/@s/b/-/b-2.0.0-rc.1.tgz', true, false, undefined],
      ['node_modules/a/node_modules/c', 'c', '0.0.1', 'https://registry.example.test/c/-/c-0.0.1.tgz', false, true, undefined],
      ['node_modules/c-cjs', 'c', '4.2.3', 'https://registry.example.test/c/-/c-4.2.3.tgz', false, false, undefined],
      ['packages/ws/node_modules/d', 'd', '1.0.0', 'https://registry.example.test/d/-/d-1.0.0.tgz', false, false, undefined],
    ],
  );
  assert.equal(r.packages[1]?.integrity, `${I512b} ${I1}`);
});

test('lockfile versions: 1 is refused with a hint, 2 is accepted, others refused', () => {
  assert.throws(
    () => parseNpmLockfile(JSON.stringify({ lockfileVersion: 1, dependencies: {} }), 'old.json', policy),
    (e: unknown) => isSsfError(e, 'LOCKFILE_INVALID') && /lockfile-version 3/.test(e.message) && /old\.json/.test(e.message),
  );
  assert.equal(parseNpmLockfile(lock({}, 2), 'f', policy).lockfileVersion, 2);
  throwsCode(() => parseNpmLockfile(lock({}, 4), 'f', policy), 'LOCKFILE_INVALID');
  throwsCode(() => parseNpmLockfile(lock({}, '3'), 'f', policy), 'LOCKFILE_INVALID');
  throwsCode(() => parseNpmLockfile('{"lockfileVersion":3', 'f', policy), 'LOCKFILE_INVALID');
  throwsCode(() => parseNpmLockfile('[]', 'f', policy), 'LOCKFILE_INVALID');
  throwsCode(() => parseNpmLockfile('{"lockfileVersion":3}', 'f', policy), 'LOCKFILE_INVALID');
  throwsCode(() => parseNpmLockfile(lock({ 'node_modules/a': 'x' }), 'f', policy), 'LOCKFILE_INVALID');
});

test('unpinned: no integrity, sha1 only, no version, a range instead of a version', () => {
  for (const entry of [{ version: '1.0.0' }, { version: '1.0.0', integrity: I1 }, { integrity: I512 }, { version: '^1.0.0', integrity: I512 }, { version: 'latest', integrity: I512 }]) {
    throwsCode(() => parseNpmLockfile(lock({ 'node_modules/a': entry }), 'f', policy), 'DEPENDENCY_UNPINNED');
  }
  assert.throws(
    () => parseNpmLockfile(lock({ 'node_modules/left-pad': { version: '1.0.0', integrity: I1 } }), 'f', policy),
    (e: unknown) => isSsfError(e) && e.message.includes('packages["node_modules/left-pad"]') && e.message.includes('sha1'),
  );
});

test('malformed integrity is LOCKFILE_INVALID, not a silently weaker pin', () => {
  for (const integrity of ['sha512-!!!', 'sha512-AAAA', 'md5-abc', `${I512}x`]) {
    throwsCode(() => parseNpmLockfile(lock({ 'node_modules/a': { version: '1.0.0', integrity } }), 'f', policy), 'LOCKFILE_INVALID');
  }
});

test('resolved must be the https tarball of this name and version under an allowed registry', () => {
  const bad = [
    'git+ssh://git@github.com/x/a.git#0123456789abcdef0123456789abcdef01234567',
    'github:x/a',
    'file:a-1.0.0.tgz',
    'http://registry.example.test/a/-/a-1.0.0.tgz',
    'https://evil.example/a/-/a-1.0.0.tgz',
    'https://registry.example.test/evil/-/evil-1.0.0.tgz',
    'https://registry.example.test/a/-/a-1.0.1.tgz',
    'https://user:pw@registry.example.test/a/-/a-1.0.0.tgz',
    'https://registry.example.test/a/-/a-1.0.0.tgz?x=1',
    'https://registry.example.test.evil.example/a/-/a-1.0.0.tgz',
    'not a url',
  ];
  for (const resolved of bad) {
    assert.throws(
      () => parseNpmLockfile(lock({ 'node_modules/a': { version: '1.0.0', integrity: I512, resolved } }), 'f', policy),
      (e: unknown) => isSsfError(e, 'DEPENDENCY_REGISTRY') && e.message.includes('node_modules/a'),
      resolved,
    );
  }
  // a second allowed registry, and http on loopback
  const two = { registry: REG, allowedRegistries: [REG, 'http://127.0.0.1:4873/npm'] };
  const r = parseNpmLockfile(lock({ 'node_modules/a': { version: '1.0.0', integrity: I512, resolved: 'http://127.0.0.1:4873/npm/a/-/a-1.0.0.tgz' } }), 'f', two);
  assert.equal(r.packages[0]?.resolved, 'http://127.0.0.1:4873/npm/a/-/a-1.0.0.tgz');
  // computed resolved from a registry that is not allowed
  throwsCode(() => parseNpmLockfile(lock({ 'node_modules/a': { version: '1.0.0', integrity: I512 } }), 'f', { registry: REG, allowedRegistries: ['https://other.example'] }), 'DEPENDENCY_REGISTRY');
  // the registry itself must be https (or loopback http)
  throwsCode(() => parseNpmLockfile(lock({}), 'f', { registry: 'http://registry.example.test', allowedRegistries: [] }), 'DEPENDENCY_REGISTRY');
});

test('hostile keys and links: "..", absolute paths, links out of the project, bad names', () => {
  for (const key of ['../x/node_modules/a', 'node_modules/../../a', '/etc/node_modules/a', 'C:/x/node_modules/a', 'node_modules\\a']) {
    throwsCode(() => parseNpmLockfile(lock({ [key]: { version: '1.0.0', integrity: I512 } }), 'f', policy), 'PATH_ESCAPE');
  }
  for (const key of ['node_modules/', 'node_modules//a', 'node_modules/a/b', 'node_modules/.bin', 'node_modules/@s', 'node_modules/a%2fb', 'node_modules/__proto__x/./y']) {
    throwsCode(() => parseNpmLockfile(lock({ [key]: { version: '1.0.0', integrity: I512 } }), 'f', policy), 'LOCKFILE_INVALID');
  }
  for (const resolved of ['../outside', '/abs/dir', 'packages/../../x', 'file:../x']) {
    throwsCode(() => parseNpmLockfile(lock({ 'node_modules/w': { resolved, link: true } }), 'f', policy), 'PATH_ESCAPE');
  }
  throwsCode(() => parseNpmLockfile(lock({ 'node_modules/w': { link: true } }), 'f', policy), 'LOCKFILE_INVALID');
  throwsCode(() => parseNpmLockfile(lock({ 'node_modules/a': { name: '../evil', version: '1.0.0', integrity: I512 } }), 'f', policy), 'LOCKFILE_INVALID');
});

test('a lockfile larger than 64 MiB is refused before parsing', () => {
  throwsCode(() => parseNpmLockfile(' '.repeat(64 * 1024 * 1024 + 1), 'big.json', policy), 'INPUT_TOO_LARGE');
});

test('package names and tarball paths', () => {
  for (const n of ['a', 'A-legacy', '@s/b', 'b.c', 'x~y']) assert.ok(isPackageName(n), n);
  for (const n of ['', '.a', '_a', '@s', '@s/b/c', 'a/b', 'a b', 'node_modules', 'a%2f', 'x'.repeat(215)]) assert.ok(!isPackageName(n), n);
  assert.equal(tarballPath('@s/b', '1.0.0'), '@s/b/-/b-1.0.0.tgz');
});

test('the project lockfile parses (a real npm 11 v3 lockfile without resolved URLs)', () => {
  const text = readFileSync(new URL('../../../package-lock.json', import.meta.url), 'utf8');
  const r = parseNpmLockfile(text, 'package-lock.json', policy);
  assert.ok(r.packages.length > 50);
  assert.ok(r.packages.every((p) => p.resolved.startsWith('https://registry.example.test/') && p.integrity.startsWith('sha512-')));
});
