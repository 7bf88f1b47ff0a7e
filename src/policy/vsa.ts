import { makeVsa, type ResourceDescriptor, type VsaV1 } from '../attest/index.js';
import { GATE_LETTERS, type GateDecision } from './types.js';

/** The URI of a gate's policy set in a VSA (under the reserved .invalid domain, like ssf's other URIs). */
export function policySetUri(gate: string): string {
  return `https://ssf.invalid/policy-sets/${gate}`;
}

/** Custom verified level a passed gate records when its policies establish no SLSA level. */
export function gateLevel(gate: string): string {
  return `SSF_GATE_${gate.toUpperCase()}_PASSED`;
}

/**
 * The SLSA VSA v1 predicate of a gate decision. `policy` names the gate's policy set and its
 * digest; the rule outcomes, each policy's digest and the input's digest go under
 * `decision`, an extension field (in-toto consumers ignore fields they do not know).
 */
export function decisionVsa(d: GateDecision, opts: {
  verifierId: string;
  resourceUri: string;
  time: Date;
  inputAttestations?: readonly ResourceDescriptor[];
  verifierVersion?: Readonly<Record<string, string>>;
}): VsaV1 {
  const failedLevel = `SSF_GATE_${d.gate.toUpperCase()}_FAILED`;
  return makeVsa({
    verifierId: opts.verifierId,
    ...(opts.verifierVersion ? { verifierVersion: opts.verifierVersion } : {}),
    timeVerified: opts.time,
    resourceUri: opts.resourceUri,
    policy: { uri: policySetUri(d.gate), digest: { sha256: d.policySetDigest.replace(/^sha256:/, '') } },
    ...(opts.inputAttestations && opts.inputAttestations.length > 0 ? { inputAttestations: opts.inputAttestations } : {}),
    verificationResult: d.allowed ? 'PASSED' : 'FAILED',
    verifiedLevels: d.allowed ? (d.levels.length > 0 ? d.levels : [gateLevel(d.gate)]) : [failedLevel],
    slsaVersion: '1.0',
    extensions: {
      decision: {
        gate: d.gate,
        gateLetter: GATE_LETTERS[d.gate],
        allowed: d.allowed,
        input: { digest: d.inputDigest },
        policies: d.policies,
        warnings: d.warnings,
      },
    },
  });
}
