import { readFileSync, statSync } from 'node:fs';
import { resolve } from 'node:path';
import { isScalar, Scalar } from 'yaml';
import { Ajv2020, type ValidateFunction } from 'ajv/dist/2020.js';
import { SsfError, sha256Hex } from '../core/index.js';
import { Locator, MAX_ALIAS_COUNT, decodeUtf8, parseSource, schemaProblems, type Problem } from '../pipeline/index.js';
import { compileCel, type CelProblem, type CompiledExpr } from './cel.js';
import { readSchema } from './schemas.js';
import type { ParamValue, PolicyDocument, PolicyMode } from './types.js';

/** A policy file is small; anything larger is refused before parsing. */
export const MAX_POLICY_BYTES = 256 * 1024;

export interface CompiledRule {
  readonly name: string;
  readonly message: string;
  readonly expr: CompiledExpr;
  readonly details?: CompiledExpr;
}

/** A parsed, schema-checked and compiled policy. */
export interface LoadedPolicy {
  readonly doc: PolicyDocument;
  /** Where it came from: `file:///…` for files, `https://ssf.invalid/policies/builtin/<name>` for the built-in library. */
  readonly uri: string;
  /** Display name of the source (the file path or builtin:<name>). */
  readonly source: string;
  /** sha256:<hex> of the exact bytes. */
  readonly digest: string;
  readonly bytes: Buffer;
  readonly mode: PolicyMode;
  readonly rules: readonly CompiledRule[];
  /** Parameter values that replace the document's defaults (a factory's configuration). */
  readonly overrides?: Readonly<Record<string, ParamValue>>;
}

let validator: ValidateFunction | undefined;
function validatePolicySchema(value: unknown): ReturnType<ValidateFunction> extends boolean ? NonNullable<ValidateFunction['errors']> : never {
  const v = (validator ??= new Ajv2020({ allErrors: true, verbose: true, strict: true, strictTypes: false, strictRequired: false, validateSchema: false }).compile(readSchema('policy.schema.json')));
  return v(value) ? [] : [...(v.errors ?? [])];
}

/**
 * Where a position inside a CEL expression is in the file. Exact for plain, quoted and
 * literal block (`|`) scalars, the usual ways to write a rule; folded scalars report the
 * expression's first line.
 */
function celPosInFile(loc: Locator, text: string, node: unknown, p: CelProblem): { line: number; column: number } {
  if (!isScalar(node) || !node.range) return { line: 1, column: 1 };
  const start = loc.offsetToPos(node.range[0]);
  switch (node.type) {
    case Scalar.BLOCK_LITERAL: {
      const firstLine = start.line + 1;
      const src = loc.sourceLine(firstLine + p.line - 1);
      const indent = (/^ */.exec(loc.sourceLine(firstLine)) ?? [''])[0].length;
      return src !== undefined ? { line: firstLine + p.line - 1, column: indent + p.column } : start;
    }
    case Scalar.PLAIN:
      return p.line === 1 ? { line: start.line, column: start.column + p.column - 1 } : start;
    case Scalar.QUOTE_DOUBLE:
    case Scalar.QUOTE_SINGLE: {
      // Escapes shift columns; only an escape-free first line maps exactly.
      const raw = text.slice(node.range[0] + 1, node.range[1] - 1);
      return p.line === 1 && !raw.includes('\\') && !raw.includes("''") ? { line: start.line, column: start.column + p.column } : start;
    }
    default:
      return start;
  }
}

function fail(file: string, problems: readonly Problem[]): never {
  const first = problems[0];
  const more = problems.length > 1 ? ` (and ${problems.length - 1} more)` : '';
  throw new SsfError('POLICY_INVALID', `${file}:${first?.line ?? 1}:${first?.column ?? 1}: ${first?.message ?? 'invalid policy'}${more}`);
}

/** Parses, checks and compiles a policy from its bytes; POLICY_INVALID with file:line:column otherwise. */
export function parsePolicy(bytes: Buffer, source: string, uri: string): LoadedPolicy {
  if (bytes.length > MAX_POLICY_BYTES) throw new SsfError('INPUT_TOO_LARGE', `policy ${source} is ${bytes.length} bytes; the limit is ${MAX_POLICY_BYTES}`);
  const decoded = decodeUtf8(bytes);
  if ('badOffset' in decoded) throw new SsfError('POLICY_INVALID', `${source}: the policy is not valid UTF-8`);
  const src = parseSource(decoded.text);
  const loc = new Locator(src);
  // parseSource words its top-level message for pipelines; say it for policies.
  if (src.problems.length > 0) fail(source, src.problems.map((p) => (p.message.startsWith('the pipeline must be') ? { ...p, message: 'a policy must be a YAML mapping (apiVersion, kind, metadata, spec)' } : p)));
  let value: unknown;
  try {
    value = src.doc.toJS({ maxAliasCount: MAX_ALIAS_COUNT });
  } catch (e) {
    throw new SsfError('POLICY_INVALID', `${source}: YAML: ${(e as Error).message.split('\n')[0] ?? 'cannot convert the document'}`);
  }
  const errors = validatePolicySchema(value);
  if (errors.length > 0) fail(source, schemaProblems(errors, value, loc).sort((a, b) => a.line - b.line || a.column - b.column));
  const doc = structuredClone(value) as PolicyDocument;
  const problems: Problem[] = [];
  const seen = new Set<string>();
  const rules: CompiledRule[] = [];
  doc.spec.rules.forEach((r, i) => {
    if (seen.has(r.name)) problems.push({ ...loc.pos(['spec', 'rules', i, 'name']), rule: 'policy', severity: 'error', message: `rule name ${JSON.stringify(r.name)} is used twice; rule names must be unique` });
    seen.add(r.name);
    const compile = (field: 'expr' | 'details', text: string): CompiledExpr | undefined => {
      const c = compileCel(text);
      if ('fn' in c) return c.fn;
      const node = loc.find(['spec', 'rules', i, field]).node;
      for (const p of c.problems) problems.push({ ...celPosInFile(loc, src.text, node, p), rule: 'cel', severity: 'error', message: `rule ${r.name}: ${field}: ${p.message}` });
      return undefined;
    };
    const expr = compile('expr', r.expr);
    const details = r.details !== undefined ? compile('details', r.details) : undefined;
    if (expr) rules.push({ name: r.name, message: r.message, expr, ...(details ? { details } : {}) });
  });
  if (problems.length > 0) fail(source, problems.sort((a, b) => a.line - b.line || a.column - b.column));
  return { doc, uri, source, digest: `sha256:${sha256Hex(bytes)}`, bytes, mode: doc.spec.mode ?? 'enforce', rules };
}

/** Loads a policy file (or `builtin:<name>` from the library). */
export function loadPolicy(ref: string): LoadedPolicy {
  if (ref.startsWith('builtin:')) return loadBuiltinPolicy(ref.slice('builtin:'.length));
  const file = resolve(ref);
  let size: number;
  try {
    size = statSync(file).size;
  } catch {
    throw new SsfError('FILE_NOT_FOUND', `policy ${ref} does not exist`);
  }
  if (size > MAX_POLICY_BYTES) throw new SsfError('INPUT_TOO_LARGE', `policy ${ref} is ${size} bytes; the limit is ${MAX_POLICY_BYTES}`);
  return parsePolicy(readFileSync(file), ref, `file://${file}`);
}

/** The built-in library ships in policies/ beside schema/ (package.json "files"). */
export const BUILTIN_DIR = new URL('../../../policies/', import.meta.url);

/** A policy of the built-in library by name. */
export function loadBuiltinPolicy(name: string): LoadedPolicy {
  if (!/^[a-z0-9-]+$/.test(name)) throw new SsfError('USAGE', `builtin policy name ${JSON.stringify(name)} is invalid; run \`ssf policy list\``);
  const path = new URL(`${name}.yaml`, BUILTIN_DIR);
  let bytes: Buffer;
  try {
    bytes = readFileSync(path);
  } catch {
    throw new SsfError('FILE_NOT_FOUND', `there is no builtin policy ${JSON.stringify(name)}; run \`ssf policy list\` for the library`);
  }
  return parsePolicy(bytes, `builtin:${name}`, `https://ssf.invalid/policies/builtin/${name}`);
}
