import { isIP } from 'node:net';
import { X509Certificate, type KeyObject } from 'node:crypto';
import { SsfError, type Clock } from '../core/index.js';
import { OID_SERVER_AUTH, randomSerial, type IssuingCa } from './ca.js';
import { exportPrivateKeyPem, generateP256, toCryptoKeys } from './keys.js';
import { x509 } from './x509.js';

/** What a TLS serving certificate is for: its DNS and IP names and how long it lives. */
export interface ServingCertOptions {
  /** DNS SANs, e.g. `ssf-admission.ssf.svc`; the first is also the subject CN. */
  readonly dnsNames: readonly string[];
  /** IP SANs, e.g. `127.0.0.1`. */
  readonly ipAddresses?: readonly string[];
  readonly days: number;
  readonly clock: Clock;
}

/** A serving certificate and its key (PEM, PKCS#8, unencrypted: it goes into a TLS secret). */
export interface ServingCert {
  readonly certPem: string;
  readonly cert: X509Certificate;
  readonly keyPem: string;
  readonly privateKey: KeyObject;
  readonly serial: string;
  readonly notAfter: Date;
}

/** Longest validity accepted (the issuing intermediate usually ends sooner). */
export const MAX_SERVING_DAYS = 825;

const ANY_EKU = '2.5.29.37.0';
// RFC 1123 labels; lower case only, as Kubernetes service names are.
const DNS_NAME = /^(?=.{1,253}$)[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)*$/;

/**
 * Issues an ECDSA P-256 TLS server leaf: serverAuth EKU, digitalSignature, CA=false, DNS and
 * IP SANs. The validity never outlives the issuing CA.
 */
export async function issueServingCert(ca: IssuingCa, opts: ServingCertOptions): Promise<ServingCert> {
  const ips = opts.ipAddresses ?? [];
  if (opts.dnsNames.length === 0 && ips.length === 0) throw new SsfError('USAGE', 'a serving certificate needs at least one DNS name or IP address');
  for (const d of opts.dnsNames) {
    if (!DNS_NAME.test(d)) throw new SsfError('USAGE', `DNS name ${JSON.stringify(d)} is invalid: use lower-case letters, digits, '-' and '.'`);
  }
  for (const ip of ips) {
    if (isIP(ip) === 0) throw new SsfError('USAGE', `IP address ${JSON.stringify(ip)} is invalid`);
  }
  if (!Number.isInteger(opts.days) || opts.days < 1 || opts.days > MAX_SERVING_DAYS) {
    throw new SsfError('USAGE', `serving certificate validity must be 1 to ${MAX_SERVING_DAYS} days, got ${opts.days}`);
  }
  // A CA whose EKU leaves out serverAuth makes every TLS client refuse the chain (OpenSSL:
  // "unsuitable certificate purpose"); say so here rather than at the first handshake.
  const caEku = ca.cert.keyUsage;
  if (caEku && !caEku.includes(OID_SERVER_AUTH) && !caEku.includes(ANY_EKU)) {
    throw new SsfError('CERT_INVALID', `CA ${JSON.stringify(ca.cert.subject.replace(/\n/g, ', '))} may not issue TLS server certificates (its extended key usage lacks serverAuth); rotate it with \`ssf ca rotate\``);
  }
  const keys = generateP256();
  const ck = await toCryptoKeys(keys);
  const caKeys = await toCryptoKeys(ca.keys);
  const now = opts.clock.now().getTime();
  const notBefore = new Date(now - 60_000);
  let notAfter = new Date(now + opts.days * 86_400_000);
  const caEnd = new Date(ca.cert.validTo);
  if (notAfter > caEnd) notAfter = caEnd;
  const names = [
    ...opts.dnsNames.map((value) => ({ type: 'dns' as const, value })),
    ...ips.map((value) => ({ type: 'ip' as const, value })),
  ];
  // CN is informational (clients match SANs); X.520 caps it at 64 characters.
  const cn = opts.dnsNames[0] ?? ips[0] ?? '';
  const subject = cn.length <= 64 ? `CN=${cn}` : '';
  const serial = randomSerial();
  const generated = await x509.X509CertificateGenerator.create({
    serialNumber: serial,
    subject,
    issuer: new x509.X509Certificate(ca.certPem).subjectName,
    notBefore,
    notAfter,
    publicKey: ck.publicKey,
    signingKey: caKeys.privateKey,
    signingAlgorithm: { name: 'ECDSA', hash: 'SHA-256' },
    extensions: [
      new x509.BasicConstraintsExtension(false, undefined, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true),
      new x509.ExtendedKeyUsageExtension([OID_SERVER_AUTH], false),
      new x509.SubjectAlternativeNameExtension(names, subject === ''),
      await x509.SubjectKeyIdentifierExtension.create(ck.publicKey),
      await x509.AuthorityKeyIdentifierExtension.create(caKeys.publicKey),
    ],
  });
  const certPem = withNewline(generated.toString('pem'));
  const cert = new X509Certificate(certPem);
  return { certPem, cert, keyPem: exportPrivateKeyPem(keys.privateKey), privateKey: keys.privateKey, serial: cert.serialNumber.toLowerCase(), notAfter: new Date(cert.validTo) };
}

function withNewline(pem: string): string {
  return pem.endsWith('\n') ? pem : pem + '\n';
}
