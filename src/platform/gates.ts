import { hostname, userInfo } from 'node:os';
import type { LintFinding, LoadedPipeline, PipelineDefinition, ToolSpec } from '../pipeline/index.js';
import type { SandboxDetection } from '../sandbox/index.js';
import type { Sbom, Finding, LicenseFinding, VulnDbInfo } from '../analysis/index.js';
import type { ChainReport } from '../verify/index.js';
import { evidenceBlock, type VerifiedFact } from '../policy/index.js';
import type { PipelineSignature } from './pipeline-sign.js';
import type { RunArtifact } from './runstore.js';

/**
 * The input documents of gates A, B and C, built from what the runner knows at each point
 * (schemas: schema/policy/input-<gate>.schema.json; reference: docs/policy.md).
 */

const DIGEST = /^sha256:[0-9a-f]{64}$/;

function caller(): { user: string; uid: number | null; host: string } {
  let user = 'unknown';
  try {
    user = userInfo().username;
  } catch {
    // no passwd entry for this uid (containers): keep "unknown"
  }
  return { user, uid: process.getuid?.() ?? null, host: hostname() };
}

/** Gate A: the build request. */
export function buildInput(a: {
  time: Date; trustDomain: string; loaded: LoadedPipeline; def: PipelineDefinition; signature: PipelineSignature | undefined;
  toolDigests: ReadonlyMap<string, string>; lint: readonly LintFinding[]; params: Record<string, unknown>; sandbox: SandboxDetection;
}): Record<string, unknown> {
  return {
    gate: 'build', time: a.time.toISOString(), factory: { trustDomain: a.trustDomain },
    pipeline: {
      name: a.def.metadata.name, file: a.loaded.file, digest: a.loaded.digest,
      signed: a.signature !== undefined, signer: a.signature?.identity ?? null, signatureLogIndex: a.signature?.logIndex ?? null,
      tools: a.def.tools.map((t: ToolSpec) => ({
        name: t.name, path: t.path, digest: t.digest ?? null, pinned: t.digest !== undefined && DIGEST.test(t.digest),
        verified: t.digest !== undefined && a.toolDigests.get(t.name) === t.digest,
      })),
      // Every task runs with no network: sandboxed tasks in a network namespace of their own,
      // ssf's own tasks (source, image, publish, evidence) without any fetch of their own.
      tasks: a.def.tasks.map((t) => ({ name: t.name, kind: t.kind, network: 'none' })),
      lint: a.lint.map((l) => ({ rule: l.rule, severity: l.severity, message: l.message })),
    },
    caller: caller(),
    params: a.params,
    sandbox: { backend: a.sandbox.backend, isolated: a.sandbox.backend !== 'none', network: 'none' },
  };
}

function registryOf(resolved: string | undefined, registry: string): string | null {
  if (!resolved) return null;
  if (resolved.startsWith(registry)) return registry;
  try {
    return `${new URL(resolved).origin}/`;
  } catch {
    return resolved;
  }
}

/** Gate B: the locked dependencies, their vulnerabilities (when the factory has advisories) and licences. */
export function dependenciesInput(a: {
  time: Date; trustDomain: string; pipeline: { name: string; digest: string }; runId: string; task: string;
  lockfile: { path: string; digest: string; version: string | null }; registry: string; sbom: Sbom;
  vulns: { findings: readonly Finding[]; db: VulnDbInfo } | null; licenses: readonly LicenseFinding[];
}): Record<string, unknown> {
  const registry = a.registry.endsWith('/') ? a.registry : `${a.registry}/`;
  return {
    gate: 'dependencies', time: a.time.toISOString(), factory: { trustDomain: a.trustDomain },
    pipeline: a.pipeline, run: { id: a.runId }, task: a.task,
    lockfile: { ...a.lockfile, manager: 'npm' },
    registry,
    packages: a.sbom.components.map((c) => {
      const integrity = c.hashes.length > 0 ? c.hashes.map((h) => `${h.alg}:${h.hex}`).join(' ') : null;
      return {
        name: c.name, version: c.version, purl: c.purl, path: c.paths[0] ?? '', integrity,
        pinned: integrity !== null && /^\d+\.\d+\.\d+(-[0-9A-Za-z.-]+)?(\+[0-9A-Za-z.-]+)?$/.test(c.version),
        resolved: c.resolved ?? null, registry: registryOf(c.resolved, registry), license: c.license ?? null, scope: c.scope,
      };
    }),
    vulnerabilities: a.vulns ? a.vulns.findings.map((f) => ({
      id: f.id, aliases: f.aliases, purl: f.component.purl, package: f.component.name, version: f.component.version,
      severity: f.severity, score: f.score ?? null, suppressed: f.vex?.status === 'not_affected' || f.vex?.status === 'fixed',
      vex: f.vex ? { status: f.vex.status, justification: f.vex.justification ?? null, signer: f.vex.signer ?? null } : null,
    })) : null,
    vulnDb: a.vulns ? { digest: a.vulns.db.digest, date: a.vulns.db.date } : null,
    licenses: a.licenses.map((l) => ({ purl: l.component.purl, declared: l.declared ?? null, expression: l.expression ?? null, status: l.status })),
  };
}

/** Gate C: the run's verified chain and the evidence about one artifact. */
export function publishInput(a: {
  time: Date; trustDomain: string; report: ChainReport; artifact: RunArtifact; pipelineName: string;
  signature: PipelineSignature | undefined; kinds: ReadonlyMap<string, string>;
}): Record<string, unknown> {
  const r = a.report;
  const internal = (r.provenance.buildDefinition.internalParameters ?? {}) as { sandbox?: { backend?: string }; insecure?: boolean };
  const backend = internal.sandbox?.backend ?? 'none';
  const source = r.provenance.buildDefinition.resolvedDependencies?.find((d) => d.name === 'source');
  const sourceTask = r.tasks.find((t) => a.kinds.get(t.name) === 'source');
  const sig = (sourceTask?.link.byproducts['source'] as { signature?: { signer?: string } } | undefined)?.signature;
  const networks = r.tasks.map((t) => (t.link.environment['network'] as string | undefined) ?? null);
  const facts: VerifiedFact[] = [
    ...r.evidence.map((e) => ({ predicateType: e.predicateType, signer: e.identity, logIndex: e.logIndex, task: e.task, aboutArtifact: e.aboutArtifact, predicate: e.predicate })),
  ];
  return {
    gate: 'publish', time: a.time.toISOString(), factory: { trustDomain: a.trustDomain },
    pipeline: { name: a.pipelineName, digest: r.pipelineDigest ?? '', signed: a.signature !== undefined, signer: a.signature?.identity ?? null },
    run: {
      id: r.runId, builder: r.builderId, sandbox: { backend, isolated: backend !== 'none' && internal.insecure !== true },
      hermetic: networks.every((n) => n === null || n === 'none'),
      tasks: r.tasks.map((t, i) => ({ name: t.name, kind: a.kinds.get(t.name) ?? null, identity: t.identity, logIndex: t.logIndex, network: networks[i] ?? null })),
    },
    source: source ? { uri: source.uri ?? null, commit: source.digest?.gitCommit ?? null, treeDigest: source.digest?.sha256 ? `sha256:${source.digest.sha256}` : null, signed: sig !== undefined, signer: sig?.signer ?? null } : null,
    provenance: { signer: r.builderId, logIndex: r.provenanceLogIndex, buildType: r.provenance.buildDefinition.buildType, verified: true },
    artifacts: [{ name: a.artifact.name, type: a.artifact.type, digest: a.artifact.digest }],
    evidence: evidenceBlock(facts),
  };
}
