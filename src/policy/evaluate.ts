import { canonicalize, sha256Hex, SsfError } from '../core/index.js';
import { celToJs, globMatch, isEvalError } from './cel.js';
import { validateGateInput } from './inputs.js';
import type { LoadedPolicy } from './load.js';
import type { Gate, GateDecision, ParamValue, PolicyResult, RuleResult } from './types.js';

/** What a gate decides about, for a policy's appliesTo. */
export interface GateSubject {
  readonly pipeline?: string;
  /** Artifact names or image references. */
  readonly artifacts?: readonly string[];
}

/** Does the policy apply here? An absent list matches everything; a present one must match. */
export function applies(p: LoadedPolicy, gate: Gate, subject: GateSubject): boolean {
  if (p.doc.spec.gate !== gate) return false;
  const to = p.doc.spec.appliesTo;
  if (to?.pipelines && !(subject.pipeline !== undefined && to.pipelines.some((g) => globMatch(g, subject.pipeline as string)))) return false;
  if (to?.artifacts && !(subject.artifacts ?? []).some((a) => to.artifacts?.some((g) => globMatch(g, a)))) return false;
  return true;
}

const MAX_DETAILS = 20;

function detailsOf(v: unknown): string[] {
  const js = celToJs(v as never);
  const list = Array.isArray(js) ? js : [js];
  return list.slice(0, MAX_DETAILS).map((x) => (typeof x === 'string' ? x : JSON.stringify(x)));
}

/** Evaluates one policy's rules against an input; every rule runs, so a denial names all that failed. */
export function evaluatePolicy(p: LoadedPolicy, input: unknown, overrides: Readonly<Record<string, ParamValue>> = {}): PolicyResult {
  const params = { ...(p.doc.spec.params ?? {}), ...(p.overrides ?? {}), ...overrides };
  const bindings = { input, params };
  const rules: RuleResult[] = p.rules.map((r) => {
    let v: unknown;
    try {
      v = r.expr(bindings);
    } catch (e) {
      v = e instanceof Error ? e : new Error(String(e));
    }
    // Fail closed: an error (a missing field, a type mismatch) or a non-boolean is not a pass.
    if (isEvalError(v)) return { name: r.name, outcome: 'error', message: `${r.message} (the rule could not be evaluated: ${v.message.split('\n')[0]})` };
    if (typeof v !== 'boolean') return { name: r.name, outcome: 'error', message: `${r.message} (the rule gave a ${typeof v}, not true or false)` };
    if (v) return { name: r.name, outcome: 'pass' };
    let details: string[] | undefined;
    if (r.details) {
      try {
        const d = r.details(bindings);
        details = isEvalError(d) ? [`(details could not be evaluated: ${d.message.split('\n')[0]})`] : detailsOf(d);
      } catch (e) {
        details = [`(details could not be evaluated: ${(e as Error).message})`];
      }
    }
    return { name: r.name, outcome: 'fail', message: r.message, ...(details && details.length > 0 ? { details } : {}) };
  });
  return {
    name: p.doc.metadata.name, version: p.doc.metadata.version, uri: p.uri, digest: p.digest, mode: p.mode, params,
    passed: rules.every((r) => r.outcome === 'pass'), rules,
  };
}

/** sha256 over the sorted digests of the policies that decided (the VSA's policy digest). */
export function policySetDigest(policies: readonly { digest: string }[]): string {
  return `sha256:${sha256Hex(canonicalize(policies.map((p) => p.digest).sort()))}`;
}

/** The digest of an input document: sha256 of its canonical JSON. */
export function inputDigest(input: unknown): string {
  return `sha256:${sha256Hex(canonicalize(input))}`;
}

/** One line per failing rule: `policy/rule: message (details)`. */
export function failureLines(r: PolicyResult): string[] {
  return r.rules.filter((x) => x.outcome !== 'pass').map((x) => `${r.name}/${x.name}: ${x.message ?? 'failed'}${x.details ? ` (${x.details.slice(0, 5).join(', ')}${x.details.length > 5 ? ', …' : ''})` : ''}`);
}

/**
 * A gate's decision: the input is checked against the gate's schema (a malformed input is an
 * error, never a pass), then every applicable policy runs. Enforce-mode failures deny;
 * audit-mode failures become warnings. A gate with no applicable policy allows: the factory
 * always installs its default library, so that only happens when a user removed it.
 */
export function evaluateGate(policies: readonly LoadedPolicy[], gate: Gate, input: unknown, subject: GateSubject = {}): GateDecision {
  validateGateInput(gate, input);
  const applicable = policies.filter((p) => applies(p, gate, subject));
  const results = applicable.map((p) => evaluatePolicy(p, input));
  const warnings = results.filter((r) => r.mode === 'audit' && !r.passed).flatMap(failureLines);
  const allowed = results.every((r) => r.mode === 'audit' || r.passed);
  const levels = [...new Set(applicable.flatMap((p, i) => (results[i]?.passed ? (p.doc.spec.levels ?? []) : [])))].sort();
  return { gate, inputDigest: inputDigest(input), policySetDigest: policySetDigest(applicable), allowed, policies: results, warnings, levels };
}

/** The one-line reason of a denial: every failing enforce-mode rule. */
export function denialMessage(d: GateDecision): string {
  const lines = d.policies.filter((r) => r.mode === 'enforce' && !r.passed).flatMap(failureLines);
  return lines.length > 0 ? lines.join('; ') : 'denied';
}

/** Throws POLICY_DENIED when the decision denies. */
export function assertAllowed(d: GateDecision, where: string, logIndex?: number): void {
  if (d.allowed) return;
  throw new SsfError('POLICY_DENIED', `gate ${d.gate} denied ${where}: ${denialMessage(d)}${logIndex !== undefined ? ` (signed decision at log index ${logIndex})` : ''}`);
}
