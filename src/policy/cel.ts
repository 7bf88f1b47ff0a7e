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

/** Compiles one expression; the problems (with positions inside the expression) if it cannot be used. */
export function compileCel(expr: string): { fn: CompiledExpr } | { problems: CelProblem[] } {
  let parsed: ReturnType<typeof parse>;
  try {
    parsed = parse(expr);
  } catch (e) {
    const at = locateSyntaxError(expr) ?? { offset: 0, message: `CEL syntax error: ${(e as Error).message.split('\n')[0]}` };
    return { problems: [{ ...offsetToLineCol(expr, at.offset), message: at.message }] };
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
