import { test } from 'node:test';
import assert from 'node:assert/strict';
import { generateKeyPairSync, type KeyObject } from 'node:crypto';
import { isSsfError, type ErrorCode } from '../core/index.js';
import {
  KeyObjectSigner,
  KeyObjectVerifier,
  keyFingerprint,
  pae,
  parseEnvelope,
  signEnvelope,
  verifyEnvelope,
  type Envelope,
  type Verifier,
} from './dsse.js';
import { throwsCode } from '../core/testing.js';

function p256(): { privateKey: KeyObject; publicKey: KeyObject } {
  return generateKeyPairSync('ec', { namedCurve: 'P-256' });
}

const keyA = p256();
const keyB = p256();
const keyC = p256();
const signerA = new KeyObjectSigner(keyA.privateKey, 'A');
const signerB = new KeyObjectSigner(keyB.privateKey, 'B');
const verifierA = new KeyObjectVerifier(keyA.publicKey, 'A');
const verifierB = new KeyObjectVerifier(keyB.publicKey, 'B');
const verifierC = new KeyObjectVerifier(keyC.publicKey, 'C');

const TYPE = 'application/vnd.in-toto+json';
// Bytes chosen so standard base64 contains '+' and '/', making the URL-safe form differ.
const PAYLOAD = Buffer.from([0xfb, 0xff, 0xbf, 0xfe, 0xef, 0xff, 0x7b, 0x22, 0x61, 0x22, 0x3a, 0x31, 0x7d]);

function withSig(env: Envelope, i: number, f: (b: Buffer) => void): Envelope {
  const sigs = env.signatures.map((s, j) => {
    if (j !== i) return s;
    const b = Buffer.from(s.sig, 'base64');
    f(b);
    return { ...s, sig: b.toString('base64') };
  });
  return { ...env, signatures: sigs };
}

test('pae: DSSE spec example bytes', () => {
  const out = pae('http://example.com/HelloWorld', Buffer.from('hello world'));
  assert.deepEqual(out, Buffer.from('DSSEv1 29 http://example.com/HelloWorld 11 hello world', 'ascii'));
});

test('pae: lengths are UTF-8 byte counts, not code units', () => {
  const type = 'application/ü€😀'; // 12 ASCII + 2 + 3 + 4 bytes = 21 bytes, 16 code units
  const body = Buffer.from('héllo', 'utf8'); // 6 bytes
  const expected = Buffer.concat([
    Buffer.from('DSSEv1 21 ', 'ascii'),
    Buffer.from([
      0x61, 0x70, 0x70, 0x6c, 0x69, 0x63, 0x61, 0x74, 0x69, 0x6f, 0x6e, 0x2f, 0xc3, 0xbc, 0xe2, 0x82, 0xac, 0xf0, 0x9f,
      0x98, 0x80,
    ]),
    Buffer.from(' 6 ', 'ascii'),
    Buffer.from([0x68, 0xc3, 0xa9, 0x6c, 0x6c, 0x6f]),
  ]);
  assert.deepEqual(pae(type, body), expected);
});

test('pae: empty type and body', () => {
  assert.deepEqual(pae('', Buffer.alloc(0)), Buffer.from('DSSEv1 0  0 ', 'ascii'));
});

test('pae: binary body is embedded verbatim', () => {
  const body = Buffer.from([0x00, 0x20, 0xff, 0x0a]);
  assert.deepEqual(pae('t', body), Buffer.concat([Buffer.from('DSSEv1 1 t 4 ', 'ascii'), body]));
});

test('pae: refuses a payloadType with a lone surrogate', () => {
  throwsCode(() => pae('a\ud800b', Buffer.alloc(0)), 'DSSE_INVALID');
});

test('round trip: sign then verify', () => {
  const env = signEnvelope(TYPE, PAYLOAD, [signerA]);
  assert.equal(env.payloadType, TYPE);
  assert.equal(env.signatures.length, 1);
  assert.equal(env.signatures[0]?.keyid, 'A');
  const res = verifyEnvelope(env, [verifierA]);
  assert.deepEqual(res.payload, PAYLOAD);
  assert.equal(res.payloadType, TYPE);
  assert.deepEqual(res.verifiedKeyIds, ['A']);
});

test('round trip through JSON and parseEnvelope', () => {
  const env = signEnvelope(TYPE, PAYLOAD, [signerA, signerB]);
  const parsed = parseEnvelope(JSON.parse(JSON.stringify(env)));
  assert.deepEqual(parsed, env);
  const res = verifyEnvelope(parsed, [verifierA, verifierB], { threshold: 2 });
  assert.deepEqual([...res.verifiedKeyIds].sort(), ['A', 'B']);
});

test('Ed25519 keys sign and verify', () => {
  const kp = generateKeyPairSync('ed25519');
  const env = signEnvelope(TYPE, PAYLOAD, [new KeyObjectSigner(kp.privateKey, 'ed')]);
  assert.deepEqual(verifyEnvelope(env, [new KeyObjectVerifier(kp.publicKey, 'ed')]).verifiedKeyIds, ['ed']);
});

test('tampered payload byte is rejected', () => {
  const env = signEnvelope(TYPE, PAYLOAD, [signerA]);
  const p = Buffer.from(env.payload, 'base64');
  p[0] = (p[0] ?? 0) ^ 0x01;
  throwsCode(() => verifyEnvelope({ ...env, payload: p.toString('base64') }, [verifierA]), 'DSSE_SIGNATURE');
});

test('tampered payloadType is rejected', () => {
  const env = signEnvelope(TYPE, PAYLOAD, [signerA]);
  throwsCode(() => verifyEnvelope({ ...env, payloadType: 'application/json' }, [verifierA]), 'DSSE_SIGNATURE');
});

test('tampered signature byte is rejected (every position)', () => {
  const env = signEnvelope(TYPE, PAYLOAD, [signerA]);
  const len = Buffer.from(env.signatures[0]?.sig ?? '', 'base64').length;
  for (let i = 0; i < len; i++) {
    const bad = withSig(env, 0, (b) => {
      b[i] = (b[i] ?? 0) ^ 0x01;
    });
    throwsCode(() => verifyEnvelope(bad, [verifierA]), 'DSSE_SIGNATURE');
  }
});

test('URL-safe base64 (unpadded) payload and signature are accepted', () => {
  const env = signEnvelope(TYPE, PAYLOAD, [signerA]);
  const std = env.payload;
  assert.match(std, /[+/]/, 'fixture payload must exercise the alphabet difference');
  const url: Envelope = {
    payload: Buffer.from(std, 'base64').toString('base64url'),
    payloadType: env.payloadType,
    signatures: env.signatures.map((s) => ({ ...s, sig: Buffer.from(s.sig, 'base64').toString('base64url') })),
  };
  assert.notEqual(url.payload, std);
  assert.match(url.payload, /[-_]/);
  const res = verifyEnvelope(parseEnvelope(url), [verifierA]);
  assert.deepEqual(res.payload, PAYLOAD);
});

test('the same key signing twice counts once toward the threshold', () => {
  const env = signEnvelope(TYPE, PAYLOAD, [signerA, signerA]);
  assert.equal(env.signatures.length, 2);
  assert.deepEqual(verifyEnvelope(env, [verifierA, verifierB]).verifiedKeyIds, ['A']);
  throwsCode(() => verifyEnvelope(env, [verifierA, verifierB], { threshold: 2 }), 'DSSE_THRESHOLD');
});

test('a duplicated signature entry counts once', () => {
  const env = signEnvelope(TYPE, PAYLOAD, [signerA]);
  const sig = env.signatures[0];
  assert.ok(sig);
  const dup: Envelope = { ...env, signatures: [sig, sig] };
  throwsCode(() => verifyEnvelope(dup, [verifierA], { threshold: 2 }), 'DSSE_THRESHOLD');
});

test('one key registered under two key ids counts once', () => {
  const env = signEnvelope(TYPE, PAYLOAD, [signerA, signerA]);
  const alias = new KeyObjectVerifier(keyA.publicKey, 'A-alias');
  throwsCode(() => verifyEnvelope(env, [verifierA, alias], { threshold: 2 }), 'DSSE_THRESHOLD');
});

test('two distinct keys meet a threshold of two', () => {
  const env = signEnvelope(TYPE, PAYLOAD, [signerA, signerB]);
  const res = verifyEnvelope(env, [verifierA, verifierB, verifierC], { threshold: 2 });
  assert.deepEqual([...res.verifiedKeyIds].sort(), ['A', 'B']);
  throwsCode(() => verifyEnvelope(env, [verifierA, verifierB, verifierC], { threshold: 3 }), 'DSSE_THRESHOLD');
});

test('threshold passes when some signatures do not verify', () => {
  const env = signEnvelope(TYPE, PAYLOAD, [signerA, new KeyObjectSigner(keyC.privateKey, 'C')]);
  assert.deepEqual(verifyEnvelope(env, [verifierA, verifierB]).verifiedKeyIds, ['A']);
});

test('wrong key is rejected', () => {
  const env = signEnvelope(TYPE, PAYLOAD, [signerA]);
  throwsCode(() => verifyEnvelope(env, [verifierB]), 'DSSE_SIGNATURE');
  throwsCode(() => verifyEnvelope(env, []), 'DSSE_SIGNATURE');
});

test('keyid is only a hint: a misleading keyid neither helps nor hurts', () => {
  const env = signEnvelope(TYPE, PAYLOAD, [signerA]);
  const lying: Envelope = { ...env, signatures: env.signatures.map((s) => ({ ...s, keyid: 'B' })) };
  assert.deepEqual(verifyEnvelope(lying, [verifierB, verifierA]).verifiedKeyIds, ['A']);
  throwsCode(() => verifyEnvelope(lying, [verifierB]), 'DSSE_SIGNATURE');
  const noKeyid: Envelope = { ...env, signatures: env.signatures.map((s) => ({ sig: s.sig })) };
  assert.deepEqual(verifyEnvelope(noKeyid, [verifierA]).verifiedKeyIds, ['A']);
});

test('a throwing verifier is treated as a non-match', () => {
  const env = signEnvelope(TYPE, PAYLOAD, [signerA]);
  const bad: Verifier = {
    keyId: 'X',
    verify: () => {
      throw new Error('boom');
    },
  };
  assert.deepEqual(verifyEnvelope(env, [bad, verifierA]).verifiedKeyIds, ['A']);
});

test('envelope with no signatures is DSSE_INVALID', () => {
  const env = signEnvelope(TYPE, PAYLOAD, [signerA]);
  throwsCode(() => verifyEnvelope({ ...env, signatures: [] }, [verifierA]), 'DSSE_INVALID');
  throwsCode(() => parseEnvelope({ ...env, signatures: [] }), 'DSSE_INVALID');
});

test('threshold must be a positive integer', () => {
  const env = signEnvelope(TYPE, PAYLOAD, [signerA]);
  throwsCode(() => verifyEnvelope(env, [verifierA], { threshold: 0 }), 'USAGE');
  throwsCode(() => verifyEnvelope(env, [verifierA], { threshold: 1.5 }), 'USAGE');
});

test('parseEnvelope rejects malformed shapes', () => {
  const good = signEnvelope(TYPE, PAYLOAD, [signerA]);
  const sig = good.signatures[0]?.sig ?? '';
  const cases: unknown[] = [
    null,
    [],
    'x',
    { payloadType: TYPE, signatures: [{ sig }] },
    { payload: 5, payloadType: TYPE, signatures: [{ sig }] },
    { payload: 'a!b=', payloadType: TYPE, signatures: [{ sig }] },
    { payload: 'abcde', payloadType: TYPE, signatures: [{ sig }] },
    { payload: good.payload, signatures: [{ sig }] },
    { payload: good.payload, payloadType: '', signatures: [{ sig }] },
    { payload: good.payload, payloadType: 7, signatures: [{ sig }] },
    { payload: good.payload, payloadType: TYPE },
    { payload: good.payload, payloadType: TYPE, signatures: {} },
    { payload: good.payload, payloadType: TYPE, signatures: [null] },
    { payload: good.payload, payloadType: TYPE, signatures: [{}] },
    { payload: good.payload, payloadType: TYPE, signatures: [{ sig: 1 }] },
    { payload: good.payload, payloadType: TYPE, signatures: [{ sig: '' }] },
    { payload: good.payload, payloadType: TYPE, signatures: [{ sig: '%%%' }] },
    { payload: good.payload, payloadType: TYPE, signatures: [{ sig, keyid: 3 }] },
    { payload: good.payload, payloadType: TYPE, signatures: [{ sig, extra: 1 }] },
    { payload: good.payload, payloadType: TYPE, signatures: [{ sig }], extra: true },
  ];
  for (const c of cases) throwsCode(() => parseEnvelope(c), 'DSSE_INVALID');
});

test('parseEnvelope accepts an empty keyid and an empty payload', () => {
  const good = signEnvelope(TYPE, PAYLOAD, [signerA]);
  const sig = good.signatures[0]?.sig ?? '';
  assert.deepEqual(parseEnvelope({ payload: '', payloadType: TYPE, signatures: [{ keyid: '', sig }] }), {
    payload: '',
    payloadType: TYPE,
    signatures: [{ keyid: '', sig }],
  });
});

test('signEnvelope needs a signer and a payload type', () => {
  throwsCode(() => signEnvelope(TYPE, PAYLOAD, []), 'DSSE_INVALID');
  throwsCode(() => signEnvelope('', PAYLOAD, [signerA]), 'DSSE_INVALID');
});

test('signers with an empty keyId produce no keyid hint', () => {
  const env = signEnvelope(TYPE, PAYLOAD, [new KeyObjectSigner(keyA.privateKey, '')]);
  assert.equal(Object.hasOwn(env.signatures[0] ?? {}, 'keyid'), false);
  assert.deepEqual(verifyEnvelope(env, [verifierA]).verifiedKeyIds, ['A']);
});

test('key objects: type checks and fingerprints', () => {
  throwsCode(() => new KeyObjectSigner(keyA.publicKey), 'KEY_INVALID');
  const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 });
  throwsCode(() => new KeyObjectSigner(rsa.privateKey), 'KEY_INVALID');
  throwsCode(() => new KeyObjectVerifier(rsa.publicKey), 'KEY_INVALID');
  const p384 = generateKeyPairSync('ec', { namedCurve: 'P-384' });
  throwsCode(() => new KeyObjectSigner(p384.privateKey), 'KEY_INVALID');

  const s = new KeyObjectSigner(keyA.privateKey);
  const v = new KeyObjectVerifier(keyA.publicKey);
  assert.match(s.keyId, /^[0-9a-f]{64}$/);
  assert.equal(s.keyId, v.keyId);
  assert.equal(keyFingerprint(keyA.privateKey), keyFingerprint(keyA.publicKey));
  assert.notEqual(keyFingerprint(keyA.publicKey), keyFingerprint(keyB.publicKey));
  // A verifier built from a private key uses only its public half.
  const fromPriv = new KeyObjectVerifier(keyA.privateKey, 'A');
  const env = signEnvelope(TYPE, PAYLOAD, [signerA]);
  assert.deepEqual(verifyEnvelope(env, [fromPriv]).verifiedKeyIds, ['A']);
});

test('ECDSA signatures are DER encoded', () => {
  const sig = signerA.sign(Buffer.from('x'));
  assert.equal(sig[0], 0x30); // DER SEQUENCE
  assert.equal(sig.length, (sig[1] ?? 0) + 2);
});
