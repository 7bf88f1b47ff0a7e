import { sha256Hex } from '../../core/index.js';

/**
 * The well-known credential formats: the single table the secret scanner and the pipeline
 * linter both use. Every pattern is linear-time on hostile input: no nested quantifiers, a
 * token may only start where the character before it cannot belong to it (a look-behind or
 * `\b`), so a long run is entered once, and every unbounded run ends in a look-ahead that holds
 * at its end, so a match never backtracks through it.
 */
export interface SecretRule {
  /** Stable id, what an allowlist names (`rule: github-token`). */
  id: string;
  /** What it is, for messages: `a GitHub token`. */
  what: string;
  /** Global (`g`) pattern; use it with `matchAll`, which copies it, never with `exec`. */
  re: RegExp;
  /** The capture group holding the secret itself, when the match has context around it. */
  group?: number;
  /** A second look at the secret that a pattern cannot take (a JWT header must be JSON with `alg`). */
  check?: (secret: string) => boolean;
}

/** A JWT's first part is base64url of a JSON object with a string `alg`. */
function jwtHeader(token: string): boolean {
  const head = token.slice(0, token.indexOf('.'));
  if (head.length > 4096) return false;
  try {
    const v: unknown = JSON.parse(Buffer.from(head, 'base64url').toString('utf8'));
    return typeof v === 'object' && v !== null && typeof (v as Record<string, unknown>)['alg'] === 'string';
  } catch {
    return false;
  }
}

/** Words people put where a password goes in examples, and references to one held elsewhere. */
const PLACEHOLDER = /^(?:\$|%|<.*>$|\{\{|\*+$|x+$|(?:password|passwd|pass|pwd|secret|changeme|user|username|example|dummy|test|foo|bar|token)$)/i;

export const SECRET_RULES: readonly SecretRule[] = [
  { id: 'aws-access-key-id', what: 'an AWS access key id', re: /\b(?:AKIA|ASIA|ABIA|ACCA)[0-9A-Z]{16}\b/g },
  {
    id: 'aws-secret-access-key',
    what: 'an AWS secret access key',
    re: /aws_?secret_?access_?key["']?\s*[:=]\s*["']?([A-Za-z0-9/+=]{40})(?![A-Za-z0-9/+=])/gi,
    group: 1,
  },
  { id: 'github-token', what: 'a GitHub token', re: /\b(?:ghp|gho|ghu|ghs|ghr)_[A-Za-z0-9]{36,}\b/g },
  { id: 'github-fine-grained-token', what: 'a GitHub fine-grained token', re: /\bgithub_pat_[A-Za-z0-9_]{60,}\b/g },
  { id: 'gitlab-token', what: 'a GitLab token', re: /(?<![A-Za-z0-9_-])glpat-[A-Za-z0-9_-]{20,}(?![A-Za-z0-9_-])/g },
  { id: 'npm-token', what: 'an npm token', re: /\bnpm_[A-Za-z0-9]{36}\b/g },
  { id: 'slack-token', what: 'a Slack token', re: /(?<![A-Za-z0-9_-])xox[abeprs]-[A-Za-z0-9-]{10,}(?![A-Za-z0-9_-])/g },
  { id: 'stripe-secret-key', what: 'a Stripe secret key', re: /\b[sr]k_live_[A-Za-z0-9]{20,}\b/g },
  { id: 'google-api-key', what: 'a Google API key', re: /\bAIza[0-9A-Za-z_-]{35}(?![0-9A-Za-z_-])/g },
  {
    id: 'jwt',
    what: 'a JSON Web Token',
    re: /(?<![A-Za-z0-9_-])eyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}(?![A-Za-z0-9_-])/g,
    check: jwtHeader,
  },
  // PKCS#1 (RSA), SEC 1 (EC), PKCS#8 (plain and ENCRYPTED), OpenSSH, DSA, PGP armour.
  { id: 'private-key', what: 'a private key', re: /-----BEGIN [A-Z0-9 ]{0,40}PRIVATE KEY(?: BLOCK)?-----/g },
  {
    id: 'url-password',
    what: 'a password in a URL',
    re: /(?<![A-Za-z0-9+.-])[A-Za-z][A-Za-z0-9+.-]{0,31}:\/\/[^\s/:@]{1,256}:([^\s/@]{1,256})@/g,
    group: 1,
    // Shorter than 4: documentation examples (`https://a:b@…`, `abc:xyz@`), not credentials.
    check: (s) => s.length >= 4 && !PLACEHOLDER.test(s),
  },
];

/** The id of the heuristic rule (not a pattern in SECRET_RULES): secret-named assignments of random-looking values. */
export const HIGH_ENTROPY_RULE = 'high-entropy-assignment';

/** What an allowlist names a secret by: `sha256:` and the first 16 hex digits of its SHA-256. */
export function fingerprint(secret: string): string {
  return `sha256:${sha256Hex(secret).slice(0, 16)}`;
}

/** Shannon entropy in bits per character (code points): random tokens score high, words low. */
export function shannonEntropy(s: string): number {
  const counts = new Map<string, number>();
  let n = 0;
  for (const ch of s) {
    counts.set(ch, (counts.get(ch) ?? 0) + 1);
    n++;
  }
  let h = 0;
  for (const c of counts.values()) h -= (c / n) * Math.log2(c / n);
  return h;
}
