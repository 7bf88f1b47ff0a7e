import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync, readFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ERROR_CODES } from '../core/index.js';
import { COMMAND_INDEX, loadCommands } from './index.js';

// The CLI is tested as users run it: the real launcher in a child process.
const root = resolve(dirname(fileURLToPath(import.meta.url)), '../../..');
const bin = join(root, 'bin', 'ssf.js');
let work: string;
const PASS = 'correct horse battery staple';

function ssf(args: string[], env: Record<string, string> = {}): { code: number; out: string; err: string } {
  const r = spawnSync(process.execPath, [bin, ...args], {
    cwd: work,
    // No NODE_EXTRA_CA_CERTS: the demo's package fetch must trust what npm's own cafile trusts.
    env: { PATH: process.env.PATH ?? '', HOME: work, SSF_ROOT_PASSPHRASE: PASS, ...env },
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  return { code: r.status ?? -1, out: r.stdout, err: r.stderr };
}

/** A user-facing failure: the given code, one line, no stack trace, non-zero exit. */
function assertFails(r: { code: number; err: string }, code: string): void {
  assert.notEqual(r.code, 0, `expected failure ${code}, got exit 0`);
  assert.match(r.err, new RegExp(`^ssf: error\\[${code}\\]: `), r.err);
  assert.equal(r.err.trim().split('\n').length, 1, `one line expected, got: ${r.err}`);
  assert.doesNotMatch(r.err, /\n\s+at /);
}

before(() => {
  work = mkdtempSync(join(tmpdir(), 'ssf-cli-'));
  writeFileSync(join(work, 'artifact.bin'), 'release 1.0\n');
  writeFileSync(join(work, 'predicate.json'), JSON.stringify({
    buildDefinition: { buildType: 'https://ssf.invalid/buildtypes/test/v1', externalParameters: { ref: 'main' } },
    runDetails: { builder: { id: 'spiffe://test.ssf.internal/factory' } },
  }));
});
after(() => rmSync(work, { recursive: true, force: true }));

test('ssf --help lists every command, and every command has --help', async () => {
  const r = ssf(['--help']);
  assert.equal(r.code, 0);
  const commands = await loadCommands();
  assert.deepEqual(commands.map((c) => [c.name, c.summary]), COMMAND_INDEX.map((c) => [c.name, c.summary]), 'the index names and summarises each command as the command itself does');
  for (const c of commands) {
    assert.match(r.out, new RegExp(`\\b${c.name}\\b`));
    const h = ssf([...c.name.split(' '), '--help']);
    assert.equal(h.code, 0, `${c.name} --help`);
    assert.ok(h.out.startsWith(`Usage: ssf ${c.name}`), `${c.name} --help starts with its usage`);
  }
});

test('unknown command and unknown flag are usage errors (exit 2)', () => {
  const a = ssf(['frobnicate']);
  assert.equal(a.code, 2);
  assertFails(a, 'USAGE');
  const b = ssf(['init', '--no-such-flag']);
  assert.equal(b.code, 2);
  assertFails(b, 'USAGE');
});

test('init refuses without a passphrase when there is no terminal', () => {
  assertFails(ssf(['init', '--dir', 'nopass'], { SSF_ROOT_PASSPHRASE: '' }), 'PASSPHRASE_REQUIRED');
  assert.equal(existsSync(join(work, 'nopass')), false);
});

test('init never moves aside something that is not a factory', () => {
  writeFileSync(join(work, 'notes.txt'), 'keep me\n');
  assertFails(ssf(['init', '--dir', 'notes.txt']), 'USAGE');
  assert.equal(readFileSync(join(work, 'notes.txt'), 'utf8'), 'keep me\n');
  mkdirSync(join(work, 'project', 'src'), { recursive: true });
  assertFails(ssf(['init', '--dir', 'project']), 'USAGE');
  assert.ok(existsSync(join(work, 'project', 'src')));
  mkdirSync(join(work, 'empty'));
  assert.equal(ssf(['init', '--dir', 'empty']).code, 0);
});

test('attest checks its output and predicate type before signing anything', () => {
  assert.equal(ssf(['init', '--dir', 'pre']).code, 0);
  mkdirSync(join(work, 'outdir'));
  const args = ['attest', '--dir', 'pre', '--predicate', 'predicate.json', '--subject', 'artifact.bin'];
  assertFails(ssf([...args, '--predicate-type', 'slsa-provenance', '--bundle', 'outdir']), 'USAGE');
  assertFails(ssf([...args, '--predicate-type', 'slsa-provnance', '--bundle', 'x.json']), 'USAGE');
  assert.equal(JSON.parse(ssf(['log', '--dir', 'pre', '--json']).out).size, 0, 'nothing was logged');
});

test('commands on a missing factory say so', () => {
  assertFails(ssf(['log', '--dir', 'missing']), 'FACTORY_MISSING');
});

test('init, attest, verify-bundle, tamper, revoke, rotate: the trust core end to end', () => {
  const init = ssf(['init', '--trust-domain', 'test.ssf.internal']);
  assert.equal(init.code, 0, init.err);
  assert.ok(existsSync(join(work, '.ssf', 'trusted_root.json')));
  assert.match(readFileSync(join(work, '.ssf', 'ca', 'root.key.pem'), 'utf8'), /ENCRYPTED PRIVATE KEY/);
  assertFails(ssf(['init', '--trust-domain', 'test.ssf.internal']), 'FACTORY_EXISTS');

  const at = ssf(['attest', '--predicate-type', 'slsa-provenance', '--predicate', 'predicate.json', '--subject', 'artifact.bin',
    '--bundle', 'artifact.sigstore.json', '--identity', 'ci/release']);
  assert.equal(at.code, 0, at.err);
  const id = 'spiffe://test.ssf.internal/ci/release';
  const tr = join(work, '.ssf', 'trusted_root.json');

  const ok = ssf(['verify-bundle', '--bundle', 'artifact.sigstore.json', '--certificate-identity', id, '--trusted-root', tr, 'artifact.bin']);
  assert.equal(ok.code, 0, ok.err);
  assert.match(ok.out, /^OK: /);
  const digest = ssf(['verify-bundle', '--bundle', 'artifact.sigstore.json', '--json', '--trusted-root', tr,
    'sha256:' + JSON.parse(Buffer.from(JSON.parse(readFileSync(join(work, 'artifact.sigstore.json'), 'utf8')).dsseEnvelope.payload, 'base64').toString()).subject[0].digest.sha256]);
  assert.equal(digest.code, 0, digest.err);
  assert.equal(JSON.parse(digest.out).signer.identity, id);

  assertFails(ssf(['verify-bundle', '--bundle', 'artifact.sigstore.json', '--certificate-identity', 'spiffe://test.ssf.internal/other', '--trusted-root', tr, 'artifact.bin']), 'IDENTITY_MISMATCH');
  writeFileSync(join(work, 'other.bin'), 'release 1.0 (modified)\n');
  assertFails(ssf(['verify-bundle', '--bundle', 'artifact.sigstore.json', '--trusted-root', tr, 'other.bin']), 'SUBJECT_MISMATCH');
  writeFileSync(join(work, 'broken.json'), '{"mediaType": ');
  assertFails(ssf(['verify-bundle', '--bundle', 'broken.json', '--trusted-root', tr, 'artifact.bin']), 'BUNDLE_MALFORMED');
  assertFails(ssf(['verify-bundle', '--bundle', 'nope.json', '--trusted-root', tr, 'artifact.bin']), 'FILE_NOT_FOUND');
  const b = JSON.parse(readFileSync(join(work, 'artifact.sigstore.json'), 'utf8'));
  b.mediaType = 'application/vnd.dev.sigstore.bundle.v0.9+json';
  writeFileSync(join(work, 'future.json'), JSON.stringify(b));
  assertFails(ssf(['verify-bundle', '--bundle', 'future.json', '--trusted-root', tr, 'artifact.bin']), 'BUNDLE_VERSION');

  // Rotation keeps old evidence valid; revocation of the identity then rejects it.
  const rot = ssf(['ca', 'rotate']);
  assert.equal(rot.code, 0, rot.err);
  assert.equal(ssf(['verify-bundle', '--bundle', 'artifact.sigstore.json', '--trusted-root', tr, 'artifact.bin']).code, 0);
  assertFails(ssf(['ca', 'rotate'], { SSF_ROOT_PASSPHRASE: 'wrong passphrase!' }), 'PASSPHRASE_WRONG');
  const rev = ssf(['revoke', '--identity', id, '--reason', 'key leaked']);
  assert.equal(rev.code, 0, rev.err);
  assertFails(ssf(['verify-bundle', '--bundle', 'artifact.sigstore.json', '--trusted-root', tr, 'artifact.bin']), 'CERT_REVOKED');

  const log = ssf(['log', '--json']);
  assert.equal(log.code, 0, log.err);
  assert.equal(JSON.parse(log.out).size, 1);
});

test('log witness: first, advanced, then rollback and split view are refused', () => {
  const dir = 'witnessed';
  assert.equal(ssf(['init', '--dir', dir, '--trust-domain', 'w.ssf.internal']).code, 0);
  const attest = (): void => {
    const r = ssf(['attest', '--dir', dir, '--predicate-type', 'slsa-provenance', '--predicate', 'predicate.json', '--subject', 'artifact.bin', '--bundle', 'w.json']);
    assert.equal(r.code, 0, r.err);
  };
  attest();
  const state = join(work, 'w-state.json');
  const first = ssf(['log', 'witness', '--dir', dir, '--state', state]);
  assert.equal(first.code, 0, first.err);
  assert.match(first.out, /^first: /);
  const oldNote = JSON.parse(readFileSync(join(work, 'w.json'), 'utf8')).verificationMaterial.tlogEntries[0].inclusionProof.checkpoint.envelope as string;
  writeFileSync(join(work, 'old-checkpoint.txt'), oldNote);
  attest();
  attest();
  const adv = ssf(['log', 'witness', '--dir', dir, '--state', state]);
  assert.equal(adv.code, 0, adv.err);
  assert.match(adv.out, /^advanced: .* size 3 .*previously size 1/);
  assertFails(ssf(['log', 'witness', '--dir', dir, '--state', state, '--checkpoint', 'old-checkpoint.txt']), 'TLOG_ROLLBACK');
  // A state that saw a different tree of the same size: the log's checkpoint is a split view.
  const st = JSON.parse(readFileSync(state, 'utf8'));
  const origin = Object.keys(st.origins)[0] as string;
  st.origins[origin].rootHash = Buffer.alloc(32, 7).toString('base64');
  writeFileSync(state, JSON.stringify(st));
  assertFails(ssf(['log', 'witness', '--dir', dir, '--state', state]), 'TLOG_CONSISTENCY');
  // A checkpoint not signed by the trusted log key.
  writeFileSync(join(work, 'forged.txt'), oldNote.replace(/\n1\n/, '\n2\n'));
  assertFails(ssf(['log', 'witness', '--dir', dir, '--state', state, '--checkpoint', 'forged.txt']), 'TLOG_CHECKPOINT');
});

test('ssf attest refuses the identity paths reserved for the factory, so it cannot forge a build, a policy or a VEX', () => {
  for (const id of ['factory/builder', 'run/x/task/publish/node/y', 'node/abc', 'operator/pipeline-signer', 'operator/policy-signer', 'evidence/vex', 'evidence/scan', '/evidence//vex']) {
    const r = ssf(['attest', '--predicate-type', 'slsa-provenance', '--predicate', 'missing.json', '--subject', 'missing.txt', '--identity', id]);
    assert.equal(r.code, 2, `${id}: ${r.err}`);
    assert.match(r.err, /^ssf: error\[USAGE\]: --identity .* reserved/);
  }
});

test('ssf demo runs the main job and passes', () => {
  const r = ssf(['demo']);
  assert.equal(r.code, 0, r.err);
  assert.match(r.out, /@sigstore\/verify accepts the provenance bundle/);
  assert.match(r.out, /verified hello-service\.tgz .* chain checkout → deps → build → test → package → image → sbom → scan → licenses → secrets → publish/);
  assert.match(r.out, /evidence about it, each signed by its task's identity: sbom, scan, licenses, secrets/);
  assert.match(r.out, /advisory database: \d+ OSV records imported/);
  assert.match(r.out, /a tampered copy of hello-service\.tgz is rejected: SUBJECT_MISMATCH/);
  assert.match(r.out, /demo passed/);
});

test('docs/errors.md documents exactly the error codes in the catalogue', () => {
  const doc = readFileSync(join(root, 'docs', 'errors.md'), 'utf8');
  const documented = new Set([...doc.matchAll(/^\| `([A-Z_]+)` \|/gm)].map((m) => m[1]));
  for (const code of Object.keys(ERROR_CODES)) assert.ok(documented.has(code), `${code} is not documented in docs/errors.md`);
  for (const code of documented) assert.ok(code !== undefined && code in ERROR_CODES, `docs/errors.md documents unknown code ${code}`);
});
