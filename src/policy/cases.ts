import { existsSync, readFileSync, statSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { SsfError } from '../core/index.js';
import { evaluatePolicy } from './evaluate.js';
import { validateGateInput } from './inputs.js';
import { loadPolicy, type LoadedPolicy } from './load.js';
import type { ParamValue } from './types.js';

/**
 * Policy tests kept next to the policy: `<name>.test.yaml` beside `<name>.yaml`, a list of
 * cases, each an input (inline or a file, e.g. one a run recorded), optional parameter
 * overrides, and the expected decision (and, optionally, exactly which rules fail).
 */

export interface PolicyCase {
  readonly name: string;
  readonly input: unknown;
  readonly params?: Readonly<Record<string, ParamValue>>;
  readonly expect: 'allow' | 'deny';
  readonly failing?: readonly string[];
}

export interface CaseResult {
  readonly name: string;
  readonly ok: boolean;
  /** What went wrong, when not ok. */
  readonly problem?: string;
  readonly failingRules: readonly string[];
}

const MAX_TEST_BYTES = 4 * 1024 * 1024;

/** The test file that belongs to a policy file, if there is one. */
export function testFileFor(policyFile: string): string | undefined {
  const f = resolve(policyFile);
  const t = join(dirname(f), `${basename(f).replace(/\.ya?ml$/, '')}.test.yaml`);
  return existsSync(t) ? t : undefined;
}

function readInputFile(base: string, rel: string): unknown {
  const p = resolve(base, rel);
  if (!existsSync(p)) throw new SsfError('FILE_NOT_FOUND', `policy test input ${rel} does not exist`);
  if (statSync(p).size > MAX_TEST_BYTES) throw new SsfError('INPUT_TOO_LARGE', `policy test input ${rel} is larger than ${MAX_TEST_BYTES} bytes`);
  try {
    return parseYaml(readFileSync(p, 'utf8'), { maxAliasCount: 16 });
  } catch (e) {
    throw new SsfError('INPUT_MALFORMED', `policy test input ${rel} is not JSON or YAML: ${(e as Error).message.split('\n')[0]}`);
  }
}

/** Sets `a.b.0.c` in place; list items are addressed by index. */
function setPath(root: unknown, path: string, value: unknown, bad: () => never): void {
  const segs = path.split('.');
  let cur: unknown = root;
  for (const [i, seg] of segs.entries()) {
    if (cur === null || typeof cur !== 'object' || seg === '__proto__' || seg === 'constructor' || seg === 'prototype') bad();
    const c = cur as Record<string, unknown>;
    if (i === segs.length - 1) {
      c[seg] = value;
      return;
    }
    if (!(seg in c)) bad();
    cur = c[seg];
  }
}

/** Reads a `.test.yaml` file: its policy reference (default: the sibling file) and its cases. */
export function loadCases(file: string): { policy?: string; cases: PolicyCase[] } {
  if (!existsSync(file)) throw new SsfError('FILE_NOT_FOUND', `policy test file ${file} does not exist`);
  if (statSync(file).size > MAX_TEST_BYTES) throw new SsfError('INPUT_TOO_LARGE', `policy test file ${file} is larger than ${MAX_TEST_BYTES} bytes`);
  let doc: unknown;
  try {
    doc = parseYaml(readFileSync(file, 'utf8'), { maxAliasCount: 16 });
  } catch (e) {
    throw new SsfError('INPUT_MALFORMED', `${file}: YAML: ${(e as Error).message.split('\n')[0]}`);
  }
  const bad = (what: string): never => {
    throw new SsfError('INPUT_MALFORMED', `${file}: ${what}`);
  };
  if (doc === null || typeof doc !== 'object' || Array.isArray(doc)) bad('a policy test file is a mapping with a cases list');
  const d = doc as Record<string, unknown>;
  if (!Array.isArray(d['cases']) || d['cases'].length === 0) bad('cases must be a non-empty list');
  const cases = (d['cases'] as unknown[]).map((c, i): PolicyCase => {
    if (c === null || typeof c !== 'object' || Array.isArray(c)) bad(`cases[${i}] must be a mapping`);
    const x = c as Record<string, unknown>;
    const name = typeof x['name'] === 'string' ? x['name'] : bad(`cases[${i}] needs a name`);
    const expect = x['expect'] === 'allow' || x['expect'] === 'deny' ? x['expect'] : bad(`case ${name}: expect must be allow or deny`);
    let input: unknown = x['input'];
    if (typeof x['inputFile'] === 'string') input = readInputFile(dirname(file), x['inputFile']);
    if (input === undefined) bad(`case ${name} needs an input or an inputFile`);
    if (x['set'] !== undefined) {
      if (typeof x['set'] !== 'object' || x['set'] === null || Array.isArray(x['set'])) bad(`case ${name}: set must be a mapping of dotted paths to values`);
      input = structuredClone(input);
      for (const [path, value] of Object.entries(x['set'] as Record<string, unknown>)) setPath(input, path, value, () => bad(`case ${name}: set: ${path} does not name a field of the input`));
    }
    const failing = x['failing'] === undefined ? undefined : Array.isArray(x['failing']) && x['failing'].every((r) => typeof r === 'string') ? (x['failing'] as string[]) : bad(`case ${name}: failing must be a list of rule names`);
    const params = x['params'] === undefined ? undefined : typeof x['params'] === 'object' && x['params'] !== null && !Array.isArray(x['params']) ? (x['params'] as Record<string, ParamValue>) : bad(`case ${name}: params must be a mapping`);
    return { name, input, expect, ...(failing ? { failing } : {}), ...(params ? { params } : {}) };
  });
  const policy = typeof d['policy'] === 'string' ? d['policy'] : undefined;
  return { ...(policy ? { policy } : {}), cases };
}

/** Runs one case: the input must be valid for the policy's gate, and the decision as expected. */
export function runCase(p: LoadedPolicy, c: PolicyCase): CaseResult {
  try {
    validateGateInput(p.doc.spec.gate, c.input);
  } catch (e) {
    return { name: c.name, ok: false, problem: (e as Error).message, failingRules: [] };
  }
  const r = evaluatePolicy(p, c.input, c.params ?? {});
  const failingRules = r.rules.filter((x) => x.outcome !== 'pass').map((x) => x.name);
  const got = r.passed ? 'allow' : 'deny';
  if (got !== c.expect) {
    const why = r.rules.filter((x) => x.outcome !== 'pass').map((x) => `${x.name}: ${x.message ?? x.outcome}`).join('; ');
    return { name: c.name, ok: false, problem: `expected ${c.expect}, got ${got}${why ? ` (${why})` : ''}`, failingRules };
  }
  if (c.failing && [...c.failing].sort().join(',') !== [...failingRules].sort().join(',')) {
    return { name: c.name, ok: false, problem: `expected failing rules [${c.failing.join(', ')}], got [${failingRules.join(', ')}]`, failingRules };
  }
  return { name: c.name, ok: true, failingRules };
}

/** Runs a test file against its policy (the `policy:` it names, else the sibling `<name>.yaml`). */
export function runTestFile(file: string, policy?: LoadedPolicy): { policy: LoadedPolicy; results: CaseResult[] } {
  const t = loadCases(file);
  const p = policy ?? loadPolicy(t.policy ? (t.policy.startsWith('builtin:') ? t.policy : resolve(dirname(file), t.policy)) : file.replace(/\.test\.yaml$/, '.yaml'));
  return { policy: p, results: t.cases.map((c) => runCase(p, c)) };
}
