/**
 * The evidence commands as a user meets them: `bin/ssf.js` in a child process, in a temp dir.
 * sbom (npm, yarn, pnpm, an imported CycloneDX document, bad lockfiles), vulndb import (a
 * directory, again, a zip over http), scan with plain and signed VEX, licences against a
 * policy, secrets (the secret text must appear nowhere), and --attest verified by verify-bundle.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { randomInt } from 'node:crypto';
import { closeSync, copyFileSync, mkdirSync, mkdtempSync, openSync, readFileSync, readdirSync, rmSync, writeFileSync, ftruncateSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { validateCycloneDx, validateSpdx, type VulnReport } from '../analysis/index.js';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
const BIN = join(ROOT, 'bin', 'ssf.js');
const ADVISORIES = join(ROOT, 'vectors', 'osv', 'advisories');
const YARN_PNPM = join(ROOT, 'src', 'analysis', 'lockfile', 'testdata', 'yarn-pnpm');
let tmp: string;

type Result = { code: number; out: string; err: string };
const ENV = (): NodeJS.ProcessEnv => ({ PATH: process.env.PATH, HOME: tmp, SSF_ROOT_PASSPHRASE: 'evidence cli test passphrase' });

function ssf(args: string[]): Result {
  const r = spawnSync(process.execPath, [BIN, ...args], { cwd: tmp, encoding: 'utf8', env: ENV(), stdio: ['ignore', 'pipe', 'pipe'] });
  return { code: r.status ?? -1, out: r.stdout, err: r.stderr };
}

/** For commands that talk to a server in this process: spawnSync would block its event loop. */
function ssfAsync(args: string[]): Promise<Result> {
  return new Promise((res, rej) => {
    const c = spawn(process.execPath, [BIN, ...args], { cwd: tmp, env: ENV(), stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    c.stdout.on('data', (d: Buffer) => (out += d.toString()));
    c.stderr.on('data', (d: Buffer) => (err += d.toString()));
    c.on('error', rej);
    c.on('close', (code) => res({ code: code ?? -1, out, err }));
  });
}

function ok(r: Result): Result {
  assert.equal(r.code, 0, r.err);
  return r;
}

/** A user-facing failure: exit 1 (or 2 for usage), one line `ssf: error[CODE]: …`, no stack. */
function assertFails(r: Result, code: string, exit = code === 'USAGE' ? 2 : 1): void {
  assert.equal(r.code, exit, `expected ${code} with exit ${exit}; stderr: ${r.err}`);
  assert.match(r.err, new RegExp(`^ssf: error\\[${code}\\]: \\S`), r.err);
  assert.equal(r.err.trimEnd().split('\n').length, 1, `one line expected, got: ${r.err}`);
  assert.doesNotMatch(r.err, /\n\s+at /);
}

const readJson = (f: string): Record<string, unknown> => JSON.parse(readFileSync(join(tmp, f), 'utf8')) as Record<string, unknown>;

const pkg = (name: string, version: string, sha512: string, extra: Record<string, unknown> = {}): Record<string, unknown> => ({
  version,
  resolved: `https://registry.example.invalid/${name}/-/${name.split('/').pop()}-${version}.tgz`,
  integrity: `sha512-${sha512}`,
  ...extra,
});

/** npm 9 writes lockfileVersion 3: only `packages`, keyed by install path. */
const LOCK = {
  name: 'shop',
  version: '1.2.0',
  lockfileVersion: 3,
  requires: true,
  packages: {
    '': {
      name: 'shop', version: '1.2.0', license: 'MIT',
      dependencies: { '@babel/code-frame': '^7.22.0', 'left-pad': '^1.3.0', minimist: '^1.2.5' },
      devDependencies: { json5: '^2.2.1' },
      optionalDependencies: { fsevents: '^2.3.2' },
    },
    'node_modules/@babel/code-frame': pkg('@babel/code-frame', '7.22.13', 'XktuhWlJ5g+3TJXc5upd9Ks1HutSArik6jf2eAjYFyIOf4ej3RN+184cZbzDvbPnuTJIUhPKKJE3cIsYTiAT3w==', { license: 'MIT', dependencies: { 'js-tokens': '^4.0.0' } }),
    'node_modules/js-tokens': pkg('js-tokens', '4.0.0', 'RdJUflcE3cUzKiMqQgsCu06FPu9UdIJO0beYbPhHN4k6apgJtifcoCtT9bcxOpYBtpD2kCM6Sbzg4CausW/PKQ==', { license: 'MIT' }),
    'node_modules/left-pad': pkg('left-pad', '1.3.0', 'XI5MPzVNApjAyhQzphX8BkmKsKUxD4LdyK24iZeQEDLfmu/ekxMqtaJKhyd6wGOO0G2Y+mSD/ibSvuprXfCa5g==', { license: 'WTFPL', deprecated: 'use String.prototype.padStart()' }),
    'node_modules/minimist': pkg('minimist', '1.2.5', 'FM9nNUYrRBAELZQT3xeZQ7fmMOBg6nWNmJKTcgsJeaLstP/UODVpGsr5OhXhhXg6f+qtJ8uiZ+PUxkDWcgIXLw==', { license: 'MIT' }),
    'node_modules/json5': pkg('json5', '2.2.1', '1hqLFMSrGHRHxav9q9gNjJ5EXznIxGVO09xQRrwplcS8qs28pZ8s8hupZAmqDwZUmVZ2Qb2jnyRp6p+qvj4RlA==', { dev: true, license: 'MIT', bin: { json5: 'lib/cli.js' }, engines: { node: '>=6' } }),
    'node_modules/fsevents': pkg('fsevents', '2.3.3', '5xoDfX+fL7faATnagmWPpbFtwh/R77WmMMqqHGS65C3vvB0YHrgF+B1YmZ3441tMj5n63k0212XNoJwzlhffQw==', { optional: true, os: ['darwin'], license: 'MIT', hasInstallScript: true }),
  },
};

/** A hand-written advisory for a package of the project, beside the seven real ones. */
const LEFT_PAD_ADVISORY = {
  schema_version: '1.6.0', id: 'SSF-TEST-0001', modified: '2026-01-02T00:00:00Z', published: '2026-01-01T00:00:00Z',
  aliases: ['CVE-2099-0001'], summary: 'left-pad pads past the requested width',
  severity: [{ type: 'CVSS_V3', score: 'CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:N/I:H/A:N' }],
  affected: [{ package: { ecosystem: 'npm', name: 'left-pad' }, ranges: [{ type: 'SEMVER', events: [{ introduced: '0' }, { fixed: '1.3.1' }] }] }],
};

const VEX = {
  '@context': 'https://openvex.dev/ns/v0.2.0', '@id': 'https://shop.example/vex/2026-001', author: 'Shop Security <security@shop.example>',
  timestamp: '2026-11-01T00:00:00Z', version: 1,
  statements: [
    { vulnerability: { name: 'CVE-2021-44906' }, products: [{ '@id': 'pkg:npm/minimist@1.2.5' }], status: 'not_affected', justification: 'vulnerable_code_not_in_execute_path' },
    { vulnerability: { name: 'GHSA-9c47-m6qq-7p4h' }, products: [{ '@id': 'pkg:npm/json5' }], status: 'not_affected', justification: 'vulnerable_code_cannot_be_controlled_by_adversary' },
    { vulnerability: { name: 'CVE-2099-0001' }, products: [{ '@id': 'pkg:npm/left-pad@1.3.0' }], status: 'not_affected', impact_statement: 'shop never pads user input' },
  ],
};

const FINDINGS = ['GHSA-9c47-m6qq-7p4h', 'GHSA-xvch-5gv4-984h', 'SSF-TEST-0001'];

before(() => {
  tmp = mkdtempSync(join(tmpdir(), 'ssf-evidence-cli-'));
  mkdirSync(join(tmp, 'shop'));
  writeFileSync(join(tmp, 'shop', 'package-lock.json'), JSON.stringify(LOCK, null, 2) + '\n');
  mkdirSync(join(tmp, 'adv'));
  for (const f of readdirSync(ADVISORIES).filter((n) => n.startsWith('GHSA-'))) copyFileSync(join(ADVISORIES, f), join(tmp, 'adv', f));
  writeFileSync(join(tmp, 'adv', 'SSF-TEST-0001.json'), JSON.stringify(LEFT_PAD_ADVISORY, null, 2));
  writeFileSync(join(tmp, 'vex.json'), JSON.stringify(VEX, null, 2));
  // The factory first: `ssf init` wants a new or empty directory.
  ok(ssf(['init', '--dir', 'f', '--trust-domain', 'evidence.test.internal', '--root-key-out', 'root.key.pem']));
});

after(() => rmSync(tmp, { recursive: true, force: true }));

describe('ssf sbom', () => {
  test('a package-lock v3 project: valid CycloneDX 1.6 on stdout, SPDX 2.3 with -o, a summary', () => {
    const r = ok(ssf(['sbom', 'shop']));
    const cdx = JSON.parse(r.out) as { specVersion: string; components: { name: string; group?: string; scope?: string; purl: string; licenses?: unknown[] }[] };
    assert.deepEqual(validateCycloneDx(cdx), []);
    assert.equal(cdx.specVersion, '1.6');
    const by = new Map(cdx.components.map((c) => [c.purl, c]));
    assert.equal(by.get('pkg:npm/%40babel/code-frame@7.22.13')?.group, '@babel');
    assert.equal(by.get('pkg:npm/fsevents@2.3.3')?.scope, 'optional');
    assert.equal(by.get('pkg:npm/json5@2.2.1')?.scope, 'excluded', 'dev dependencies are not shipped');
    assert.deepEqual(by.get('pkg:npm/left-pad@1.3.0')?.licenses, [{ license: { id: 'WTFPL' } }]);
    assert.equal(cdx.components.length, 6);

    ok(ssf(['sbom', 'shop', '--format', 'spdx', '-o', 'shop.spdx.json']));
    const spdx = readJson('shop.spdx.json');
    assert.deepEqual(validateSpdx(spdx), []);
    assert.equal(spdx['spdxVersion'], 'SPDX-2.3');

    const s = ok(ssf(['sbom', 'shop', '--summary']));
    assert.match(s.out, /^shop@1\.2\.0: 6 components \(4 required, 1 optional, 1 dev\), \d+ dependency edges/);
    assert.equal(s.out.trim().split('\n').length, 1, 'the summary alone');
    assert.equal(ok(ssf(['sbom', 'shop', '--summary', '-o', 'summary.cdx.json'])).out, s.out, 'with -o: the summary on stdout and the document in the file');
    assert.deepEqual(validateCycloneDx(readJson('summary.cdx.json')), []);
    assertFails(ssf(['sbom', 'shop', '--format', 'swid']), 'USAGE');
  });

  test('yarn.lock and pnpm-lock.yaml projects, and a CycloneDX document imported back', () => {
    for (const [from, to] of [['yarn-v1.lock', 'yarn.lock'], ['pnpm-v9.yaml', 'pnpm-lock.yaml']] as const) {
      const d = join(tmp, to.split('.')[0] ?? to);
      mkdirSync(d);
      copyFileSync(join(YARN_PNPM, 'package.json'), join(d, 'package.json'));
      copyFileSync(join(YARN_PNPM, from), join(d, to));
      const cdx = JSON.parse(ok(ssf(['sbom', d])).out) as { components: { purl: string }[] };
      assert.deepEqual(validateCycloneDx(cdx), [], to);
      assert.ok(cdx.components.some((c) => c.purl === 'pkg:npm/ms@2.0.0') && cdx.components.some((c) => c.purl === 'pkg:npm/ms@2.1.3'), `${to}: both versions of ms`);
      assert.match(ok(ssf(['sbom', d, '--summary'])).out, new RegExp(`from .*${to.replace('.', '\\.')}$`, 'm'));
    }
    ok(ssf(['sbom', 'shop', '-o', 'bom.json']));
    const spdx = JSON.parse(ok(ssf(['sbom', 'bom.json', '--format', 'spdx'])).out) as { packages: { name: string }[] };
    assert.deepEqual(validateSpdx(spdx), []);
    assert.ok(spdx.packages.some((p) => p.name === '@babel/code-frame'));
    assert.match(ok(ssf(['sbom', 'bom.json', '--summary'])).out, /^shop@1\.2\.0: 6 components \(4 required, 1 optional, 1 dev\)/);
  });

  test('bad lockfiles: truncated, a ../ key, 2 GB: one line, the right code, no stack', () => {
    const text = JSON.stringify(LOCK, null, 2);
    mkdirSync(join(tmp, 'truncated'));
    writeFileSync(join(tmp, 'truncated', 'package-lock.json'), text.slice(0, Math.floor(text.length / 2)));
    assertFails(ssf(['sbom', 'truncated']), 'LOCKFILE_INVALID');
    mkdirSync(join(tmp, 'escape'));
    writeFileSync(join(tmp, 'escape', 'package-lock.json'), JSON.stringify({ ...LOCK, packages: { ...LOCK.packages, 'node_modules/../../etc': { version: '1.0.0' } } }));
    assertFails(ssf(['sbom', 'escape']), 'PATH_ESCAPE');
    mkdirSync(join(tmp, 'huge'));
    const fd = openSync(join(tmp, 'huge', 'package-lock.json'), 'w');
    ftruncateSync(fd, 2 * 1024 ** 3); // sparse: no disk used
    closeSync(fd);
    assertFails(ssf(['sbom', 'huge']), 'INPUT_TOO_LARGE');
    assertFails(ssf(['scan', 'huge', '--dir', 'f']), 'INPUT_TOO_LARGE');
    rmSync(join(tmp, 'huge'), { recursive: true });
  });

  test('--attest signs the SBOM about the subject; verify-bundle accepts it; bad --attest flags print nothing', () => {
    const r = ok(ssf(['sbom', 'shop', '-o', 'signed.cdx.json', '--attest', '--subject', 'shop/package-lock.json', '--bundle', 'sbom.sigstore.json', '--dir', 'f']));
    assert.match(r.err, /signed by spiffe:\/\/evidence\.test\.internal\/evidence\/sbom/);
    const v = ok(ssf(['verify-bundle', '--bundle', 'sbom.sigstore.json', '--dir', 'f', '--certificate-identity', 'spiffe://evidence.test.internal/evidence/sbom', '--json', 'shop/package-lock.json']));
    assert.equal((JSON.parse(v.out) as { signer: { identity: string } }).signer.identity, 'spiffe://evidence.test.internal/evidence/sbom');
    const st = JSON.parse(Buffer.from((readJson('sbom.sigstore.json')['dsseEnvelope'] as { payload: string }).payload, 'base64').toString()) as { predicateType: string; predicate: unknown };
    assert.equal(st.predicateType, 'https://cyclonedx.org/bom/v1.6');
    assert.deepEqual(validateCycloneDx(st.predicate), []);
    writeFileSync(join(tmp, 'other.bin'), 'not the lockfile\n');
    assertFails(ssf(['verify-bundle', '--bundle', 'sbom.sigstore.json', '--dir', 'f', 'other.bin']), 'SUBJECT_MISMATCH');
    // A flag mistake is found before the document is written anywhere.
    for (const [args, code] of [[['--subject', 'shop/package-lock.json'], 'USAGE'], [['--bundle', 'x.json'], 'USAGE'],
      [['--subject', 'shop/package-lock.json', '--bundle', 'x.json', '--dir', 'nofactory'], 'FACTORY_MISSING']] as const) {
      const bad = ssf(['sbom', 'shop', '--attest', ...args]);
      assertFails(bad, code);
      assert.equal(bad.out, '', 'nothing on stdout from a failed --attest');
    }
  });
});

describe('ssf vulndb and ssf scan', () => {
  test('scan before any import is VULNDB_MISSING; import, info, re-import is incremental', () => {
    assertFails(ssf(['scan', 'shop', '--dir', 'f']), 'VULNDB_MISSING');
    assertFails(ssf(['vulndb', 'info', '--dir', 'f']), 'VULNDB_MISSING');
    const first = ok(ssf(['vulndb', 'import', 'adv', '--dir', 'f', '--json']));
    const s = JSON.parse(first.out) as { added: number; unchanged: number; info: { digest: string; advisories: number; date: string } };
    assert.equal(s.added, 8);
    assert.equal(s.info.advisories, 8);
    assert.equal(s.info.date, '2026-01-02T00:00:00Z', 'the newest modified time: the hand-written advisory');
    const info = JSON.parse(ok(ssf(['vulndb', 'info', '--dir', 'f', '--json'])).out) as { digest: string };
    assert.equal(info.digest, s.info.digest);
    assert.match(ok(ssf(['vulndb', 'info', '--dir', 'f'])).out, /^sha256:[0-9a-f]{64}  8 advisories, newest 2026-01-02T00:00:00Z/);
    const again = ok(ssf(['vulndb', 'import', 'adv', '--dir', 'f']));
    assert.match(again.out, /0 added, 0 updated, 8 unchanged/);
    assert.ok(again.out.includes(s.info.digest), 'same database digest');
  });

  test('vulndb import of an OSV zip over http from a local server', async () => {
    const files = readdirSync(join(tmp, 'adv'));
    const z = spawnSync('/usr/bin/zip', ['-q', '-X', join(tmp, 'all.zip'), ...files], { cwd: join(tmp, 'adv') });
    assert.equal(z.status, 0, String(z.stderr));
    const zip = readFileSync(join(tmp, 'all.zip'));
    const server = createServer((req, res) => {
      if (req.url === '/npm/all.zip') res.writeHead(200, { 'content-type': 'application/zip', 'content-length': zip.length }).end(zip);
      else res.writeHead(404).end();
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    try {
      const r = await ssfAsync(['vulndb', 'import', `${base}/npm/all.zip`, '--db', 'http.db', '--json']);
      assert.equal(r.code, 0, r.err);
      const s = JSON.parse(r.out) as { added: number; info: { digest: string; source: string } };
      assert.equal(s.added, 8);
      assert.equal(s.info.digest, (JSON.parse(ssf(['vulndb', 'info', '--dir', 'f', '--json']).out) as { digest: string }).digest, 'same advisories, same digest');
      assertFails(await ssfAsync(['vulndb', 'import', `${base}/npm/missing.zip`, '--db', 'http.db']), 'FETCH_FAILED');
    } finally {
      server.close();
    }
  });

  test('scan finds the advisories; --json, --fail-on, --sarif, --predicate', () => {
    const table = ok(ssf(['scan', 'shop', '--dir', 'f']));
    assert.match(table.out, /^critical\s+9\.8\s+GHSA-xvch-5gv4-984h\s+minimist@1\.2\.5\s+1\.2\.6/m);
    assert.match(table.out, /^high\s+7\.5\s+SSF-TEST-0001\s+left-pad@1\.3\.0\s+1\.3\.1/m);
    assert.match(table.out, /^3 findings in 6 components \(0 suppressed by VEX\)/m);

    const report = JSON.parse(ok(ssf(['scan', 'shop', '--dir', 'f', '--json'])).out) as VulnReport;
    assert.deepEqual(report.findings.map((f) => f.id).sort(), FINDINGS);
    assert.match(report.db.digest, /^sha256:[0-9a-f]{64}$/);
    assert.match(report.sbom, /^sha256:[0-9a-f]{64}$/);
    const minimist = report.findings.find((f) => f.id === 'GHSA-xvch-5gv4-984h');
    assert.deepEqual([minimist?.severity, minimist?.aliases, minimist?.fixed], ['critical', ['CVE-2021-44906'], ['1.2.6']]);

    const gated = ssf(['scan', 'shop', '--dir', 'f', '--fail-on', 'high', '--sarif', 'scan.sarif', '--predicate', 'vulns.json']);
    assertFails(gated, 'FINDINGS_FAILED');
    assert.match(gated.err, /3 findings at or above high/);
    const sarif = readJson('scan.sarif') as { version: string; runs: { results: { ruleId: string }[] }[] };
    assert.equal(sarif.version, '2.1.0');
    assert.deepEqual([...new Set(sarif.runs[0]?.results.map((x) => x.ruleId))].sort(), FINDINGS);
    const pred = readJson('vulns.json') as { scanner: { db: { version: string }; result: { id: string }[] } };
    assert.equal(pred.scanner.db.version, report.db.digest);
    assert.deepEqual(pred.scanner.result.map((x) => x.id).sort(), FINDINGS);
    assertFails(ssf(['scan', 'shop', '--dir', 'f', '--fail-on', 'severe']), 'USAGE');
    ok(ssf(['scan', 'shop', '--dir', 'f', '--fail-on', 'critical', '--vex', 'vex.json', '--allow-unsigned-vex']));
  });

  test('VEX: plain documents need --allow-unsigned-vex; a signed bundle suppresses with its signer; tampering is caught', () => {
    assertFails(ssf(['scan', 'shop', '--dir', 'f', '--vex', 'vex.json', '--fail-on', 'high']), 'VEX_INVALID');
    const plain = JSON.parse(ok(ssf(['scan', 'shop', '--dir', 'f', '--vex', 'vex.json', '--allow-unsigned-vex', '--fail-on', 'high', '--json'])).out) as VulnReport;
    assert.deepEqual(plain.findings.map((f) => [f.id, f.vex?.status, f.vex?.signer]).sort(), FINDINGS.map((id) => [id, 'not_affected', undefined]));

    assertFails(ssf(['vex', 'sign', 'vex.json', '--expires', '2020-01-01', '--bundle', 'old.json', '--dir', 'f']), 'USAGE');
    assertFails(ssf(['vex', 'sign', 'vex.json', '--bundle', 'v.sigstore.json', '--dir', 'f']), 'USAGE');
    const signed = ok(ssf(['vex', 'sign', 'vex.json', '--expires', '30d', '--bundle', 'v.sigstore.json', '--dir', 'f']));
    assert.match(signed.out, /^signed 3 VEX statements by Shop Security .* as spiffe:\/\/evidence\.test\.internal\/evidence\/vex/);
    const r = JSON.parse(ok(ssf(['scan', 'shop', '--dir', 'f', '--vex', 'v.sigstore.json', '--fail-on', 'high', '--json'])).out) as VulnReport;
    for (const f of r.findings) {
      assert.equal(f.vex?.status, 'not_affected', f.id);
      assert.equal(f.vex?.signer, 'spiffe://evidence.test.internal/evidence/vex');
      assert.equal(f.vex?.document, VEX['@id']);
      assert.ok(Date.parse(f.vex?.expires ?? '') > Date.now() + 29 * 86400_000, 'expires in 30 days');
    }
    assert.match(ok(ssf(['scan', 'shop', '--dir', 'f', '--vex', 'v.sigstore.json'])).out, /3 findings in 6 components \(3 suppressed by VEX\)/);

    // A statement's own later expiry would override the document's: --expires caps it.
    writeFileSync(join(tmp, 'vex-2099.json'), JSON.stringify({ ...VEX, statements: VEX.statements.map((s) => ({ ...s, expires: '2099-01-01T00:00:00Z' })) }));
    assert.match(ok(ssf(['vex', 'sign', 'vex-2099.json', '--expires', '2d', '--bundle', 'v2099.sigstore.json', '--dir', 'f'])).err, /3 statements had a later "expires"/);
    const capped = JSON.parse(ok(ssf(['scan', 'shop', '--dir', 'f', '--vex', 'v2099.sigstore.json', '--json'])).out) as VulnReport;
    for (const f of capped.findings) assert.ok(Date.parse(f.vex?.expires ?? '') < Date.now() + 3 * 86400_000, `${f.id}: ${f.vex?.expires}`);

    // Turn one statement into "affected" in the signed payload: the signature no longer holds.
    const bundle = readJson('v.sigstore.json') as { dsseEnvelope: { payload: string } };
    const st = JSON.parse(Buffer.from(bundle.dsseEnvelope.payload, 'base64').toString()) as { predicate: typeof VEX };
    st.predicate.statements[0] = { ...st.predicate.statements[0]!, status: 'fixed' };
    bundle.dsseEnvelope.payload = Buffer.from(JSON.stringify(st)).toString('base64');
    writeFileSync(join(tmp, 'tampered.sigstore.json'), JSON.stringify(bundle));
    assertFails(ssf(['scan', 'shop', '--dir', 'f', '--vex', 'tampered.sigstore.json']), 'VEX_INVALID');
    writeFileSync(join(tmp, 'notjson.json'), '{"@context": ');
    assertFails(ssf(['scan', 'shop', '--dir', 'f', '--vex', 'notjson.json', '--allow-unsigned-vex']), 'VEX_INVALID');
    writeFileSync(join(tmp, 'null.json'), 'null\n');
    assertFails(ssf(['scan', 'shop', '--dir', 'f', '--vex', 'null.json']), 'VEX_INVALID');
  });
});

describe('ssf licenses', () => {
  test('a denied licence fails; --fail-on none reports; --json; an unknown SPDX id in the policy', () => {
    writeFileSync(join(tmp, 'policy.yaml'), '# shop licence policy\nallow: [MIT, Apache-2.0, ISC]\ndeny: [WTFPL, GPL-3.0-only]\n');
    const r = ssf(['licenses', 'shop', '--policy', 'policy.yaml']);
    assertFails(r, 'FINDINGS_FAILED');
    assert.match(r.err, /left-pad@1\.3\.0 \(WTFPL\)/);
    assert.match(r.out, /^denied\s+left-pad@1\.3\.0\s+WTFPL\s+WTFPL/m);
    assert.match(r.out, /^6 components: 5 allowed, 1 denied, 0 unlisted, 0 unknown$/m);
    ok(ssf(['licenses', 'shop', '--policy', 'policy.yaml', '--fail-on', 'none']));
    const j = JSON.parse(ok(ssf(['licenses', 'shop', '--policy', 'policy.yaml', '--fail-on', 'none', '--json'])).out) as { findings: { component: { name: string }; status: string; expression?: string }[] };
    assert.deepEqual(j.findings.filter((f) => f.status !== 'allowed').map((f) => [f.component.name, f.status, f.expression]), [['left-pad', 'denied', 'WTFPL']]);
    writeFileSync(join(tmp, 'bad-policy.yaml'), 'allow: [MIT, MIT-Licence-Ish]\n');
    assertFails(ssf(['licenses', 'shop', '--policy', 'bad-policy.yaml']), 'LICENSE_POLICY_INVALID');
    assertFails(ssf(['licenses', 'shop', '--fail-on', 'never']), 'USAGE');
  });
});

describe('ssf secrets', () => {
  const token = (alphabet: string, n: number): string => Array.from({ length: n }, () => alphabet[randomInt(alphabet.length)]).join('');
  const AWS = `AKIA${token('ABCDEFGHIJKLMNOPQRSTUVWXYZ234567', 16)}`;
  const GH = `ghp_${token('ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789', 36)}`;

  test('an AWS key and a GitHub token: file:line:column, exit 1, and the secrets appear nowhere', () => {
    const d = join(tmp, 'leaky');
    mkdirSync(join(d, 'src'), { recursive: true });
    writeFileSync(join(d, 'src', 'config.js'), `// deploy settings\nexport const region = 'eu-west-1';\nexport const accessKeyId = '${AWS}';\n`);
    writeFileSync(join(d, 'pipeline.yaml'), `steps:\n  - name: release\n    run: curl -H "Authorization: token ${GH}" https://forge.example.invalid/api\n`);
    mkdirSync(join(d, 'node_modules', 'dep'), { recursive: true });
    writeFileSync(join(d, 'node_modules', 'dep', 'index.js'), `const k = '${AWS}';\n`);

    const r = ssf(['secrets', 'leaky', '--sarif', 'secrets.sarif']);
    assertFails(r, 'FINDINGS_FAILED');
    assert.match(r.out, /^src\/config\.js:3:29: an AWS access key id \(aws-access-key-id, sha256:[0-9a-f]{16}\)$/m);
    assert.match(r.out, /^pipeline\.yaml:3:40: a GitHub token \(github-token, sha256:[0-9a-f]{16}\)$/m);
    assert.match(r.out, /^2 findings in 2 files$/m, 'node_modules is skipped');
    const j = ssf(['secrets', 'leaky', '--json']);
    assert.equal(j.code, 1);
    const report = JSON.parse(j.out) as { findings: { file: string; rule: string; fingerprint: string }[] };
    assert.deepEqual(report.findings.map((f) => [f.file, f.rule]).sort(), [['pipeline.yaml', 'github-token'], ['src/config.js', 'aws-access-key-id']]);
    const single = ssf(['secrets', 'leaky/pipeline.yaml']);
    assertFails(single, 'FINDINGS_FAILED');
    assert.match(single.out, /^pipeline\.yaml:3:40: a GitHub token/m);
    assert.match(single.out, /^1 finding in 1 file$/m);
    const sarif = readFileSync(join(tmp, 'secrets.sarif'), 'utf8');
    assert.equal((JSON.parse(sarif) as { runs: { results: unknown[] }[] }).runs[0]?.results.length, 2);
    for (const [what, text] of [['stdout', r.out], ['stderr', r.err], ['--json', j.out + j.err], ['single-file', single.out + single.err], ['--sarif', sarif]]) {
      for (const secret of [AWS, GH, AWS.slice(4), GH.slice(4)]) assert.ok(!text?.includes(secret), `${what} must not contain the secret`);
    }

    // Allowlisted by fingerprint: the AWS key everywhere; then only the token remains.
    const aws = report.findings.find((f) => f.rule === 'aws-access-key-id')?.fingerprint ?? '';
    writeFileSync(join(tmp, 'allow.txt'), `${aws}   # why: the key in config.js was revoked on 2026-11-01\n`);
    const allowed = ssf(['secrets', 'leaky', '--allowlist', 'allow.txt']);
    assertFails(allowed, 'FINDINGS_FAILED');
    assert.match(allowed.out, /^1 finding in 2 files \(1 allowlisted\)$/m);
    assert.doesNotMatch(allowed.out, /config\.js/);
    // The project's own .ssf-secrets-allow is read by default; rule entries apply to a single file too.
    writeFileSync(join(d, '.ssf-secrets-allow'), `${aws}\nrule: github-token path: pipeline.yaml\n`);
    assert.match(ok(ssf(['secrets', 'leaky'])).out, /^0 findings in 3 files \(2 allowlisted\)$/m);
    writeFileSync(join(tmp, 'allow-rule.txt'), 'rule: github-token\n');
    assert.match(ok(ssf(['secrets', 'leaky/pipeline.yaml', '--allowlist', 'allow-rule.txt'])).out, /^0 findings in 1 file \(1 allowlisted\)$/m);
    writeFileSync(join(tmp, 'allow-bad.txt'), 'ghp_*\n');
    assertFails(ssf(['secrets', 'leaky', '--allowlist', 'allow-bad.txt']), 'INPUT_MALFORMED');
    ok(ssf(['secrets', 'leaky', '--fail-on', 'none']));
  });

  test('a clean tree passes; a missing path is FILE_NOT_FOUND', () => {
    mkdirSync(join(tmp, 'clean', 'src'), { recursive: true });
    writeFileSync(join(tmp, 'clean', 'src', 'index.js'), "export const greeting = 'hello';\nconst password = process.env.DB_PASSWORD;\n");
    assert.match(ok(ssf(['secrets', 'clean'])).out, /^0 findings in 1 file$/m);
    assertFails(ssf(['secrets', 'no-such-dir']), 'FILE_NOT_FOUND');
  });
});
