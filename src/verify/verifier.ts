import { verify as cryptoVerify, X509Certificate, type KeyObject } from 'node:crypto';
import { SsfError, decodeBase64, sha256, sha256Hex, type DigestRef } from '../core/index.js';
import {
  INTOTO_PAYLOAD_TYPE, bundleCertificate, matchSubject, pae, parseBundle, parseStatement, setPayload,
  type Bundle, type Statement, type TlogEntry,
} from '../attest/index.js';
import { ecdsaNoteVerifier, leafHash, openNote, parseCheckpointBody, verifyInclusion } from '../log/index.js';
import { OID_CODE_SIGNING, RevocationIndex, keyIdOf, x509, type TrustMaterial, type TrustedCa, type TrustedLog } from '../trust/index.js';

/** What a caller requires of a bundle beyond its being valid. */
export interface VerifyPolicy {
  /** Exact identity (SAN URI) the signing certificate must carry. */
  readonly identity?: string;
  /** Artifact digest that must be one of the statement's subjects. */
  readonly artifact?: DigestRef;
}

/** The facts a verified bundle establishes. */
export interface VerifiedBundle {
  readonly statement: Statement;
  readonly payloadType: string;
  readonly signer: { readonly identity?: string; readonly serial?: string; readonly keyId: string };
  readonly logIndex: number;
  readonly integratedTime: Date;
  readonly checkpoint: { readonly origin: string; readonly size: number; readonly rootHash: Buffer };
}

interface CertFacts {
  readonly cert: X509Certificate;
  readonly publicKey: KeyObject;
  readonly identity?: string;
  readonly serial: string;
  readonly keyId: string;
  readonly notBefore: number;
  readonly notAfter: number;
  readonly ca: TrustedCa;
}

interface LogFacts {
  readonly log: TrustedLog;
  readonly noteName: string;
}

/** The note name a log signs checkpoints with: its base URL without the scheme. */
export function noteNameForLog(baseUrl: string): string {
  return baseUrl.replace(/^https?:\/\//, '').replace(/\/+$/, '');
}

const MAX_CACHE = 4096;

/**
 * ssf's own bundle verifier. Beyond what @sigstore/verify checks, it enforces the leaf
 * profile (code-signing EKU, digitalSignature, CA=false), the revocation list, the subject
 * digest against the artifact, and that the inclusion proof's root hash and tree size are the
 * ones the signed checkpoint states. Per-certificate and per-checkpoint work is cached, so a
 * warm verification costs two ECDSA verifies (envelope and entry timestamp) plus hashing.
 */
export class BundleVerifier {
  private readonly certCache = new Map<string, CertFacts>();
  private readonly checkpointCache = new Map<string, { origin: string; size: number; rootHash: Buffer }>();
  private readonly logs = new Map<string, LogFacts>();
  private readonly revocations: RevocationIndex;

  constructor(private readonly trust: TrustMaterial, opts: { revocations?: RevocationIndex; publicKey?: KeyObject } = {}) {
    this.revocations = opts.revocations ?? new RevocationIndex();
    this.staticKey = opts.publicKey;
    for (const ca of trust.cas) checkCaChain(ca);
    for (const l of trust.tlogs) this.logs.set(l.keyIdHex, { log: l, noteName: noteNameForLog(l.baseUrl) });
  }
  private readonly staticKey: KeyObject | undefined;

  /** Verifies a bundle (text, parsed JSON or a parsed Bundle); throws SsfError with a specific code. */
  verify(input: string | unknown, policy: VerifyPolicy = {}): VerifiedBundle {
    const bundle: Bundle = isParsedBundle(input) ? input : parseBundle(input);
    if (bundle.tlogEntries.length !== 1) {
      throw new SsfError('BUNDLE_MALFORMED', `bundle must carry exactly one transparency-log entry, found ${bundle.tlogEntries.length}`);
    }
    const entry = bundle.tlogEntries[0] as TlogEntry;
    const env = bundle.envelope;
    if (env.signatures.length !== 1) throw new SsfError('DSSE_INVALID', `bundle envelope must carry exactly one signature, found ${env.signatures.length}`);
    const sig = decodeBase64((env.signatures[0] as { sig: string }).sig, 'envelope signature', 'DSSE_INVALID');
    const payload = decodeBase64(env.payload, 'envelope payload', 'DSSE_INVALID');

    // 1. The transparency-log entry: known log, signed timestamp, inclusion under a signed checkpoint.
    const logFacts = this.logs.get(entry.logIdHex);
    if (!logFacts) throw new SsfError('TLOG_UNKNOWN', `log id ${entry.logIdHex.slice(0, 16)}… is not in the trusted root`);
    const integrated = entry.integratedTime * 1000;
    if (entry.integratedTime === 0) throw new SsfError('TLOG_SET', 'the entry has no integrated time');
    if (integrated < logFacts.log.validFrom.getTime() || (logFacts.log.validTo && integrated > logFacts.log.validTo.getTime())) {
      throw new SsfError('TLOG_UNKNOWN', 'the entry was integrated outside the log key\'s validity window in the trusted root');
    }
    if (!cryptoVerify('sha256', setPayload(entry), logFacts.log.publicKey, entry.signedEntryTimestamp)) {
      throw new SsfError('TLOG_SET', `signed entry timestamp for log index ${entry.logIndex} does not verify`);
    }
    const proof = entry.inclusionProof;
    if (proof.logIndex !== entry.logIndex) throw new SsfError('TLOG_INCLUSION', `inclusion proof is for index ${proof.logIndex}, entry says ${entry.logIndex}`);
    verifyInclusion(leafHash(entry.canonicalizedBody), proof.logIndex, proof.treeSize, [...proof.hashes], proof.rootHash);
    const cp = this.checkpoint(proof.checkpoint, logFacts);
    if (cp.size !== proof.treeSize || !cp.rootHash.equals(proof.rootHash)) {
      throw new SsfError('TLOG_CHECKPOINT', `checkpoint (size ${cp.size}) does not state the proof's tree size ${proof.treeSize} and root hash`);
    }

    // 2. The signer: a certificate chaining to a trusted CA, valid when the log integrated the entry.
    let signerKey: KeyObject;
    let signer: VerifiedBundle['signer'];
    let certPemB64: string | undefined;
    if (bundle.certificateDer) {
      const facts = this.certFacts(bundle);
      if (integrated < facts.notBefore || integrated > facts.notAfter) {
        throw new SsfError('CERT_EXPIRED', `certificate was not valid at the log's integrated time ${new Date(integrated).toISOString()}`);
      }
      const ca = facts.ca;
      if (integrated < ca.validFrom.getTime() || (ca.validTo && integrated > ca.validTo.getTime())) {
        throw new SsfError('CERT_EXPIRED', 'the issuing CA was not valid in the trusted root at the integrated time');
      }
      for (const c of this.chainFacts(ca)) {
        if (integrated < c.notBefore || integrated > c.notAfter) throw new SsfError('CERT_EXPIRED', `CA certificate ${c.subject} was not valid at the integrated time`);
        const why = this.revocations.check({ serial: c.serial, keyId: c.keyId });
        if (why) throw new SsfError('CERT_REVOKED', `issuing CA revoked: ${why}`);
      }
      const why = this.revocations.check(facts.identity === undefined ? { serial: facts.serial, keyId: facts.keyId } : { serial: facts.serial, keyId: facts.keyId, identity: facts.identity });
      if (why) throw new SsfError('CERT_REVOKED', why);
      signerKey = facts.publicKey;
      signer = facts.identity === undefined ? { serial: facts.serial, keyId: facts.keyId } : { identity: facts.identity, serial: facts.serial, keyId: facts.keyId };
      certPemB64 = facts.cert.toString();
    } else {
      if (!this.staticKey) throw new SsfError('USAGE', 'the bundle is key-based: pass the signer\'s public key with --key');
      signerKey = this.staticKey;
      const keyId = keyIdOf(signerKey);
      const why = this.revocations.check({ serial: '', keyId });
      if (why) throw new SsfError('CERT_REVOKED', why);
      signer = { keyId };
    }

    // 3. The entry body must describe exactly this envelope and signer.
    checkEntryBody(entry, payload, sig, certPemB64 ?? (signerKey.export({ format: 'pem', type: 'spki' }) as string));

    // 4. The envelope signature over the exact PAE bytes.
    if (!cryptoVerify('sha256', pae(env.payloadType, payload), signerKey, sig)) {
      throw new SsfError('DSSE_SIGNATURE', 'the envelope signature does not verify with the signing certificate\'s key');
    }
    if (env.payloadType !== INTOTO_PAYLOAD_TYPE) throw new SsfError('PAYLOAD_TYPE', `payload type is ${JSON.stringify(env.payloadType)}, expected ${INTOTO_PAYLOAD_TYPE}`);
    let json: unknown;
    try {
      json = JSON.parse(payload.toString('utf8'));
    } catch (e) {
      throw new SsfError('STATEMENT_INVALID', 'the signed payload is not JSON', { cause: e });
    }
    const statement = parseStatement(json);

    // 5. The caller's policy.
    if (policy.identity !== undefined && signer.identity !== policy.identity) {
      throw new SsfError('IDENTITY_MISMATCH', `signed by ${signer.identity ?? 'a key'}, expected ${policy.identity}`);
    }
    if (policy.artifact) matchSubject(statement, policy.artifact);

    return { statement, payloadType: env.payloadType, signer, logIndex: entry.logIndex, integratedTime: new Date(integrated), checkpoint: cp };
  }

  private readonly caFacts = new Map<TrustedCa, { subject: string; serial: string; keyId: string; notBefore: number; notAfter: number }[]>();
  private chainFacts(ca: TrustedCa): { subject: string; serial: string; keyId: string; notBefore: number; notAfter: number }[] {
    let f = this.caFacts.get(ca);
    if (!f) {
      f = ca.chain.map((c) => ({
        subject: subjectOf(c),
        serial: c.serialNumber,
        keyId: keyIdOf(c.publicKey),
        notBefore: Date.parse(c.validFrom),
        notAfter: Date.parse(c.validTo),
      }));
      this.caFacts.set(ca, f);
    }
    return f;
  }

  private checkpoint(text: string, lf: LogFacts): { origin: string; size: number; rootHash: Buffer } {
    const key = lf.log.keyIdHex + '\n' + text;
    const hit = this.checkpointCache.get(key);
    if (hit) return hit;
    let opened: { text: string };
    try {
      opened = openNote(text, [ecdsaNoteVerifier(lf.noteName, lf.log.publicKey)]);
    } catch (e) {
      throw new SsfError('TLOG_CHECKPOINT', `checkpoint signature does not verify with the log key: ${(e as Error).message}`, { cause: e });
    }
    const body = parseCheckpointBody(opened.text);
    const out = { origin: body.origin, size: body.size, rootHash: Buffer.from(body.rootHash) };
    if (this.checkpointCache.size >= MAX_CACHE) this.checkpointCache.clear();
    this.checkpointCache.set(key, out);
    return out;
  }

  private certFacts(bundle: Bundle): CertFacts {
    const der = bundle.certificateDer as Buffer;
    const key = der.toString('base64');
    const hit = this.certCache.get(key);
    if (hit) return hit;
    const cert = bundleCertificate(bundle);
    let px: x509.X509Certificate;
    try {
      px = new x509.X509Certificate(new Uint8Array(der));
    } catch (e) {
      throw new SsfError('CERT_INVALID', 'the bundle certificate\'s extensions cannot be parsed', { cause: e });
    }
    // Node's `ca` is OpenSSL's X509_check_ca, which is false for basicConstraints cA=TRUE when the
    // key usage lacks keyCertSign; the leaf profile requires CA=false, so read the extension too.
    if (cert.ca || px.getExtension(x509.BasicConstraintsExtension)?.ca === true) {
      throw new SsfError('CERT_IS_CA', 'the signing certificate is a CA certificate (CA=true); a leaf is required');
    }
    const eku = cert.keyUsage;
    if (!eku || !eku.includes(OID_CODE_SIGNING)) throw new SsfError('CERT_EKU', 'the signing certificate lacks the code-signing extended key usage');
    const ku = px.getExtension(x509.KeyUsagesExtension);
    if (!ku || (ku.usages & x509.KeyUsageFlags.digitalSignature) === 0) {
      throw new SsfError('CERT_INVALID', 'the signing certificate\'s key usage does not allow digitalSignature');
    }
    const ca = this.trust.cas.find((c) => {
      const issuer = c.chain[0] as X509Certificate;
      return cert.checkIssued(issuer) && cert.verify(issuer.publicKey);
    });
    if (!ca) throw new SsfError('CERT_CHAIN_INVALID', 'the signing certificate was not issued by any CA in the trusted root');
    const uris = (cert.subjectAltName ?? '').split(', ').filter((s) => s.startsWith('URI:')).map((s) => s.slice(4));
    const publicKey = cert.publicKey;
    const facts: CertFacts = {
      cert,
      publicKey,
      ...(uris[0] !== undefined ? { identity: uris[0] } : {}),
      serial: cert.serialNumber.toLowerCase(),
      keyId: keyIdOf(publicKey),
      notBefore: Date.parse(cert.validFrom),
      notAfter: Date.parse(cert.validTo),
      ca,
    };
    if (this.certCache.size >= MAX_CACHE) this.certCache.clear();
    this.certCache.set(key, facts);
    return facts;
  }
}

function isParsedBundle(v: unknown): v is Bundle {
  return typeof v === 'object' && v !== null && 'envelope' in v && 'tlogEntries' in v && !('dsseEnvelope' in v);
}

/** A certificate's subject for messages; Node reports an empty subject as undefined, not ''. */
function subjectOf(c: X509Certificate): string {
  return ((c.subject as string | undefined) ?? '').replace(/\n/g, ', ') || '(empty subject)';
}

/** Each CA chain in the trusted root must be internally valid: CA=true, each link signed by the next. */
function checkCaChain(ca: TrustedCa): void {
  ca.chain.forEach((c, i) => {
    if (!c.ca) throw new SsfError('TRUST_ROOT_INVALID', `trusted root CA certificate ${subjectOf(c)} is not a CA`);
    const issuer = ca.chain[i + 1] ?? c;
    if (!c.checkIssued(issuer) || !c.verify(issuer.publicKey)) {
      throw new SsfError('TRUST_ROOT_INVALID', `trusted root CA chain is broken at ${subjectOf(c)}`);
    }
  });
}

/** The logged body must bind this payload, this signature and this certificate (Rekor `dsse` 0.0.1). */
/** `certPem` is the signer's certificate PEM, or its public key PEM for key-based bundles. */
function checkEntryBody(entry: TlogEntry, payload: Buffer, sig: Buffer, certPem: string): void {
  if (entry.kind !== 'dsse' || entry.version !== '0.0.1') {
    throw new SsfError('TLOG_ENTRY_MISMATCH', `entry kind ${entry.kind}/${entry.version} is not dsse/0.0.1`);
  }
  let body: { kind?: unknown; apiVersion?: unknown; spec?: { payloadHash?: { value?: unknown }; signatures?: { signature?: unknown; verifier?: unknown }[] } };
  try {
    body = JSON.parse(entry.canonicalizedBody.toString('utf8'));
  } catch (e) {
    throw new SsfError('TLOG_ENTRY_MISMATCH', 'the logged entry body is not JSON', { cause: e });
  }
  if (body.kind !== 'dsse' || body.apiVersion !== '0.0.1') throw new SsfError('TLOG_ENTRY_MISMATCH', 'the logged entry body is not a dsse 0.0.1 entry');
  if (body.spec?.payloadHash?.value !== sha256Hex(payload)) throw new SsfError('TLOG_ENTRY_MISMATCH', 'the logged payload hash does not match the envelope payload');
  const sigs = body.spec?.signatures;
  if (!Array.isArray(sigs) || sigs.length !== 1) throw new SsfError('TLOG_ENTRY_MISMATCH', 'the logged entry must carry exactly one signature');
  const logged = sigs[0] as { signature?: unknown; verifier?: unknown };
  if (typeof logged.signature !== 'string' || !decodeBase64(logged.signature, 'logged signature', 'TLOG_ENTRY_MISMATCH').equals(sig)) {
    throw new SsfError('TLOG_ENTRY_MISMATCH', 'the logged signature does not match the envelope signature');
  }
  {
    const loggedB64 = typeof logged.verifier === 'string' ? logged.verifier : '';
    // Entries from one identity repeat the same verifier text; remember confirmed pairs.
    const memo = loggedB64 + '\n' + certPem;
    if (!confirmedVerifiers.has(memo)) {
      const verifier = decodeBase64(loggedB64, 'logged verifier', 'TLOG_ENTRY_MISMATCH').toString('utf8');
      if (!sameCert(verifier, certPem)) throw new SsfError('TLOG_ENTRY_MISMATCH', 'the logged verifier is not the bundle\'s certificate or key');
      if (confirmedVerifiers.size >= 4096) confirmedVerifiers.clear();
      confirmedVerifiers.add(memo);
    }
  }
}

const confirmedVerifiers = new Set<string>();

function sameCert(a: string, b: string): boolean {
  const norm = (p: string): Buffer => sha256(p.replace(/-----[A-Z ]+-----/g, '').replace(/\s+/g, ''));
  return norm(a).equals(norm(b));
}
