/**
 * Tests of the factory: init (refusal, force, encrypted root key, trusted root), attest
 * (expiry, atomicity), revocation through the signed list, and intermediate rotation. One
 * factory is shared by the file and tests run in order; the rotation tests come last because
 * they change the factory's CA.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { X509Certificate, createPublicKey, type KeyObject } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FixedClock, isSsfError, readTextFile, sha256Hex, type ErrorCode } from '../core/index.js';
import { makeStatement, type Statement } from '../attest/index.js';
import { generateP256, importPrivateKeyPem, issueWorkloadIdentity, keyIdOf, parseTrustedRoot, signRevocationList, type IssuingCa, type WorkloadIdentity } from '../trust/index.js';
import { SigstoreJsVerifier } from '../verify/index.js';
import { Factory, initFactory, layoutOf } from './index.js';
import { throwsCode, rejectsCode } from '../core/testing.js';

const PASSPHRASE = 'factory test passphrase';
const T0 = '2026-03-01T12:00:00.000Z';
const TD = 'factory.test.internal';

type Json = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

function digestOf(name: string): string {
  return sha256Hex(`artifact ${name}`);
}

function statementFor(name: string): Statement {
  return makeStatement([{ name, digest: { sha256: digestOf(name) } }], 'https://slsa.dev/provenance/v1', { builder: { id: 'test' } });
}

let tmp: string;
let dir: string;
let clock: FixedClock;
let f: Factory;
let rootKey: KeyObject;
let id: WorkloadIdentity;
/** A gen-1 bundle kept across rotation. */
let oldBundle: Json;

function trustedRootJson(): Json {
  return JSON.parse(readFileSync(f.layout.trustedRoot, 'utf8')) as Json;
}

function state(): { size: number; evidence: number; checkpoint: number | undefined } {
  return { size: f.log.size(), evidence: f.evidence.count(), checkpoint: f.log.latestCheckpoint()?.size };
}

before(async () => {
  tmp = mkdtempSync(join(tmpdir(), 'ssf-factory-test-'));
  dir = join(tmp, 'factory');
  clock = new FixedClock(T0);
  await initFactory({ dir, trustDomain: TD, clock, passphrase: PASSPHRASE });
  f = Factory.open(dir, { clock });
  rootKey = f.loadRootKey(PASSPHRASE);
  id = await f.issueIdentity(['ci', 'build']);
  const [res] = f.attest([{ statement: statementFor('old'), identity: id }]);
  oldBundle = res?.bundle as Json;
});

after(() => {
  f?.close();
  if (tmp) rmSync(tmp, { recursive: true, force: true });
});

describe('init', () => {
  test('initFactory on an existing factory → FACTORY_EXISTS', async () => {
    await rejectsCode(initFactory({ dir, trustDomain: TD, clock, passphrase: PASSPHRASE }), 'FACTORY_EXISTS');
    // The existing factory is untouched.
    f.verifier().verify(oldBundle);
  });

  test('initFactory with force moves the old factory aside (still on disk) and creates a new one', async () => {
    const d = join(tmp, 'forced');
    await initFactory({ dir: d, trustDomain: TD, clock, passphrase: PASSPHRASE });
    const oldRoot = readFileSync(layoutOf(d).rootCert, 'utf8');
    await rejectsCode(initFactory({ dir: d, trustDomain: TD, clock, passphrase: PASSPHRASE }), 'FACTORY_EXISTS');
    const res = await initFactory({ dir: d, trustDomain: TD, clock, passphrase: PASSPHRASE, force: true });
    assert.ok(res.replacedTo, 'init reports where the old factory went');
    const aside = layoutOf(res.replacedTo);
    assert.ok(existsSync(aside.config) && existsSync(aside.rootKey) && existsSync(aside.db));
    assert.equal(readFileSync(aside.rootCert, 'utf8'), oldRoot);
    assert.notEqual(readFileSync(layoutOf(d).rootCert, 'utf8'), oldRoot);
    Factory.open(d).close();
    Factory.open(res.replacedTo).close();
  });

  test('init refuses a short passphrase (USAGE) and no passphrase without --root-key-out (PASSPHRASE_REQUIRED)', async () => {
    await rejectsCode(initFactory({ dir: join(tmp, 'short'), trustDomain: TD, clock, passphrase: 'short' }), 'USAGE');
    await rejectsCode(initFactory({ dir: join(tmp, 'nopass'), trustDomain: TD, clock }), 'PASSPHRASE_REQUIRED');
    assert.ok(!existsSync(join(tmp, 'short')) && !existsSync(join(tmp, 'nopass')));
  });

  test('loadRootKey with a wrong passphrase → PASSPHRASE_WRONG; with none → PASSPHRASE_REQUIRED', () => {
    throwsCode(() => f.loadRootKey('not the passphrase'), 'PASSPHRASE_WRONG');
    throwsCode(() => f.loadRootKey(undefined), 'PASSPHRASE_REQUIRED');
    throwsCode(() => f.loadRootKey(PASSPHRASE, join(tmp, 'missing.pem')), 'FILE_NOT_FOUND');
  });

  test('the root key on disk is encrypted PKCS#8 and private to the owner', () => {
    const pem = readFileSync(f.layout.rootKey, 'utf8');
    assert.match(pem, /-----BEGIN ENCRYPTED PRIVATE KEY-----/);
    assert.doesNotMatch(pem, /-----BEGIN PRIVATE KEY-----/);
    assert.equal(statSync(f.layout.rootKey).mode & 0o077, 0);
    assert.ok(new X509Certificate(readFileSync(f.layout.rootCert)).checkPrivateKey(rootKey));
  });

  test('trusted_root.json parses with parseTrustedRoot: one CA chain of 2 certs and one tlog', () => {
    const tm = parseTrustedRoot(readFileSync(f.layout.trustedRoot, 'utf8'));
    assert.equal(tm.cas.length, 1);
    const chain = tm.cas[0]?.chain ?? [];
    assert.equal(chain.length, 2);
    const [inter, root] = chain as [X509Certificate, X509Certificate];
    assert.ok(inter.ca && root.ca);
    assert.ok(inter.checkIssued(root) && inter.verify(root.publicKey));
    assert.ok(root.checkIssued(root) && root.verify(root.publicKey));
    assert.equal(tm.cas[0]?.validTo, undefined);
    assert.equal(tm.tlogs.length, 1);
    assert.equal(tm.tlogs[0]?.baseUrl, `https://${TD}/tlog`);
    assert.equal(tm.tlogs[0]?.keyIdHex, keyIdOf(createPublicKey(readFileSync(f.layout.logKey, 'utf8'))));
  });

  test('Factory.open on a directory without a factory → FACTORY_MISSING; garbage factory.json → FACTORY_CORRUPT', () => {
    const empty = join(tmp, 'empty');
    mkdirSync(empty);
    throwsCode(() => Factory.open(empty), 'FACTORY_MISSING');
    writeFileSync(join(empty, 'factory.json'), '{"formatVersion": 2}');
    throwsCode(() => Factory.open(empty), 'FACTORY_CORRUPT');
  });
});

describe('attest', () => {
  test('a batch is logged under one checkpoint, stored, and verifies with ssf and @sigstore/verify', () => {
    const before = state();
    const res = f.attest(['x', 'y', 'z'].map((n) => ({ statement: statementFor(n), identity: id })));
    assert.deepEqual(res.map((r) => r.logIndex), [before.size, before.size + 1, before.size + 2]);
    assert.deepEqual(state(), { size: before.size + 3, evidence: before.evidence + 3, checkpoint: before.size + 3 });
    const v = f.verifier();
    const sj = new SigstoreJsVerifier(trustedRootJson());
    for (const [i, r] of res.entries()) {
      const name = ['x', 'y', 'z'][i] as string;
      const out = v.verify(JSON.stringify(r.bundle), { identity: id.spiffeId, artifact: { algorithm: 'sha256', hex: digestOf(name) } });
      assert.equal(out.checkpoint.size, before.size + 3);
      sj.verify(r.bundle, id.spiffeId);
      const stored = f.evidence.findBySubject('sha256', digestOf(name));
      assert.equal(stored.length, 1);
      // The stored parts rebuild exactly the bundle that was handed out.
      assert.deepEqual(f.bundleOf(stored[0]!), r.bundle);
      assert.deepEqual(f.bundlesFor('sha256', digestOf(name)), [r.bundle]);
      assert.equal(stored[0]?.signer, id.spiffeId);
    }
    assert.deepEqual(f.attest([]), []);
  });

  test('an identity used after its validity: issue 1-minute identity at T, attest at T+2min → CERT_EXPIRED, nothing stored', async () => {
    const short = await f.issueIdentity(['ci', 'short'], 1);
    assert.equal(short.notAfter.getTime(), clock.now().getTime() + 60_000);
    f.attest([{ statement: statementFor('in-time'), identity: short }]); // within validity: fine
    clock.advance(2 * 60_000);
    const before = state();
    throwsCode(() => f.attest([{ statement: statementFor('too-late'), identity: short }]), 'CERT_EXPIRED');
    assert.deepEqual(state(), before);
  });
});

describe('atomicity', () => {
  test('a batch with one invalid statement → STATEMENT_INVALID; log size, checkpoint and evidence unchanged', () => {
    const before = state();
    const bad = { ...statementFor('bad'), subject: [] } as unknown as Statement;
    throwsCode(() => f.attest([
      { statement: statementFor('ok-1'), identity: id },
      { statement: bad, identity: id },
      { statement: statementFor('ok-2'), identity: id },
    ]), 'STATEMENT_INVALID');
    assert.deepEqual(state(), before);
    assert.equal(f.evidence.findBySubject('sha256', digestOf('ok-1')).length, 0);
  });

  test('a batch with one expired identity → CERT_EXPIRED; nothing logged or stored', async () => {
    const short = await f.issueIdentity(['ci', 'short2'], 1);
    clock.advance(2 * 60_000);
    const fresh = await f.issueIdentity(['ci', 'fresh']);
    const before = state();
    throwsCode(() => f.attest([
      { statement: statementFor('ok-3'), identity: fresh },
      { statement: statementFor('ok-4'), identity: short },
    ]), 'CERT_EXPIRED');
    assert.deepEqual(state(), before);
  });

  test('a store failure mid-batch → STORE_FAILED; the log append is rolled back and the log keeps working', () => {
    const before = state();
    const orig = f.evidence.insert.bind(f.evidence);
    let calls = 0;
    f.evidence.insert = (row) => {
      if (++calls === 2) throw new Error('disk full (injected)');
      return orig(row);
    };
    try {
      throwsCode(() => f.attest(['m1', 'm2', 'm3'].map((n) => ({ statement: statementFor(n), identity: id }))), 'STORE_FAILED');
    } finally {
      f.evidence.insert = orig;
    }
    assert.equal(calls, 2);
    assert.deepEqual(state(), before);
    assert.equal(f.evidence.findBySubject('sha256', digestOf('m1')).length, 0);
    // The next batch reuses the same indices and verifies: no orphaned leaf or checkpoint.
    const res = f.attest([{ statement: statementFor('after-failure'), identity: id }]);
    assert.equal(res[0]?.logIndex, before.size);
    f.verifier().verify(res[0]?.bundle, { identity: id.spiffeId });
    new SigstoreJsVerifier(trustedRootJson()).verify(res[0]?.bundle);
  });
});

describe('revocation', () => {
  async function signed(path: string[]): Promise<{ identity: WorkloadIdentity; bundle: Json }> {
    const identity = await f.issueIdentity(path);
    const [r] = f.attest([{ statement: statementFor(path.join('/')), identity }]);
    return { identity, bundle: r?.bundle as Json };
  }

  test('revoking the signer\'s serial → CERT_REVOKED; other signers still verify', async () => {
    const a = await signed(['rev', 'serial']);
    const b = await signed(['rev', 'bystander']);
    f.verifier().verify(a.bundle);
    const list = f.revoke(rootKey, { kind: 'serial', value: a.identity.serial.toUpperCase(), reason: 'test' });
    assert.equal(list.version, 1);
    throwsCode(() => f.verifier().verify(a.bundle), 'CERT_REVOKED');
    f.verifier().verify(b.bundle);
  });

  test('revoking the signer\'s key id → CERT_REVOKED', async () => {
    const a = await signed(['rev', 'key']);
    f.verifier().verify(a.bundle);
    f.revoke(rootKey, { kind: 'keyId', value: keyIdOf(a.identity.cert.publicKey), reason: 'key compromised' });
    throwsCode(() => f.verifier().verify(a.bundle), 'CERT_REVOKED');
  });

  test('revoking the signer\'s identity → CERT_REVOKED, also for a certificate issued later to it', async () => {
    const a = await signed(['rev', 'identity']);
    f.verifier().verify(a.bundle);
    const list = f.revoke(rootKey, { kind: 'identity', value: a.identity.spiffeId, reason: 'workload retired' });
    assert.equal(list.version, 3);
    assert.deepEqual(list.entries.map((e) => e.kind), ['serial', 'keyId', 'identity']);
    throwsCode(() => f.verifier().verify(a.bundle), 'CERT_REVOKED');
    const again = await signed(['rev', 'identity']);
    throwsCode(() => f.verifier().verify(again.bundle), 'CERT_REVOKED');
    // Revocation is verified-list state, not process state: a re-opened factory sees it.
    const g = Factory.open(dir, { clock });
    try {
      throwsCode(() => g.verifier().verify(a.bundle), 'CERT_REVOKED');
      assert.equal(g.revocationList().version, 3);
    } finally {
      g.close();
    }
  });

  test('revocation list with a tampered byte → REVOCATION_INVALID', () => {
    const good = readFileSync(f.layout.revocations, 'utf8');
    try {
      // A byte of the signed body: the identity entry's reason.
      assert.ok(good.includes('workload retired'));
      writeFileSync(f.layout.revocations, good.replace('workload retired', 'workload retirec'));
      throwsCode(() => f.verifier(), 'REVOCATION_INVALID');
      // Dropping an entry (an attacker un-revoking a key) is a change too.
      const doc = JSON.parse(good) as Json;
      doc.list.entries.pop();
      writeFileSync(f.layout.revocations, JSON.stringify(doc));
      throwsCode(() => f.verifier(), 'REVOCATION_INVALID');
      // A byte of the signature.
      const sigDoc = JSON.parse(good) as Json;
      const sig = Buffer.from(sigDoc.signature, 'base64');
      sig[sig.length - 1] = (sig[sig.length - 1] as number) ^ 1;
      sigDoc.signature = sig.toString('base64');
      writeFileSync(f.layout.revocations, JSON.stringify(sigDoc));
      throwsCode(() => f.verifier(), 'REVOCATION_INVALID');
      throwsCode(() => f.revocationList(), 'REVOCATION_INVALID');
      // Not JSON at all.
      writeFileSync(f.layout.revocations, good.slice(0, 20));
      throwsCode(() => f.verifier(), 'REVOCATION_INVALID');
    } finally {
      writeFileSync(f.layout.revocations, good);
    }
    f.verifier();
  });

  test('revocation list signed by another key → REVOCATION_INVALID', () => {
    const good = readFileSync(f.layout.revocations, 'utf8');
    try {
      const list = f.revocationList();
      const emptied = { ...list, version: list.version + 1, entries: [] };
      writeFileSync(f.layout.revocations, JSON.stringify(signRevocationList(emptied, generateP256().privateKey)));
      throwsCode(() => f.verifier(), 'REVOCATION_INVALID');
    } finally {
      writeFileSync(f.layout.revocations, good);
    }
    f.verifier();
  });
});

describe('guards', () => {
  test('revoke or rotate with a key that is not the root key → KEY_INVALID; the list is unchanged and still verifies', async () => {
    const before = readFileSync(f.layout.revocations, 'utf8');
    throwsCode(() => f.revoke(generateP256().privateKey, { kind: 'identity', value: 'spiffe://x/y', reason: 'test' }), 'KEY_INVALID');
    await rejectsCode(f.rotateIntermediate(generateP256().privateKey), 'KEY_INVALID');
    assert.equal(readFileSync(f.layout.revocations, 'utf8'), before);
    f.verifier();
  });

  test('attest with an identity not yet valid (clock set back) → CERT_EXPIRED', async () => {
    const early = await f.issueIdentity(['ci', 'early']);
    const back = new FixedClock(clock.now().getTime() - 3_600_000);
    const g = Factory.open(dir, { clock: back });
    try {
      throwsCode(() => g.attest([{ statement: statementFor('early'), identity: early }]), 'CERT_EXPIRED');
    } finally {
      g.close();
    }
  });
});

describe('rotation', () => {
  let rotatedAt: number;
  let newBundle: Json;
  /** Opened before the rotation, as another process would have. */
  let other: Factory;
  /** The generation-1 intermediate as it was before rotation deleted its key. */
  let retired: IssuingCa;

  test('rotateIntermediate: new generation, old intermediate key file deleted, trusted root lists both windows', async () => {
    const tr0 = parseTrustedRoot(readFileSync(f.layout.trustedRoot, 'utf8'));
    assert.equal(tr0.cas.length, 1);
    clock.advance(1_000);
    rotatedAt = clock.now().getTime();
    assert.ok(existsSync(f.layout.intermediateKey(1)));
    other = Factory.open(dir, { clock });
    const pem = readTextFile(f.layout.intermediateCert(1), 'intermediate 1');
    const key = importPrivateKeyPem(readTextFile(f.layout.intermediateKey(1), 'intermediate 1 key'));
    retired = { certPem: pem, cert: new X509Certificate(pem), keys: { privateKey: key, publicKey: createPublicKey(key) } };
    const { generation } = await f.rotateIntermediate(rootKey);
    assert.equal(generation, 2);
    assert.ok(!existsSync(f.layout.intermediateKey(1)), 'old intermediate key file is gone');
    assert.ok(existsSync(f.layout.intermediateCert(1)), 'old intermediate certificate is kept');
    assert.ok(existsSync(f.layout.intermediateKey(2)) && existsSync(f.layout.intermediateCert(2)));
    const tm = parseTrustedRoot(readFileSync(f.layout.trustedRoot, 'utf8'));
    assert.equal(tm.cas.length, 2);
    assert.equal(tm.cas[0]?.validTo?.getTime(), rotatedAt);
    assert.equal(tm.cas[1]?.validTo, undefined);
    assert.equal(tm.cas[0]?.chain[1]?.fingerprint256, tm.cas[1]?.chain[1]?.fingerprint256, 'same root');
    assert.equal(tm.tlogs.length, 1);
  });

  test('after rotation an old bundle still verifies (ssf, and @sigstore/verify with the updated trusted root)', () => {
    f.verifier().verify(oldBundle, { identity: id.spiffeId, artifact: { algorithm: 'sha256', hex: digestOf('old') } });
    new SigstoreJsVerifier(trustedRootJson()).verify(oldBundle, id.spiffeId);
  });

  test('the retired intermediate cannot sign new valid bundles: after its window → CERT_EXPIRED', async () => {
    // A copy of the retired key (as a thief might hold) still issues certificates, but the trusted root closed its window.
    clock.advance(5_000);
    const stale = await issueWorkloadIdentity(retired, { trustDomain: TD, path: ['ci', 'stale'], minutes: 10, clock });
    const [r] = f.attest([{ statement: statementFor('stale'), identity: stale }]);
    throwsCode(() => f.verifier().verify(r?.bundle), 'CERT_EXPIRED');
    throwsCode(() => new SigstoreJsVerifier(trustedRootJson()).verify(r?.bundle), 'DSSE_SIGNATURE');
  });

  test('a Factory opened before the rotation issues from the new intermediate and rotates to a new generation', async () => {
    const inter2 = new X509Certificate(readTextFile(f.layout.intermediateCert(2), 'intermediate 2'));
    const idOther = await other.issueIdentity(['ci', 'other-process']);
    assert.ok(idOther.cert.checkIssued(inter2) && idOther.cert.verify(inter2.publicKey));
    const [r] = other.attest([{ statement: statementFor('other'), identity: idOther }]);
    f.verifier().verify(r?.bundle, { identity: idOther.spiffeId });
    other.close();
  });

  test('new identities come from the new intermediate and their bundles verify with both verifiers', async () => {
    const inter1 = new X509Certificate(readTextFile(f.layout.intermediateCert(1), 'intermediate 1'));
    const inter2 = new X509Certificate(readTextFile(f.layout.intermediateCert(2), 'intermediate 2'));
    const fresh = await f.issueIdentity(['ci', 'after-rotation']);
    assert.ok(fresh.cert.checkIssued(inter2) && fresh.cert.verify(inter2.publicKey));
    assert.ok(!fresh.cert.verify(inter1.publicKey));
    const [r] = f.attest([{ statement: statementFor('new'), identity: fresh }]);
    newBundle = r?.bundle as Json;
    f.verifier().verify(newBundle, { identity: fresh.spiffeId, artifact: { algorithm: 'sha256', hex: digestOf('new') } });
    new SigstoreJsVerifier(trustedRootJson()).verify(newBundle, fresh.spiffeId);
    assert.ok(Date.parse(fresh.cert.validFrom) >= rotatedAt - 60_000);
  });

  test('revoking the retired intermediate\'s serial → its bundles CERT_REVOKED; the new intermediate\'s still verify', () => {
    const inter1 = new X509Certificate(readTextFile(f.layout.intermediateCert(1), 'intermediate 1'));
    f.revoke(rootKey, { kind: 'serial', value: inter1.serialNumber, reason: 'retired' });
    throwsCode(() => f.verifier().verify(oldBundle), 'CERT_REVOKED');
    f.verifier().verify(newBundle);
  });
});
