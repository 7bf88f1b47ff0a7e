import { createHash, createPublicKey, sign as cryptoSign, verify as cryptoVerify, type KeyObject } from 'node:crypto';
import { SsfError, asArray, asObject, decodeBase64, encodeBase64 } from '../core/index.js';

/**
 * DSSE v1 (Dead Simple Signing Envelope). Signatures cover PAE(payloadType, payload) rather
 * than the payload alone, so a signature can never be replayed under another payload type,
 * and the signed bytes are unambiguous without any JSON canonicalisation.
 */

/** One signature of an envelope; `keyid` is an unauthenticated hint and is never trusted. */
export interface EnvelopeSignature {
  readonly keyid?: string;
  /** base64 of the raw signature bytes (DER for ECDSA). */
  readonly sig: string;
}

/** The DSSE JSON envelope. */
export interface Envelope {
  /** base64 of the payload bytes (either alphabet is accepted on input). */
  readonly payload: string;
  readonly payloadType: string;
  readonly signatures: readonly EnvelopeSignature[];
}

/** Something that can sign bytes; kept abstract so HSM or remote signers can be plugged in. */
export interface Signer {
  readonly keyId: string;
  sign(data: Buffer): Buffer;
}

/** Something that can check a signature; must return false (not throw) for a bad signature. */
export interface Verifier {
  readonly keyId: string;
  /**
   * Identity of the key material, so that one key registered under two ids still counts once
   * toward a threshold. Falls back to keyId when absent.
   */
  readonly keyFingerprint?: string;
  verify(data: Buffer, sig: Buffer): boolean;
}

export interface VerifyEnvelopeOptions {
  /** How many distinct keys must have signed; default 1. */
  readonly threshold?: number;
}

export interface VerifiedEnvelope {
  readonly payload: Buffer;
  readonly payloadType: string;
  /** keyIds of the distinct verifiers whose key produced at least one valid signature. */
  readonly verifiedKeyIds: readonly string[];
}

const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

/**
 * Pre-Authentication Encoding: `"DSSEv1" SP LEN(type) SP type SP LEN(body) SP body`, with
 * lengths as ASCII decimal byte counts. A payloadType with a lone surrogate is refused:
 * UTF-8 encoding would silently replace it with U+FFFD, so two distinct types would sign alike.
 */
export function pae(payloadType: string, payload: Uint8Array): Buffer {
  if (LONE_SURROGATE.test(payloadType)) {
    throw new SsfError('DSSE_INVALID', 'DSSE payloadType is not well-formed Unicode');
  }
  const type = Buffer.from(payloadType, 'utf8');
  return Buffer.concat([
    Buffer.from(`DSSEv1 ${type.length} `, 'ascii'),
    type,
    Buffer.from(` ${payload.length} `, 'ascii'),
    payload,
  ]);
}

const ENVELOPE_KEYS = new Set(['payload', 'payloadType', 'signatures']);
const SIGNATURE_KEYS = new Set(['keyid', 'sig']);

/**
 * Checks the exact envelope shape. Unknown fields are refused because nothing outside the
 * signed PAE is authenticated, and silently carrying extra data invites misuse.
 */
export function parseEnvelope(json: unknown): Envelope {
  const o = asObject(json, 'DSSE envelope', 'DSSE_INVALID');
  for (const k of Object.keys(o)) {
    if (!ENVELOPE_KEYS.has(k)) throw new SsfError('DSSE_INVALID', `DSSE envelope has unknown field "${k}"`);
  }
  const payload = o['payload'];
  if (typeof payload !== 'string') throw new SsfError('DSSE_INVALID', 'DSSE payload must be a base64 string');
  decodeBase64(payload, 'DSSE payload', 'DSSE_INVALID');
  const payloadType = o['payloadType'];
  if (typeof payloadType !== 'string' || payloadType === '') {
    throw new SsfError('DSSE_INVALID', 'DSSE payloadType must be a non-empty string');
  }
  if (LONE_SURROGATE.test(payloadType)) {
    throw new SsfError('DSSE_INVALID', 'DSSE payloadType is not well-formed Unicode');
  }
  const rawSigs = asArray(o['signatures'], 'DSSE signatures', 'DSSE_INVALID');
  if (rawSigs.length === 0) throw new SsfError('DSSE_INVALID', 'DSSE envelope has no signatures');
  const signatures = rawSigs.map((s, i): EnvelopeSignature => {
    const so = asObject(s, `DSSE signatures[${i}]`, 'DSSE_INVALID');
    for (const k of Object.keys(so)) {
      if (!SIGNATURE_KEYS.has(k)) throw new SsfError('DSSE_INVALID', `DSSE signatures[${i}] has unknown field "${k}"`);
    }
    const sig = so['sig'];
    if (typeof sig !== 'string') throw new SsfError('DSSE_INVALID', `DSSE signatures[${i}].sig must be a base64 string`);
    if (decodeBase64(sig, `DSSE signatures[${i}].sig`, 'DSSE_INVALID').length === 0) {
      throw new SsfError('DSSE_INVALID', `DSSE signatures[${i}].sig is empty`);
    }
    const keyid = so['keyid'];
    if (keyid === undefined) return { sig };
    if (typeof keyid !== 'string') throw new SsfError('DSSE_INVALID', `DSSE signatures[${i}].keyid must be a string`);
    return { keyid, sig };
  });
  return { payload, payloadType, signatures };
}

/** Signs PAE(payloadType, payload) with every signer; signers with an empty keyId get no keyid hint. */
export function signEnvelope(payloadType: string, payload: Uint8Array, signers: readonly Signer[]): Envelope {
  if (signers.length === 0) throw new SsfError('DSSE_INVALID', 'cannot sign a DSSE envelope with no signers');
  if (payloadType === '') throw new SsfError('DSSE_INVALID', 'DSSE payloadType must be a non-empty string');
  const data = pae(payloadType, payload);
  const signatures = signers.map((s): EnvelopeSignature => {
    const sig = encodeBase64(s.sign(data));
    return s.keyId === '' ? { sig } : { keyid: s.keyId, sig };
  });
  return { payload: encodeBase64(payload), payloadType, signatures };
}

/**
 * Verifies an envelope against trusted verifiers. Every verifier is tried for every signature
 * (keyid only decides the order), and the threshold counts distinct keys, so one key signing
 * twice — or an ECDSA signature and its malleated twin — cannot satisfy a threshold of two.
 */
export function verifyEnvelope(
  env: Envelope,
  verifiers: readonly Verifier[],
  opts: VerifyEnvelopeOptions = {},
): VerifiedEnvelope {
  const threshold = opts.threshold ?? 1;
  if (!Number.isSafeInteger(threshold) || threshold < 1) {
    throw new SsfError('USAGE', `DSSE threshold must be a positive integer, got ${String(threshold)}`);
  }
  const checked = parseEnvelope(env);
  const payload = decodeBase64(checked.payload, 'DSSE payload', 'DSSE_INVALID');
  const data = pae(checked.payloadType, payload);

  const verified = new Map<string, string>(); // key identity -> keyId reported
  checked.signatures.forEach((s, i) => {
    const sig = decodeBase64(s.sig, `DSSE signatures[${i}].sig`, 'DSSE_INVALID');
    const hinted = s.keyid ? verifiers.filter((v) => v.keyId === s.keyid) : [];
    const ordered = hinted.length > 0 ? [...hinted, ...verifiers.filter((v) => v.keyId !== s.keyid)] : verifiers;
    for (const v of ordered) {
      if (safeVerify(v, data, sig)) {
        const identity = v.keyFingerprint ?? `keyid:${v.keyId}`;
        if (!verified.has(identity)) verified.set(identity, v.keyId);
        break;
      }
    }
  });

  if (verified.size === 0) throw new SsfError('DSSE_SIGNATURE', 'no DSSE signature verifies with a trusted key');
  if (verified.size < threshold) {
    throw new SsfError(
      'DSSE_THRESHOLD',
      `DSSE envelope is signed by ${verified.size} distinct trusted key(s), ${threshold} required`,
    );
  }
  return { payload, payloadType: checked.payloadType, verifiedKeyIds: [...verified.values()] };
}

function safeVerify(v: Verifier, data: Buffer, sig: Buffer): boolean {
  try {
    return v.verify(data, sig) === true;
  } catch {
    return false;
  }
}

/** sha256 hex of the SubjectPublicKeyInfo DER: a stable id for key material, public or private. */
export function keyFingerprint(key: KeyObject): string {
  const pub = key.type === 'private' ? createPublicKey(key) : key;
  if (pub.type !== 'public') throw new SsfError('KEY_INVALID', 'a symmetric key has no public fingerprint');
  return createHash('sha256').update(pub.export({ type: 'spki', format: 'der' })).digest('hex');
}

/** The digest argument crypto.sign/verify needs for a key: SHA-256 for P-256, none for Ed25519. */
function digestFor(key: KeyObject): 'sha256' | null {
  if (key.asymmetricKeyType === 'ec' && key.asymmetricKeyDetails?.namedCurve === 'prime256v1') return 'sha256';
  if (key.asymmetricKeyType === 'ed25519') return null;
  const curve = key.asymmetricKeyDetails?.namedCurve;
  throw new SsfError(
    'KEY_INVALID',
    `unsupported signing key type ${key.asymmetricKeyType ?? key.type}${curve ? ` (${curve})` : ''}; use ECDSA P-256 or Ed25519`,
  );
}

/**
 * Signs with an in-memory KeyObject (ECDSA P-256 → DER over SHA-256, or Ed25519). Holding a
 * parsed KeyObject rather than PEM avoids re-parsing the key for every signature.
 */
export class KeyObjectSigner implements Signer {
  readonly keyId: string;
  readonly keyFingerprint: string;
  private readonly key: KeyObject;
  private readonly digest: 'sha256' | null;

  /** keyId defaults to the key's fingerprint. */
  constructor(privateKey: KeyObject, keyId?: string) {
    if (privateKey.type !== 'private') throw new SsfError('KEY_INVALID', 'a signer needs a private key');
    this.digest = digestFor(privateKey);
    this.key = privateKey;
    this.keyFingerprint = keyFingerprint(privateKey);
    this.keyId = keyId ?? this.keyFingerprint;
  }

  sign(data: Buffer): Buffer {
    return cryptoSign(this.digest, data, this.key);
  }
}

/** Verifies with a public KeyObject (a private key is reduced to its public half). */
export class KeyObjectVerifier implements Verifier {
  readonly keyId: string;
  readonly keyFingerprint: string;
  private readonly key: KeyObject;
  private readonly digest: 'sha256' | null;

  /** keyId defaults to the key's fingerprint. */
  constructor(publicKey: KeyObject, keyId?: string) {
    if (publicKey.type === 'secret') throw new SsfError('KEY_INVALID', 'a verifier needs a public key');
    const pub = publicKey.type === 'private' ? createPublicKey(publicKey) : publicKey;
    this.digest = digestFor(pub);
    this.key = pub;
    this.keyFingerprint = keyFingerprint(pub);
    this.keyId = keyId ?? this.keyFingerprint;
  }

  verify(data: Buffer, sig: Buffer): boolean {
    try {
      return cryptoVerify(this.digest, data, this.key, sig);
    } catch {
      return false;
    }
  }
}
