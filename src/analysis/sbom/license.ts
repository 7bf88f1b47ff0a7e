import { createRequire } from 'node:module';
import type parseFn from 'spdx-expression-parse';

const require = createRequire(import.meta.url);

type Node = parseFn.Info;

let lib: { parse: typeof parseFn; ids: Map<string, string>; exceptions: Map<string, string> } | undefined;

function load(): NonNullable<typeof lib> {
  if (lib) return lib;
  const ids = new Map<string, string>();
  for (const id of [...(require('spdx-license-ids') as string[]), ...(require('spdx-license-ids/deprecated.json') as string[])]) ids.set(id.toLowerCase(), id);
  const exceptions = new Map<string, string>();
  for (const id of [...(require('spdx-exceptions') as string[]), ...(require('spdx-exceptions/deprecated.json') as string[])]) exceptions.set(id.toLowerCase(), id);
  return (lib = { parse: require('spdx-expression-parse') as typeof parseFn, ids, exceptions });
}

/** Longer declarations are never parsed: no real licence expression comes close. */
const MAX_EXPRESSION = 4096;

/**
 * Case-corrects a declared licence to the SPDX lists' spelling and parses it. Returns the
 * parse tree, or undefined when the text is not an SPDX expression. Only spelling of case
 * changes (`mit or apache-2.0` → `MIT OR Apache-2.0`); no guessing of what a free-text
 * licence means (that is the licence part's job, and it flags it).
 */
export function parseSpdx(raw: string): Node | undefined {
  const text = raw.trim();
  if (text === '' || text.length > MAX_EXPRESSION) return undefined;
  const { parse, ids, exceptions } = load();
  let afterWith = false;
  const recased = text.replace(/[^\s()]+/g, (tok) => {
    const upper = tok.toUpperCase();
    if (upper === 'AND' || upper === 'OR' || upper === 'WITH') {
      afterWith = upper === 'WITH';
      return upper;
    }
    const wasWith = afterWith;
    afterWith = false;
    if (/^(LicenseRef-|DocumentRef-)/i.test(tok)) return tok;
    const plus = tok.endsWith('+') ? '+' : '';
    const bare = plus ? tok.slice(0, -1) : tok;
    const fixed = (wasWith ? exceptions : ids).get(bare.toLowerCase());
    return fixed === undefined ? tok : fixed + plus;
  });
  try {
    return parse(recased);
  } catch {
    return undefined;
  }
}

/** The canonical text of a parse tree: single spaces, parentheses only where precedence needs them. */
export function renderSpdx(node: Node, parent?: 'and' | 'or'): string {
  if ('license' in node) return `${node.license}${node.plus ? '+' : ''}${node.exception ? ` WITH ${node.exception}` : ''}`;
  const s = `${renderSpdx(node.left, node.conjunction)} ${node.conjunction.toUpperCase()} ${renderSpdx(node.right, node.conjunction)}`;
  // AND binds tighter than OR, so only an OR inside an AND needs parentheses.
  return parent === 'and' && node.conjunction === 'or' ? `(${s})` : s;
}

/** Every licence id (including LicenseRef-…) named in a tree. */
export function licenseIds(node: Node): string[] {
  return 'license' in node ? [node.license] : [...licenseIds(node.left), ...licenseIds(node.right)];
}
