/**
 * Tests of ssf's BundleVerifier (and the @sigstore/verify wrapper for interop): happy path,
 * every tamperable field of a bundle with the exact error code it must produce, malformed
 * input, and the leaf-certificate profile. One factory and a handful of bundles are shared by
 * the whole file; tests that need a specially built bundle log it honestly through the
 * factory's own log and log key, so the only thing wrong with it is what the test is about.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createPublicKey, randomBytes, sign as cryptoSign, webcrypto, X509Certificate, type KeyObject } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FixedClock, isSsfError, readTextFile, sha256Hex, type ErrorCode } from '../core/index.js';
import {
  BUNDLE_V03_MEDIA_TYPE, INTOTO_PAYLOAD_TYPE, KeyObjectSigner, bundleToJson, dsseEntryBody, makeStatement, setPayload, signEnvelope,
  type Bundle, type EnvelopeJson, type Statement,
} from '../attest/index.js';
import { Factory, initFactory } from '../factory/index.js';
import {
  OID_CODE_SIGNING, generateP256, importPrivateKeyPem, keyIdOf, randomSerial, toCryptoKeys, x509,
  type IssuingCa, type TrustMaterial, type WorkloadIdentity,
} from '../trust/index.js';
import { BundleVerifier, SigstoreJsVerifier } from './index.js';
import { throwsCode } from '../core/testing.js';

const PASSPHRASE = 'correct horse battery staple';
const T0 = '2026-03-01T12:00:00.000Z';
const TD = 'verify.test.internal';
const ID_BUILD = `spiffe://${TD}/ci/build`;

type Json = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

function clone(b: Json): Json {
  return structuredClone(b);
}

function flipBit(b64: string, pos: number, bit = 0): string {
  const buf = Buffer.from(b64, 'base64');
  buf[pos] = (buf[pos] as number) ^ (1 << bit);
  return buf.toString('base64');
}

function artifactDigest(name: string): string {
  return sha256Hex(`artifact ${name}`);
}

function statementFor(name: string): Statement {
  return makeStatement([{ name, digest: { sha256: artifactDigest(name) } }], 'https://slsa.dev/provenance/v1', { builder: { id: 'test' } });
}

let dir: string;
let clock: FixedClock;
let f: Factory;
let logKey: KeyObject;
let logIdHex: string;
let inter: IssuingCa;
let trustedRootJson: Json;
let verifier: BundleVerifier;
let sigstore: SigstoreJsVerifier;
let idBuild: WorkloadIdentity;
let idOther: WorkloadIdentity;
/** Four bundles from one batch: tree size 4, so every inclusion proof has two hashes. */
let batch: Json[];
/** A bundle logged after the batch (a later, different checkpoint). */
let later: Json;

/**
 * Logs arbitrary envelopes honestly (real log append, real SET, real checkpoint) and builds
 * their bundles exactly as Factory.attest does. Used to reach checks that sit behind the log.
 */
function logHonestly(items: readonly { certPem: string; envelope: EnvelopeJson; payload: Buffer }[], integratedTime?: number): Json[] {
  const bodies = items.map((it) => dsseEntryBody(it.envelope, it.payload, it.certPem));
  const { indices, checkpoint } = f.log.appendBatch(bodies);
  const t = integratedTime ?? Math.floor(clock.now().getTime() / 1000);
  return items.map((it, i) => {
    const logIndex = indices[i] as number;
    const body = bodies[i] as Buffer;
    const entry = { canonicalizedBody: body, integratedTime: t, logIndex, logIdHex };
    const bundle: Bundle = {
      mediaType: BUNDLE_V03_MEDIA_TYPE,
      certificateDer: new X509Certificate(it.certPem).raw,
      envelope: it.envelope,
      tlogEntries: [{
        logIndex, logIdHex, kind: 'dsse', version: '0.0.1', integratedTime: t,
        signedEntryTimestamp: cryptoSign('sha256', setPayload(entry), logKey),
        canonicalizedBody: body,
        inclusionProof: { logIndex, treeSize: checkpoint.size, rootHash: checkpoint.rootHash, hashes: f.log.inclusionProof(logIndex, checkpoint.size), checkpoint: checkpoint.note },
      }],
    };
    return bundleToJson(bundle) as Json;
  });
}

function signedBy(identity: { privateKey: KeyObject }, payload: Buffer, payloadType = INTOTO_PAYLOAD_TYPE): EnvelopeJson {
  return signEnvelope(payloadType, payload, [new KeyObjectSigner(identity.privateKey, '')]);
}

/** A leaf issued by the factory's intermediate with a chosen (possibly non-conforming) profile. */
async function customLeaf(opts: { isCa?: boolean; eku?: boolean; usages?: number; uri?: string }): Promise<WorkloadIdentity> {
  const keys = generateP256();
  const caKeys = await toCryptoKeys(inter.keys);
  const leafPub = await webcrypto.subtle.importKey('spki', keys.publicKey.export({ format: 'der', type: 'spki' }), { name: 'ECDSA', namedCurve: 'P-256' }, true, ['verify']);
  const now = clock.now().getTime();
  const uri = opts.uri ?? `spiffe://${TD}/custom/${randomBytes(4).toString('hex')}`;
  const extensions: x509.Extension[] = [
    new x509.BasicConstraintsExtension(opts.isCa ?? false, undefined, true),
    new x509.KeyUsagesExtension(opts.usages ?? x509.KeyUsageFlags.digitalSignature, true),
    new x509.SubjectAlternativeNameExtension([{ type: 'url', value: uri }], true),
  ];
  if (opts.eku ?? true) extensions.push(new x509.ExtendedKeyUsageExtension([OID_CODE_SIGNING], false));
  const cert = await x509.X509CertificateGenerator.create({
    serialNumber: randomSerial(),
    subject: '',
    issuer: new x509.X509Certificate(inter.certPem).subjectName,
    notBefore: new Date(now - 30_000),
    notAfter: new Date(now + 10 * 60_000),
    publicKey: leafPub,
    signingKey: caKeys.privateKey,
    signingAlgorithm: { name: 'ECDSA', hash: 'SHA-256' },
    extensions,
  });
  const pem = cert.toString('pem');
  const node = new X509Certificate(pem);
  return { spiffeId: uri, certPem: pem, cert: node, serial: node.serialNumber.toLowerCase(), privateKey: keys.privateKey, notAfter: new Date(node.validTo) };
}

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'ssf-verifier-test-'));
  clock = new FixedClock(T0);
  await initFactory({ dir: join(dir, 'factory'), trustDomain: TD, clock, passphrase: PASSPHRASE });
  f = Factory.open(join(dir, 'factory'), { clock });
  logKey = importPrivateKeyPem(readTextFile(f.layout.logKey, 'log key'));
  logIdHex = keyIdOf(createPublicKey(logKey));
  const certPem = readTextFile(f.layout.intermediateCert(1), 'intermediate');
  const key = importPrivateKeyPem(readTextFile(f.layout.intermediateKey(1), 'intermediate key'));
  inter = { certPem, cert: new X509Certificate(certPem), keys: { privateKey: key, publicKey: createPublicKey(key) } };
  trustedRootJson = JSON.parse(readFileSync(f.layout.trustedRoot, 'utf8')) as Json;
  verifier = f.verifier();
  sigstore = new SigstoreJsVerifier(trustedRootJson);
  idBuild = await f.issueIdentity(['ci', 'build']);
  idOther = await f.issueIdentity(['ci', 'other']);
  batch = f.attest(['a', 'b', 'c', 'd'].map((n) => ({ statement: statementFor(n), identity: idBuild }))).map((r) => r.bundle as Json);
  clock.advance(5_000);
  later = (f.attest([{ statement: statementFor('later'), identity: idOther }])[0]?.bundle) as Json;
});

after(() => {
  f?.close();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

/** The bundle most tampering tests start from: index 1 of the batch (two proof hashes). */
function base(): Json {
  return clone(batch[1] as Json);
}
const BASE_ARTIFACT = { algorithm: 'sha256' as const, hex: artifactDigest('b') };

describe('happy path and interop', () => {
  test('factory bundle verifies with ssf BundleVerifier (identity + artifact digest)', () => {
    const v = verifier.verify(base(), { identity: ID_BUILD, artifact: BASE_ARTIFACT });
    assert.equal(v.signer.identity, ID_BUILD);
    assert.equal(v.signer.serial, idBuild.serial);
    assert.equal(v.payloadType, INTOTO_PAYLOAD_TYPE);
    assert.equal(v.logIndex, 1);
    assert.equal(v.checkpoint.size, 4);
    assert.equal(v.integratedTime.getTime(), Date.parse(T0));
    assert.deepEqual(v.statement.subject[0]?.digest, { sha256: BASE_ARTIFACT.hex });
    // Text, parsed JSON and the serialised form all verify; so does every bundle of the batch.
    verifier.verify(JSON.stringify(base()));
    for (const b of [...batch, later]) verifier.verify(b);
  });

  test('factory bundle verifies with @sigstore/verify given only trusted_root.json', () => {
    assert.deepEqual(sigstore.verify(base(), ID_BUILD), { identity: ID_BUILD });
    for (const b of [...batch, later]) sigstore.verify(b);
  });

  test('identity mismatch: ssf → IDENTITY_MISMATCH, @sigstore/verify rejects (DSSE_SIGNATURE)', () => {
    throwsCode(() => verifier.verify(base(), { identity: `spiffe://${TD}/ci/other` }), 'IDENTITY_MISMATCH');
    throwsCode(() => sigstore.verify(base(), `spiffe://${TD}/ci/other`), 'DSSE_SIGNATURE');
    // A prefix of the identity is not the identity.
    throwsCode(() => verifier.verify(base(), { identity: `spiffe://${TD}/ci` }), 'IDENTITY_MISMATCH');
  });

  test('artifact digest not among the subjects → SUBJECT_MISMATCH', () => {
    throwsCode(() => verifier.verify(base(), { artifact: { algorithm: 'sha256', hex: artifactDigest('a') } }), 'SUBJECT_MISMATCH');
  });

  test('@sigstore/verify also rejects a tampered payload (sanity of the interop peer)', () => {
    const b = base();
    b.dsseEnvelope.payload = flipBit(b.dsseEnvelope.payload, 10);
    throwsCode(() => sigstore.verify(b), 'DSSE_SIGNATURE');
  });
});

describe('tampering (ssf verifier)', () => {
  test('DSSE payload byte flipped → TLOG_ENTRY_MISMATCH (logged payload hash differs)', () => {
    const b = base();
    const p = Buffer.from(b.dsseEnvelope.payload, 'base64');
    for (const pos of [0, 10, p.length - 2]) {
      const t = clone(b);
      t.dsseEnvelope.payload = flipBit(b.dsseEnvelope.payload, pos);
      throwsCode(() => verifier.verify(t), 'TLOG_ENTRY_MISMATCH');
    }
  });

  test('payloadType changed → DSSE_SIGNATURE (PAE binds the type; the log body does not carry it)', () => {
    const b = base();
    b.dsseEnvelope.payloadType = 'application/json';
    throwsCode(() => verifier.verify(b), 'DSSE_SIGNATURE');
  });

  test('envelope honestly signed and logged with a non-in-toto payloadType → PAYLOAD_TYPE', () => {
    const payload = Buffer.from(JSON.stringify(statementFor('x')));
    const [b] = logHonestly([{ certPem: idBuild.certPem, envelope: signedBy(idBuild, payload, 'application/json'), payload }]);
    throwsCode(() => verifier.verify(b), 'PAYLOAD_TYPE');
  });

  test('signed payload that is not a statement → STATEMENT_INVALID', () => {
    const payload = Buffer.from('{"_type":"https://in-toto.io/Statement/v1"}');
    const [b] = logHonestly([{ certPem: idBuild.certPem, envelope: signedBy(idBuild, payload), payload }]);
    throwsCode(() => verifier.verify(b), 'STATEMENT_INVALID');
  });

  test('envelope signature changed → TLOG_ENTRY_MISMATCH (the log binds the signature)', () => {
    const b = base();
    const s = Buffer.from(b.dsseEnvelope.signatures[0].sig, 'base64');
    b.dsseEnvelope.signatures[0].sig = flipBit(b.dsseEnvelope.signatures[0].sig, s.length - 1);
    throwsCode(() => verifier.verify(b), 'TLOG_ENTRY_MISMATCH');
    // Another valid signature by the same key over the same PAE is still not the logged one.
    const b2 = base();
    const payload = Buffer.from(b2.dsseEnvelope.payload, 'base64');
    b2.dsseEnvelope.signatures[0].sig = signedBy(idBuild, payload).signatures[0]?.sig;
    throwsCode(() => verifier.verify(b2), 'TLOG_ENTRY_MISMATCH');
  });

  test('systematic: every bit of the decoded envelope signature flipped → TLOG_ENTRY_MISMATCH', () => {
    const b = base();
    const sig = b.dsseEnvelope.signatures[0].sig as string;
    const n = Buffer.from(sig, 'base64').length;
    let count = 0;
    for (let pos = 0; pos < n; pos++) {
      for (let bit = 0; bit < 8; bit++) {
        const t = clone(b);
        t.dsseEnvelope.signatures[0].sig = flipBit(sig, pos, bit);
        throwsCode(() => verifier.verify(t), 'TLOG_ENTRY_MISMATCH');
        count++;
      }
    }
    assert.equal(count, n * 8);
  });

  test('systematic: every bit of a bad envelope signature, honestly logged, → DSSE_SIGNATURE', () => {
    // Log each bit-flipped signature as is, so the log agrees with the envelope and only the
    // envelope signature check can catch it.
    const payload = Buffer.from(JSON.stringify(statementFor('flips')));
    const good = signedBy(idBuild, payload);
    const sig = good.signatures[0]?.sig as string;
    const n = Buffer.from(sig, 'base64').length;
    const items: { certPem: string; envelope: EnvelopeJson; payload: Buffer }[] = [];
    for (let pos = 0; pos < n; pos++) {
      for (let bit = 0; bit < 8; bit++) items.push({ certPem: idBuild.certPem, envelope: { ...good, signatures: [{ sig: flipBit(sig, pos, bit) }] }, payload });
    }
    const bundles = logHonestly(items);
    assert.equal(bundles.length, n * 8);
    for (const b of bundles) throwsCode(() => verifier.verify(b), 'DSSE_SIGNATURE');
    // Control: the same path with the good signature verifies.
    const [ok] = logHonestly([{ certPem: idBuild.certPem, envelope: good, payload }]);
    verifier.verify(ok, { identity: ID_BUILD });
  });

  test('certificate DER byte inside the TBS (serial) flipped → CERT_CHAIN_INVALID', () => {
    const b = base();
    const der = Buffer.from(b.verificationMaterial.certificate.rawBytes, 'base64');
    const serial = Buffer.from(idBuild.cert.serialNumber, 'hex');
    const at = der.indexOf(serial);
    assert.ok(at > 0, 'serial found in the DER');
    b.verificationMaterial.certificate.rawBytes = flipBit(b.verificationMaterial.certificate.rawBytes, at + serial.length - 1);
    throwsCode(() => verifier.verify(b), 'CERT_CHAIN_INVALID');
  });

  test('certificate DER structure broken (outer tag byte) → CERT_INVALID', () => {
    const b = base();
    b.verificationMaterial.certificate.rawBytes = flipBit(b.verificationMaterial.certificate.rawBytes, 0, 0);
    throwsCode(() => verifier.verify(b), 'CERT_INVALID');
    const t = base();
    t.verificationMaterial.certificate.rawBytes = Buffer.from(t.verificationMaterial.certificate.rawBytes, 'base64').subarray(0, 100).toString('base64');
    throwsCode(() => verifier.verify(t), 'CERT_INVALID');
  });

  test('another identity\'s valid certificate swapped in → TLOG_ENTRY_MISMATCH', () => {
    const b = base();
    b.verificationMaterial.certificate.rawBytes = idOther.cert.raw.toString('base64');
    throwsCode(() => verifier.verify(b), 'TLOG_ENTRY_MISMATCH');
  });

  test('canonicalized log entry body changed → TLOG_SET (the SET covers the body)', () => {
    const b = base();
    b.verificationMaterial.tlogEntries[0].canonicalizedBody = flipBit(b.verificationMaterial.tlogEntries[0].canonicalizedBody, 20);
    throwsCode(() => verifier.verify(b), 'TLOG_SET');
  });

  test('logIndex changed → TLOG_SET', () => {
    const b = base();
    b.verificationMaterial.tlogEntries[0].logIndex = '2';
    throwsCode(() => verifier.verify(b), 'TLOG_SET');
  });

  test('integratedTime changed → TLOG_SET; zero → TLOG_SET; before the log key\'s window → TLOG_UNKNOWN', () => {
    const e = base().verificationMaterial.tlogEntries[0];
    for (const [v, code] of [[String(Number(e.integratedTime) + 1), 'TLOG_SET'], ['0', 'TLOG_SET'], [String(Number(e.integratedTime) - 86_400), 'TLOG_UNKNOWN']] as const) {
      const b = base();
      b.verificationMaterial.tlogEntries[0].integratedTime = v;
      throwsCode(() => verifier.verify(b), code);
    }
  });

  test('signed entry timestamp byte flipped → TLOG_SET', () => {
    const b = base();
    b.verificationMaterial.tlogEntries[0].inclusionPromise.signedEntryTimestamp = flipBit(b.verificationMaterial.tlogEntries[0].inclusionPromise.signedEntryTimestamp, 40);
    throwsCode(() => verifier.verify(b), 'TLOG_SET');
  });

  test('SET of another entry (valid signature, wrong entry) → TLOG_SET', () => {
    const b = base();
    b.verificationMaterial.tlogEntries[0].inclusionPromise = clone(batch[2] as Json).verificationMaterial.tlogEntries[0].inclusionPromise;
    throwsCode(() => verifier.verify(b), 'TLOG_SET');
  });

  test('systematic: every bit of the decoded SET flipped → TLOG_SET', () => {
    const b = base();
    const set = b.verificationMaterial.tlogEntries[0].inclusionPromise.signedEntryTimestamp as string;
    const n = Buffer.from(set, 'base64').length;
    let count = 0;
    for (let pos = 0; pos < n; pos++) {
      for (let bit = 0; bit < 8; bit++) {
        const t = clone(b);
        t.verificationMaterial.tlogEntries[0].inclusionPromise.signedEntryTimestamp = flipBit(set, pos, bit);
        throwsCode(() => verifier.verify(t), 'TLOG_SET');
        count++;
      }
    }
    assert.equal(count, n * 8);
  });

  test('an inclusion proof hash changed → TLOG_INCLUSION', () => {
    const hashes = base().verificationMaterial.tlogEntries[0].inclusionProof.hashes as string[];
    assert.equal(hashes.length, 2);
    for (let i = 0; i < hashes.length; i++) {
      const b = base();
      b.verificationMaterial.tlogEntries[0].inclusionProof.hashes[i] = flipBit(hashes[i] as string, 31);
      throwsCode(() => verifier.verify(b), 'TLOG_INCLUSION');
    }
    const dropped = base();
    dropped.verificationMaterial.tlogEntries[0].inclusionProof.hashes.pop();
    throwsCode(() => verifier.verify(dropped), 'TLOG_INCLUSION');
    const extra = base();
    extra.verificationMaterial.tlogEntries[0].inclusionProof.hashes.push(randomBytes(32).toString('base64'));
    throwsCode(() => verifier.verify(extra), 'TLOG_INCLUSION');
  });

  test('inclusion proof rootHash changed → TLOG_INCLUSION', () => {
    const b = base();
    b.verificationMaterial.tlogEntries[0].inclusionProof.rootHash = flipBit(b.verificationMaterial.tlogEntries[0].inclusionProof.rootHash, 0);
    throwsCode(() => verifier.verify(b), 'TLOG_INCLUSION');
  });

  test('inclusion proof treeSize changed → TLOG_INCLUSION', () => {
    for (const size of ['5', '2', '1', '0']) {
      const b = base();
      b.verificationMaterial.tlogEntries[0].inclusionProof.treeSize = size;
      throwsCode(() => verifier.verify(b), 'TLOG_INCLUSION');
    }
  });

  test('inclusion proof logIndex differs from the entry → TLOG_INCLUSION', () => {
    const b = base();
    b.verificationMaterial.tlogEntries[0].inclusionProof.logIndex = '0';
    throwsCode(() => verifier.verify(b), 'TLOG_INCLUSION');
  });

  test('checkpoint size line changed → TLOG_CHECKPOINT', () => {
    const b = base();
    const cp = b.verificationMaterial.tlogEntries[0].inclusionProof.checkpoint;
    const lines = (cp.envelope as string).split('\n');
    assert.equal(lines[1], '4');
    lines[1] = '5';
    cp.envelope = lines.join('\n');
    throwsCode(() => verifier.verify(b), 'TLOG_CHECKPOINT');
  });

  test('checkpoint root line changed → TLOG_CHECKPOINT', () => {
    const b = base();
    const cp = b.verificationMaterial.tlogEntries[0].inclusionProof.checkpoint;
    const lines = (cp.envelope as string).split('\n');
    lines[2] = flipBit(lines[2] as string, 5);
    cp.envelope = lines.join('\n');
    throwsCode(() => verifier.verify(b), 'TLOG_CHECKPOINT');
  });

  test('checkpoint signature byte flipped (and its key hint changed) → TLOG_CHECKPOINT', () => {
    const orig = base().verificationMaterial.tlogEntries[0].inclusionProof.checkpoint.envelope as string;
    const lines = orig.split('\n');
    const sigIdx = lines.findIndex((l) => l.startsWith('\u2014 '));
    const line = lines[sigIdx] as string;
    const sp = line.lastIndexOf(' ');
    const raw = line.slice(sp + 1);
    const n = Buffer.from(raw, 'base64').length;
    for (const pos of [n - 1, 10, 0 /* key hint */]) {
      const b = base();
      const l = [...lines];
      l[sigIdx] = line.slice(0, sp + 1) + flipBit(raw, pos);
      b.verificationMaterial.tlogEntries[0].inclusionProof.checkpoint.envelope = l.join('\n');
      throwsCode(() => verifier.verify(b), 'TLOG_CHECKPOINT');
    }
    const unsigned = base();
    unsigned.verificationMaterial.tlogEntries[0].inclusionProof.checkpoint.envelope = lines.slice(0, sigIdx).join('\n') + '\n';
    throwsCode(() => verifier.verify(unsigned), 'TLOG_CHECKPOINT');
  });

  test('a genuine checkpoint of another tree size swapped in → TLOG_CHECKPOINT', () => {
    const b = base();
    b.verificationMaterial.tlogEntries[0].inclusionProof.checkpoint = clone(later).verificationMaterial.tlogEntries[0].inclusionProof.checkpoint;
    throwsCode(() => verifier.verify(b), 'TLOG_CHECKPOINT');
  });

  test('logId not in the trusted root → TLOG_UNKNOWN', () => {
    const b = base();
    b.verificationMaterial.tlogEntries[0].logId.keyId = randomBytes(32).toString('base64');
    throwsCode(() => verifier.verify(b), 'TLOG_UNKNOWN');
  });

  test('entry kindVersion not dsse/0.0.1 → TLOG_ENTRY_MISMATCH', () => {
    // kindVersion is not covered by the SET; the body check must still refuse it.
    const b = base();
    b.verificationMaterial.tlogEntries[0].kindVersion = { kind: 'intoto', version: '0.0.2' };
    throwsCode(() => verifier.verify(b), 'TLOG_ENTRY_MISMATCH');
  });

  test('a second envelope signature → DSSE_INVALID', () => {
    const b = base();
    b.dsseEnvelope.signatures.push(clone(b.dsseEnvelope.signatures[0]));
    throwsCode(() => verifier.verify(b), 'DSSE_INVALID');
    const other = base();
    other.dsseEnvelope.signatures.push({ sig: signedBy(idOther, Buffer.from(other.dsseEnvelope.payload, 'base64')).signatures[0]?.sig, keyid: '' });
    throwsCode(() => verifier.verify(other), 'DSSE_INVALID');
  });

  test('zero envelope signatures → DSSE_INVALID', () => {
    const b = base();
    b.dsseEnvelope.signatures = [];
    throwsCode(() => verifier.verify(b), 'DSSE_INVALID');
  });

  test('two transparency-log entries, or none → BUNDLE_MALFORMED', () => {
    const two = base();
    two.verificationMaterial.tlogEntries.push(clone(two.verificationMaterial.tlogEntries[0]));
    throwsCode(() => verifier.verify(two), 'BUNDLE_MALFORMED');
    const none = base();
    none.verificationMaterial.tlogEntries = [];
    throwsCode(() => verifier.verify(none), 'BUNDLE_MALFORMED');
  });
});

describe('malformed input', () => {
  test('not JSON → BUNDLE_MALFORMED', () => {
    throwsCode(() => verifier.verify('{"mediaType": '), 'BUNDLE_MALFORMED');
    throwsCode(() => verifier.verify(''), 'BUNDLE_MALFORMED');
    throwsCode(() => verifier.verify('not json at all'), 'BUNDLE_MALFORMED');
  });

  test('JSON array, null, number → BUNDLE_MALFORMED', () => {
    throwsCode(() => verifier.verify('[]'), 'BUNDLE_MALFORMED');
    throwsCode(() => verifier.verify(JSON.stringify([base()])), 'BUNDLE_MALFORMED');
    throwsCode(() => verifier.verify('null'), 'BUNDLE_MALFORMED');
    throwsCode(() => verifier.verify('42'), 'BUNDLE_MALFORMED');
  });

  test('missing fields → BUNDLE_MALFORMED (or DSSE_INVALID inside the envelope)', () => {
    const cases: [string, (b: Json) => void, ErrorCode][] = [
      ['mediaType', (b) => delete b.mediaType, 'BUNDLE_MALFORMED'],
      ['verificationMaterial', (b) => delete b.verificationMaterial, 'BUNDLE_MALFORMED'],
      ['dsseEnvelope', (b) => delete b.dsseEnvelope, 'BUNDLE_MALFORMED'],
      ['tlogEntries', (b) => delete b.verificationMaterial.tlogEntries, 'BUNDLE_MALFORMED'],
      ['inclusionProof', (b) => delete b.verificationMaterial.tlogEntries[0].inclusionProof, 'BUNDLE_MALFORMED'],
      ['inclusionPromise', (b) => delete b.verificationMaterial.tlogEntries[0].inclusionPromise, 'BUNDLE_MALFORMED'],
      ['checkpoint', (b) => delete b.verificationMaterial.tlogEntries[0].inclusionProof.checkpoint, 'BUNDLE_MALFORMED'],
      ['logId', (b) => delete b.verificationMaterial.tlogEntries[0].logId, 'BUNDLE_MALFORMED'],
      ['kindVersion', (b) => delete b.verificationMaterial.tlogEntries[0].kindVersion, 'BUNDLE_MALFORMED'],
      ['logIndex', (b) => delete b.verificationMaterial.tlogEntries[0].logIndex, 'BUNDLE_MALFORMED'],
      ['integratedTime', (b) => delete b.verificationMaterial.tlogEntries[0].integratedTime, 'BUNDLE_MALFORMED'],
      ['canonicalizedBody', (b) => delete b.verificationMaterial.tlogEntries[0].canonicalizedBody, 'BUNDLE_MALFORMED'],
      ['rootHash', (b) => delete b.verificationMaterial.tlogEntries[0].inclusionProof.rootHash, 'BUNDLE_MALFORMED'],
      ['treeSize', (b) => delete b.verificationMaterial.tlogEntries[0].inclusionProof.treeSize, 'BUNDLE_MALFORMED'],
      ['payload', (b) => delete b.dsseEnvelope.payload, 'DSSE_INVALID'],
      ['payloadType', (b) => delete b.dsseEnvelope.payloadType, 'DSSE_INVALID'],
      ['signatures', (b) => delete b.dsseEnvelope.signatures, 'DSSE_INVALID'],
      ['sig', (b) => delete b.dsseEnvelope.signatures[0].sig, 'DSSE_INVALID'],
    ];
    for (const [, mutate, code] of cases) {
      const b = base();
      mutate(b);
      throwsCode(() => verifier.verify(b), code);
    }
  });

  test('unknown bundle mediaType (v0.1, v0.2, v0.4, junk) → BUNDLE_VERSION', () => {
    for (const mt of [
      'application/vnd.dev.sigstore.bundle+json;version=0.1',
      'application/vnd.dev.sigstore.bundle+json;version=0.2',
      'application/vnd.dev.sigstore.bundle.v0.4+json',
      'application/vnd.dev.sigstore.bundle+json;version=0.4',
      'application/json',
    ]) {
      const b = base();
      b.mediaType = mt;
      throwsCode(() => verifier.verify(b), 'BUNDLE_VERSION');
    }
    // The alternative spelling of v0.3 is accepted.
    const alt = base();
    alt.mediaType = 'application/vnd.dev.sigstore.bundle+json;version=0.3';
    verifier.verify(alt);
  });

  test('x509CertificateChain instead of a single certificate → BUNDLE_VERSION', () => {
    const b = base();
    b.verificationMaterial.x509CertificateChain = { certificates: [b.verificationMaterial.certificate] };
    delete b.verificationMaterial.certificate;
    throwsCode(() => verifier.verify(b), 'BUNDLE_VERSION');
  });

  test('empty certificate or no verification material → CERT_INVALID', () => {
    const empty = base();
    empty.verificationMaterial.certificate.rawBytes = '';
    throwsCode(() => verifier.verify(empty), 'CERT_INVALID');
    const none = base();
    delete none.verificationMaterial.certificate;
    throwsCode(() => verifier.verify(none), 'CERT_INVALID');
  });

  test('key-based bundle without a key → USAGE', () => {
    const b = base();
    delete b.verificationMaterial.certificate;
    b.verificationMaterial.publicKey = { hint: '' };
    throwsCode(() => verifier.verify(b), 'USAGE');
  });

  test('base64 junk in each binary field → BUNDLE_MALFORMED or DSSE_INVALID', () => {
    const junk = 'not*base64!';
    const cases: [string, (b: Json) => void, ErrorCode][] = [
      ['payload', (b) => { b.dsseEnvelope.payload = junk; }, 'DSSE_INVALID'],
      ['sig', (b) => { b.dsseEnvelope.signatures[0].sig = junk; }, 'DSSE_INVALID'],
      ['sig length', (b) => { b.dsseEnvelope.signatures[0].sig = 'AAAAA'; }, 'DSSE_INVALID'],
      ['certificate', (b) => { b.verificationMaterial.certificate.rawBytes = junk; }, 'BUNDLE_MALFORMED'],
      ['canonicalizedBody', (b) => { b.verificationMaterial.tlogEntries[0].canonicalizedBody = junk; }, 'BUNDLE_MALFORMED'],
      ['SET', (b) => { b.verificationMaterial.tlogEntries[0].inclusionPromise.signedEntryTimestamp = junk; }, 'BUNDLE_MALFORMED'],
      ['logId', (b) => { b.verificationMaterial.tlogEntries[0].logId.keyId = junk; }, 'BUNDLE_MALFORMED'],
      ['logId length', (b) => { b.verificationMaterial.tlogEntries[0].logId.keyId = 'AAAA'; }, 'BUNDLE_MALFORMED'],
      ['rootHash', (b) => { b.verificationMaterial.tlogEntries[0].inclusionProof.rootHash = junk; }, 'BUNDLE_MALFORMED'],
      ['rootHash length', (b) => { b.verificationMaterial.tlogEntries[0].inclusionProof.rootHash = 'AAAA'; }, 'BUNDLE_MALFORMED'],
      ['hash', (b) => { b.verificationMaterial.tlogEntries[0].inclusionProof.hashes[0] = junk; }, 'BUNDLE_MALFORMED'],
      ['payload number', (b) => { b.dsseEnvelope.payload = 12; }, 'DSSE_INVALID'],
    ];
    for (const [, mutate, code] of cases) {
      const b = base();
      mutate(b);
      throwsCode(() => verifier.verify(b), code);
    }
  });

  test('giant, negative, fractional or non-decimal logIndex → BUNDLE_MALFORMED', () => {
    for (const v of ['99999999999999999999', '9007199254740993', '18446744073709551615', 1e300, '-1', -1, '1.5', 1.5, '0x10', '01', '', ' 1', null, true]) {
      for (const field of ['logIndex', 'integratedTime'] as const) {
        const b = base();
        b.verificationMaterial.tlogEntries[0][field] = v;
        throwsCode(() => verifier.verify(b), 'BUNDLE_MALFORMED');
      }
      const p = base();
      p.verificationMaterial.tlogEntries[0].inclusionProof.treeSize = v;
      throwsCode(() => verifier.verify(p), 'BUNDLE_MALFORMED');
    }
    // A number (not a string) within range is read as protobuf JSON allows.
    const n = base();
    n.verificationMaterial.tlogEntries[0].logIndex = 1;
    verifier.verify(n);
  });

  test('messageSignature instead of a DSSE envelope → BUNDLE_MALFORMED', () => {
    const b = base();
    b.messageSignature = { messageDigest: { algorithm: 'SHA2_256', digest: '' }, signature: '' };
    throwsCode(() => verifier.verify(b), 'BUNDLE_MALFORMED');
  });
});

describe('certificate rules', () => {
  test('integratedTime after the leaf\'s notAfter (honestly logged) → CERT_EXPIRED', () => {
    const payload = Buffer.from(JSON.stringify(statementFor('late')));
    const t = Math.floor(idBuild.notAfter.getTime() / 1000) + 60;
    const [b] = logHonestly([{ certPem: idBuild.certPem, envelope: signedBy(idBuild, payload), payload }], t);
    throwsCode(() => verifier.verify(b), 'CERT_EXPIRED');
  });

  test('integratedTime before the leaf\'s notBefore (honestly logged) → CERT_EXPIRED', async () => {
    // Still inside the log key's and the CA's windows, so only the leaf's validity is wrong.
    const id = await f.issueIdentity(['ci', 'early']);
    const payload = Buffer.from(JSON.stringify(statementFor('early')));
    const t = Math.floor(Date.parse(id.cert.validFrom) / 1000) - 5;
    const tm = f.trustMaterial();
    assert.ok(t * 1000 >= (tm.tlogs[0]?.validFrom.getTime() ?? Infinity) && t * 1000 >= (tm.cas[0]?.validFrom.getTime() ?? Infinity));
    const [b] = logHonestly([{ certPem: id.certPem, envelope: signedBy(id, payload), payload }], t);
    throwsCode(() => verifier.verify(b), 'CERT_EXPIRED');
  });

  test('a leaf with CA=true (honestly logged) → CERT_IS_CA, with or without keyCertSign', async () => {
    // Without keyCertSign, OpenSSL (and so X509Certificate.ca) does not call the cert a CA;
    // basicConstraints cA=TRUE must still be refused.
    for (const usages of [x509.KeyUsageFlags.digitalSignature, x509.KeyUsageFlags.digitalSignature | x509.KeyUsageFlags.keyCertSign]) {
      const id = await customLeaf({ isCa: true, usages });
      const [res] = f.attest([{ statement: statementFor('ca-leaf'), identity: id }]);
      throwsCode(() => verifier.verify(res?.bundle), 'CERT_IS_CA');
    }
  });

  test('a leaf without the codeSigning EKU (honestly logged) → CERT_EKU', async () => {
    const id = await customLeaf({ eku: false });
    const [res] = f.attest([{ statement: statementFor('no-eku'), identity: id }]);
    throwsCode(() => verifier.verify(res?.bundle), 'CERT_EKU');
  });

  test('a leaf without digitalSignature key usage (honestly logged) → CERT_INVALID', async () => {
    const id = await customLeaf({ usages: x509.KeyUsageFlags.keyEncipherment });
    const [res] = f.attest([{ statement: statementFor('no-ds'), identity: id }]);
    throwsCode(() => verifier.verify(res?.bundle), 'CERT_INVALID');
  });

  test('control: a custom leaf with the correct profile verifies', async () => {
    const id = await customLeaf({});
    const [res] = f.attest([{ statement: statementFor('good-custom'), identity: id }]);
    verifier.verify(res?.bundle, { identity: id.spiffeId });
  });

  test('leaf from a CA not in the trusted root: with the other factory\'s log → TLOG_UNKNOWN; with a trusted log → CERT_CHAIN_INVALID', async () => {
    const other = join(dir, 'other');
    await initFactory({ dir: other, trustDomain: TD, clock, passphrase: PASSPHRASE });
    const g = Factory.open(other, { clock });
    try {
      const id = await g.issueIdentity(['ci', 'build']);
      const [res] = g.attest([{ statement: statementFor('foreign'), identity: id }]);
      g.verifier().verify(res?.bundle, { identity: ID_BUILD }); // valid in its own factory
      throwsCode(() => verifier.verify(res?.bundle), 'TLOG_UNKNOWN');
      // Trust the other factory's log but only our CAs: the chain check must refuse the leaf.
      const mixed: TrustMaterial = { cas: f.trustMaterial().cas, tlogs: g.trustMaterial().tlogs };
      throwsCode(() => new BundleVerifier(mixed).verify(res?.bundle), 'CERT_CHAIN_INVALID');
      // And @sigstore/verify with our trusted root rejects it too.
      throwsCode(() => sigstore.verify(res?.bundle), 'DSSE_SIGNATURE');
    } finally {
      g.close();
    }
  });

  test('a trusted root whose CA chain is broken is refused at construction → TRUST_ROOT_INVALID', () => {
    const tm = f.trustMaterial();
    const leafAsCa: TrustMaterial = { cas: [{ chain: [idBuild.cert, ...(tm.cas[0]?.chain ?? [])], validFrom: new Date(0) }], tlogs: tm.tlogs };
    throwsCode(() => new BundleVerifier(leafAsCa), 'TRUST_ROOT_INVALID');
    const swapped: TrustMaterial = { cas: [{ chain: [...(tm.cas[0]?.chain ?? [])].reverse(), validFrom: new Date(0) }], tlogs: tm.tlogs };
    throwsCode(() => new BundleVerifier(swapped), 'TRUST_ROOT_INVALID');
  });
});

describe('key-based bundles (--key)', () => {
  test('a bundle signed with a plain key verifies with that key; without it → USAGE; with another key → TLOG_ENTRY_MISMATCH', () => {
    const k = generateP256();
    const pem = k.publicKey.export({ format: 'pem', type: 'spki' }) as string;
    const payload = Buffer.from(JSON.stringify(statementFor('keyed')));
    const envelope = signedBy(k, payload);
    const body = dsseEntryBody(envelope, payload, pem);
    const { indices, checkpoint } = f.log.appendBatch([body]);
    const logIndex = indices[0] as number;
    const t = Math.floor(clock.now().getTime() / 1000);
    const json = bundleToJson({
      mediaType: BUNDLE_V03_MEDIA_TYPE,
      publicKeyHint: keyIdOf(k.publicKey),
      envelope,
      tlogEntries: [{
        logIndex, logIdHex, kind: 'dsse', version: '0.0.1', integratedTime: t,
        signedEntryTimestamp: cryptoSign('sha256', setPayload({ canonicalizedBody: body, integratedTime: t, logIndex, logIdHex }), logKey),
        canonicalizedBody: body,
        inclusionProof: { logIndex, treeSize: checkpoint.size, rootHash: checkpoint.rootHash, hashes: f.log.inclusionProof(logIndex, checkpoint.size), checkpoint: checkpoint.note },
      }],
    });
    const trust = f.trustMaterial();
    const ok = new BundleVerifier(trust, { publicKey: k.publicKey }).verify(json, { artifact: { algorithm: 'sha256', hex: artifactDigest('keyed') } });
    assert.equal(ok.signer.keyId, keyIdOf(k.publicKey));
    assert.equal(ok.signer.identity, undefined);
    throwsCode(() => new BundleVerifier(trust).verify(json), 'USAGE');
    throwsCode(() => new BundleVerifier(trust, { publicKey: generateP256().publicKey }).verify(json), 'TLOG_ENTRY_MISMATCH');
    throwsCode(() => new BundleVerifier(trust, { publicKey: k.publicKey }).verify(json, { identity: ID_BUILD }), 'IDENTITY_MISMATCH');
  });
});
