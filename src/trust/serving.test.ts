/**
 * The TLS serving certificate profile, and why the intermediate's EKU must allow serverAuth:
 * a real TLS client (OpenSSL) refuses a serverAuth leaf under a CA restricted to code signing.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:https';
import { connect } from 'node:tls';
import type { AddressInfo } from 'node:net';
import { FixedClock, systemClock } from '../core/index.js';
import { rejectsCode } from '../core/testing.js';
import { OID_CODE_SIGNING, OID_SERVER_AUTH, createIntermediateCa, createRootCa, randomSerial, toCryptoKeys, x509, type IssuingCa } from './index.js';
import { issueServingCert } from './serving.js';
import { X509Certificate } from 'node:crypto';

const TD = 'serving.test.internal';

async function pki(): Promise<{ root: IssuingCa; inter: IssuingCa }> {
  const root = await createRootCa({ trustDomain: TD, clock: systemClock });
  const inter = await createIntermediateCa(root, { trustDomain: TD, clock: systemClock, generation: 1 });
  return { root, inter };
}

/** Connects with a TLS client trusting `ca` and returns the verification error code, or 'ok'. */
async function handshake(certPem: string, keyPem: string, ca: string | undefined, servername: string): Promise<string> {
  const server = createServer({ cert: certPem, key: keyPem }, (_q, s) => s.end('ok'));
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as AddressInfo).port;
  try {
    return await new Promise<string>((resolve) => {
      const sock = connect({ host: '127.0.0.1', port, servername, ...(ca !== undefined ? { ca } : {}) }, () => {
        sock.end();
        resolve('ok');
      });
      sock.on('error', (e: NodeJS.ErrnoException) => resolve(e.code ?? e.message));
    });
  } finally {
    server.closeAllConnections();
    await new Promise<void>((r) => server.close(() => r()));
  }
}

test('a serving leaf: serverAuth only, digitalSignature, CA=false, DNS and IP SANs, chained to the intermediate', async () => {
  const { inter } = await pki();
  const s = await issueServingCert(inter, { dnsNames: ['ssf-admission.ssf.svc', 'localhost'], ipAddresses: ['127.0.0.1'], days: 30, clock: systemClock });
  assert.equal(s.cert.ca, false);
  assert.deepEqual(s.cert.keyUsage, [OID_SERVER_AUTH]);
  assert.equal(s.cert.subjectAltName, 'DNS:ssf-admission.ssf.svc, DNS:localhost, IP Address:127.0.0.1');
  assert.ok(s.cert.checkIssued(inter.cert) && s.cert.verify(inter.cert.publicKey));
  const ku = new x509.X509Certificate(s.certPem).getExtension(x509.KeyUsagesExtension);
  assert.equal(ku?.usages, x509.KeyUsageFlags.digitalSignature);
  assert.equal(ku?.critical, true);
  const days = (Date.parse(s.cert.validTo) - Date.parse(s.cert.validFrom)) / 86_400_000;
  assert.ok(days > 29.9 && days < 30.1, `validity ${days} days`);
  assert.match(s.keyPem, /^-----BEGIN PRIVATE KEY-----/);
});

test('the intermediate may issue serverAuth leaves; a TLS client trusting only the root accepts the chain', async () => {
  const { root, inter } = await pki();
  assert.deepEqual(inter.cert.keyUsage, [OID_CODE_SIGNING, OID_SERVER_AUTH]);
  const s = await issueServingCert(inter, { dnsNames: ['localhost'], days: 1, clock: systemClock });
  assert.equal(await handshake(s.certPem + inter.certPem, s.keyPem, root.certPem, 'localhost'), 'ok');
  assert.equal(await handshake(s.certPem + inter.certPem, s.keyPem, root.certPem, 'other.example'), 'ERR_TLS_CERT_ALTNAME_INVALID');
  assert.equal(await handshake(s.certPem + inter.certPem, s.keyPem, undefined, 'localhost'), 'UNABLE_TO_GET_ISSUER_CERT_LOCALLY');
});

test('an intermediate restricted to code signing (factories made before serving certificates) → CERT_INVALID, and TLS would refuse it', async () => {
  const { root } = await pki();
  // The profile intermediates had before: EKU code signing only.
  const keys = (await import('./keys.js')).generateP256();
  const ck = await toCryptoKeys(keys);
  const rk = await toCryptoKeys(root.keys);
  const old = await x509.X509CertificateGenerator.create({
    serialNumber: randomSerial(), subject: `CN=old intermediate, O=${TD}`, issuer: new x509.X509Certificate(root.certPem).subjectName,
    notBefore: new Date(Date.now() - 60_000), notAfter: new Date(Date.now() + 86_400_000), publicKey: ck.publicKey, signingKey: rk.privateKey,
    signingAlgorithm: { name: 'ECDSA', hash: 'SHA-256' },
    extensions: [
      new x509.BasicConstraintsExtension(true, 0, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true),
      new x509.ExtendedKeyUsageExtension([OID_CODE_SIGNING], false),
    ],
  });
  const pem = old.toString('pem') + '\n';
  const oldCa: IssuingCa = { certPem: pem, cert: new X509Certificate(pem), keys };
  await rejectsCode(issueServingCert(oldCa, { dnsNames: ['localhost'], days: 1, clock: systemClock }), 'CERT_INVALID');
  // Forced past the check, the chain is what a TLS client refuses (Go's x509 does the same).
  const forced: IssuingCa = { ...oldCa, cert: { ...oldCa.cert, keyUsage: undefined, validTo: oldCa.cert.validTo } as unknown as X509Certificate };
  const s = await issueServingCert(forced, { dnsNames: ['localhost'], days: 1, clock: systemClock });
  assert.equal(await handshake(s.certPem + pem, s.keyPem, root.certPem, 'localhost'), 'INVALID_PURPOSE');
});

test('bad options are USAGE; validity never outlives the CA', async () => {
  const { inter } = await pki();
  const clock = new FixedClock(Date.now());
  await rejectsCode(issueServingCert(inter, { dnsNames: [], days: 1, clock }), 'USAGE');
  await rejectsCode(issueServingCert(inter, { dnsNames: ['Not_A.Name'], days: 1, clock }), 'USAGE');
  await rejectsCode(issueServingCert(inter, { dnsNames: ['ok.svc'], ipAddresses: ['300.1.1.1'], days: 1, clock }), 'USAGE');
  await rejectsCode(issueServingCert(inter, { dnsNames: ['ok.svc'], days: 0, clock }), 'USAGE');
  const long = await issueServingCert(inter, { dnsNames: ['ok.svc'], days: 800, clock });
  assert.ok(Date.parse(long.cert.validTo) <= Date.parse(inter.cert.validTo));
});
