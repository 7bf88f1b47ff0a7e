import { createRequire } from 'node:module';
import { DEPRECATED, currentForm, leaves, parse, recase, render, type SpdxNode } from './spdx.js';

const require = createRequire(import.meta.url);
const spdxCorrect = require('spdx-correct') as (s: string, o?: { upgrade: boolean }) => string | null;

/** Declarations longer than this are not parsed: no real licence expression comes close. */
export const MAX_DECLARED_LENGTH = 4096;

/** A declared licence, normalised. */
export interface NormalizedLicense {
  /** Canonical SPDX expression; undefined when the declaration is not one and no correction fits. */
  expression?: string;
  /** One line each: corrections applied, deprecated ids, why there is no expression. */
  problems: string[];
  /** True when the expression is spdx-correct's guess for a non-SPDX string (not what was declared). */
  corrected: boolean;
}

const show = (s: string): string => JSON.stringify(s.length > 80 ? `${s.slice(0, 77)}...` : s);

function deprecationNotes(tree: SpdxNode): string[] {
  const out: string[] = [];
  for (const leaf of leaves(tree)) {
    if (!DEPRECATED.has(leaf.license)) continue;
    const now = currentForm(leaf);
    const use = now.exception ? `${now.license} WITH ${now.exception}` : now.license;
    const also = /-only$/.test(now.license) && !now.exception ? ` (or ${now.license.replace(/-only$/, '-or-later')} if that was meant)` : '';
    out.push(`${leaf.license}${leaf.plus ? '+' : ''} is a deprecated SPDX id, read as ${use}; declare ${use}${also}`);
  }
  return out;
}

/** One operand of a non-SPDX declaration: itself when it is a valid id, else spdx-correct's guess. */
function correctOne(s: string): string | undefined {
  const tree = parse(recase(s).source);
  if (tree && 'license' in tree) return render(tree);
  // A dangling operator ("MIT AND") is a broken expression, not a licence name to guess at.
  if (/(?:^|\s)(?:AND|OR|WITH)(?:\s|$)/i.test(s)) return undefined;
  let c: string | null = null;
  try {
    c = spdxCorrect(s);
  } catch {
    c = null;
  }
  return c !== null && parse(c) !== undefined ? c : undefined;
}

/**
 * Normalises a declared licence (package.json `license`) to one canonical SPDX expression.
 * Ids are case-corrected to the SPDX list; non-SPDX strings get spdx-correct's guess, flagged.
 */
export function normalizeLicense(declared: string | undefined): NormalizedLicense {
  if (declared === undefined || declared.trim() === '') return { problems: ['no licence declared'], corrected: false };
  if (declared.length > MAX_DECLARED_LENGTH) {
    return { problems: [`the declared licence is ${declared.length} characters long, over the ${MAX_DECLARED_LENGTH}-character limit; not parsed`], corrected: false };
  }
  const text = declared.trim();
  if (/^UNLICENSED$/i.test(text)) {
    return { problems: ['UNLICENSED: the package grants no licence to others (npm marks proprietary packages this way)'], corrected: false };
  }
  const see = /^SEE LICEN[CS]E IN\s+(.+)$/i.exec(text);
  if (see) {
    return { problems: [`the licence is only named by a file (${show(see[1] ?? '')}); read it and record an SPDX expression or a LicenseRef-`], corrected: false };
  }

  const r = recase(text);
  const tree = parse(r.source);
  if (tree) {
    const problems = r.recased.map((x) => `${show(x.from)} is spelled ${x.to} in the SPDX list`);
    return { expression: render(tree), problems: [...problems, ...deprecationNotes(tree)], corrected: false };
  }

  // Not SPDX. One non-SPDX name ("MIT License", "Apache 2.0"), or a few joined by AND/OR.
  const parts = text.includes('(') || text.includes(')') ? [text] : text.split(/\s+(AND|OR)\s+/i);
  const fixed: string[] = [];
  for (let i = 0; i < parts.length; i++) {
    const p = parts[i] ?? '';
    if (i % 2 === 1) {
      fixed.push(p.toUpperCase());
      continue;
    }
    const c = correctOne(p);
    if (c === undefined) return { problems: [`${show(text)} is not an SPDX expression and no SPDX id fits it`], corrected: false };
    fixed.push(c);
  }
  const guess = parse(fixed.join(' '));
  if (!guess) return { problems: [`${show(text)} is not an SPDX expression and no SPDX id fits it`], corrected: false };
  const expression = render(guess);
  return {
    expression,
    problems: [`${show(text)} is not an SPDX expression; corrected to ${expression} (a guess: check the licence text)`, ...deprecationNotes(guess)],
    corrected: true,
  };
}
