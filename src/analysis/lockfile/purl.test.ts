import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, readdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { throwsCode } from '../../core/testing.js';
import { formatPurl, npmPurl, parsePurl, type Purl } from './index.js';

const VECTORS = join(dirname(fileURLToPath(import.meta.url)), '../../../../vectors/purl-spec/tests');

interface Components {
  type: string | null;
  namespace: string | null;
  name: string | null;
  version: string | null;
  qualifiers: Record<string, string> | null;
  subpath: string | null;
}
interface Vector {
  description: string;
  test_group: string;
  test_type: 'parse' | 'build' | 'validate' | 'roundtrip';
  input: string | Components;
  expected_output: string | Components | null;
  expected_failure: boolean;
}

function vectorFiles(): string[] {
  return ['spec/specification-test.json', ...readdirSync(join(VECTORS, 'types')).map((f) => `types/${f}`)];
}
function load(f: string): Vector[] {
  return (JSON.parse(readFileSync(join(VECTORS, f), 'utf8')) as { tests: Vector[] }).tests;
}

function fromComponents(c: Components): Purl {
  const p: Record<string, unknown> = { type: c.type, name: c.name };
  if (c.namespace !== null) p['namespace'] = c.namespace;
  if (c.version !== null) p['version'] = c.version;
  if (c.qualifiers !== null) p['qualifiers'] = c.qualifiers;
  if (c.subpath !== null) p['subpath'] = c.subpath;
  return p as unknown as Purl;
}

function run(v: Vector): string | Purl {
  switch (v.test_type) {
    case 'parse':
      return parsePurl(v.input as string);
    case 'build':
      return formatPurl(fromComponents(v.input as Components));
    case 'validate':
    case 'roundtrip':
      return formatPurl(parsePurl(v.input as string));
  }
}

test('purl-spec vectors: every specification and type test passes (failures fail, outputs match)', () => {
  let count = 0;
  const files = vectorFiles();
  assert.ok(files.includes('types/npm-test.json'));
  for (const f of files) {
    for (const v of load(f)) {
      count++;
      const label = `${f}: ${v.test_type} ${v.description} ${JSON.stringify(v.input)}`;
      if (v.expected_failure) {
        throwsCode(() => run(v), 'INPUT_MALFORMED');
        continue;
      }
      const out = run(v);
      const want = typeof v.expected_output === 'string' ? v.expected_output : fromComponents(v.expected_output as Components);
      assert.deepEqual(out, want, label);
    }
  }
  assert.ok(count >= 150, `ran ${count} vectors`);
});

test("packageurl-js's own writer fails exactly the vectors docs/lockfiles.md lists (qualifier values), which is why ssf writes the string itself", () => {
  const req = createRequire(import.meta.url);
  const { PackageURL } = req('packageurl-js') as {
    PackageURL: { fromString(s: string): { toString(): string }; new (...a: unknown[]): { toString(): string } };
  };
  const failing: string[] = [];
  for (const f of vectorFiles()) {
    for (const v of load(f)) {
      if (v.expected_failure || v.test_type === 'parse') continue;
      let out: string;
      try {
        if (v.test_type === 'build') {
          const c = v.input as Components;
          out = new PackageURL(c.type, c.namespace, c.name, c.version, c.qualifiers, c.subpath).toString();
        } else {
          out = PackageURL.fromString(v.input as string).toString();
        }
      } catch {
        out = '(threw)';
      }
      if (out !== v.expected_output) failing.push(`${f} ${v.test_type} ${JSON.stringify(v.input)}`);
    }
  }
  // All of them are qualifier values holding ':' or '/', which packageurl-js 2.0.1 writes as %3A.
  assert.equal(failing.length, 12, failing.join('\n'));
  for (const x of failing) assert.match(x, /checksum|_url/);
});

test('npmPurl: scope encoded, case kept, odd characters escaped', () => {
  assert.equal(npmPurl('@babel/core', '7.24.0'), 'pkg:npm/%40babel/core@7.24.0');
  assert.equal(npmPurl('lodash', '4.17.21'), 'pkg:npm/lodash@4.17.21');
  // Mixed-case legacy names are distinct packages; the npm purl type is case-sensitive.
  assert.equal(npmPurl('JSONStream', '1.3.5'), 'pkg:npm/JSONStream@1.3.5');
  assert.equal(npmPurl('a', '1.0.0+build.5'), 'pkg:npm/a@1.0.0%2Bbuild.5');
  assert.equal(npmPurl('a', '1.0.0-rc.1'), 'pkg:npm/a@1.0.0-rc.1');
  assert.equal(npmPurl('x', ''), 'pkg:npm/x');
  assert.equal(npmPurl("it's(ok)!", '1 2#3?4@5/6%7'), 'pkg:npm/it%27s%28ok%29%21@1%202%233%3F4%405%2F6%257');
  assert.equal(npmPurl('ünï', 'git+ssh://git@host:x/y.git#abc'), 'pkg:npm/%C3%BCn%C3%AF@git%2Bssh:%2F%2Fgit%40host:x%2Fy.git%23abc');
  throwsCode(() => npmPurl('', '1.0.0'), 'INPUT_MALFORMED');
  throwsCode(() => npmPurl('a/b', '1.0.0'), 'INPUT_MALFORMED');
  throwsCode(() => npmPurl('@scope', '1.0.0'), 'INPUT_MALFORMED');
  throwsCode(() => npmPurl('@s/a/b', '1.0.0'), 'INPUT_MALFORMED');
});

test('npmPurl output parses back to the same name and version, for hostile strings too', () => {
  const names = ['a', '@s/a', 'A.B_c~d-e', "q'\"<>", '@sc ope/n a m e', 'emoji😀', 'pct%41', 'col:on'];
  const versions = ['1.0.0', '0.0.0-x+y', '%', '%zz', '@@@', '#/..', '?a=b&c=d', 'tab\there', '😀', ':'];
  for (const n of names) {
    for (const v of versions) {
      const s = npmPurl(n, v);
      assert.match(s, /^pkg:npm\/[A-Za-z0-9.\-_~:%/]+(@[A-Za-z0-9.\-_~:%]+)?$/, s);
      const p = parsePurl(s);
      const full = p.namespace ? `${p.namespace}/${p.name}` : p.name;
      assert.equal(full, n, s);
      assert.equal(p.version, v, s);
      assert.equal(formatPurl(p), s);
    }
  }
});

test('parsePurl: malformed input is INPUT_MALFORMED naming the problem, never a crash', () => {
  for (const bad of ['', 'pkg:', 'pkg:npm', 'pkg:npm/', 'npm/a@1', 'pkg:npm/a@1?=x', 'pkg:npm/a%zz', 'pkg:npm/a%C3', 'pkg:npm/a?k=1&k=2', 'pkg:1x/a']) {
    throwsCode(() => parsePurl(bad), 'INPUT_MALFORMED');
  }
  throwsCode(() => parsePurl(42 as unknown as string), 'INPUT_MALFORMED');
  throwsCode(() => formatPurl({ type: 'npm', name: '' }), 'INPUT_MALFORMED');
  throwsCode(() => formatPurl({ type: 'npm', name: 'a', subpath: 'x/../y' }), 'INPUT_MALFORMED');
  throwsCode(() => formatPurl({ type: 'npm', name: 'a', qualifiers: { 'bad key': 'x' } }), 'INPUT_MALFORMED');
  // A long run of '%' or '@' is linear work, not a hang.
  throwsCode(() => parsePurl(`pkg:npm/a@${'%'.repeat(200_000)}`), 'INPUT_MALFORMED');
  assert.equal(parsePurl(`pkg:npm/a@${'@'.repeat(100_000)}1`).version, '1');
  // '+' in a qualifier value is a plus, not a space (packageurl-js reads it as a space).
  assert.deepEqual(parsePurl('pkg:generic/x?vcs_url=git+https://h/r').qualifiers, { vcs_url: 'git+https://h/r' });
});
