import { Scalar, isMap, isPair, isScalar, isSeq, type Node } from 'yaml';
import { SECRET_RULES } from '../analysis/index.js';
import type { Locator, ParsedSource, Problem } from './source.js';

/**
 * The hardcoded-credential rule. A definition is signed, logged in the transparency log
 * and stored for good, so a credential written into it is published for good. Runs on the
 * YAML tree (not the typed form) so that it also works when the schema check fails.
 */

// The well-known token formats (prefix-recognisable, near-zero false positives, so they apply
// everywhere) are the evidence part's table, so the linter and `ssf secrets` agree on them.

/** Environment variable names that hold credentials: the secret word ends the name. */
const SECRET_NAME = /(?:^|_)(?:PASSWORD|PASSWD|PASS|PWD|SECRET|TOKEN|API_?KEY|ACCESS_?KEY|SECRET_?KEY|PRIVATE_?KEY|CREDENTIALS?|AUTH)$/i;
/** `password=…` / `token: …` inside a longer string (a script, a flag). */
const ASSIGNMENT = /(?:^|[^A-Za-z0-9_])(?:password|passwd|pwd|secret|token|api[_-]?key|access[_-]?key|auth[_-]?token)\s*[=:]\s*["']?([^\s"'&;,)]+)/gi;
/** A flag whose next argument is a credential. */
const SECRET_FLAG = /^--?(?:password|passwd|token|secret|api-?key|access-?key|auth-?token)$/i;

/** Bits per character: random tokens score high, words and placeholders low. */
export function entropy(s: string): number {
  const counts = new Map<string, number>();
  for (const ch of s) counts.set(ch, (counts.get(ch) ?? 0) + 1);
  let h = 0;
  const n = [...s].length;
  for (const c of counts.values()) h -= (c / n) * Math.log2(c / n);
  return h;
}

/** A value that names a credential rather than containing one: a param, a shell variable, empty. */
function isReference(v: string): boolean {
  const t = v.trim();
  return t === '' || t.startsWith('$') || /^<[^>]*>$/.test(t);
}

function insideParamRef(text: string, from: number, to: number): boolean {
  for (const m of text.matchAll(/\$\(params\.[^)]*\)/g)) {
    const s = m.index ?? 0;
    if (from >= s && to <= s + m[0].length) return true;
  }
  return false;
}

/** Position of a character offset inside a scalar's value (exact for one-line and literal block scalars). */
function scalarPos(node: Scalar, offset: number, loc: Locator): { line: number; column: number } {
  const start = node.range?.[0] ?? 0;
  const text = String(node.value);
  const before = text.slice(0, offset);
  const k = before.split('\n').length - 1;
  const col = offset - (before.lastIndexOf('\n') + 1);
  if (node.type === Scalar.BLOCK_LITERAL || node.type === Scalar.BLOCK_FOLDED) {
    const line = loc.offsetToPos(start).line + 1 + k;
    const valueLine = text.split('\n')[k] ?? '';
    const srcLine = loc.sourceLine(line);
    return { line, column: srcLine.endsWith(valueLine) ? srcLine.length - valueLine.length + col + 1 : 1 };
  }
  if (k > 0) return loc.offsetToPos(start);
  const quoted = node.type === Scalar.QUOTE_DOUBLE || node.type === Scalar.QUOTE_SINGLE ? 1 : 0;
  return loc.offsetToPos(start + quoted + col);
}

/** Findings of the hardcoded-credential rule for one parsed definition. */
export function credentialProblems(src: ParsedSource, loc: Locator): Problem[] {
  const out: Problem[] = [];
  const seen = new Set<string>();
  /** offset: where in the value the credential starts; undefined when it is the whole value. */
  const report = (node: Scalar, offset: number | undefined, what: string): void => {
    const pos = offset === undefined ? loc.offsetToPos(node.range?.[0] ?? 0) : scalarPos(node, offset, loc);
    const id = `${pos.line}:${pos.column}`;
    if (seen.has(id)) return;
    seen.add(id);
    out.push({
      ...pos,
      rule: 'hardcoded-credential',
      severity: 'error',
      message: `this looks like ${what}; a definition is signed, logged and kept, so remove the credential (and revoke it) instead of writing it here`,
    });
  };

  const checkString = (node: Scalar, keys: readonly string[]): void => {
    const text = String(node.value);
    for (const { what, re, group, check } of SECRET_RULES) {
      for (const m of text.matchAll(re)) {
        const secret = group === undefined ? m[0] : (m[group] ?? '');
        if (check && !check(secret)) continue;
        const from = (m.index ?? 0) + (group === undefined ? 0 : m[0].indexOf(secret));
        if (isReference(secret) || insideParamRef(text, from, from + secret.length)) continue;
        report(node, m.index ?? 0, what);
      }
    }
    const key = keys[keys.length - 1];
    if (keys[keys.length - 2] === 'env' && key !== undefined && SECRET_NAME.test(key) && !isReference(text) && !/\$\(params\./.test(text)) {
      report(node, undefined, `a credential (the variable ${key} is given a literal value)`);
    }
    for (const m of text.matchAll(ASSIGNMENT)) {
      const v = m[1] ?? '';
      const from = (m.index ?? 0) + m[0].length - v.length;
      if (isReference(v) || insideParamRef(text, from, from + v.length)) continue;
      if (v.length >= 8 && entropy(v) >= 2.5) report(node, from, 'a credential assigned in a string');
    }
  };

  const walk = (node: Node | null | undefined, keys: string[]): void => {
    if (!node) return;
    if (isMap(node)) {
      for (const pair of node.items) {
        if (!isPair(pair)) continue;
        const k = isScalar(pair.key) ? String(pair.key.value) : '';
        walk(pair.value as Node | null, [...keys, k]);
      }
    } else if (isSeq(node)) {
      node.items.forEach((item, i) => {
        const next = node.items[i + 1];
        if (isScalar(item) && typeof item.value === 'string' && SECRET_FLAG.test(item.value) && isScalar(next) && typeof next.value === 'string') {
          if (!isReference(next.value) && !/\$\(params\./.test(next.value)) report(next, undefined, `a credential (the argument after ${item.value})`);
        }
        walk(item as Node, [...keys, String(i)]);
      });
    } else if (isScalar(node) && typeof node.value === 'string') {
      checkString(node, keys);
    }
    // Aliases are not followed: the anchored node is checked where it is written.
  };
  walk(src.doc.contents as Node | null, []);
  return out;
}
