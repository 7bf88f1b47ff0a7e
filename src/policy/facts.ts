/**
 * Turns verified attestations into the `evidence` block of the publish and deploy inputs:
 * the attestation list, and the facts of the SBOM, scan, licence and secrets documents.
 * Callers pass only statements they have verified (signature, chain, log, revocation);
 * this module reads predicates, it does not check signatures.
 */

const KINDS: readonly [string, string][] = [
  ['https://slsa.dev/provenance/v1', 'provenance'],
  ['https://in-toto.io/attestation/link/v0.3', 'task'],
  ['https://ssf.invalid/attestations/node/v1', 'node'],
  ['https://cyclonedx.org/bom', 'sbom'],
  ['https://spdx.dev/Document', 'sbom'],
  ['https://in-toto.io/attestation/vulns', 'vulns'],
  ['https://ssf.invalid/attestation/licenses/v1', 'licenses'],
  ['https://ssf.invalid/attestation/secrets/v1', 'secrets'],
  ['https://openvex.dev/ns', 'vex'],
  ['https://slsa.dev/verification_summary/v1', 'vsa'],
  ['https://ssf.invalid/attestations/pipeline-definition/v1', 'pipeline'],
];

export type AttestationKind = 'provenance' | 'task' | 'node' | 'sbom' | 'vulns' | 'licenses' | 'secrets' | 'vex' | 'vsa' | 'pipeline' | 'other';

/** The kind of an attestation, by its predicate type. */
export function attestationKind(predicateType: string): AttestationKind {
  return (KINDS.find(([prefix]) => predicateType.startsWith(prefix))?.[1] ?? 'other') as AttestationKind;
}

/** A verified statement, as the gates see it. */
export interface VerifiedFact {
  readonly predicateType: string;
  readonly signer: string;
  readonly logIndex: number;
  readonly task?: string;
  readonly aboutArtifact: boolean;
  readonly predicate: Readonly<Record<string, unknown>>;
}

export interface EvidenceBlock {
  attestations: Record<string, unknown>[];
  sbom: Record<string, unknown> | null;
  vulnerabilities: Record<string, unknown>[] | null;
  vulnDb: Record<string, unknown> | null;
  licenses: Record<string, unknown>[] | null;
  secrets: Record<string, unknown> | null;
}

function obj(v: unknown): Record<string, unknown> {
  return v !== null && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, unknown>) : {};
}
function arr(v: unknown): unknown[] {
  return Array.isArray(v) ? v : [];
}
function strOrNull(v: unknown): string | null {
  return typeof v === 'string' ? v : null;
}

/** Normalised findings of an in-toto vulns v0.2 predicate written by ssf (annotations carry purl and VEX). */
export function vulnsOf(predicate: Readonly<Record<string, unknown>>): { findings: Record<string, unknown>[]; db: Record<string, unknown> | null } {
  const scanner = obj(predicate['scanner']);
  const db = obj(scanner['db']);
  const findings = arr(scanner['result']).map((r) => {
    const e = obj(r);
    const note = obj(arr(e['annotations'])[0]);
    const sev = arr(e['severity']).map(obj);
    const severity = strOrNull(sev.find((s) => s['method'] === 'severity')?.['score']) ?? 'unknown';
    const scoreText = sev.find((s) => s['method'] !== 'severity')?.['score'];
    const score = typeof scoreText === 'string' && Number.isFinite(Number(scoreText)) ? Number(scoreText) : null;
    const vex = note['vex'] !== undefined ? obj(note['vex']) : null;
    const status = strOrNull(vex?.['status']);
    return {
      id: String(e['id'] ?? ''),
      aliases: arr(note['aliases']).filter((x): x is string => typeof x === 'string'),
      purl: String(note['purl'] ?? ''),
      package: String(note['package'] ?? ''),
      version: String(note['version'] ?? ''),
      severity: ['none', 'low', 'medium', 'high', 'critical'].includes(severity) ? severity : 'unknown',
      score,
      suppressed: status === 'not_affected' || status === 'fixed',
      vex: vex ? { status: status ?? '', justification: strOrNull(vex['justification']), signer: strOrNull(vex['signer']) } : null,
    };
  });
  return { findings, db: typeof db['version'] === 'string' ? { digest: db['version'], date: String(db['lastUpdate'] ?? '') } : null };
}

/**
 * The evidence block from verified facts. Only documents about the artifact count for the
 * SBOM, scan, licence and secrets facts; when several are present the newest (highest log
 * index) wins, so a rescan's result replaces the build-time one.
 */
export function evidenceBlock(facts: readonly VerifiedFact[]): EvidenceBlock {
  const about = [...facts].filter((f) => f.aboutArtifact).sort((a, b) => b.logIndex - a.logIndex);
  const newest = (k: AttestationKind): VerifiedFact | undefined => about.find((f) => attestationKind(f.predicateType) === k);
  const sbom = newest('sbom');
  const vulns = newest('vulns');
  const lic = newest('licenses');
  const sec = newest('secrets');
  const v = vulns ? vulnsOf(vulns.predicate) : undefined;
  const components = sbom ? (arr(sbom.predicate['components']).length || arr(sbom.predicate['packages']).length) : 0;
  const report = (f: VerifiedFact | undefined): Record<string, unknown> => obj(f?.predicate['report']);
  return {
    attestations: facts.map((f) => ({
      kind: attestationKind(f.predicateType), predicateType: f.predicateType, signer: f.signer, logIndex: f.logIndex,
      task: f.task ?? null, aboutArtifact: f.aboutArtifact, verified: true,
      // A VSA's outcome and gate, so that a later gate can require an earlier one's pass.
      ...(attestationKind(f.predicateType) === 'vsa' ? { result: String(f.predicate['verificationResult'] ?? ''), gate: String(obj(f.predicate['decision'])['gate'] ?? '') } : {}),
    })),
    sbom: sbom ? { format: attestationKind(sbom.predicateType) === 'sbom' && sbom.predicateType.includes('spdx') ? 'spdx' : 'cyclonedx', components, signer: sbom.signer } : null,
    vulnerabilities: v ? v.findings : null,
    vulnDb: v ? v.db : null,
    licenses: lic ? arr(report(lic)['findings']).map((x) => {
      const f = obj(x);
      return { purl: String(obj(f['component'])['purl'] ?? ''), declared: strOrNull(f['declared']), expression: strOrNull(f['expression']), status: String(f['status'] ?? 'unknown') };
    }) : null,
    secrets: sec ? { findings: arr(report(sec)['findings']).length, suppressed: Number(report(sec)['suppressed'] ?? 0) } : null,
  };
}
