import { statSync } from 'node:fs';
import { SsfError, isSsfError, type Clock } from '../core/index.js';
import type { Factory } from '../factory/index.js';
import { GraphQueries, vexProductTargets } from '../graph/index.js';
import { OciLayout } from '../repository/index.js';
import { verifyProvenanceChain, type BundleVerifier, type ChainReport } from '../verify/index.js';
import {
  attestationKind, denialMessage, evaluateGate, evidenceBlock, policySetDigest, type GateDecision, type LoadedPolicy, type VerifiedFact,
} from '../policy/index.js';
import type { AdmissionContext, DeployDecider, ImageDecision, ImageRef } from './decider.js';
import { DecisionStore, loadFactoryPolicies, recordDecision } from './gates.js';
import { recordDeployment } from './deployments.js';

/**
 * Gate D: everything the factory knows about a digest (its store and the OCI referrers in its
 * repository), verified against its trust root and revocation list, as the deploy input; the
 * factory's deploy policies decide; the decision is signed as a VSA unless the request is a
 * dryRun. Used by the admission webhook and by `ssf admission check`.
 */

const HEX = /^sha256:([0-9a-f]{64})$/;

interface Candidate {
  readonly bundle: unknown;
  readonly from: 'store' | 'referrer';
}

/** Stored evidence about the digest, then bundles attached to it in the repository (deduplicated by the verifier's log index). */
function candidates(f: Factory, repo: OciLayout | undefined, digest: string): Candidate[] {
  const hex = (HEX.exec(digest) ?? [])[1] ?? '';
  // Gate D's own earlier decisions are not evidence for the next one: counting them would make
  // every decision about a busy image slower than the last (each VSA would also list all the
  // earlier ones), until the webhook's deadline denied it.
  const ownDecisions = new Set(new DecisionStore(f.db).forSubject(`sha256:${hex}`).filter((d) => d.gate === 'deploy').map((d) => d.log_index));
  const out: Candidate[] = f.evidence.findBySubject('sha256', hex).filter((r) => !ownDecisions.has(r.logIndex)).map((r) => ({ bundle: f.bundleOf(r), from: 'store' as const }));
  if (repo) {
    for (const d of repo.referrers(digest)) {
      if (d.artifactType !== 'application/vnd.dev.sigstore.bundle.v0.3+json') continue;
      try {
        const m = repo.manifest(d);
        const layer = m.kind === 'manifest' ? m.layers[0] : undefined;
        if (layer) out.push({ bundle: JSON.parse(repo.readBlob(layer.digest).toString('utf8')), from: 'referrer' });
      } catch {
        // An unreadable referrer is no evidence; it cannot make a decision pass.
      }
    }
  }
  return out;
}

const VEX_SIGNER = /^spiffe:\/\/([^/]+)\/evidence\/vex$/;

/**
 * The VEX statements about a digest: OpenVEX documents the graph links to it (suppressed-by
 * edges from VEX evidence), each bundle verified again, signed by this factory's VEX identity,
 * unexpired; the newest statement per vulnerability. The same rules scans apply.
 */
function vexFor(f: Factory, verifier: BundleVerifier, digest: string, now: Date, rejected: string[]): { facts: VerifiedFact[]; byVuln: Map<string, { status: string; justification?: string; signer: string; time: string }> } {
  const logs = f.db.prepare(`SELECT DISTINCT e.log_index AS logIndex FROM g_edge e JOIN g_node a ON a.id = e.src
    WHERE a.kind = 'artifact' AND a.key = ? AND e.verb = 'suppressed-by' AND e.revoked_at IS NULL`).all(digest) as { logIndex: number }[];
  const facts: VerifiedFact[] = [];
  const byVuln = new Map<string, { status: string; justification?: string; signer: string; time: string }>();
  for (const { logIndex } of logs) {
    let v;
    try {
      v = verifier.verify(f.bundleOf(f.evidence.getByLogIndex(Number(logIndex))));
    } catch (e) {
      rejected.push(`VEX at log index ${logIndex}: ${(e as Error).message}`);
      continue;
    }
    if (attestationKind(v.statement.predicateType) !== 'vex') continue;
    const m = VEX_SIGNER.exec(v.signer.identity ?? '');
    if (!m || m[1] !== f.trustDomain) {
      rejected.push(`VEX at log index ${logIndex}: signed by ${v.signer.identity ?? 'a key'}, not this factory's VEX identity`);
      continue;
    }
    const p = v.statement.predicate as { expires?: string; timestamp?: string; statements?: { vulnerability?: { name?: string; aliases?: string[] }; products?: unknown[]; status?: string; justification?: string; expires?: string; timestamp?: string }[] };
    facts.push({ predicateType: v.statement.predicateType, signer: v.signer.identity ?? '', logIndex: v.logIndex, aboutArtifact: true, predicate: v.statement.predicate as Record<string, unknown> });
    for (const st of p.statements ?? []) {
      const expires = st.expires ?? p.expires;
      if (!expires || Date.parse(expires) <= now.getTime()) continue;
      // Products are read as the graph reads them (an @id, a pkg:oci purl, or a sha-256 hash).
      if (!vexProductTargets(st.products ?? []).some((n) => n.kind === 'artifact' && n.key === digest)) continue;
      const time = st.timestamp ?? p.timestamp ?? '';
      for (const id of [st.vulnerability?.name, ...(st.vulnerability?.aliases ?? [])]) {
        if (!id || !st.status) continue;
        const prev = byVuln.get(id);
        if (!prev || time > prev.time) byVuln.set(id, { status: st.status, ...(st.justification ? { justification: st.justification } : {}), signer: v.signer.identity ?? '', time });
      }
    }
  }
  return { facts, byVuln };
}

export interface DeployEvidence {
  readonly input: Record<string, unknown>;
  /** Log indices of the verified attestations the input was built from. */
  readonly attestations: readonly { logIndex: number; predicateType: string }[];
  /** Bundles that did not verify, one line each (revoked signers among them). */
  readonly rejected: readonly string[];
}

/** Builds the gate D input for a digest from verified evidence only. */
export function deployInput(f: Factory, verifier: BundleVerifier, digest: string, opts: { ref?: string; name?: string; repository?: OciLayout; now: Date }): DeployEvidence {
  const m = HEX.exec(digest);
  if (!m) throw new SsfError('USAGE', `${JSON.stringify(digest)} is not a digest of the form sha256:<64 hex>`);
  const hex = m[1] as string;
  const facts = new Map<number, VerifiedFact>();
  const rejected: string[] = [];
  let revoked = false;
  let chain: ChainReport | undefined;
  for (const c of candidates(f, opts.repository, digest)) {
    let v;
    try {
      v = verifier.verify(c.bundle, { artifact: { algorithm: 'sha256', hex } });
    } catch (e) {
      if (isSsfError(e, 'CERT_REVOKED')) revoked = true;
      rejected.push(`${c.from}: ${(e as Error).message}`);
      continue;
    }
    if (facts.has(v.logIndex)) continue;
    facts.set(v.logIndex, {
      predicateType: v.statement.predicateType, signer: v.signer.identity ?? '', logIndex: v.logIndex, aboutArtifact: true,
      predicate: (v.statement.predicate ?? {}) as Record<string, unknown>,
    });
    if (attestationKind(v.statement.predicateType) === 'provenance' && (!chain || v.logIndex > chain.provenanceLogIndex)) {
      try {
        chain = verifyProvenanceChain(verifier, c.bundle, { algorithm: 'sha256', hex });
      } catch (e) {
        if (isSsfError(e, 'CERT_REVOKED')) revoked = true;
        rejected.push(`provenance at log index ${v.logIndex}: ${(e as Error).message}`);
      }
    }
  }
  // The run's own evidence documents come from the verified chain (each checked against its task's identity).
  if (chain) {
    for (const e of chain.evidence) {
      if (!facts.has(e.logIndex)) facts.set(e.logIndex, { predicateType: e.predicateType, signer: e.identity, logIndex: e.logIndex, task: e.task, aboutArtifact: e.aboutArtifact, predicate: e.predicate });
    }
  }
  // VEX signed after the newest scan still counts: the graph knows which OpenVEX statements name
  // this digest as a product (a VEX document's own subject is the document, not the product).
  const vex = vexFor(f, verifier, digest, opts.now, rejected);
  for (const v of vex.facts) if (!facts.has(v.logIndex)) facts.set(v.logIndex, v);
  const list = [...facts.values()].sort((a, b) => a.logIndex - b.logIndex);
  let provenance: Record<string, unknown> | null = null;
  if (chain) {
    const internal = (chain.provenance.buildDefinition.internalParameters ?? {}) as { sandbox?: { backend?: string }; insecure?: boolean };
    const ext = chain.provenance.buildDefinition.externalParameters as { pipeline?: { name?: string; signedBy?: string } };
    const source = chain.provenance.buildDefinition.resolvedDependencies?.find((d) => d.name === 'source');
    const sourceTask = chain.tasks.find((t) => t.link.byproducts['kind'] === 'source');
    const sig = (sourceTask?.link.byproducts['source'] as { signature?: { signer?: string } } | undefined)?.signature;
    provenance = {
      signer: chain.builderId, logIndex: chain.provenanceLogIndex, runId: chain.runId, builder: chain.builderId,
      pipeline: ext.pipeline?.name ?? null, pipelineSigned: ext.pipeline?.signedBy !== undefined,
      source: source ? { uri: source.uri ?? null, commit: source.digest?.gitCommit ?? null, treeDigest: source.digest?.sha256 ? `sha256:${source.digest.sha256}` : null, signed: sig !== undefined, signer: sig?.signer ?? null } : null,
      isolated: (internal.sandbox?.backend ?? 'none') !== 'none' && internal.insecure !== true,
      hermetic: chain.tasks.every((t) => [undefined, 'none'].includes(t.link.environment['network'] as string | undefined)),
    };
  }
  const evidence = evidenceBlock(list);
  if (evidence.vulnerabilities) {
    for (const v of evidence.vulnerabilities) {
      const ids = [String(v['id']), ...((v['aliases'] as string[] | undefined) ?? [])];
      const hit = ids.map((id) => vex.byVuln.get(id)).filter((x) => x !== undefined).sort((a, b) => b.time.localeCompare(a.time))[0];
      if (hit && !v['suppressed']) {
        v['suppressed'] = hit.status === 'not_affected' || hit.status === 'fixed';
        v['vex'] = { status: hit.status, justification: hit.justification ?? null, signer: hit.signer };
      }
    }
  }
  const input = {
    gate: 'deploy', time: opts.now.toISOString(), factory: { trustDomain: f.trustDomain },
    artifact: { digest, ref: opts.ref ?? null, name: opts.name ?? chain?.subjectName ?? null },
    provenance,
    evidence,
    revoked,
  };
  return { input, attestations: list.map((x) => ({ logIndex: x.logIndex, predicateType: x.predicateType })), rejected };
}

export interface DeployOutcome {
  readonly decision: GateDecision;
  readonly input: Record<string, unknown>;
  readonly logIndex?: number;
  readonly rejected: readonly string[];
}

/** Gate D for one digest: input from verified evidence, decided by the deploy policies, signed unless dryRun. */
export async function decideDeploy(f: Factory, policies: readonly LoadedPolicy[], digest: string, opts: {
  ref?: string; dryRun?: boolean; verifier?: BundleVerifier; repository?: OciLayout; context?: string;
}): Promise<DeployOutcome> {
  const verifier = opts.verifier ?? f.verifier();
  const ev = deployInput(f, verifier, digest, { ...(opts.ref ? { ref: opts.ref } : {}), ...(opts.repository ? { repository: opts.repository } : {}), now: f.clock.now() });
  const decision = evaluateGate(policies, 'deploy', ev.input, { artifacts: [opts.ref ?? '', String((ev.input['artifact'] as { name?: string | null }).name ?? '')].filter((x) => x !== '') });
  if (opts.dryRun) return { decision, input: ev.input, rejected: ev.rejected };
  const rec = await recordDecision(f, decision, ev.input, {
    subjects: [{ name: opts.ref ?? digest, digest: { sha256: digest.slice(7) } }],
    resourceUri: opts.ref ? `oci:${opts.ref}` : `oci:${digest}`,
    inputAttestations: ev.attestations.map((a) => ({ name: `log/${a.logIndex}`, digest: { sha256: digest.slice(7) }, annotations: { logIndex: a.logIndex, predicateType: a.predicateType } })),
  });
  return { decision, input: ev.input, logIndex: rec.logIndex, rejected: ev.rejected };
}

/** The DeployDecider the webhook uses: the factory's deploy policies (plus any given), its store and repository. */
export async function createDeployDecider(f: Factory, opts: { policies: readonly string[]; clock?: Clock; cluster?: string }): Promise<DeployDecider> {
  const policies = loadFactoryPolicies(f, opts.policies).filter((p) => p.doc.spec.gate === 'deploy');
  if (policies.length === 0) throw new SsfError('POLICY_INVALID', 'no deploy policy is configured; add one with `ssf policy add` (the default is builtin:deploy-verified)');
  const policyDigest = policySetDigest(policies);
  let repository: OciLayout | undefined;
  try {
    repository = OciLayout.open(f.layout.repository);
  } catch {
    repository = undefined;
  }
  // Reading and verifying the signed revocation list costs about a millisecond: it is re-read
  // only when the file changes, so that a warm admission decision stays in microseconds.
  let seen: { key: string; version: number } | undefined;
  const revocationVersion = (): number => {
    // The trusted root is part of the key too: after \`ssf ca rotate\` the verifier must know the new intermediate.
    const st = statSync(f.layout.revocations);
    const tr = statSync(f.layout.trustedRoot);
    const key = `${st.mtimeMs}/${st.size}/${st.ino}/${tr.mtimeMs}/${tr.size}/${tr.ino}`;
    if (seen?.key !== key) seen = { key, version: f.revocationList().version };
    return seen.version;
  };
  const recorded = new Set<string>();
  const runningIn = (digest: string, where: string): boolean => new GraphQueries(f.db, { trustDomain: f.trustDomain }).isDeployed(digest, where);
  // One verifier (with its certificate and checkpoint caches) while the revocation list is unchanged.
  let shared: { version: number; verifier: BundleVerifier } | undefined;
  const verifierNow = (): BundleVerifier => {
    const version = revocationVersion();
    if (shared?.version !== version) shared = { version, verifier: f.verifier() };
    return shared.verifier;
  };
  return {
    // The revocation list's version is part of the key: revoking an identity invalidates
    // every cached decision at once.
    policyDigest: () => `${policyDigest}+revocations@${revocationVersion()}`,
    // What runs where, as signed deployment records (once per workload and digest per process).
    async admitted(images, ctx): Promise<void> {
      const cluster = opts.cluster ?? 'kubernetes';
      if (!/^[A-Za-z0-9]([A-Za-z0-9._-]*[A-Za-z0-9])?$/.test(ctx.name) || ctx.namespace === '') return;
      for (const image of images) {
        const where = `${cluster}/${ctx.namespace}/${ctx.kind}/${ctx.name}`;
        const key = `${where}@${image.digest}`;
        // Recorded by this process before, and not removed since (by a DELETE, another replica or `ssf deployments remove`).
        if (recorded.has(key) && runningIn(image.digest, where)) continue;
        if (recorded.size >= 100_000) recorded.clear();
        recorded.add(key);
        await recordDeployment(f, { cluster, namespace: ctx.namespace, kind: ctx.kind, name: ctx.name, digest: image.digest, image: image.ref }, { by: 'admission' });
      }
    },
    // A deleted workload's images no longer run there: removal records for those recorded as running.
    async removed(images, ctx): Promise<void> {
      const cluster = opts.cluster ?? 'kubernetes';
      if (!/^[A-Za-z0-9]([A-Za-z0-9._-]*[A-Za-z0-9])?$/.test(ctx.name) || ctx.namespace === '') return;
      const where = `${cluster}/${ctx.namespace}/${ctx.kind}/${ctx.name}`;
      for (const image of images) {
        recorded.delete(`${where}@${image.digest}`);
        if (runningIn(image.digest, where)) await recordDeployment(f, { cluster, namespace: ctx.namespace, kind: ctx.kind, name: ctx.name, digest: image.digest, image: image.ref }, { by: 'admission', removed: true });
      }
    },
    async decide(image: ImageRef & { digest: string }, ctx: AdmissionContext): Promise<ImageDecision> {
      const out = await decideDeploy(f, policies, image.digest, { ref: image.ref, dryRun: ctx.dryRun, verifier: verifierNow(), ...(repository ? { repository } : {}) });
      const d = out.decision;
      const reason = d.allowed
        ? `allowed by ${d.policies.map((p) => `${p.name}@${p.version}`).join(', ')}`
        : `${denialMessage(d)}${out.rejected.length > 0 ? ` (rejected evidence: ${out.rejected.slice(0, 2).join('; ')})` : ''}`;
      return { allowed: d.allowed, reason, warnings: d.warnings, ...(out.logIndex !== undefined ? { decisionLogIndex: out.logIndex } : {}) };
    },
  };
}
