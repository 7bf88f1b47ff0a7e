/**
 * Policy as code: ssf/v1 Policy documents with CEL rules, the documented input of each gate,
 * decisions over every applicable policy, their SLSA VSA form, the built-in library and
 * policy tests. A leaf part: it imports core, attest (the VSA builder) and the YAML layer of
 * pipeline; signing decisions and finding inputs belong to the parts that run the gates
 * (platform, admission). Reference: docs/policy.md.
 */
export * from './types.js';
export { compileCel, globMatch, celToJs, CEL_VARIABLES, type CelProblem } from './cel.js';
export { parsePolicy, loadPolicy, loadBuiltinPolicy, BUILTIN_DIR, MAX_POLICY_BYTES, type LoadedPolicy, type CompiledRule } from './load.js';
export { validateGateInput, gateInputSchema } from './inputs.js';
export { evaluateGate, evaluatePolicy, applies, policySetDigest, inputDigest, denialMessage, failureLines, assertAllowed, type GateSubject } from './evaluate.js';
export { decisionVsa, policySetUri, gateLevel } from './vsa.js';
export { attestationKind, evidenceBlock, vulnsOf, type VerifiedFact, type EvidenceBlock, type AttestationKind } from './facts.js';
export { loadCases, runCase, runTestFile, testFileFor, type PolicyCase, type CaseResult } from './cases.js';
export { builtinPolicyNames, defaultPolicies, DEFAULT_POLICY_REFS } from './library.js';
