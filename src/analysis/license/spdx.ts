import { createRequire } from 'node:module';

/**
 * The SPDX licence and exception lists and the expression parser, loaded once. The parser
 * (spdx-expression-parse) is case-sensitive and only skips spaces, so `tokens` case-corrects
 * identifiers and operators and rebuilds a source it accepts; `render` prints a parse tree
 * back in one canonical form.
 */

const require = createRequire(import.meta.url);

/** A node of spdx-expression-parse's tree. */
export type SpdxNode = SpdxLeaf | SpdxConjunction;
export interface SpdxLeaf {
  license: string;
  plus?: true;
  exception?: string;
}
export interface SpdxConjunction {
  conjunction: 'and' | 'or';
  left: SpdxNode;
  right: SpdxNode;
}

const parseSpdx = require('spdx-expression-parse') as (source: string) => SpdxNode;
const LICENSE_IDS = require('spdx-license-ids') as string[];
const DEPRECATED_IDS = require('spdx-license-ids/deprecated.json') as string[];
const EXCEPTION_IDS = require('spdx-exceptions') as string[];

export const DEPRECATED = new Set(DEPRECATED_IDS);
const LICENSES = new Map<string, string>();
for (const id of [...LICENSE_IDS, ...DEPRECATED_IDS]) LICENSES.set(id.toLowerCase(), id);
const EXCEPTIONS = new Map<string, string>();
for (const id of EXCEPTION_IDS) EXCEPTIONS.set(id.toLowerCase(), id);

/** The SPDX list's spelling of a licence id (deprecated ones included), or undefined. */
export function licenseId(s: string): string | undefined {
  return LICENSES.get(s.toLowerCase());
}

/** The SPDX list's spelling of an exception id, or undefined. */
export function exceptionId(s: string): string | undefined {
  return EXCEPTIONS.get(s.toLowerCase());
}

export function isLeaf(n: SpdxNode): n is SpdxLeaf {
  return 'license' in n;
}

/** What `tokens` changed: each `from → to` case correction, in order. */
export interface Recased {
  source: string;
  recased: { from: string; to: string }[];
}

/**
 * Splits on whitespace and parentheses and rewrites each word in the list's spelling:
 * operators upper-cased, ids as the SPDX list spells them, `LicenseRef-`/`DocumentRef-`
 * prefixes fixed. Words it does not know are left alone for the parser to reject.
 */
export function recase(declared: string): Recased {
  const out: string[] = [];
  const recased: { from: string; to: string }[] = [];
  for (const m of declared.matchAll(/[()]|[^\s()]+/g)) {
    const w = m[0];
    let to = w;
    if (/^(?:and|or|with)$/i.test(w)) to = w.toUpperCase();
    else if (/^(?:documentref-|licenseref-)/i.test(w)) {
      to = w.replace(/^documentref-/i, 'DocumentRef-').replace(/:licenseref-/i, ':LicenseRef-').replace(/^licenseref-/i, 'LicenseRef-');
    } else if (w !== '(' && w !== ')') {
      const plus = w.endsWith('+') ? '+' : '';
      const base = plus ? w.slice(0, -1) : w;
      const id = licenseId(base) ?? exceptionId(base);
      if (id !== undefined) to = id + plus;
      if (id !== undefined && id !== base) recased.push({ from: w, to });
    }
    out.push(to);
  }
  // The parser needs a space between words only; parentheses may touch.
  return { source: out.join(' '), recased };
}

/** Parses an expression already in the list's spelling; undefined when it is not valid SPDX. */
export function parse(source: string): SpdxNode | undefined {
  try {
    return parseSpdx(source);
  } catch {
    return undefined;
  }
}

/** One canonical text: single spaces, upper-case operators, no outer parentheses, parentheses only around an OR inside an AND. */
export function render(n: SpdxNode): string {
  if (isLeaf(n)) return `${n.license}${n.plus ? '+' : ''}${n.exception ? ` WITH ${n.exception}` : ''}`;
  const op = n.conjunction === 'and' ? 'AND' : 'OR';
  const side = (c: SpdxNode): string => {
    // AND binds tighter than OR, so only an OR under an AND needs parentheses; same operators associate.
    if (!isLeaf(c) && c.conjunction === 'or' && n.conjunction === 'and') return `(${render(c)})`;
    return render(c);
  };
  return `${side(n.left)} ${op} ${side(n.right)}`;
}

/** Every leaf of the tree, left to right. */
export function leaves(n: SpdxNode): SpdxLeaf[] {
  return isLeaf(n) ? [n] : [...leaves(n.left), ...leaves(n.right)];
}

// The GNU licences were renamed in SPDX 3.0: `GPL-2.0` became `GPL-2.0-only` and `GPL-2.0+`
// became `GPL-2.0-or-later`; the `-with-…-exception` ids became `WITH` pairs. A policy that names
// either spelling must match both, so every leaf is reduced to its current form before matching.
const GNU = /^(?:A?GPL|LGPL|GFDL)-\d\.\d$/;
const WITH_IDS: Record<string, [string, string]> = {
  'GPL-2.0-with-GCC-exception': ['GPL-2.0-only', 'GCC-exception-2.0'],
  'GPL-2.0-with-autoconf-exception': ['GPL-2.0-only', 'Autoconf-exception-2.0'],
  'GPL-2.0-with-bison-exception': ['GPL-2.0-only', 'Bison-exception-2.2'],
  'GPL-2.0-with-classpath-exception': ['GPL-2.0-only', 'Classpath-exception-2.0'],
  'GPL-2.0-with-font-exception': ['GPL-2.0-only', 'Font-exception-2.0'],
  'GPL-3.0-with-GCC-exception': ['GPL-3.0-only', 'GCC-exception-3.1'],
  'GPL-3.0-with-autoconf-exception': ['GPL-3.0-only', 'Autoconf-exception-3.0'],
};

/** A leaf in current SPDX naming: `{ license, exception }` with `+` folded into `-or-later` for GNU ids. */
export function currentForm(leaf: SpdxLeaf): { license: string; exception?: string } {
  let license = leaf.license;
  let exception = leaf.exception;
  const pair = WITH_IDS[license];
  if (pair && exception === undefined) [license, exception] = pair;
  else if (pair) license = pair[0];
  if (GNU.test(license)) license = `${license}${leaf.plus ? '-or-later' : '-only'}`;
  else if (leaf.plus && /-only$/.test(license)) license = license.replace(/-only$/, '-or-later');
  else if (leaf.plus && !/-or-later$/.test(license)) license = `${license}+`;
  return exception === undefined ? { license } : { license, exception };
}
