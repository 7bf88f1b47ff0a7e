import { createPublicKey } from 'node:crypto';
import type { SecretFinding } from '../model.js';
import { HIGH_ENTROPY_RULE, SECRET_RULES, fingerprint, shannonEntropy, type SecretRule } from './rules.js';

/**
 * Scanning one text: the well-known formats, then secret-named assignments whose value looks
 * random. A finding carries where the secret starts and its fingerprint, never the secret.
 */

/** The entropy heuristic's thresholds, tuned against the corpus in docs/secrets.md. */
export const ENTROPY = {
  /** Shortest value considered: below this a random-looking string is too often an id or a word. */
  minLength: 16,
  /** Bits per character for values that use more than hex digits... */
  minBits: 3.6,
  /** ...or, for short ones, this much below the log2(length) maximum. */
  shortSlack: 0.6,
  /** Hex-only values carry at most 4 bits per character, so they get their own threshold and length. */
  minHexLength: 32,
  minHexBits: 3.2,
} as const;

// The rules with `d` (match indices) so a capture group's exact column is known.
const INDEXED: readonly { rule: SecretRule; re: RegExp }[] = SECRET_RULES.map((rule) => ({ rule, re: new RegExp(rule.re.source, `${rule.re.flags}d`) }));

// `name = "value"`, `"name": "value"`, `name: 'value'`, `name := "value"`, `name => "value"`.
// Bounded runs and a look-behind keep it linear: a name starts where no name character precedes.
const QUOTED = /(?<![A-Za-z0-9_$.-])(["'`]?)([A-Za-z_$][A-Za-z0-9_.$-]{0,79})\1[ \t]{0,8}(?::=|=>|[:=])[ \t]{0,8}(["'`])([^"'`\s\\]{1,1024})\3/dg;
// `NAME=value` lines of .env-like files (unquoted values end at whitespace or a comment).
const ENV_LINE = /^[ \t]{0,16}(?:export[ \t]{1,8})?([A-Za-z_][A-Za-z0-9_.]{0,79})[ \t]{0,8}=[ \t]{0,8}([^\s"'`#]{1,1024})/dgm;
// `name: value` lines of YAML files where the value is the rest of the line.
const YAML_LINE = /^[ \t]{0,64}(?:-[ \t]{1,8})?([A-Za-z_][A-Za-z0-9_.-]{0,79})[ \t]{0,8}:[ \t]{1,8}([^\s"'`#]{1,1024})[ \t]*$/dgm;

/** Words that make a name secret-like; `key` only counts alone or after one of KEY_QUALIFIERS. */
const SECRET_WORDS = new Set(['password', 'passwd', 'passphrase', 'pwd', 'pass', 'secret', 'secrets', 'token', 'credential', 'credentials', 'apikey', 'auth', 'authorization', 'bearer', 'privatekey', 'accesskey', 'secretkey', 'clientsecret']);
const KEY_QUALIFIERS = new Set(['api', 'access', 'secret', 'private', 'signing', 'encryption', 'master', 'client', 'session', 'app', 'auth', 'hmac', 'aes', 'deploy', 'ssh', 'service', 'account', 'license', 'jwt', 'crypto']);
/** A last word that makes the name describe a secret rather than hold one (`TOKEN_FILE`, `passwordUrl`). */
const DESCRIPTIVE = new Set(['url', 'uri', 'path', 'file', 'filename', 'dir', 'name', 'type', 'length', 'len', 'size', 'count', 'env', 'var', 'header', 'prefix', 'suffix', 'field', 'param', 'endpoint', 'format', 'version', 'mode', 'policy', 'ttl', 'expiry', 'expires', 'hint', 'label', 'placeholder', 'regex', 'pattern', 'id', 'ids', 'hash', 'digest', 'sha', 'sha256', 'checksum', 'integrity', 'kind', 'location', 'ref', 'provider', 'storage', 'store', 'validator', 'error', 'message', 'limit']);

/** Splits `apiKey`, `API_KEY`, `api-key`, `x.apiKey` into lower-case words. */
function words(name: string): string[] {
  return name
    .replace(/([a-z0-9])([A-Z])/g, '$1 $2')
    .toLowerCase()
    .split(/[^a-z0-9]+/)
    .filter((w) => w !== '');
}

export function secretName(name: string): boolean {
  const w = words(name);
  const last = w[w.length - 1];
  if (last === undefined || DESCRIPTIVE.has(last) || w.includes('public')) return false;
  return w.some((x, i) => SECRET_WORDS.has(x) || (x === 'key' && (w.length === 1 || KEY_QUALIFIERS.has(w[i - 1] ?? ''))));
}

const HEX = /^[0-9a-fA-F]+$/;
const TOKEN_CHARS = /^[A-Za-z0-9+/=_.~!@#%^&*-]+$/;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
// Subresource integrity (npm lockfiles) and digest references: hashes of public content.
const HASH_REF = /^(?:sha(?:1|256|384|512)-[A-Za-z0-9+/]+={0,2}|(?:sha1|sha256|sha384|sha512|md5):[0-9a-fA-F]+)$/i;
// References to a secret kept elsewhere, and the words examples put where a secret goes.
const REFERENCE = /^(?:\$|%|\{\{|<|process\.env|env\.|os\.environ)|\$\{|:\/\//;
const PLACEHOLDER = /example|placeholder|changeme|change_me|your[_-]|xxxx|redacted|dummy|sample|insert|replace|todo|fixme|\*\*\*/i;

/** Base64 of a DER SubjectPublicKeyInfo (`MFkwEwYH…`, `MCowBQYDK2Vw…`): a public key, published on purpose. */
function publicKey(value: string): boolean {
  if (value.length < 40 || !value.startsWith('M') || !/^[A-Za-z0-9+/]+={0,2}$/.test(value)) return false;
  try {
    createPublicKey({ key: Buffer.from(value, 'base64'), format: 'der', type: 'spki' });
    return true;
  } catch {
    return false;
  }
}

/** Does a value assigned to a secret-like name look like a real secret? */
export function randomLooking(value: string): boolean {
  if (REFERENCE.test(value) || PLACEHOLDER.test(value) || UUID.test(value) || HASH_REF.test(value)) return false;
  // Random tokens of 16+ characters nearly always mix letters and digits; words, paths and identifiers rarely do.
  if (!/[0-9]/.test(value) || !/[A-Za-z]/.test(value)) return false;
  // Generated secrets use base64, hex or URL-safe alphabets, passwords a few symbols more; brackets,
  // commas and pipes mean code or prose (`name+hex(keyID)+base64(0x01||pub)`).
  if (!TOKEN_CHARS.test(value)) return false;
  if (publicKey(value)) return false;
  if (HEX.test(value)) return value.length >= ENTROPY.minHexLength && shannonEntropy(value) >= ENTROPY.minHexBits;
  // A string of n characters has at most log2(n) bits per character, so short values get a lower bar.
  return value.length >= ENTROPY.minLength && shannonEntropy(value) >= Math.min(ENTROPY.minBits, Math.log2(value.length) - ENTROPY.shortSlack);
}

/** Files whose `NAME=value` lines are assignments even without quotes. */
function envLike(file: string): boolean {
  const base = file.slice(file.lastIndexOf('/') + 1).toLowerCase();
  return base === '.env' || base.startsWith('.env.') || base.endsWith('.env') || base === '.envrc' || base.endsWith('.properties') || base.endsWith('.ini') || base.endsWith('.cfg');
}

function yamlLike(file: string): boolean {
  return /\.ya?ml$/i.test(file);
}

/** Line starts, for offset → line/column (1-based; columns in UTF-16 code units, as editors and LSP count). */
class Lines {
  private starts: number[] | undefined;
  constructor(private readonly text: string) {}
  pos(offset: number): { line: number; column: number } {
    if (!this.starts) {
      this.starts = [0];
      for (let i = this.text.indexOf('\n'); i !== -1; i = this.text.indexOf('\n', i + 1)) this.starts.push(i + 1);
    }
    let lo = 0;
    let hi = this.starts.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if ((this.starts[mid] ?? 0) <= offset) lo = mid;
      else hi = mid - 1;
    }
    return { line: lo + 1, column: offset - (this.starts[lo] ?? 0) + 1 };
  }
}

/** Key material after a PEM header: 40+ base64 characters before any END line (header lines such as Proc-Type may come first). */
const PEM_BODY = /^(?:(?!-----END)[^])*?[A-Za-z0-9+/]{40}/;

/** The whole PEM block when its END line follows within 64 KiB, so each key has its own fingerprint. */
function pemBlock(text: string, start: number, headerEnd: number): string {
  const end = text.indexOf('-----END ', headerEnd);
  if (end !== -1 && end - start < 65536) {
    const close = text.indexOf('-----', end + 9);
    if (close !== -1 && close - end < 80) return text.slice(start, close + 5);
  }
  const nl = text.indexOf('\n', headerEnd + 1);
  return text.slice(start, nl === -1 ? Math.min(text.length, headerEnd + 4096) : Math.min(nl, headerEnd + 4096));
}

/** Secrets in one text. `file` is the path reported (relative, `/`-separated) and picks the file-type heuristics. */
export function scanText(text: string, file: string): SecretFinding[] {
  const lines = new Lines(text);
  const out: (SecretFinding & { at: number })[] = [];
  const spans: [number, number][] = [];
  const seen = new Set<string>();
  const add = (rule: string, what: string, at: number, secret: string): void => {
    const key = `${rule}@${at}`;
    if (seen.has(key)) return;
    seen.add(key);
    out.push({ rule, what, file, ...lines.pos(at), fingerprint: fingerprint(secret), at });
  };

  for (const { rule, re } of INDEXED) {
    for (const m of text.matchAll(re)) {
      const g = rule.group ?? 0;
      const [from, to] = m.indices?.[g] ?? [m.index ?? 0, (m.index ?? 0) + m[0].length];
      let secret = text.slice(from, to);
      if (rule.check && !rule.check(secret)) continue;
      if (rule.id === 'private-key') {
        // A header alone is code that looks for keys (`_SK_START = b"-----BEGIN OPENSSH…"`), or a placeholder body.
        if (!PEM_BODY.test(text.slice(to, to + 1024))) continue;
        secret = pemBlock(text, from, to);
      }
      spans.push([from, from + secret.length]);
      add(rule.id, rule.what, from, secret);
    }
  }

  const overlaps = (a: number, b: number): boolean => spans.some(([s, e]) => a < e && s < b);
  const assignment = (name: string, span: [number, number] | undefined, value: string): void => {
    if (!span || !secretName(name) || !randomLooking(value) || overlaps(span[0], span[1])) return;
    // The name goes into the message only when it cannot itself be a token (short, no digits).
    const shown = name.length <= 40 && /^[A-Za-z_.$-]+$/.test(name) ? name : 'a secret-named key';
    add(HIGH_ENTROPY_RULE, `a random-looking value assigned to ${shown}`, span[0], value);
  };
  for (const m of text.matchAll(QUOTED)) assignment(m[2] ?? '', m.indices?.[4], m[4] ?? '');
  if (envLike(file)) for (const m of text.matchAll(ENV_LINE)) assignment(m[1] ?? '', m.indices?.[2], m[2] ?? '');
  if (yamlLike(file)) for (const m of text.matchAll(YAML_LINE)) assignment(m[1] ?? '', m.indices?.[2], m[2] ?? '');

  out.sort((a, b) => a.at - b.at || a.rule.localeCompare(b.rule));
  return out.map(({ at: _at, ...f }) => f);
}
