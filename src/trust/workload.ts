import type { KeyObject, X509Certificate } from 'node:crypto';
import { SsfError, type Clock } from '../core/index.js';
import { issueLeaf, type IssuingCa } from './ca.js';
import { generateP256 } from './keys.js';

/** A short-lived identity; its private key never leaves this process's memory. */
export interface WorkloadIdentity {
  readonly spiffeId: string;
  readonly certPem: string;
  readonly cert: X509Certificate;
  readonly serial: string;
  readonly privateKey: KeyObject;
  readonly notAfter: Date;
}

const TRUST_DOMAIN = /^[a-z0-9._-]{1,255}$/;
const PATH_SEGMENT = /^[A-Za-z0-9._-]+$/;

/** Validates a SPIFFE trust domain name (lower-case letters, digits, dots, dashes, underscores). */
export function assertTrustDomain(td: string): void {
  if (!TRUST_DOMAIN.test(td)) {
    throw new SsfError('USAGE', `trust domain ${JSON.stringify(td)} is invalid: use lower-case letters, digits, '.', '-' and '_'`);
  }
}

/** Builds `spiffe://<td>/<seg>/<seg>…`, rejecting segments SPIFFE forbids ('.', '..', empty, odd characters). */
export function spiffeId(trustDomain: string, segments: readonly string[]): string {
  assertTrustDomain(trustDomain);
  if (segments.length === 0) throw new SsfError('USAGE', 'a workload identity needs at least one path segment');
  for (const s of segments) {
    if (!PATH_SEGMENT.test(s) || s === '.' || s === '..') {
      throw new SsfError('USAGE', `SPIFFE path segment ${JSON.stringify(s)} is invalid: use letters, digits, '.', '-' and '_'`);
    }
  }
  return `spiffe://${trustDomain}/${segments.join('/')}`;
}

/** Issues a workload identity for exactly one purpose (e.g. run/task/node), valid for minutes. */
export async function issueWorkloadIdentity(
  ca: IssuingCa,
  opts: { trustDomain: string; path: readonly string[]; minutes: number; clock: Clock },
): Promise<WorkloadIdentity> {
  const id = spiffeId(opts.trustDomain, opts.path);
  const keys = generateP256();
  const leaf = await issueLeaf(ca, { uri: id, publicKey: keys.publicKey, clock: opts.clock, minutes: opts.minutes });
  return { spiffeId: id, certPem: leaf.pem, cert: leaf.cert, serial: leaf.serial, privateKey: keys.privateKey, notAfter: new Date(leaf.cert.validTo) };
}
