import { SsfError } from '../../core/index.js';
import type { SecretFinding } from '../model.js';
import { HIGH_ENTROPY_RULE, SECRET_RULES } from './rules.js';

/**
 * The allowlist: findings a project has looked at and accepted. One entry a line:
 *
 *   sha256:0123456789abcdef   # why: the test key in fixtures/server.pem
 *   path: test/fixtures/**
 *   rule: high-entropy-assignment path: docs/**
 *   rule: jwt
 *
 * Blank lines and `#` comments are ignored; a comment may follow an entry after whitespace.
 */
export interface Allowlist {
  /** `sha256:<16 hex>` fingerprints: that secret, wherever it is. */
  fingerprints: Set<string>;
  /** Globs: every finding in a matching file. */
  paths: string[];
  /** A rule everywhere, or only in files matching `path`. */
  rules: { rule: string; path?: string }[];
}

const RULE_IDS = new Set([...SECRET_RULES.map((r) => r.id), HIGH_ENTROPY_RULE]);
const MAX_ALLOWLIST_BYTES = 1024 * 1024;

function checkGlob(glob: string, where: string): string {
  if (glob === '' || glob.startsWith('/') || glob.split('/').includes('..')) {
    throw new SsfError('INPUT_MALFORMED', `${where}: ${JSON.stringify(glob)} is not a relative path glob; write it relative to the scanned root, e.g. test/fixtures/**`);
  }
  return glob;
}

/** Parses an allowlist file; a line that is none of the forms is an error naming the line. */
export function loadAllowlist(text: string, file?: string): Allowlist {
  const name = file ?? 'the secrets allowlist';
  if (Buffer.byteLength(text) > MAX_ALLOWLIST_BYTES) throw new SsfError('INPUT_TOO_LARGE', `${name} is larger than ${MAX_ALLOWLIST_BYTES} bytes`);
  const list: Allowlist = { fingerprints: new Set(), paths: [], rules: [] };
  text.split('\n').forEach((raw, i) => {
    const where = `${name}:${i + 1}`;
    const line = raw.replace(/(?:^|\s)#.*$/, '').trim();
    if (line === '') return;
    let m: RegExpExecArray | null;
    if ((m = /^sha256:([0-9a-f]{16})$/.exec(line))) {
      list.fingerprints.add(`sha256:${m[1]}`);
    } else if ((m = /^path:\s*(\S+)$/.exec(line))) {
      list.paths.push(checkGlob(m[1] ?? '', where));
    } else if ((m = /^rule:\s*(\S+)(?:\s+path:\s*(\S+))?$/.exec(line))) {
      const rule = m[1] ?? '';
      if (!RULE_IDS.has(rule)) throw new SsfError('INPUT_MALFORMED', `${where}: unknown rule ${JSON.stringify(rule)}; the rules are ${[...RULE_IDS].join(', ')}`);
      list.rules.push(m[2] === undefined ? { rule } : { rule, path: checkGlob(m[2], where) });
    } else {
      const shown = line.length > 60 ? `${line.slice(0, 57)}...` : line;
      throw new SsfError('INPUT_MALFORMED', `${where}: cannot read ${JSON.stringify(shown)}; write sha256:<16 hex>, path: <glob> or rule: <id> [path: <glob>]`);
    }
  });
  return list;
}

/**
 * Glob → RegExp over a relative `/` path: `*` and `?` stay inside one segment, `**` crosses
 * segments, `dir/**` and a trailing `/` cover everything below `dir`.
 */
export function globToRegExp(glob: string): RegExp {
  let re = '';
  const g = glob.endsWith('/') ? `${glob}**` : glob;
  for (let i = 0; i < g.length; i++) {
    const c = g[i] ?? '';
    if (c === '*' && g[i + 1] === '*') {
      const slash = g[i + 2] === '/';
      re += slash ? '(?:.*/)?' : '.*';
      i += slash ? 2 : 1;
    } else if (c === '*') re += '[^/]*';
    else if (c === '?') re += '[^/]';
    else re += c.replace(/[.+^${}()|[\]\\]/g, '\\$&');
  }
  return new RegExp(`^${re}$`);
}

/** An allowlist compiled once per scan. */
export class AllowlistMatcher {
  private readonly paths: RegExp[];
  private readonly rules: { rule: string; path?: RegExp }[];
  constructor(private readonly list: Allowlist) {
    this.paths = list.paths.map(globToRegExp);
    this.rules = list.rules.map((r) => (r.path === undefined ? { rule: r.rule } : { rule: r.rule, path: globToRegExp(r.path) }));
  }
  /** Does an entry accept this finding? */
  allows(f: SecretFinding): boolean {
    if (this.list.fingerprints.has(f.fingerprint)) return true;
    if (this.paths.some((p) => p.test(f.file))) return true;
    return this.rules.some((r) => r.rule === f.rule && (r.path === undefined || r.path.test(f.file)));
  }
}
