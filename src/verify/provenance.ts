import { SsfError, decodeBase64, type DigestRef } from '../core/index.js';
import {
  INTOTO_LINK_V03, SLSA_PROVENANCE_V1, parseLink, parseProvenance, type LinkV03, type ProvenanceV1, type ResourceDescriptor,
} from '../attest/index.js';
import type { BundleVerifier, VerifiedBundle } from './verifier.js';

/** The build type of a run of an ssf pipeline (a URI under a domain that cannot be registered). */
export const SSF_BUILD_TYPE = 'https://ssf.invalid/buildtypes/pipeline/v1';
/** The predicate type of a node attestation. */
export const SSF_NODE_PREDICATE = 'https://ssf.invalid/attestations/node/v1';
/** Media type of a Sigstore bundle carried inside a resource descriptor's `content`. */
export const SIGSTORE_BUNDLE_MEDIA_TYPE = 'application/vnd.dev.sigstore.bundle.v0.3+json';

const BUILDER_PATH = /^spiffe:\/\/([a-z0-9._-]+)\/factory\/builder$/;

/** The SPIFFE ID a task of a run signs with: bound to the run, the task and the node it ran on. */
export function taskIdentity(trustDomain: string, runId: string, task: string, nodeId: string): string {
  return `spiffe://${trustDomain}/run/${runId}/task/${task}/node/${nodeId}`;
}

/** The SPIFFE ID of the factory's builder, which signs run provenance. */
export function builderIdentity(trustDomain: string): string {
  return `spiffe://${trustDomain}/factory/builder`;
}

/** One verified task of a run's chain. */
export interface VerifiedTask {
  readonly name: string;
  readonly identity: string;
  readonly logIndex: number;
  readonly link: LinkV03;
  readonly products: readonly ResourceDescriptor[];
}

/** What `verifyProvenanceChain` establishes about an artifact. */
/** A signed evidence document (SBOM, scan, licences, secrets) an evidence task produced in the run. */
export interface VerifiedEvidence {
  readonly task: string;
  readonly identity: string;
  readonly logIndex: number;
  readonly predicateType: string;
  readonly predicate: Readonly<Record<string, unknown>>;
  readonly subjects: readonly ResourceDescriptor[];
  /** Is the verified artifact one of the statement's subjects? */
  readonly aboutArtifact: boolean;
}

export interface ChainReport {
  readonly runId: string;
  readonly builderId: string;
  readonly provenance: ProvenanceV1;
  readonly provenanceLogIndex: number;
  readonly pipelineDigest?: string;
  readonly node?: { readonly identity: string; readonly logIndex: number; readonly measurement: Readonly<Record<string, unknown>> };
  readonly tasks: readonly VerifiedTask[];
  readonly evidence: readonly VerifiedEvidence[];
  readonly subjectName: string;
}

function fail(message: string): never {
  throw new SsfError('PROVENANCE_INVALID', message);
}

function embeddedBundle(d: ResourceDescriptor, what: string): unknown {
  if (d.mediaType !== SIGSTORE_BUNDLE_MEDIA_TYPE || typeof d.content !== 'string') fail(`${what} does not carry a Sigstore bundle`);
  try {
    return JSON.parse(decodeBase64(d.content, what).toString('utf8'));
  } catch (e) {
    if (e instanceof SsfError) throw e;
    fail(`${what}: embedded bundle is not JSON`);
  }
}

function digestOf(d: ResourceDescriptor): string | undefined {
  return d.digest?.sha256;
}

/**
 * Verifies an artifact against the provenance of the run that built it, offline: the
 * provenance bundle (signature, certificate chain, log proof, revocation) and its signer (the
 * factory's builder identity), then every task statement embedded as a byproduct (each signed
 * by that task's own identity for this run), then the chain between them: each task's input
 * workspaces must be exactly what the task that last wrote them signed as its output, and the
 * artifact must be among the products of the run's publish step.
 */
export function verifyProvenanceChain(verifier: BundleVerifier, provenanceBundle: unknown, artifact: DigestRef): ChainReport {
  const prov: VerifiedBundle = verifier.verify(provenanceBundle, { artifact });
  if (prov.statement.predicateType !== SLSA_PROVENANCE_V1) fail(`bundle is a ${prov.statement.predicateType} statement, not SLSA provenance v1`);
  const signer = prov.signer.identity ?? fail('provenance is not signed by a certificate identity');
  const m = BUILDER_PATH.exec(signer) ?? fail(`provenance is signed by ${signer}, not by a factory builder identity (spiffe://<trust domain>/factory/builder)`);
  const trustDomain = m[1] as string;
  const provenance = parseProvenance(prov.statement.predicate);
  if (provenance.buildDefinition.buildType !== SSF_BUILD_TYPE) fail(`build type ${provenance.buildDefinition.buildType} is not an ssf pipeline run`);
  if (provenance.runDetails.builder.id !== signer) fail(`builder.id ${provenance.runDetails.builder.id} differs from the signer ${signer}`);
  const runId = provenance.runDetails.metadata?.invocationId ?? fail('provenance has no invocationId (run id)');
  const subject = prov.statement.subject.find((s) => s.digest?.[artifact.algorithm] === artifact.hex);
  const subjectName = subject?.name ?? '';

  let node: ChainReport['node'];
  const tasks: VerifiedTask[] = [];
  const evidence: VerifiedEvidence[] = [];
  const pendingEvidence: { task: string; bundle: unknown }[] = [];
  for (const bp of provenance.runDetails.byproducts ?? []) {
    const name = bp.name ?? '';
    if (name.startsWith('node/')) {
      const v = verifier.verify(embeddedBundle(bp, `byproduct ${name}`));
      if (!v.signer.identity?.startsWith(`spiffe://${trustDomain}/node/`)) fail(`node attestation is signed by ${v.signer.identity ?? 'a key'}, not a node identity of ${trustDomain}`);
      if (v.statement.predicateType !== SSF_NODE_PREDICATE) fail(`byproduct ${name} is not a node attestation`);
      if (v.signer.identity !== `spiffe://${trustDomain}/${name}`) fail(`node attestation ${name} is signed by ${v.signer.identity}`);
      node = { identity: v.signer.identity, logIndex: v.logIndex, measurement: v.statement.predicate };
      continue;
    }
    if (name.startsWith('evidence/')) {
      pendingEvidence.push({ task: name.slice('evidence/'.length), bundle: embeddedBundle(bp, `byproduct ${name}`) });
      continue;
    }
    if (!name.startsWith('task/')) continue;
    const taskName = name.slice('task/'.length);
    if (!node) fail(`task ${taskName} comes before any node attestation in the provenance`);
    const nodeId = node.identity.slice(`spiffe://${trustDomain}/node/`.length);
    const expected = taskIdentity(trustDomain, runId, taskName, nodeId);
    const v = verifier.verify(embeddedBundle(bp, `byproduct ${name}`), { identity: expected });
    if (v.statement.predicateType !== INTOTO_LINK_V03) fail(`task ${taskName}: statement is ${v.statement.predicateType}, not an in-toto link`);
    const link = parseLink(v.statement.predicate);
    if (link.name !== taskName) fail(`task ${taskName}: its statement names task ${link.name}`);
    tasks.push({ name: taskName, identity: expected, logIndex: v.logIndex, link, products: v.statement.subject });
  }
  if (tasks.length === 0) fail('provenance carries no task statements');
  // Evidence: each document is signed by the identity of the task that produced it, in this run.
  for (const e of pendingEvidence) {
    const t = tasks.find((x) => x.name === e.task) ?? fail(`evidence of task ${e.task} has no task statement in the provenance`);
    const v = verifier.verify(e.bundle, { identity: t.identity });
    const predicate = v.statement.predicate;
    evidence.push({
      task: e.task, identity: t.identity, logIndex: v.logIndex, predicateType: v.statement.predicateType,
      predicate: predicate !== null && typeof predicate === 'object' ? (predicate as Record<string, unknown>) : {},
      subjects: v.statement.subject, aboutArtifact: v.statement.subject.some((s) => s.digest?.[artifact.algorithm] === artifact.hex),
    });
  }

  // The chain: every workspace a task read is what the last writer signed.
  const lastWritten = new Map<string, { task: string; digest: string }>();
  for (const t of tasks) {
    for (const mat of t.link.materials) {
      const ws = mat.name?.startsWith('workspace/') ? mat.name : undefined;
      if (!ws) continue;
      const prev = lastWritten.get(ws);
      if (prev && prev.digest !== digestOf(mat)) {
        fail(`task ${t.name} read ${ws} as sha256:${digestOf(mat) ?? '?'} but task ${prev.task} signed it as sha256:${prev.digest}: the workspace changed between tasks`);
      }
    }
    for (const p of t.products) {
      const d = digestOf(p);
      if (p.name?.startsWith('workspace/') && d) lastWritten.set(p.name, { task: t.name, digest: d });
    }
  }
  const published = tasks.filter((t) => t.link.byproducts.kind === 'publish');
  if (published.length === 0) fail('the run has no publish task');
  const inPublish = published.some((t) => t.products.some((p) => p.digest?.[artifact.algorithm] === artifact.hex));
  if (!inPublish) fail(`artifact ${artifact.algorithm}:${artifact.hex} is not among the products of the run's publish task`);

  const pipeline = provenance.buildDefinition.externalParameters.pipeline as { digest?: { sha256?: string } } | undefined;
  return {
    runId, builderId: signer, provenance, provenanceLogIndex: prov.logIndex, tasks, evidence, subjectName, ...(node ? { node } : {}),
    ...(pipeline?.digest?.sha256 ? { pipelineDigest: `sha256:${pipeline.digest.sha256}` } : {}),
  };
}
