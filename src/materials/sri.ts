import { createHash, type Hash } from 'node:crypto';
import { SsfError, type ErrorCode } from '../core/index.js';

/** Hash algorithms an integrity string may name, weakest first (the order ssri ranks them). */
const ALGORITHMS = ['sha1', 'sha256', 'sha384', 'sha512'] as const;
export type SriAlgorithm = (typeof ALGORITHMS)[number];

/** Algorithms strong enough to pin a dependency; sha1 alone is not. */
const STRONG: ReadonlySet<SriAlgorithm> = new Set(['sha256', 'sha384', 'sha512']);

const DIGEST_BYTES: Record<SriAlgorithm, number> = { sha1: 20, sha256: 32, sha384: 48, sha512: 64 };

/** One `algo-base64` term of a Subresource Integrity string. */
export interface SriHash {
  readonly algorithm: SriAlgorithm;
  readonly digest: Buffer;
}

/** A parsed integrity string: every term, and the strongest one (what npm's cache is keyed by). */
export interface Integrity {
  readonly hashes: readonly SriHash[];
  readonly strongest: SriHash;
}

/**
 * Parses an SRI string (`sha512-<base64> sha1-<base64>`, options after `?` ignored as the
 * spec says). Unknown algorithms are skipped as in ssri; malformed base64 or a wrong digest
 * length is an error rather than a skipped term, because a lockfile is not a browser page and
 * a typo there should not silently weaken the pin.
 */
export function parseIntegrity(s: string, what: string, code: ErrorCode = 'LOCKFILE_INVALID'): Integrity {
  const hashes: SriHash[] = [];
  for (const term of s.trim().split(/\s+/)) {
    if (!term) continue;
    const m = /^([a-z0-9]+)-([A-Za-z0-9+/]+={0,2})(\?.*)?$/.exec(term);
    if (!m) throw new SsfError(code, `${what}: integrity term "${term.slice(0, 40)}" is not algorithm-base64`);
    const algorithm = m[1] as SriAlgorithm;
    if (!ALGORITHMS.includes(algorithm)) continue;
    const digest = Buffer.from(m[2] ?? '', 'base64');
    if (digest.length !== DIGEST_BYTES[algorithm] || digest.toString('base64') !== m[2]) {
      throw new SsfError(code, `${what}: ${algorithm} integrity has the wrong length or is not canonical base64`);
    }
    hashes.push({ algorithm, digest });
  }
  if (hashes.length === 0) throw new SsfError(code, `${what}: integrity "${s.slice(0, 60)}" names no known hash algorithm`);
  let strongest = hashes[0] as SriHash;
  for (const h of hashes) if (ALGORITHMS.indexOf(h.algorithm) > ALGORITHMS.indexOf(strongest.algorithm)) strongest = h;
  return { hashes, strongest };
}

/** True when the integrity carries at least one hash that is strong enough to pin content. */
export function isStrong(i: Integrity): boolean {
  return STRONG.has(i.strongest.algorithm);
}

/** Incrementally hashes a stream with every algorithm the integrity names and checks them all at the end. */
export class IntegrityChecker {
  private readonly hashers: { h: SriHash; hash: Hash }[];
  constructor(private readonly integrity: Integrity) {
    this.hashers = integrity.hashes.map((h) => ({ h, hash: createHash(h.algorithm) }));
  }
  update(chunk: Uint8Array): void {
    for (const x of this.hashers) x.hash.update(chunk);
  }
  /** Returns the first mismatching term as `algo-base64` of what was actually seen, or undefined when all match. */
  mismatch(): string | undefined {
    for (const x of this.hashers) {
      const got = x.hash.digest();
      if (!got.equals(x.h.digest)) return `${x.h.algorithm}-${got.toString('base64')}`;
    }
    return undefined;
  }
}

/** `algo-base64` of the given bytes. */
export function sriOf(data: Uint8Array, algorithm: SriAlgorithm = 'sha512'): string {
  return `${algorithm}-${createHash(algorithm).update(data).digest('base64')}`;
}
