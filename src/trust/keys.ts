import { createPrivateKey, createPublicKey, generateKeyPairSync, webcrypto, type KeyObject } from 'node:crypto';
import { SsfError, sha256Hex } from '../core/index.js';

/** An ECDSA P-256 key pair kept as parsed KeyObjects (PEM strings re-parse on every use). */
export interface KeyPair {
  readonly privateKey: KeyObject;
  readonly publicKey: KeyObject;
}

/** Generates a fresh ECDSA P-256 key pair in memory. */
export function generateP256(): KeyPair {
  return generateKeyPairSync('ec', { namedCurve: 'P-256' });
}

/**
 * Serialises a private key as PKCS#8 PEM; with a passphrase it is encrypted (PBES2:
 * PBKDF2 + AES-256-CBC), which is how the offline root key rests on disk.
 */
export function exportPrivateKeyPem(key: KeyObject, passphrase?: string): string {
  if (passphrase !== undefined) {
    return key.export({ format: 'pem', type: 'pkcs8', cipher: 'aes-256-cbc', passphrase }) as string;
  }
  return key.export({ format: 'pem', type: 'pkcs8' }) as string;
}

/** Parses a (possibly encrypted) PKCS#8 PEM private key. */
export function importPrivateKeyPem(pem: string, passphrase?: string, what = 'private key'): KeyObject {
  const encrypted = pem.includes('ENCRYPTED PRIVATE KEY');
  if (encrypted && passphrase === undefined) {
    throw new SsfError('PASSPHRASE_REQUIRED', `${what} is encrypted; set SSF_ROOT_PASSPHRASE or answer the prompt`);
  }
  try {
    const key = createPrivateKey(encrypted ? { key: pem, format: 'pem', passphrase: passphrase ?? '' } : { key: pem, format: 'pem' });
    assertP256(key, what);
    return key;
  } catch (e) {
    if (e instanceof SsfError) throw e;
    if (encrypted) throw new SsfError('PASSPHRASE_WRONG', `cannot decrypt ${what}: wrong passphrase`, { cause: e });
    throw new SsfError('KEY_INVALID', `${what} is not a valid PKCS#8 PEM key`, { cause: e });
  }
}

/** Parses an SPKI public key from PEM or DER. */
export function importPublicKey(data: string | Buffer, what = 'public key'): KeyObject {
  try {
    const key =
      typeof data === 'string'
        ? createPublicKey({ key: data, format: 'pem' })
        : createPublicKey({ key: data, format: 'der', type: 'spki' });
    return key;
  } catch (e) {
    throw new SsfError('KEY_INVALID', `${what} is not a valid SPKI public key`, { cause: e });
  }
}

/** DER SubjectPublicKeyInfo of a public (or private) key. */
export function spkiDer(key: KeyObject): Buffer {
  const pub = key.type === 'private' ? createPublicKey(key) : key;
  return pub.export({ format: 'der', type: 'spki' });
}

/** The key id used across Sigstore: hex SHA-256 of the DER SubjectPublicKeyInfo. */
export function keyIdOf(key: KeyObject): string {
  return sha256Hex(spkiDer(key));
}

function assertP256(key: KeyObject, what: string): void {
  const d = key.asymmetricKeyDetails;
  if (key.asymmetricKeyType !== 'ec' || d?.namedCurve !== 'prime256v1') {
    throw new SsfError('KEY_INVALID', `${what} must be an ECDSA P-256 key`);
  }
}

/** WebCrypto handles for @peculiar/x509, which signs certificates through WebCrypto. */
export async function toCryptoKeys(pair: KeyPair): Promise<{ privateKey: webcrypto.CryptoKey; publicKey: webcrypto.CryptoKey }> {
  const alg = { name: 'ECDSA', namedCurve: 'P-256' };
  const privateKey = await webcrypto.subtle.importKey('pkcs8', pair.privateKey.export({ format: 'der', type: 'pkcs8' }), alg, true, ['sign']);
  const publicKey = await webcrypto.subtle.importKey('spki', spkiDer(pair.publicKey), alg, true, ['verify']);
  return { privateKey, publicKey };
}
