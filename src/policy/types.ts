/**
 * Policy as code: the ssf/v1 Policy document, the four gates and the shape of a decision.
 * Reference: docs/policy.md. The JSON Schema of the document is schema/policy.schema.json,
 * and each gate's input document has its own schema (schema/policy-input-<gate>.schema.json).
 */

/** The gates of a factory, in the order a release meets them. */
export const GATES = ['build', 'dependencies', 'publish', 'deploy'] as const;
export type Gate = (typeof GATES)[number];

/** The letters the reference architecture and the docs use for the gates. */
export const GATE_LETTERS: Readonly<Record<Gate, string>> = { build: 'A', dependencies: 'B', publish: 'C', deploy: 'D' };

/** enforce: a failing rule denies; audit: a failing rule is reported as a warning only. */
export type PolicyMode = 'enforce' | 'audit';

export type ParamValue = string | number | boolean | null | readonly ParamValue[] | { readonly [k: string]: ParamValue };

export interface PolicyRule {
  readonly name: string;
  /** A CEL expression over `input` and `params` that must evaluate to true. */
  readonly expr: string;
  /** Why the rule fails, in one line, when it does. */
  readonly message: string;
  /** Optional CEL expression naming the offending items (a string or a list of strings). */
  readonly details?: string;
}

export interface PolicyDocument {
  readonly apiVersion: 'ssf/v1';
  readonly kind: 'Policy';
  readonly metadata: { readonly name: string; readonly version: string; readonly description?: string };
  readonly spec: {
    readonly gate: Gate;
    readonly mode?: PolicyMode;
    readonly appliesTo?: { readonly pipelines?: readonly string[]; readonly artifacts?: readonly string[] };
    /** SLSA levels (or other verified levels) a pass of this policy establishes, for the VSA. */
    readonly levels?: readonly string[];
    readonly params?: Readonly<Record<string, ParamValue>>;
    readonly rules: readonly PolicyRule[];
  };
}

/** The outcome of one rule. `error` (the expression failed or did not give a boolean) counts as a failure. */
export type RuleOutcome = 'pass' | 'fail' | 'error';

export interface RuleResult {
  readonly name: string;
  readonly outcome: RuleOutcome;
  /** The rule's message (on fail) or the evaluation error (on error). */
  readonly message?: string;
  /** The offending items the rule's details expression named. */
  readonly details?: readonly string[];
}

export interface PolicyResult {
  readonly name: string;
  readonly version: string;
  readonly uri: string;
  readonly digest: string;
  readonly mode: PolicyMode;
  /** The parameter values the rules saw (defaults with overrides applied). */
  readonly params: Readonly<Record<string, ParamValue>>;
  readonly passed: boolean;
  readonly rules: readonly RuleResult[];
}

/** One gate's decision over every policy that applies to it. */
export interface GateDecision {
  readonly gate: Gate;
  /** sha256 of the canonical JSON of the input document. */
  readonly inputDigest: string;
  /** sha256 over the applicable policies' digests (the VSA's policy digest). */
  readonly policySetDigest: string;
  readonly allowed: boolean;
  readonly policies: readonly PolicyResult[];
  /** Failures of audit-mode policies: reported, never blocking. */
  readonly warnings: readonly string[];
  /** Levels established by the policies that passed (in either mode). */
  readonly levels: readonly string[];
}
