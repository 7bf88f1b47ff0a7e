import { randomBytes, X509Certificate, type KeyObject } from 'node:crypto';
import { SsfError, type Clock } from '../core/index.js';
import { generateP256, toCryptoKeys, type KeyPair } from './keys.js';
import { x509 } from './x509.js';

export const OID_CODE_SIGNING = '1.3.6.1.5.5.7.3.3';
export const OID_SERVER_AUTH = '1.3.6.1.5.5.7.3.1';

/** A certificate authority this process can issue with: its certificate and private key. */
export interface IssuingCa {
  readonly certPem: string;
  readonly cert: X509Certificate;
  readonly keys: KeyPair;
}

/** Random positive 128-bit serial (RFC 5280 allows up to 20 octets; the top bit is cleared). */
export function randomSerial(): string {
  const b = randomBytes(16);
  b[0] = (b[0] ?? 0) & 0x7f | 0x01;
  return b.toString('hex');
}

function toNode(cert: x509.X509Certificate): { pem: string; cert: X509Certificate } {
  const pem = cert.toString('pem');
  return { pem, cert: new X509Certificate(pem) };
}

/** Creates the self-signed root CA: long-lived, only ever used to sign intermediates and revocations. */
export async function createRootCa(opts: { trustDomain: string; clock: Clock; years?: number; keys?: KeyPair }): Promise<IssuingCa> {
  const keys = opts.keys ?? generateP256();
  const ck = await toCryptoKeys(keys);
  const notBefore = new Date(opts.clock.now().getTime() - 60_000);
  const notAfter = new Date(notBefore.getTime() + (opts.years ?? 10) * 365 * 86_400_000);
  const name = `CN=ssf root CA, O=${escapeDn(opts.trustDomain)}`;
  const cert = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: randomSerial(),
    name,
    notBefore,
    notAfter,
    keys: ck,
    signingAlgorithm: { name: 'ECDSA', hash: 'SHA-256' },
    extensions: [
      new x509.BasicConstraintsExtension(true, 1, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true),
      await x509.SubjectKeyIdentifierExtension.create(ck.publicKey),
    ],
  });
  const n = toNode(cert);
  return { certPem: n.pem, cert: n.cert, keys };
}

/** Creates an online intermediate CA signed by the root; it issues workload identities. */
export async function createIntermediateCa(
  root: IssuingCa,
  opts: { trustDomain: string; clock: Clock; generation: number; days?: number },
): Promise<IssuingCa> {
  const keys = generateP256();
  const ck = await toCryptoKeys(keys);
  const rootKeys = await toCryptoKeys(root.keys);
  const notBefore = new Date(opts.clock.now().getTime() - 60_000);
  let notAfter = new Date(notBefore.getTime() + (opts.days ?? 365) * 86_400_000);
  const rootEnd = new Date(root.cert.validTo);
  if (notAfter > rootEnd) notAfter = rootEnd;
  const cert = await x509.X509CertificateGenerator.create({
    serialNumber: randomSerial(),
    subject: `CN=ssf intermediate CA ${opts.generation}, O=${escapeDn(opts.trustDomain)}`,
    issuer: new x509.X509Certificate(root.certPem).subjectName,
    notBefore,
    notAfter,
    publicKey: ck.publicKey,
    signingKey: rootKeys.privateKey,
    signingAlgorithm: { name: 'ECDSA', hash: 'SHA-256' },
    extensions: [
      new x509.BasicConstraintsExtension(true, 0, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true),
      // EKU on a CA constrains what its leaves may be used for: OpenSSL and Go (the Kubernetes
      // API server) refuse a serverAuth leaf under a CA restricted to code signing. serverAuth
      // is here for the admission webhook's serving certificate only; workload leaves still
      // carry code signing alone, and the bundle verifier requires it (CERT_EKU).
      new x509.ExtendedKeyUsageExtension([OID_CODE_SIGNING, OID_SERVER_AUTH], false),
      await x509.SubjectKeyIdentifierExtension.create(ck.publicKey),
      await x509.AuthorityKeyIdentifierExtension.create(rootKeys.publicKey),
    ],
  });
  const n = toNode(cert);
  if (!n.cert.checkIssued(root.cert) || !n.cert.verify(root.cert.publicKey)) {
    throw new SsfError('CERT_CHAIN_INVALID', 'the new intermediate does not chain to the root (issuer name mismatch)');
  }
  return { certPem: n.pem, cert: n.cert, keys };
}

/** Options for a leaf (workload) certificate. */
export interface LeafOptions {
  readonly uri: string;
  readonly publicKey: KeyObject;
  readonly clock: Clock;
  readonly minutes: number;
  readonly commonName?: string;
}

/**
 * Issues a short-lived leaf: code-signing EKU, digitalSignature only, CA=false, the identity
 * as URI SAN. The validity never outlives the issuing intermediate.
 */
export async function issueLeaf(ca: IssuingCa, opts: LeafOptions): Promise<{ pem: string; cert: X509Certificate; serial: string }> {
  if (!(opts.minutes > 0)) throw new SsfError('USAGE', `leaf validity must be a positive number of minutes, got ${opts.minutes}`);
  const caKeys = await toCryptoKeys(ca.keys);
  const alg = { name: 'ECDSA', namedCurve: 'P-256' };
  const { webcrypto } = await import('node:crypto');
  const leafPub = await webcrypto.subtle.importKey('spki', opts.publicKey.export({ format: 'der', type: 'spki' }), alg, true, ['verify']);
  const now = opts.clock.now().getTime();
  // Backdate slightly for clock skew between signer and log; keep it well under the validity.
  const notBefore = new Date(now - 30_000);
  let notAfter = new Date(now + opts.minutes * 60_000);
  const caEnd = new Date(ca.cert.validTo);
  if (notAfter > caEnd) notAfter = caEnd;
  const serial = randomSerial();
  const cert = await x509.X509CertificateGenerator.create({
    serialNumber: serial,
    subject: opts.commonName ? `CN=${escapeDn(opts.commonName)}` : '',
    issuer: new x509.X509Certificate(ca.certPem).subjectName,
    notBefore,
    notAfter,
    publicKey: leafPub,
    signingKey: caKeys.privateKey,
    signingAlgorithm: { name: 'ECDSA', hash: 'SHA-256' },
    extensions: [
      new x509.BasicConstraintsExtension(false, undefined, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true),
      new x509.ExtendedKeyUsageExtension([OID_CODE_SIGNING], false),
      new x509.SubjectAlternativeNameExtension([{ type: 'url', value: opts.uri }], !opts.commonName),
      await x509.SubjectKeyIdentifierExtension.create(leafPub),
      await x509.AuthorityKeyIdentifierExtension.create(caKeys.publicKey),
    ],
  });
  const n = toNode(cert);
  return { pem: n.pem, cert: n.cert, serial: n.cert.serialNumber.toLowerCase() };
}

function escapeDn(s: string): string {
  return s.replace(/([,+"\\<>;=])/g, '\\$1');
}
