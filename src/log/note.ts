import {
  createHash,
  createPrivateKey,
  createPublicKey,
  generateKeyPairSync,
  sign as cryptoSign,
  verify as cryptoVerify,
  type KeyObject,
} from 'node:crypto';
import { SsfError } from '../core/errors.js';

/**
 * C2SP signed notes (https://c2sp.org/signed-note): text followed by a blank line and
 * `— <name> <base64(keyID || signature)>` lines. Checkpoints travel in this form, so the
 * parser is strict: anything a conforming implementation could read differently is rejected.
 */

export interface NoteSigner {
  readonly name: string;
  /** The 4-byte key ID written before every signature. */
  readonly keyId: Buffer;
  sign(msg: Buffer): Buffer;
}

export interface NoteVerifier {
  readonly name: string;
  readonly keyId: Buffer;
  verify(msg: Buffer, sig: Buffer): boolean;
}

/** One signature line, not yet verified. */
export interface NoteSignature {
  name: string;
  keyId: Buffer;
  signature: Buffer;
}

export interface OpenedNote {
  text: string;
  /** Known keys whose signatures verified, in note order. */
  verified: { name: string; keyId: Buffer }[];
  /** Signatures from keys the caller did not supply (ignored, as the spec requires). */
  unknown: { name: string; keyId: Buffer }[];
}

const EM_DASH_PREFIX = '\u2014 ';
/** The spec requires accepting at least 16; more than this is treated as abuse. */
const MAX_SIGNATURES = 100;
const ED25519_TYPE = 0x01;
const CONTROL = /[\u0000-\u0009\u000b-\u001f]/;
const NAME_FORBIDDEN = /[\p{White_Space}+]/u;
const B64_CANONICAL = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

function invalid(msg: string): SsfError {
  return new SsfError('NOTE_INVALID', msg);
}

/**
 * Strict standard base64 (RFC 4648 section 4): padded, standard alphabet, and canonical, so
 * that one byte string has exactly one accepted encoding.
 */
export function decodeStdBase64(s: string, what: string, code: 'NOTE_INVALID' | 'TLOG_CHECKPOINT' | 'KEY_INVALID'): Buffer {
  if (!B64_CANONICAL.test(s)) throw new SsfError(code, `${what} is not canonical standard base64`);
  const b = Buffer.from(s, 'base64');
  if (b.toString('base64') !== s) throw new SsfError(code, `${what} is not canonical standard base64`);
  return b;
}

/** Key names are non-empty and contain neither Unicode spaces nor '+'. */
export function isValidKeyName(name: string): boolean {
  return typeof name === 'string' && name.length > 0 && !NAME_FORBIDDEN.test(name) && !CONTROL.test(name) && !name.includes('\n');
}

function isWellFormedUtf16(s: string): boolean {
  // A lone surrogate does not survive the UTF-8 round trip.
  return Buffer.from(s, 'utf8').toString('utf8') === s;
}

function toText(note: string | Uint8Array): string {
  if (typeof note === 'string') {
    if (!isWellFormedUtf16(note)) throw invalid('note is not valid UTF-8');
    return note;
  }
  if (!(note instanceof Uint8Array)) throw invalid('note must be a string or bytes');
  try {
    return new TextDecoder('utf-8', { fatal: true, ignoreBOM: true }).decode(note);
  } catch {
    throw invalid('note is not valid UTF-8');
  }
}

function checkText(text: string): void {
  if (text.length === 0 || !text.endsWith('\n')) throw invalid('note text must be non-empty and end with a newline');
  if (CONTROL.test(text)) throw invalid('note text contains a control character');
  if (!isWellFormedUtf16(text)) throw invalid('note text is not valid UTF-8');
}

/** Splits a note into text and signature lines without verifying anything. */
export function parseNote(note: string | Uint8Array): { text: string; signatures: NoteSignature[] } {
  const s = toText(note);
  if (CONTROL.test(s)) throw invalid('note contains a control character');
  // The text ends at the last blank line; signature lines never contain one.
  const split = s.lastIndexOf('\n\n');
  if (split < 0) throw invalid('note has no blank line before its signatures');
  const text = s.slice(0, split + 1);
  const sigBlock = s.slice(split + 2);
  if (!sigBlock.endsWith('\n')) throw invalid('note signatures must end with a newline');
  const lines = sigBlock.slice(0, -1).split('\n');
  if (lines.length > MAX_SIGNATURES) throw invalid(`note has more than ${MAX_SIGNATURES} signatures`);
  const signatures: NoteSignature[] = [];
  const seen = new Set<string>();
  for (const line of lines) {
    if (!line.startsWith(EM_DASH_PREFIX)) throw invalid('note signature line does not start with an em dash and a space');
    const rest = line.slice(EM_DASH_PREFIX.length);
    const sp = rest.indexOf(' ');
    if (sp < 0) throw invalid('note signature line has no signature');
    const name = rest.slice(0, sp);
    const b64 = rest.slice(sp + 1);
    if (!isValidKeyName(name)) throw invalid(`note signature line has an invalid key name ${JSON.stringify(name)}`);
    const raw = decodeStdBase64(b64, `signature of ${name}`, 'NOTE_INVALID');
    if (raw.length < 5) throw invalid(`signature of ${name} is too short`);
    const keyId = raw.subarray(0, 4);
    const id = name + '\n' + keyId.toString('hex');
    if (seen.has(id)) throw invalid(`note has two signatures from key ${name}+${keyId.toString('hex')}`);
    seen.add(id);
    signatures.push({ name, keyId: Buffer.from(keyId), signature: Buffer.from(raw.subarray(4)) });
  }
  checkText(text);
  return { text, signatures };
}

/**
 * Opens a signed note: every signature by a known key (same name and key ID) must verify, at
 * least one must exist, and signatures by other keys are ignored. Throws NOTE_INVALID otherwise.
 */
export function openNote(note: string | Uint8Array, verifiers: readonly NoteVerifier[]): OpenedNote {
  const { text, signatures } = parseNote(note);
  const msg = Buffer.from(text, 'utf8');
  const verified: OpenedNote['verified'] = [];
  const unknown: OpenedNote['unknown'] = [];
  for (const sig of signatures) {
    const v = verifiers.find((k) => k.name === sig.name && k.keyId.equals(sig.keyId));
    if (v === undefined) {
      unknown.push({ name: sig.name, keyId: sig.keyId });
      continue;
    }
    let ok = false;
    try {
      ok = v.verify(msg, sig.signature);
    } catch {
      ok = false;
    }
    if (!ok) throw invalid(`signature by known key ${sig.name}+${sig.keyId.toString('hex')} does not verify`);
    verified.push({ name: sig.name, keyId: sig.keyId });
  }
  if (verified.length === 0) throw invalid('note carries no signature from a known key');
  return { text, verified, unknown };
}

/** Signs `text` with each signer, producing a complete signed note. */
export function signNote(text: string, signers: readonly NoteSigner[]): string {
  checkText(text);
  if (signers.length === 0) throw new SsfError('USAGE', 'a signed note needs at least one signer');
  const msg = Buffer.from(text, 'utf8');
  let out = text + '\n';
  for (const s of signers) {
    if (!isValidKeyName(s.name)) throw new SsfError('KEY_INVALID', `invalid note key name ${JSON.stringify(s.name)}`);
    if (s.keyId.length !== 4) throw new SsfError('KEY_INVALID', `note key ${s.name} must have a 4-byte key ID`);
    const sig = s.sign(msg);
    out += `${EM_DASH_PREFIX}${s.name} ${Buffer.concat([s.keyId, sig]).toString('base64')}\n`;
  }
  return out;
}

// ---- ECDSA P-256 (Sigstore / Rekor checkpoints, signature type 0x02) ----

function requireP256(key: KeyObject, what: string): void {
  if (key.asymmetricKeyType !== 'ec' || key.asymmetricKeyDetails?.namedCurve !== 'prime256v1') {
    throw new SsfError('KEY_INVALID', `${what} must be an ECDSA P-256 key`);
  }
}

/** Key hint used by Rekor and transparency-dev: SHA-256 of the DER SubjectPublicKeyInfo, first 4 bytes. */
export function ecdsaKeyId(publicKey: KeyObject): Buffer {
  const der = publicKey.export({ type: 'spki', format: 'der' });
  return createHash('sha256').update(der).digest().subarray(0, 4);
}

/** Signs notes with an ECDSA P-256 private key (ASN.1 DER signature over SHA-256 of the text). */
export function ecdsaNoteSigner(name: string, privateKey: KeyObject): NoteSigner {
  if (privateKey.type !== 'private') throw new SsfError('KEY_INVALID', 'an ECDSA note signer needs a private key');
  requireP256(privateKey, 'note signing key');
  if (!isValidKeyName(name)) throw new SsfError('KEY_INVALID', `invalid note key name ${JSON.stringify(name)}`);
  const keyId = ecdsaKeyId(createPublicKey(privateKey));
  return { name, keyId, sign: (msg) => cryptoSign('sha256', msg, privateKey) };
}

/** Verifies ECDSA P-256 note signatures. */
export function ecdsaNoteVerifier(name: string, publicKey: KeyObject): NoteVerifier {
  const pub = publicKey.type === 'private' ? createPublicKey(publicKey) : publicKey;
  if (pub.type !== 'public') throw new SsfError('KEY_INVALID', 'an ECDSA note verifier needs a public key');
  requireP256(pub, 'note verification key');
  if (!isValidKeyName(name)) throw new SsfError('KEY_INVALID', `invalid note key name ${JSON.stringify(name)}`);
  return {
    name,
    keyId: ecdsaKeyId(pub),
    verify: (msg, sig) => {
      try {
        return cryptoVerify('sha256', msg, pub, sig);
      } catch {
        return false;
      }
    },
  };
}

// ---- Ed25519 (signature type 0x01) ----

// DER prefixes wrapping a raw 32-byte Ed25519 key as SPKI / PKCS#8.
const ED25519_SPKI_PREFIX = Buffer.from('302a300506032b6570032100', 'hex');
const ED25519_PKCS8_PREFIX = Buffer.from('302e020100300506032b657004220420', 'hex');

/** key ID = SHA-256(name || 0x0A || 0x01 || public key)[:4], as the spec recommends. */
export function ed25519KeyId(name: string, rawPublicKey: Uint8Array): Buffer {
  return createHash('sha256').update(name, 'utf8').update(Buffer.of(0x0a, ED25519_TYPE)).update(rawPublicKey).digest().subarray(0, 4);
}

function rawEd25519Public(key: KeyObject): Buffer {
  const der = (key.type === 'private' ? createPublicKey(key) : key).export({ type: 'spki', format: 'der' });
  return der.subarray(ED25519_SPKI_PREFIX.length);
}

function parseKeyString(s: string, parts: number, what: string): string[] {
  if (typeof s !== 'string') throw new SsfError('KEY_INVALID', `${what} must be a string`);
  // Only the leading fields are '+'-separated: the trailing base64 may itself contain '+'.
  const out: string[] = [];
  let rest = s;
  for (let i = 0; i < parts - 1; i++) {
    const at = rest.indexOf('+');
    if (at < 0) throw new SsfError('KEY_INVALID', `${what} must have ${parts} '+'-separated fields`);
    out.push(rest.slice(0, at));
    rest = rest.slice(at + 1);
  }
  out.push(rest);
  return out;
}

function decodeTypedKey(name: string, hexId: string, b64: string, what: string): { keyId: Buffer; raw: Buffer } {
  if (!isValidKeyName(name)) throw new SsfError('KEY_INVALID', `${what} has an invalid name`);
  if (!/^[0-9a-f]{8}$/.test(hexId)) throw new SsfError('KEY_INVALID', `${what} key ID must be 8 lower-case hex digits`);
  const body = decodeStdBase64(b64, what, 'KEY_INVALID');
  if (body.length !== 33 || body[0] !== ED25519_TYPE) throw new SsfError('KEY_INVALID', `${what} is not an Ed25519 key`);
  return { keyId: Buffer.from(hexId, 'hex'), raw: body.subarray(1) };
}

/** Parses a verifier key `name+hex(keyID)+base64(0x01||pub)` into a note verifier. */
export function ed25519NoteVerifier(vkey: string): NoteVerifier {
  const [name = '', hexId = '', b64 = ''] = parseKeyString(vkey, 3, 'note verifier key');
  const { keyId, raw } = decodeTypedKey(name, hexId, b64, 'note verifier key');
  if (!ed25519KeyId(name, raw).equals(keyId)) throw new SsfError('KEY_INVALID', 'note verifier key ID does not match its public key');
  let pub: KeyObject;
  try {
    pub = createPublicKey({ key: Buffer.concat([ED25519_SPKI_PREFIX, raw]), format: 'der', type: 'spki' });
  } catch (e) {
    throw new SsfError('KEY_INVALID', 'note verifier key is not a valid Ed25519 public key', { cause: e });
  }
  return {
    name,
    keyId,
    verify: (msg, sig) => {
      if (sig.length !== 64) return false;
      try {
        return cryptoVerify(null, msg, pub, sig);
      } catch {
        return false;
      }
    },
  };
}

/**
 * An Ed25519 note signer, from either a private key string `PRIVATE+KEY+name+hex(keyID)+base64(0x01||seed)`
 * (the format golang.org/x/mod/sumdb/note uses) or a name and an Ed25519 private KeyObject.
 */
export function ed25519NoteSigner(skeyOrName: string, privateKey?: KeyObject): NoteSigner {
  let name: string;
  let key: KeyObject;
  if (privateKey === undefined) {
    const [p1, p2, n = '', hexId = '', b64 = ''] = parseKeyString(skeyOrName, 5, 'note signer key');
    if (p1 !== 'PRIVATE' || p2 !== 'KEY') throw new SsfError('KEY_INVALID', 'note signer key must start with PRIVATE+KEY+');
    const { keyId, raw } = decodeTypedKey(n, hexId, b64, 'note signer key');
    try {
      key = createPrivateKey({ key: Buffer.concat([ED25519_PKCS8_PREFIX, raw]), format: 'der', type: 'pkcs8' });
    } catch (e) {
      throw new SsfError('KEY_INVALID', 'note signer key is not a valid Ed25519 seed', { cause: e });
    }
    if (!ed25519KeyId(n, rawEd25519Public(key)).equals(keyId)) throw new SsfError('KEY_INVALID', 'note signer key ID does not match its key');
    name = n;
  } else {
    if (privateKey.type !== 'private' || privateKey.asymmetricKeyType !== 'ed25519') {
      throw new SsfError('KEY_INVALID', 'an Ed25519 note signer needs an Ed25519 private key');
    }
    if (!isValidKeyName(skeyOrName)) throw new SsfError('KEY_INVALID', `invalid note key name ${JSON.stringify(skeyOrName)}`);
    name = skeyOrName;
    key = privateKey;
  }
  const keyId = ed25519KeyId(name, rawEd25519Public(key));
  return { name, keyId, sign: (msg) => cryptoSign(null, msg, key) };
}

/** The verifier key string for an Ed25519 key: `name+hex(keyID)+base64(0x01||pub)`. */
export function ed25519VerifierKey(name: string, key: KeyObject): string {
  const raw = rawEd25519Public(key);
  return `${name}+${ed25519KeyId(name, raw).toString('hex')}+${Buffer.concat([Buffer.of(ED25519_TYPE), raw]).toString('base64')}`;
}

/** Generates a fresh Ed25519 note key pair as signer and verifier key strings. */
export function generateEd25519NoteKey(name: string): { signerKey: string; verifierKey: string } {
  if (!isValidKeyName(name)) throw new SsfError('KEY_INVALID', `invalid note key name ${JSON.stringify(name)}`);
  const { privateKey } = generateKeyPairSync('ed25519');
  const seed = privateKey.export({ type: 'pkcs8', format: 'der' }).subarray(ED25519_PKCS8_PREFIX.length);
  const verifierKey = ed25519VerifierKey(name, privateKey);
  const hexId = verifierKey.split('+')[1] as string;
  const signerKey = `PRIVATE+KEY+${name}+${hexId}+${Buffer.concat([Buffer.of(ED25519_TYPE), seed]).toString('base64')}`;
  return { signerKey, verifierKey };
}
