import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { throwsCode } from '../../core/testing.js';
import type { Sbom } from '../model.js';
import { MAX_LOCKFILE_BYTES, findLockfile, readLockfile, sbomFromNpmLockfile } from './index.js';

const HERE = dirname(fileURLToPath(import.meta.url));
const REPO = join(HERE, '../../../..');
const FIXTURE = join(REPO, 'bench/fixtures/sbom-1200');
const SMALL = join(REPO, 'src/analysis/lockfile/testdata/npm-small');
const PEER = join(REPO, 'src/analysis/lockfile/testdata/npm-peer-conflict');

const npmWorks = spawnSync('npm', ['--version'], { stdio: 'ignore' }).status === 0;
const NO_NPM = npmWorks ? false : 'npm is not on PATH';

interface CdxComponent {
  'bom-ref': string;
  name: string;
  version: string;
  purl: string;
}
interface CdxBom {
  components: CdxComponent[];
  dependencies: Array<{ ref: string; dependsOn?: string[] }>;
}

function npmSbom(dir: string): CdxBom {
  const out = execFileSync('npm', ['sbom', '--package-lock-only', '--sbom-format', 'cyclonedx'], {
    cwd: dir,
    stdio: ['ignore', 'pipe', 'ignore'],
    maxBuffer: 64 << 20,
  });
  return JSON.parse(out.toString('utf8')) as CdxBom;
}

const nameVersions = (s: Sbom): Set<string> => new Set(s.components.map((c) => `${c.name}@${c.version}`));
const sorted = (x: Iterable<string>): string[] => [...x].sort();

/** Edges as name@version → sorted name@version list, root excluded. */
function ourEdges(s: Sbom): Map<string, string[]> {
  const nv = new Map(s.components.map((c) => [c.ref, `${c.name}@${c.version}`]));
  const out = new Map<string, string[]>();
  for (const d of s.dependencies) {
    const from = nv.get(d.ref);
    if (from) out.set(from, d.dependsOn.map((r) => nv.get(r) ?? `?${r}`).sort());
  }
  return out;
}

test('sbom-1200: the component set equals the committed list npm sbom produced', () => {
  const sbom = readLockfile(FIXTURE);
  const expected = readFileSync(join(FIXTURE, 'npm-sbom-components.txt'), 'utf8').trim().split('\n');
  assert.ok(expected.length > 1000, `${expected.length} expected components`);
  const ours = nameVersions(sbom);
  assert.deepEqual(sorted(ours), sorted(expected));
  assert.equal(sbom.components.length, expected.length, 'one component per name@version');
  assert.deepEqual(sbom.warnings, []);
  const lock = JSON.parse(readFileSync(join(FIXTURE, 'package-lock.json'), 'utf8')) as { packages: Record<string, unknown> };
  const entries = Object.keys(lock.packages).length - 1;
  assert.ok(entries >= 1150 && entries <= 1300, `${entries} lockfile entries`);
  // Every lockfile key is some component's path.
  assert.equal(sbom.components.reduce((n, c) => n + c.paths.length, 0), entries);
  assert.equal(sbom.source.kind, 'npm-lockfile');
  assert.equal(sbom.source.version, '3');
  assert.match(sbom.source.digest, /^sha256:[0-9a-f]{64}$/);
  assert.equal(sbom.root.ref, 'root:pkg:npm/sbom-1200-fixture@1.0.0');
  const byName = new Map(sbom.components.map((c) => [`${c.name}@${c.version}`, c]));
  const fsevents = [...byName.values()].find((c) => c.name === 'fsevents');
  assert.equal(fsevents?.scope, 'optional');
  assert.ok(sbom.components.some((c) => c.name.startsWith('@') && c.purl.startsWith('pkg:npm/%40')));
  assert.ok(sbom.components.some((c) => c.scope === 'dev') && sbom.components.some((c) => c.scope === 'required'));
  assert.ok(sbom.components.every((c) => c.hashes.some((h) => h.alg === 'SHA-512' && /^[0-9a-f]{128}$/.test(h.hex))));
});

test('sbom-1200: components, purls and every dependency edge equal what the real npm sbom reports', { skip: NO_NPM }, () => {
  const npm = npmSbom(FIXTURE);
  const sbom = sbomFromNpmLockfile(readFileSync(join(FIXTURE, 'package-lock.json'), 'utf8'));
  assert.deepEqual(sorted(nameVersions(sbom)), sorted(new Set(npm.components.map((c) => `${c.name}@${c.version}`))));
  assert.deepEqual(sorted(sbom.components.map((c) => c.purl)), sorted(new Set(npm.components.map((c) => c.purl))));
  const theirs = new Map<string, string[]>();
  const refName = new Map(npm.components.map((c) => [c['bom-ref'], `${c.name}@${c.version}`]));
  for (const d of npm.dependencies) {
    const from = refName.get(d.ref);
    if (from) theirs.set(from, (d.dependsOn ?? []).map((r) => refName.get(r) ?? r).sort());
  }
  const ours = ourEdges(sbom);
  assert.equal(ours.size, theirs.size);
  for (const [k, v] of theirs) assert.deepEqual(ours.get(k), v, `edges of ${k}`);
});

test('npm lockfile v1, v2 and v3 of the same project give the same components, scopes and edges', () => {
  const pkg = readFileSync(join(SMALL, 'package.json'), 'utf8');
  const read = (v: number): Sbom => sbomFromNpmLockfile(readFileSync(join(SMALL, `package-lock-v${v}.json`), 'utf8'), { file: `v${v}`, packageJson: pkg });
  const [s1, s2, s3] = [read(1), read(2), read(3)] as [Sbom, Sbom, Sbom];
  for (const s of [s1, s2, s3]) {
    assert.deepEqual(s.warnings, []);
    assert.equal(s.root.ref, 'root:pkg:npm/small-app@2.1.0');
    assert.equal(s.components.length, 18);
  }
  const summary = (s: Sbom): string[] => s.components.map((c) => `${c.purl} ${c.scope} ${c.paths.join(',')} ${c.hashes.map((h) => h.hex).join()}`).sort();
  assert.deepEqual(summary(s1), summary(s3));
  assert.deepEqual(summary(s2), summary(s3));
  assert.deepEqual(ourEdges(s1), ourEdges(s3));
  assert.deepEqual(ourEdges(s2), ourEdges(s3));
  const rootDeps = (s: Sbom): string[] => (s.dependencies.find((d) => d.ref === s.root.ref)?.dependsOn ?? []).slice().sort();
  assert.deepEqual(rootDeps(s1), rootDeps(s3));
  assert.deepEqual(rootDeps(s3), [
    'pkg:npm/%40babel/code-frame@7.24.2',
    'pkg:npm/chalk@2.4.2',
    'pkg:npm/debug@2.6.9',
    'pkg:npm/fsevents@2.3.3',
    'pkg:npm/ms@2.1.3',
    'pkg:npm/strip-ansi@6.0.1',
  ]);
  // Nested install: debug@2.6.9 gets its own ms@2.0.0, not the top-level ms@2.1.3.
  assert.deepEqual(ourEdges(s3).get('debug@2.6.9'), ['ms@2.0.0']);
  const ms = s3.components.find((c) => c.purl === 'pkg:npm/ms@2.0.0');
  assert.deepEqual(ms?.paths, ['node_modules/debug/node_modules/ms']);
  // The alias `strip` → strip-ansi: named after the real package, found at the alias's folder.
  const strip = s3.components.find((c) => c.name === 'strip-ansi');
  assert.deepEqual(strip?.paths, ['node_modules/strip']);
  // chalk is a devDependency but @babel/highlight needs it in production: the most required scope wins.
  assert.equal(s3.components.find((c) => c.name === 'chalk')?.scope, 'required');
  assert.equal(s3.components.find((c) => c.name === 'fsevents')?.scope, 'optional');
  // v1 records no licences; v3 does. Integrity: SRI base64 → hex.
  assert.equal(s1.components.find((c) => c.name === 'picocolors')?.license, undefined);
  assert.equal(s3.components.find((c) => c.name === 'picocolors')?.license, 'ISC');
  const lock = JSON.parse(readFileSync(join(SMALL, 'package-lock-v3.json'), 'utf8')) as { packages: Record<string, { integrity: string }> };
  const sri = lock.packages['node_modules/debug']?.integrity ?? '';
  assert.equal(s3.components.find((c) => c.name === 'debug')?.hashes[0]?.hex, Buffer.from(sri.slice('sha512-'.length), 'base64').toString('hex'));
  // Without package.json, v1's root edges are approximated and that is said.
  const bare = sbomFromNpmLockfile(readFileSync(join(SMALL, 'package-lock-v1.json'), 'utf8'));
  assert.equal(bare.warnings.length, 1);
  assert.match(bare.warnings[0] ?? '', /does not record the root's direct dependencies/);
});

test('npm lockfile v1–v3: purls equal npm sbom; npm names an alias by its folder, ssf by the real package', { skip: NO_NPM }, () => {
  for (const v of [1, 2, 3]) {
    const dir = mkdtempSync(join(tmpdir(), 'ssf-npm-small-'));
    try {
      copyFileSync(join(SMALL, 'package.json'), join(dir, 'package.json'));
      copyFileSync(join(SMALL, `package-lock-v${v}.json`), join(dir, 'package-lock.json'));
      const npm = npmSbom(dir);
      const ours = readLockfile(dir);
      assert.deepEqual(sorted(ours.components.map((c) => c.purl)), sorted(new Set(npm.components.map((c) => c.purl))), `v${v}`);
      const theirNames = new Set(npm.components.map((c) => `${c.name}@${c.version}`));
      const diff = sorted([...nameVersions(ours)].filter((x) => !theirNames.has(x)));
      assert.deepEqual(diff, ['strip-ansi@6.0.1'], `v${v}`);
      assert.ok(theirNames.has('strip@6.0.1'));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }
});

test('peer conflict: a real --legacy-peer-deps lockfile npm calls invalid gives a warning, not a failure', () => {
  const sbom = readLockfile(PEER);
  assert.deepEqual(sorted(nameVersions(sbom)), ['js-tokens@4.0.0', 'loose-envify@1.4.0', 'react-dom@18.3.1', 'scheduler@0.23.2']);
  assert.equal(sbom.warnings.length, 1);
  assert.match(sbom.warnings[0] ?? '', /node_modules\/react-dom needs react \(peerDependencies\).*invalid/);
  assert.deepEqual(ourEdges(sbom).get('react-dom@18.3.1'), ['loose-envify@1.4.0', 'scheduler@0.23.2']);
});

test('peer conflict: npm itself reports that lockfile as invalid', { skip: NO_NPM }, () => {
  const r = spawnSync('npm', ['ls', '--package-lock-only', '--all'], { cwd: PEER, encoding: 'utf8' });
  assert.notEqual(r.status, 0);
  assert.match(r.stderr + r.stdout, /missing: react@\^18\.3\.1|UNMET DEPENDENCY react/);
});

/** A hand-written v3 lockfile the way npm writes workspaces, bundles and flags. */
function workspaceLock(): Record<string, unknown> {
  return {
    name: 'mono',
    version: '0.1.0',
    lockfileVersion: 3,
    requires: true,
    packages: {
      '': { name: 'mono', version: '0.1.0', workspaces: ['packages/*'], devDependencies: { tap: '^1.0.0' } },
      'node_modules/@mono/util': { resolved: 'packages/util', link: true },
      'node_modules/tap': { version: '1.0.0', dev: true, integrity: 'sha1-qUgTi1l4UnwTm37h+jyMwGbXWjo=', license: 'ISC', dependencies: { 'b-dep': '1' } },
      'node_modules/b-dep': { version: '1.0.0', devOptional: true, license: 'MIT', optionalDependencies: { 'gone-opt': '1' } },
      'node_modules/wrapped': {
        version: '2.0.0',
        license: 'Apache-2.0',
        bundleDependencies: ['inner'],
        dependencies: { inner: '3' },
        peerDependencies: { 'maybe-peer': '*' },
        peerDependenciesMeta: { 'maybe-peer': { optional: true } },
      },
      'node_modules/wrapped/node_modules/inner': { version: '3.0.0', inBundle: true, license: 'MIT' },
      'packages/util': { name: '@mono/util', version: '0.0.1', dependencies: { wrapped: '^2.0.0', 'b-dep': '1' }, devDependencies: { tap: '1' } },
      'packages/util/node_modules/b-dep': { version: '1.0.0', optional: true, license: { type: 'MIT' } },
    },
  };
}

test('npm lockfile v3: workspaces through links, bundled packages, scopes merged, optional peers quiet', () => {
  const s = sbomFromNpmLockfile(JSON.stringify(workspaceLock()), { file: 'mono/package-lock.json' });
  assert.deepEqual(s.warnings, []);
  const c = (name: string): Sbom['components'][number] | undefined => s.components.find((x) => x.name === name);
  assert.deepEqual(c('@mono/util')?.paths, ['packages/util']);
  assert.equal(c('tap')?.scope, 'dev');
  assert.deepEqual(c('tap')?.hashes, [{ alg: 'SHA-1', hex: 'a948138b5978527c139b7ee1fa3c8cc066d75a3a' }]);
  // b-dep: devOptional at the top, optional (production) inside the workspace → optional.
  assert.equal(c('b-dep')?.scope, 'optional');
  assert.deepEqual(c('b-dep')?.paths, ['node_modules/b-dep', 'packages/util/node_modules/b-dep']);
  assert.equal(c('inner')?.bundled, true);
  assert.equal(c('wrapped')?.bundled, undefined);
  const edges = ourEdges(s);
  assert.deepEqual(edges.get('@mono/util@0.0.1'), ['b-dep@1.0.0', 'tap@1.0.0', 'wrapped@2.0.0']);
  assert.deepEqual(edges.get('wrapped@2.0.0'), ['inner@3.0.0']);
  assert.deepEqual(s.dependencies.find((d) => d.ref === s.root.ref)?.dependsOn, ['pkg:npm/tap@1.0.0']);
  // Every edge names a known ref.
  const refs = new Set([s.root.ref, ...s.components.map((x) => x.ref)]);
  for (const d of s.dependencies) for (const r of [d.ref, ...d.dependsOn]) assert.ok(refs.has(r), r);
});

test('npm lockfile: a missing target is a warning naming who needs what', () => {
  const lock = workspaceLock();
  const pk = lock['packages'] as Record<string, unknown>;
  delete pk['node_modules/wrapped/node_modules/inner'];
  const s = sbomFromNpmLockfile(JSON.stringify(lock));
  assert.equal(s.warnings.length, 1);
  assert.match(s.warnings[0] ?? '', /node_modules\/wrapped needs inner \(dependencies\)/);
});

test('npm lockfile: malformed, truncated or unsupported input is LOCKFILE_INVALID with the file and position', () => {
  const text = readFileSync(join(SMALL, 'package-lock-v3.json'), 'utf8');
  for (const bad of [text.slice(0, text.length / 2), text.replace('"version": "7.24.2",', '"version": "7.24.2",,'), '', '[]', 'null']) {
    throwsCode(() => sbomFromNpmLockfile(bad, { file: 'x/package-lock.json' }), 'LOCKFILE_INVALID');
  }
  assert.throws(() => sbomFromNpmLockfile(text.slice(0, text.indexOf(',\n  "lockfileVersion"')), { file: 'x/package-lock.json' }), /x\/package-lock\.json is not valid JSON \(truncated/);
  assert.throws(() => sbomFromNpmLockfile(text.slice(0, 100), { file: 'x/package-lock.json' }), /x\/package-lock\.json is not valid JSON \(truncated/);
  assert.throws(() => sbomFromNpmLockfile('{\n  "a": 1,\n  "b": 2,,\n}', { file: 'p.json' }), /p\.json is not valid JSON at line 3, column 10/);
  for (const v of [0, 4, '3', null, 2.5]) {
    throwsCode(() => sbomFromNpmLockfile(JSON.stringify({ lockfileVersion: v, packages: {} })), 'LOCKFILE_INVALID');
  }
  throwsCode(() => sbomFromNpmLockfile(JSON.stringify({ lockfileVersion: 3 })), 'LOCKFILE_INVALID');
});

test('npm lockfile: keys and link targets that leave the project are PATH_ESCAPE', () => {
  const withKey = (key: string, entry: unknown = { version: '1.0.0' }): string => JSON.stringify({ lockfileVersion: 3, packages: { '': {}, [key]: entry } });
  for (const key of ['node_modules/../../etc', '../outside', '/etc/passwd', 'node_modules/a/./b', 'C:/x', 'node_modules\\..\\x']) {
    throwsCode(() => sbomFromNpmLockfile(withKey(key)), 'PATH_ESCAPE');
  }
  throwsCode(() => sbomFromNpmLockfile(withKey('node_modules/a', { link: true, resolved: '../../elsewhere' })), 'PATH_ESCAPE');
  throwsCode(() => sbomFromNpmLockfile(JSON.stringify({ lockfileVersion: 1, dependencies: { '..': { version: '1.0.0' } } })), 'PATH_ESCAPE');
});

test('npm lockfile: odd names and versions give correctly escaped purls or a warning, never a crash', () => {
  const s = sbomFromNpmLockfile(
    JSON.stringify({
      lockfileVersion: 3,
      packages: {
        '': { name: 'r', dependencies: { 'we ird#?': '*' } },
        'node_modules/we ird#?': { version: '1.0.0+build/x y' },
        'node_modules/Upper': { version: '1.0.0' },
        'node_modules/no-version': {},
        'node_modules/bad': { name: 'a/b', version: '1.0.0' },
        'node_modules/not-an-object': 7,
        'node_modules/hash': { version: '1.0.0', integrity: 'sha512-AAAA md5-abc sha256-@@@' },
      },
    }),
  );
  const odd = s.components.find((c) => c.name === 'we ird#?');
  assert.equal(odd?.purl, 'pkg:npm/we%20ird%23%3F@1.0.0%2Bbuild%2Fx%20y');
  assert.equal(s.components.find((c) => c.name === 'Upper')?.purl, 'pkg:npm/Upper@1.0.0');
  assert.deepEqual(s.dependencies.find((d) => d.ref === s.root.ref)?.dependsOn, [odd?.ref]);
  assert.equal(s.components.find((c) => c.name === 'hash')?.hashes.length, 0);
  const w = s.warnings.join('\n');
  assert.match(w, /no-version: entry has no version; skipped/);
  assert.match(w, /node_modules\/bad: npm package name "a\/b"/);
  assert.match(w, /not-an-object: entry is not an object/);
  assert.match(w, /SHA-512 integrity has \d+ bytes/);
  assert.match(w, /md5-abc.*not a known SRI hash/);
  assert.match(w, /not valid base64/);
});

test('npm lockfile: hostile sizes and shapes stay bounded (deep v1 nesting, thousands of missing targets)', () => {
  // 20,000 levels of v1 nesting: walked without recursion.
  let deps: Record<string, unknown> = {};
  const top = deps;
  for (let i = 0; i < 20_000; i++) {
    const child: Record<string, unknown> = {};
    deps['p'] = { version: `1.0.${i}`, requires: { p: '*' }, dependencies: child };
    deps = child;
  }
  let text: string;
  try {
    text = JSON.stringify({ lockfileVersion: 1, dependencies: top });
  } catch {
    return; // this engine cannot even serialise it; nothing to test
  }
  let s: Sbom | undefined;
  try {
    s = sbomFromNpmLockfile(text);
  } catch (e) {
    // JSON.parse itself may refuse the depth: that must be a clean LOCKFILE_INVALID.
    throwsCode(() => {
      throw e;
    }, 'LOCKFILE_INVALID');
  }
  if (s) assert.equal(s.components.length, 20_000);
  // 5,000 missing dependencies: warnings are capped with a count of the rest.
  const many: Record<string, string> = {};
  for (let i = 0; i < 5000; i++) many[`missing-${i}`] = '1';
  const m = sbomFromNpmLockfile(JSON.stringify({ lockfileVersion: 3, packages: { '': { dependencies: many } } }));
  assert.equal(m.warnings.length, 1001);
  assert.equal(m.warnings[1000], '… and 4000 more warnings');
});

test('findLockfile / readLockfile: preference order, missing lockfile, size limit checked before reading', () => {
  const dir = mkdtempSync(join(tmpdir(), 'ssf-lockfile-'));
  try {
    throwsCode(() => findLockfile(dir), 'FILE_NOT_FOUND');
    throwsCode(() => findLockfile(join(dir, 'nope')), 'FILE_NOT_FOUND');
    throwsCode(() => readLockfile(join(dir, 'nope')), 'FILE_NOT_FOUND');
    writeFileSync(join(dir, 'yarn.lock'), '# yarn lockfile v1\n');
    assert.equal(findLockfile(dir), join(dir, 'yarn.lock'));
    writeFileSync(join(dir, 'pnpm-lock.yaml'), "lockfileVersion: '9.0'\n");
    assert.equal(findLockfile(dir), join(dir, 'pnpm-lock.yaml'));
    copyFileSync(join(PEER, 'package-lock.json'), join(dir, 'npm-shrinkwrap.json'));
    assert.equal(findLockfile(dir), join(dir, 'npm-shrinkwrap.json'));
    copyFileSync(join(SMALL, 'package-lock-v3.json'), join(dir, 'package-lock.json'));
    assert.equal(findLockfile(dir), join(dir, 'package-lock.json'));
    assert.equal(readLockfile(dir).components.length, 18);
    assert.equal(readLockfile(join(dir, 'npm-shrinkwrap.json')).components.length, 4);
    // A sparse file larger than the limit: refused from its size alone.
    const big = join(dir, 'big', 'package-lock.json');
    mkdirSync(dirname(big));
    writeFileSync(big, '');
    truncateSync(big, MAX_LOCKFILE_BYTES + 1);
    throwsCode(() => readLockfile(big), 'INPUT_TOO_LARGE');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
