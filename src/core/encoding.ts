import { SsfError, type ErrorCode } from './errors.js';

const B64_STD = /^[A-Za-z0-9+/]*={0,2}$/;
const B64_URL = /^[A-Za-z0-9_-]*={0,2}$/;

/**
 * Strict base64 decoding that accepts both the standard and the URL-safe alphabet (DSSE
 * requires verifiers to accept either), with or without padding, and rejects anything else:
 * Buffer.from(s, 'base64') silently skips junk, which would let two strings decode alike.
 */
export function decodeBase64(s: unknown, what: string, code: ErrorCode = 'INPUT_MALFORMED'): Buffer {
  if (typeof s !== 'string') throw new SsfError(code, `${what} must be a base64 string`);
  const std = B64_STD.test(s);
  if (!std && !B64_URL.test(s)) throw new SsfError(code, `${what} is not valid base64`);
  const body = s.replace(/=+$/, '');
  if (body.length % 4 === 1) throw new SsfError(code, `${what} has an invalid base64 length`);
  const padded = s.includes('=');
  if (padded && s.length % 4 !== 0) throw new SsfError(code, `${what} has invalid base64 padding`);
  return Buffer.from(body, std ? 'base64' : 'base64url');
}

/** Standard padded base64. */
export function encodeBase64(b: Uint8Array): string {
  return Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString('base64');
}

/** Lower-case hex. */
export function toHex(b: Uint8Array): string {
  return Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString('hex');
}

/** Parses lower- or upper-case hex of an exact byte length. */
export function fromHex(s: string, bytes: number, what: string, code: ErrorCode = 'INPUT_MALFORMED'): Buffer {
  if (typeof s !== 'string' || s.length !== bytes * 2 || !/^[0-9a-fA-F]*$/.test(s)) {
    throw new SsfError(code, `${what} must be ${bytes * 2} hex characters`);
  }
  return Buffer.from(s, 'hex');
}
