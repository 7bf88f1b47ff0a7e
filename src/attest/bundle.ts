import { X509Certificate } from 'node:crypto';
import {
  SsfError, asArray, asObject, asString, canonicalize, decodeBase64, encodeBase64, parseJson, sha256Hex, toHex,
} from '../core/index.js';

/** The media types of the bundle versions ssf reads and writes. */
export const BUNDLE_V03_MEDIA_TYPE = 'application/vnd.dev.sigstore.bundle.v0.3+json';
const ACCEPTED_MEDIA_TYPES = new Set([BUNDLE_V03_MEDIA_TYPE, 'application/vnd.dev.sigstore.bundle+json;version=0.3']);

/** A DSSE envelope as it appears in JSON (payload and signatures in base64). */
export interface EnvelopeJson {
  readonly payload: string;
  readonly payloadType: string;
  readonly signatures: readonly { readonly sig: string; readonly keyid?: string }[];
}

/** A transparency-log entry as ssf carries it inside a bundle, decoded. */
export interface TlogEntry {
  readonly logIndex: number;
  readonly logIdHex: string;
  readonly kind: string;
  readonly version: string;
  readonly integratedTime: number;
  readonly signedEntryTimestamp: Buffer;
  readonly canonicalizedBody: Buffer;
  readonly inclusionProof: {
    readonly logIndex: number;
    readonly treeSize: number;
    readonly rootHash: Buffer;
    readonly hashes: readonly Buffer[];
    readonly checkpoint: string;
  };
}

/** A parsed Sigstore bundle v0.3 with a DSSE envelope. */
export interface Bundle {
  readonly mediaType: string;
  /** DER of the leaf certificate, when the bundle is certificate-based. */
  readonly certificateDer?: Buffer;
  /** Key hint, when the bundle is key-based (verified with --key). */
  readonly publicKeyHint?: string;
  readonly tlogEntries: readonly TlogEntry[];
  readonly envelope: EnvelopeJson;
}

// Base64 of the same large buffers (entry body, certificate) is needed for the entry timestamp,
// the entry body and the bundle JSON; encode each once.
const b64Cache = new WeakMap<Buffer, string>();
function b64(buf: Buffer): string {
  let s = b64Cache.get(buf);
  if (s === undefined) {
    s = buf.toString('base64');
    b64Cache.set(buf, s);
  }
  return s;
}

const q = JSON.stringify;

/** Canonical JSON (JCS) of a DSSE envelope, written directly: its keys are fixed and sorted. */
export function canonicalEnvelope(envelope: EnvelopeJson): string {
  const sigs = envelope.signatures.map((s) => (s.keyid === undefined ? `{"sig":${q(s.sig)}}` : `{"keyid":${q(s.keyid)},"sig":${q(s.sig)}}`));
  return `{"payload":${q(envelope.payload)},"payloadType":${q(envelope.payloadType)},"signatures":[${sigs.join(',')}]}`;
}

/**
 * The body logged for a DSSE envelope: Rekor's `dsse` kind, version 0.0.1, so the entry is
 * what Sigstore verifiers expect. It binds the payload hash and the signature with the
 * verifying certificate. Written as canonical JSON directly (a test checks it equals the
 * generic canonicalisation); `verifierB64` is base64 of the certificate PEM.
 */
export function dsseEntryBody(envelope: EnvelopeJson, payload: Buffer, verifierPem: string, verifierB64?: string): Buffer {
  const v = verifierB64 ?? Buffer.from(verifierPem).toString('base64');
  const sigs = envelope.signatures.map((s) => `{"signature":${q(s.sig)},"verifier":${q(v)}}`);
  return Buffer.from(
    `{"apiVersion":"0.0.1","kind":"dsse","spec":{"envelopeHash":{"algorithm":"sha256","value":"${sha256Hex(canonicalEnvelope(envelope))}"},` +
      `"payloadHash":{"algorithm":"sha256","value":"${sha256Hex(payload)}"},"signatures":[${sigs.join(',')}]}}`,
  );
}

/** The bytes a signed entry timestamp covers: canonical JSON of body, time, index and log id. */
export function setPayload(e: { canonicalizedBody: Buffer; integratedTime: number; logIndex: number; logIdHex: string }): Buffer {
  if (!Number.isSafeInteger(e.integratedTime) || !Number.isSafeInteger(e.logIndex)) throw new SsfError('INPUT_MALFORMED', 'entry time and index must be integers');
  return Buffer.from(`{"body":"${b64(e.canonicalizedBody)}","integratedTime":${e.integratedTime},"logID":${q(e.logIdHex)},"logIndex":${e.logIndex}}`);
}

/** Serialises a bundle to the v0.3 JSON form. */
export function bundleToJson(b: Bundle): Record<string, unknown> {
  const vm: Record<string, unknown> = {};
  if (b.certificateDer) vm.certificate = { rawBytes: b64(b.certificateDer) };
  else if (b.publicKeyHint !== undefined) vm.publicKey = { hint: b.publicKeyHint };
  vm.tlogEntries = b.tlogEntries.map((e) => ({
    logIndex: String(e.logIndex),
    logId: { keyId: Buffer.from(e.logIdHex, 'hex').toString('base64') },
    kindVersion: { kind: e.kind, version: e.version },
    integratedTime: String(e.integratedTime),
    inclusionPromise: { signedEntryTimestamp: encodeBase64(e.signedEntryTimestamp) },
    inclusionProof: {
      logIndex: String(e.inclusionProof.logIndex),
      rootHash: encodeBase64(e.inclusionProof.rootHash),
      treeSize: String(e.inclusionProof.treeSize),
      hashes: e.inclusionProof.hashes.map((h) => encodeBase64(h)),
      checkpoint: { envelope: e.inclusionProof.checkpoint },
    },
    canonicalizedBody: b64(e.canonicalizedBody),
  }));
  vm.timestampVerificationData = {};
  return {
    mediaType: b.mediaType,
    verificationMaterial: vm,
    dsseEnvelope: { payload: b.envelope.payload, payloadType: b.envelope.payloadType, signatures: b.envelope.signatures.map((s) => ({ sig: s.sig, keyid: s.keyid ?? '' })) },
  };
}

const M = 'BUNDLE_MALFORMED' as const;

// int64 fields arrive as decimal strings (protobuf JSON) or numbers; both come from the
// bundle, so parse defensively: digits only, within the safe integer range.
function int64(v: unknown, what: string): number {
  const s = typeof v === 'number' ? String(v) : v;
  if (typeof s !== 'string' || !/^(0|[1-9][0-9]{0,15})$/.test(s)) throw new SsfError(M, `${what} must be a non-negative integer`);
  const n = Number(s);
  if (!Number.isSafeInteger(n)) throw new SsfError(M, `${what} is out of range`);
  return n;
}

function hash32(v: unknown, what: string): Buffer {
  const b = decodeBase64(v, what, M);
  if (b.length !== 32) throw new SsfError(M, `${what} must be a 32-byte hash`);
  return b;
}

function parseEntry(raw: unknown, i: number): TlogEntry {
  const w = `tlogEntries[${i}]`;
  const e = asObject(raw, w, M);
  const kv = asObject(e.kindVersion, `${w}.kindVersion`, M);
  const logId = asObject(e.logId, `${w}.logId`, M);
  if (e.inclusionProof === undefined) throw new SsfError(M, `${w} has no inclusion proof (a v0.3 bundle requires one)`);
  if (e.inclusionPromise === undefined) throw new SsfError(M, `${w} has no signed entry timestamp`);
  const ip = asObject(e.inclusionProof, `${w}.inclusionProof`, M);
  const cp = asObject(ip.checkpoint, `${w}.inclusionProof.checkpoint`, M);
  const promise = asObject(e.inclusionPromise, `${w}.inclusionPromise`, M);
  const logIdBytes = decodeBase64(logId.keyId, `${w}.logId.keyId`, M);
  if (logIdBytes.length !== 32) throw new SsfError(M, `${w}.logId.keyId must be 32 bytes`);
  return {
    logIndex: int64(e.logIndex, `${w}.logIndex`),
    logIdHex: toHex(logIdBytes),
    kind: asString(kv.kind, `${w}.kindVersion.kind`, M),
    version: asString(kv.version, `${w}.kindVersion.version`, M),
    integratedTime: int64(e.integratedTime, `${w}.integratedTime`),
    signedEntryTimestamp: decodeBase64(promise.signedEntryTimestamp, `${w}.inclusionPromise.signedEntryTimestamp`, M),
    canonicalizedBody: decodeBase64(e.canonicalizedBody, `${w}.canonicalizedBody`, M),
    inclusionProof: {
      logIndex: int64(ip.logIndex, `${w}.inclusionProof.logIndex`),
      treeSize: int64(ip.treeSize, `${w}.inclusionProof.treeSize`),
      rootHash: hash32(ip.rootHash, `${w}.inclusionProof.rootHash`),
      hashes: asArray(ip.hashes ?? [], `${w}.inclusionProof.hashes`, M).map((h, j) => hash32(h, `${w}.inclusionProof.hashes[${j}]`)),
      checkpoint: asString(cp.envelope, `${w}.inclusionProof.checkpoint.envelope`, M),
    },
  };
}

/** Parses a bundle from text or JSON, failing closed on anything unexpected. */
export function parseBundle(input: string | unknown): Bundle {
  const doc = asObject(typeof input === 'string' ? parseJson(input, 'bundle', M) : input, 'bundle', M);
  const mediaType = asString(doc.mediaType, 'bundle mediaType', M);
  if (!ACCEPTED_MEDIA_TYPES.has(mediaType)) {
    throw new SsfError('BUNDLE_VERSION', `bundle media type ${JSON.stringify(mediaType)} is not supported; ssf reads ${BUNDLE_V03_MEDIA_TYPE}`);
  }
  const vm = asObject(doc.verificationMaterial, 'bundle verificationMaterial', M);
  let certificateDer: Buffer | undefined;
  let publicKeyHint: string | undefined;
  if (vm.certificate !== undefined) {
    certificateDer = decodeBase64(asObject(vm.certificate, 'verificationMaterial.certificate', M).rawBytes, 'verificationMaterial.certificate.rawBytes', M);
    if (certificateDer.length === 0) throw new SsfError('CERT_INVALID', 'the bundle certificate is empty');
  } else if (vm.publicKey !== undefined) {
    publicKeyHint = asString(asObject(vm.publicKey, 'verificationMaterial.publicKey', M).hint ?? '', 'verificationMaterial.publicKey.hint', M);
  } else if (vm.x509CertificateChain !== undefined) {
    throw new SsfError('BUNDLE_VERSION', 'a v0.3 bundle must carry a single certificate, not x509CertificateChain');
  } else {
    throw new SsfError('CERT_INVALID', 'the bundle has no certificate and no public key (empty chain)');
  }
  const tlogEntries = asArray(vm.tlogEntries ?? [], 'verificationMaterial.tlogEntries', M).map(parseEntry);
  if (doc.messageSignature !== undefined) throw new SsfError(M, 'ssf bundles carry a DSSE envelope, not a message signature');
  const env = asObject(doc.dsseEnvelope, 'bundle dsseEnvelope', M);
  const sigs = asArray(env.signatures, 'dsseEnvelope.signatures', 'DSSE_INVALID').map((s, i) => {
    const o = asObject(s, `dsseEnvelope.signatures[${i}]`, 'DSSE_INVALID');
    const sig = asString(o.sig, `dsseEnvelope.signatures[${i}].sig`, 'DSSE_INVALID');
    return o.keyid === undefined ? { sig } : { sig, keyid: asString(o.keyid, `dsseEnvelope.signatures[${i}].keyid`, 'DSSE_INVALID') };
  });
  const envelope: EnvelopeJson = {
    payload: asString(env.payload, 'dsseEnvelope.payload', 'DSSE_INVALID'),
    payloadType: asString(env.payloadType, 'dsseEnvelope.payloadType', 'DSSE_INVALID'),
    signatures: sigs,
  };
  const out: Bundle = { mediaType, tlogEntries, envelope };
  if (certificateDer) return { ...out, certificateDer };
  if (publicKeyHint !== undefined) return { ...out, publicKeyHint };
  return out;
}

/** Parses the leaf certificate of a bundle. */
export function bundleCertificate(b: Bundle): X509Certificate {
  if (!b.certificateDer) throw new SsfError('CERT_INVALID', 'the bundle carries no certificate');
  try {
    return new X509Certificate(b.certificateDer);
  } catch (e) {
    throw new SsfError('CERT_INVALID', 'the bundle certificate is not a valid X.509 certificate', { cause: e });
  }
}
