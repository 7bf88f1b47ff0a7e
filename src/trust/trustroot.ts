import { X509Certificate, type KeyObject } from 'node:crypto';
import {
  SsfError, asArray, asObject, asString, decodeBase64, encodeBase64, parseJson, sha256, toHex,
} from '../core/index.js';
import { importPublicKey, spkiDer } from './keys.js';

export const TRUSTED_ROOT_MEDIA_TYPE = 'application/vnd.dev.sigstore.trustedroot+json;version=0.1';

/** A CA the trusted root lists: its chain (issuing CA first, root last) and validity window. */
export interface TrustedCa {
  readonly chain: readonly X509Certificate[];
  readonly validFrom: Date;
  readonly validTo?: Date;
}

/** A transparency log the trusted root lists. */
export interface TrustedLog {
  readonly baseUrl: string;
  readonly keyIdHex: string;
  readonly publicKey: KeyObject;
  readonly validFrom: Date;
  readonly validTo?: Date;
}

/** Parsed trust material: what a verifier needs, nothing more. */
export interface TrustMaterial {
  readonly cas: readonly TrustedCa[];
  readonly tlogs: readonly TrustedLog[];
}

/** Inputs for writing a trusted root document. */
export interface TrustedRootInput {
  readonly trustDomain: string;
  readonly cas: readonly { chainPem: readonly string[]; validFrom: Date; validTo?: Date }[];
  readonly tlogs: readonly { baseUrl: string; publicKey: KeyObject; validFrom: Date; validTo?: Date }[];
}

/** The log's base URL and note name; verifiers match checkpoint signer names against the URL. */
export function logBaseUrl(trustDomain: string): string {
  return `https://${trustDomain}/tlog`;
}

/** Builds a Sigstore TrustedRoot (JSON form of the protobuf message) for the factory. */
export function buildTrustedRoot(input: TrustedRootInput): Record<string, unknown> {
  const validFor = (from: Date, to?: Date): Record<string, string> =>
    to ? { start: from.toISOString(), end: to.toISOString() } : { start: from.toISOString() };
  return {
    mediaType: TRUSTED_ROOT_MEDIA_TYPE,
    tlogs: input.tlogs.map((t) => ({
      baseUrl: t.baseUrl,
      hashAlgorithm: 'SHA2_256',
      publicKey: { rawBytes: encodeBase64(spkiDer(t.publicKey)), keyDetails: 'PKIX_ECDSA_P256_SHA_256', validFor: validFor(t.validFrom, t.validTo) },
      logId: { keyId: encodeBase64(sha256(spkiDer(t.publicKey))) },
    })),
    certificateAuthorities: input.cas.map((ca) => ({
      subject: { organization: input.trustDomain, commonName: 'ssf' },
      uri: `spiffe://${input.trustDomain}`,
      certChain: { certificates: ca.chainPem.map((pem) => ({ rawBytes: encodeBase64(new X509Certificate(pem).raw) })) },
      validFor: validFor(ca.validFrom, ca.validTo),
    })),
    ctlogs: [],
    timestampAuthorities: [],
  };
}

function parseValidFor(v: unknown, what: string): { from: Date; to?: Date } {
  const o = asObject(v, what, 'TRUST_ROOT_INVALID');
  const from = new Date(asString(o.start, `${what}.start`, 'TRUST_ROOT_INVALID'));
  if (Number.isNaN(from.getTime())) throw new SsfError('TRUST_ROOT_INVALID', `${what}.start is not a timestamp`);
  if (o.end === undefined) return { from };
  const to = new Date(asString(o.end, `${what}.end`, 'TRUST_ROOT_INVALID'));
  if (Number.isNaN(to.getTime())) throw new SsfError('TRUST_ROOT_INVALID', `${what}.end is not a timestamp`);
  return { from, to };
}

/** Parses a TrustedRoot document (text or parsed JSON) into trust material, failing closed. */
export function parseTrustedRoot(input: string | unknown): TrustMaterial {
  const doc = asObject(typeof input === 'string' ? parseJson(input, 'trusted root', 'TRUST_ROOT_INVALID') : input, 'trusted root', 'TRUST_ROOT_INVALID');
  const mt = doc.mediaType;
  if (typeof mt !== 'string' || !mt.startsWith('application/vnd.dev.sigstore.trustedroot')) {
    throw new SsfError('TRUST_ROOT_INVALID', `trusted root has media type ${JSON.stringify(mt)}, expected ${TRUSTED_ROOT_MEDIA_TYPE}`);
  }
  const cas: TrustedCa[] = asArray(doc.certificateAuthorities ?? [], 'certificateAuthorities', 'TRUST_ROOT_INVALID').map((raw, i) => {
    const ca = asObject(raw, `certificateAuthorities[${i}]`, 'TRUST_ROOT_INVALID');
    const chainObj = asObject(ca.certChain, `certificateAuthorities[${i}].certChain`, 'TRUST_ROOT_INVALID');
    const certs = asArray(chainObj.certificates, `certificateAuthorities[${i}].certChain.certificates`, 'TRUST_ROOT_INVALID');
    if (certs.length === 0) throw new SsfError('TRUST_ROOT_INVALID', `certificateAuthorities[${i}] has an empty certificate chain`);
    const chain = certs.map((c, j) => {
      const der = decodeBase64(asObject(c, 'certificate', 'TRUST_ROOT_INVALID').rawBytes, `certificateAuthorities[${i}] certificate ${j}`, 'TRUST_ROOT_INVALID');
      try {
        return new X509Certificate(der);
      } catch (e) {
        throw new SsfError('TRUST_ROOT_INVALID', `certificateAuthorities[${i}] certificate ${j} is not a valid X.509 certificate`, { cause: e });
      }
    });
    const vf = parseValidFor(ca.validFor, `certificateAuthorities[${i}].validFor`);
    return vf.to ? { chain, validFrom: vf.from, validTo: vf.to } : { chain, validFrom: vf.from };
  });
  const tlogs: TrustedLog[] = asArray(doc.tlogs ?? [], 'tlogs', 'TRUST_ROOT_INVALID').map((raw, i) => {
    const t = asObject(raw, `tlogs[${i}]`, 'TRUST_ROOT_INVALID');
    const pk = asObject(t.publicKey, `tlogs[${i}].publicKey`, 'TRUST_ROOT_INVALID');
    const der = decodeBase64(pk.rawBytes, `tlogs[${i}].publicKey.rawBytes`, 'TRUST_ROOT_INVALID');
    let publicKey: KeyObject;
    try {
      publicKey = importPublicKey(der, `tlogs[${i}] public key`);
    } catch (e) {
      throw new SsfError('TRUST_ROOT_INVALID', `tlogs[${i}] public key is not a valid SPKI key`, { cause: e });
    }
    const keyIdHex = toHex(sha256(der));
    const logId = asObject(t.logId, `tlogs[${i}].logId`, 'TRUST_ROOT_INVALID');
    if (toHex(decodeBase64(logId.keyId, `tlogs[${i}].logId.keyId`, 'TRUST_ROOT_INVALID')) !== keyIdHex) {
      throw new SsfError('TRUST_ROOT_INVALID', `tlogs[${i}].logId does not match the SHA-256 of its public key`);
    }
    const vf = parseValidFor(pk.validFor, `tlogs[${i}].publicKey.validFor`);
    const baseUrl = asString(t.baseUrl, `tlogs[${i}].baseUrl`, 'TRUST_ROOT_INVALID');
    return vf.to ? { baseUrl, keyIdHex, publicKey, validFrom: vf.from, validTo: vf.to } : { baseUrl, keyIdHex, publicKey, validFrom: vf.from };
  });
  if (cas.length === 0 && tlogs.length === 0) throw new SsfError('TRUST_ROOT_INVALID', 'trusted root lists no certificate authorities and no logs');
  return { cas, tlogs };
}
