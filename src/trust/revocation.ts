import { sign, verify, type KeyObject } from 'node:crypto';
import {
  SsfError, asArray, asObject, asString, canonicalize, decodeBase64, encodeBase64, parseJson, type Clock,
} from '../core/index.js';

/** What a revocation names: a certificate serial (hex), a key id (hex SHA-256 of SPKI) or a SPIFFE identity. */
export type RevocationKind = 'serial' | 'keyId' | 'identity';

export interface RevocationEntry {
  readonly kind: RevocationKind;
  readonly value: string;
  readonly reason: string;
  readonly revokedAt: string;
}

/** The signed revocation list: monotonic version so a verifier can refuse an older list. */
export interface RevocationList {
  readonly trustDomain: string;
  readonly version: number;
  readonly issuedAt: string;
  readonly entries: readonly RevocationEntry[];
}

export const REVOCATION_MEDIA_TYPE = 'application/vnd.ssf.revocations+json;version=1';

/** Signs a revocation list with the root CA key over its canonical JSON. */
export function signRevocationList(list: RevocationList, rootKey: KeyObject): Record<string, unknown> {
  const body = canonicalize(list);
  return { mediaType: REVOCATION_MEDIA_TYPE, list, signature: encodeBase64(sign('sha256', Buffer.from(body), rootKey)) };
}

const KINDS: readonly RevocationKind[] = ['serial', 'keyId', 'identity'];

/** Parses and verifies a signed revocation list against the root CA public keys; fails closed. */
export function verifyRevocationList(input: string | unknown, rootKeys: readonly KeyObject[]): RevocationList {
  const doc = asObject(typeof input === 'string' ? parseJson(input, 'revocation list', 'REVOCATION_INVALID') : input, 'revocation list', 'REVOCATION_INVALID');
  if (doc.mediaType !== REVOCATION_MEDIA_TYPE) throw new SsfError('REVOCATION_INVALID', `revocation list has media type ${JSON.stringify(doc.mediaType)}`);
  const l = asObject(doc.list, 'revocation list body', 'REVOCATION_INVALID');
  const sig = decodeBase64(doc.signature, 'revocation list signature', 'REVOCATION_INVALID');
  const body = Buffer.from(canonicalize(l));
  if (!rootKeys.some((k) => verify('sha256', body, k, sig))) {
    throw new SsfError('REVOCATION_INVALID', 'revocation list signature does not verify against any root CA in the trusted root');
  }
  const version = l.version;
  if (typeof version !== 'number' || !Number.isInteger(version) || version < 0) throw new SsfError('REVOCATION_INVALID', 'revocation list version must be a non-negative integer');
  const entries = asArray(l.entries, 'revocation entries', 'REVOCATION_INVALID').map((raw, i) => {
    const e = asObject(raw, `revocation entry ${i}`, 'REVOCATION_INVALID');
    const kind = e.kind as RevocationKind;
    if (!KINDS.includes(kind)) throw new SsfError('REVOCATION_INVALID', `revocation entry ${i} has unknown kind ${JSON.stringify(e.kind)}`);
    return {
      kind,
      value: normaliseValue(kind, asString(e.value, `revocation entry ${i} value`, 'REVOCATION_INVALID')),
      reason: asString(e.reason ?? '', `revocation entry ${i} reason`, 'REVOCATION_INVALID'),
      revokedAt: asString(e.revokedAt, `revocation entry ${i} revokedAt`, 'REVOCATION_INVALID'),
    };
  });
  return {
    trustDomain: asString(l.trustDomain, 'revocation list trustDomain', 'REVOCATION_INVALID'),
    version,
    issuedAt: asString(l.issuedAt, 'revocation list issuedAt', 'REVOCATION_INVALID'),
    entries,
  };
}

function normaliseValue(kind: RevocationKind, v: string): string {
  // Serials and key ids are hex; compare them without case or leading-zero differences.
  if (kind === 'identity') return v;
  return v.toLowerCase().replace(/^0+(?=.)/, '');
}

/** Returns a new list with one more entry and the version bumped. */
export function addRevocation(list: RevocationList, entry: Omit<RevocationEntry, 'revokedAt'>, clock: Clock): RevocationList {
  const now = clock.now().toISOString();
  return {
    ...list,
    version: list.version + 1,
    issuedAt: now,
    entries: [...list.entries, { ...entry, value: normaliseValue(entry.kind, entry.value), revokedAt: now }],
  };
}

/** Fast membership checks for a verifier. */
export class RevocationIndex {
  private readonly serials = new Set<string>();
  private readonly keyIds = new Set<string>();
  private readonly identities = new Set<string>();
  constructor(readonly list?: RevocationList) {
    for (const e of list?.entries ?? []) {
      (e.kind === 'serial' ? this.serials : e.kind === 'keyId' ? this.keyIds : this.identities).add(e.value);
    }
  }
  /** The reason a certificate is revoked, or undefined when it is not. */
  check(c: { serial: string; keyId: string; identity?: string }): string | undefined {
    if (this.serials.has(normaliseValue('serial', c.serial))) return `certificate serial ${c.serial} is revoked`;
    if (this.keyIds.has(normaliseValue('keyId', c.keyId))) return `signing key ${c.keyId} is revoked`;
    if (c.identity !== undefined && this.identities.has(c.identity)) return `identity ${c.identity} is revoked`;
    return undefined;
  }
}
