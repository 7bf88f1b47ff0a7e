import { celEnv, celFunc, CelScalar, isCelError, isCelList, isCelMap, isCelUint, parse, plan, type CelEnv, type CelValue } from '@bufbuild/cel';
import { strings } from '@bufbuild/cel/ext';
import { offsetPos } from '../pipeline/index.js';

/**
 * The CEL layer: compile an expression once (parse, then check that it names only the
 * variables and functions a policy may use, since @bufbuild/cel reports an unknown function
 * only when it is first called), then evaluate it against many inputs.
 */

type Expr = ReturnType<typeof parse>['expr'];

/** Variables every rule can read. */
export const CEL_VARIABLES = ['input', 'params'] as const;

/** Severity order shared with the evidence reports; `unknown` ranks as high so that it never slips under a threshold. */
const SEVERITY: Readonly<Record<string, number>> = { none: 0, low: 1, medium: 2, moderate: 2, high: 3, unknown: 3, critical: 4 };

function globToRegExp(glob: string): RegExp {
  return new RegExp(`^${glob.split('*').map((s) => s.replace(/[.+?^${}()|[\]\\/]/g, '\\$&')).join('.*')}$`);
}

const globCache = new Map<string, RegExp>();
/** `*` matches any run of characters (including '/'); everything else is literal. */
export function globMatch(glob: string, value: string): boolean {
  let re = globCache.get(glob);
  if (!re) {
    re = globToRegExp(glob);
    if (globCache.size > 1000) globCache.clear();
    globCache.set(glob, re);
  }
  return re.test(value);
}

/** Functions ssf adds to CEL's standard library and the strings extension. */
const SSF_FUNCS = [
  celFunc('severityRank', [CelScalar.STRING], CelScalar.INT, (s) => BigInt(SEVERITY[s.toLowerCase()] ?? 3)),
  celFunc('globMatch', [CelScalar.STRING, CelScalar.STRING], CelScalar.BOOL, (g, v) => globMatch(g, v)),
];

let sharedEnv: CelEnv | undefined;
function env(): CelEnv {
  return (sharedEnv ??= celEnv({ funcs: [...strings, ...SSF_FUNCS] }));
}

/** A problem found while compiling, with its 1-based position inside the expression. */
export interface CelProblem {
  readonly line: number;
  readonly column: number;
  readonly message: string;
}

export type CompiledExpr = (bindings: Readonly<Record<string, unknown>>) => CelValue | Error;

/** The names the expression refers to that are neither variables nor known functions. */
function checkNames(root: Expr, offsets: Readonly<Record<string, number>>, knownFunc: (n: string) => boolean): { offset: number; message: string }[] {
  const out: { offset: number; message: string }[] = [];
  const walk = (e: Expr | undefined, scope: ReadonlySet<string>): void => {
    if (!e) return;
    const k = e.exprKind;
    const offset = offsets[String(e.id)] ?? 0;
    switch (k.case) {
      case 'identExpr':
        if (!scope.has(k.value.name)) out.push({ offset, message: `undeclared reference to ${JSON.stringify(k.value.name)} (a rule reads input, params and the variables of its own macros)` });
        return;
      case 'selectExpr':
        walk(k.value.operand, scope);
        return;
      case 'callExpr': {
        const name = k.value.function;
        if (/^[A-Za-z]/.test(name) && !knownFunc(name)) out.push({ offset, message: `unknown function ${JSON.stringify(name)}` });
        walk(k.value.target, scope);
        for (const a of k.value.args) walk(a, scope);
        return;
      }
      case 'listExpr':
        for (const a of k.value.elements) walk(a, scope);
        return;
      case 'structExpr':
        for (const en of k.value.entries) {
          if (en.keyKind.case === 'mapKey') walk(en.keyKind.value, scope);
          walk(en.value, scope);
        }
        return;
      case 'comprehensionExpr': {
        const c = k.value;
        walk(c.iterRange, scope);
        walk(c.accuInit, scope);
        const inner = new Set(scope);
        inner.add(c.iterVar);
        if (c.iterVar2) inner.add(c.iterVar2);
        inner.add(c.accuVar);
        walk(c.loopCondition, inner);
        walk(c.loopStep, inner);
        const res = new Set(scope);
        res.add(c.accuVar);
        walk(c.result, res);
        return;
      }
      default:
        return;
    }
  };
  walk(root, new Set(CEL_VARIABLES));
  return out;
}

/** The parser's own error: its offset in `text` and its message. */
function parseError(text: string): { offset: number; message: string } | undefined {
  try {
    parse(text);
    return undefined;
  } catch (e) {
    const offset = (e as { location?: { start?: { offset?: number } } }).location?.start?.offset ?? 0;
    const raw = (e as { rawMessage?: string }).rawMessage ?? (e as Error).message.replace(/^<input>:\d+:\d+:\s*/, '');
    return { offset, message: `CEL syntax error: ${raw.split('\n')[0] ?? raw}` };
  }
}

/** A bracketed group at the top level of an expression: its top-level pieces. */
interface Group {
  readonly pieces: readonly { readonly start: number; readonly end: number }[];
}

/**
 * Scans brackets, strings and comments: an unclosed or mismatched bracket or an unclosed
 * string is a problem by itself; otherwise the top-level groups, split at their top-level
 * commas (and, in a map, at the first colon of each entry).
 */
function scanGroups(text: string): { problem: { offset: number; message: string } } | { groups: Group[] } {
  const closer: Readonly<Record<string, string>> = { ')': '(', ']': '[', '}': '{' };
  const stack: { ch: string; at: number; cuts: number[] }[] = [];
  const groups: Group[] = [];
  for (let i = 0; i < text.length; i++) {
    const c = text[i] as string;
    if (c === '/' && text[i + 1] === '/') {
      const nl = text.indexOf('\n', i);
      if (nl < 0) break;
      i = nl;
      continue;
    }
    if (c === '"' || c === "'") {
      const raw = /[rR]/.test(text.slice(Math.max(0, i - 2), i).replace(/^.*[^rRbB]/, ''));
      const q = text.startsWith(c.repeat(3), i) ? c.repeat(3) : c;
      let j = i + q.length;
      while (j < text.length && !text.startsWith(q, j) && (q.length === 3 || text[j] !== '\n')) j += !raw && text[j] === '\\' ? 2 : 1;
      if (!text.startsWith(q, j)) return { problem: { offset: i, message: 'CEL syntax error: this string is never closed' } };
      i = j + q.length - 1;
      continue;
    }
    const top = stack.at(-1);
    if (c === '(' || c === '[' || c === '{') stack.push({ ch: c, at: i, cuts: [i] });
    else if (c === ',' && top) top.cuts.push(i);
    else if (c === ':' && top?.ch === '{' && (top.cuts.length === 1 || text[top.cuts.at(-1) as number] === ',')) top.cuts.push(i);
    else if (c in closer) {
      const open = stack.pop();
      if (!open) return { problem: { offset: i, message: `CEL syntax error: this ${c} closes nothing` } };
      if (open.ch !== closer[c]) return { problem: { offset: i, message: `CEL syntax error: this ${c} does not match the ${open.ch} it would close` } };
      if (stack.length === 0) groups.push({ pieces: [...open.cuts.slice(1), i].map((end, k) => ({ start: (open.cuts[k] as number) + 1, end })) });
    }
  }
  const unclosed = stack.at(-1);
  if (unclosed) return { problem: { offset: unclosed.at, message: `CEL syntax error: this ${unclosed.ch} is never closed` } };
  return { groups };
}

/**
 * Where a syntax error is. The parser backtracks out of a bracket it cannot finish and
 * reports where the longest complete expression ended ("expecting end of input"), often
 * lines before the mistake; so look inside: the innermost bracketed piece that does not parse
 * on its own holds the error.
 */
function locateSyntaxError(text: string, base = 0, depth = 0): { offset: number; message: string } | undefined {
  const whole = parseError(text);
  if (!whole) return undefined;
  const scan = scanGroups(text);
  if ('problem' in scan) return { offset: base + scan.problem.offset, message: scan.problem.message };
  if (depth < 16) {
    for (const g of scan.groups) {
      for (const p of g.pieces) {
        const piece = text.slice(p.start, p.end);
        if (piece.trim() === '') continue;
        const inner = locateSyntaxError(piece, base + p.start, depth + 1);
        if (inner) return inner;
      }
    }
  }
  return { offset: base + whole.offset, message: whole.message };
}

/** Compiles one expression; the problems (with positions inside the expression) if it cannot be used. */
export function compileCel(expr: string): { fn: CompiledExpr } | { problems: CelProblem[] } {
  let parsed: ReturnType<typeof parse>;
  try {
    parsed = parse(expr);
  } catch (e) {
    const at = locateSyntaxError(expr) ?? { offset: 0, message: `CEL syntax error: ${(e as Error).message.split('\n')[0]}` };
    return { problems: [{ ...offsetPos(expr, at.offset), message: at.message }] };
  }
  const e = env();
  const offsets: Record<string, number> = {};
  for (const [id, off] of Object.entries(parsed.sourceInfo?.positions ?? {})) offsets[id] = Number(off);
  const names = checkNames(parsed.expr, offsets, (n) => e.funcs.find(n) !== undefined);
  if (names.length > 0) return { problems: names.map((p) => ({ ...offsetPos(expr, p.offset), message: p.message })) };
  const planned = plan(e, parsed) as (ctx: Record<string, unknown>) => CelValue | Error;
  return { fn: (bindings) => planned(bindings as Record<string, unknown>) };
}

/** Converts a CEL value back to plain JSON-like data (for details and test output). */
export function celToJs(v: CelValue): unknown {
  if (v === null || typeof v === 'string' || typeof v === 'boolean' || typeof v === 'number') return v;
  if (typeof v === 'bigint') return Number(v);
  if (isCelUint(v)) return Number(v.value);
  if (isCelList(v)) return [...v].map((x) => celToJs(x));
  if (isCelMap(v)) {
    const o: Record<string, unknown> = {};
    for (const [k, x] of v.entries()) o[String(celToJs(k as CelValue))] = celToJs(x);
    return o;
  }
  if (v instanceof Uint8Array) return Buffer.from(v).toString('base64');
  return String(v);
}

/** Is this an evaluation error rather than a value? */
export function isEvalError(v: unknown): v is Error {
  return isCelError(v) || v instanceof Error;
}
