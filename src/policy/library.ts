import { readdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { BUILTIN_DIR, loadBuiltinPolicy, type LoadedPolicy } from './load.js';

/** Every policy of the built-in library (policies/*.yaml, without the tests). */
export function builtinPolicyNames(): string[] {
  return readdirSync(fileURLToPath(BUILTIN_DIR)).filter((f) => f.endsWith('.yaml') && !f.endsWith('.test.yaml')).map((f) => f.slice(0, -5)).sort();
}

/**
 * The policies a factory applies when its policy directory names none for a gate: enough
 * that every gate decides by code. Strict rules that a fresh project may not meet yet (signed
 * pipeline, signed commits) start in audit mode; see docs/policy.md to enforce them.
 */
export const DEFAULT_POLICY_REFS: readonly string[] = [
  'builtin:pipeline-pinned',
  'builtin:hermetic-build',
  'builtin:dependencies-pinned',
  'builtin:publish-evidence',
  'builtin:slsa-build-level-3',
  'builtin:deploy-verified',
];

/** The default policy set, loaded and compiled. */
export function defaultPolicies(): LoadedPolicy[] {
  return DEFAULT_POLICY_REFS.map((r) => loadBuiltinPolicy(r.slice('builtin:'.length)));
}
