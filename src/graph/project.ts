import type { Statement } from '../attest/index.js';
import { attestationKind } from '../policy/index.js';

/**
 * The projection of one verified statement into graph nodes and edges. Pure and
 * deterministic: the same statement always gives the same projection, which is how
 * `ssf fsck` checks every stored edge against the evidence it claims to come from.
 */

export type NodeKind =
  | 'artifact' | 'component' | 'source' | 'identity' | 'pipeline' | 'run' | 'task' | 'vulnerability' | 'license' | 'policy'
  | 'deployment' | 'attestation';

export type Verb =
  | 'built-from' | 'built-by' | 'instance-of' | 'part-of' | 'contains' | 'depends-on' | 'attested-by' | 'signed-by' | 'affected-by'
  | 'suppressed-by' | 'licensed-under' | 'decided' | 'deployed-as' | 'removed-from' | 'alias-of';

export interface NodeRef {
  readonly kind: NodeKind;
  readonly key: string;
  readonly name?: string;
  readonly version?: string;
}

export interface EdgeSpec {
  readonly src: NodeRef;
  readonly verb: Verb;
  readonly dst: NodeRef;
  readonly props?: Readonly<Record<string, unknown>>;
}

/** The evidence a projection comes from. */
export interface EvidenceFacts {
  readonly logIndex: number;
  readonly signer: string;
  readonly integratedTime: number;
  /** Signed outside this factory and verified on ingest: the signed-by edge says so. */
  readonly thirdParty?: boolean;
}

/** Predicate type of a deployment record (`ssf deployments record`, the admission webhook). */
export const SSF_DEPLOYMENT_PREDICATE = 'https://ssf.invalid/attestations/deployment/v1';

const DIGEST = /^[0-9a-f]{64}$/;

function obj(v: unknown): Record<string, unknown> {
  return v !== null && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, unknown>) : {};
}
function arr(v: unknown): unknown[] {
  return Array.isArray(v) ? v : [];
}
function str(v: unknown): string | undefined {
  return typeof v === 'string' && v !== '' ? v : undefined;
}

export function artifactNode(sha256: string): NodeRef {
  return { kind: 'artifact', key: `sha256:${sha256}` };
}

/** A component by purl: its key is the purl without qualifiers or subpath, its name the purl without the version. */
export function componentNode(purl: string): NodeRef | undefined {
  if (!purl.startsWith('pkg:')) return undefined;
  const base = purl.split('#')[0]?.split('?')[0] ?? purl;
  const at = base.lastIndexOf('@');
  const slash = base.lastIndexOf('/');
  if (at > slash && at > 0) return { kind: 'component', key: base, name: base.slice(0, at), version: decodeURIComponent(base.slice(at + 1)) };
  return { kind: 'component', key: base, name: base };
}

export function identityNode(id: string): NodeRef {
  return { kind: 'identity', key: id };
}

export function vulnerabilityNode(id: string): NodeRef {
  return { kind: 'vulnerability', key: id };
}

export function deploymentNode(d: { cluster: string; namespace: string; kind: string; name: string }): NodeRef {
  return { kind: 'deployment', key: `${d.cluster}/${d.namespace}/${d.kind}/${d.name}`, name: d.name };
}

/** The artifacts a statement is about (its sha256 subjects). */
function subjectArtifacts(st: Statement): NodeRef[] {
  return st.subject.map((s) => s.digest?.sha256).filter((h): h is string => h !== undefined && DIGEST.test(h)).map(artifactNode);
}

const SEVERITY_RANK: Readonly<Record<string, number>> = { unknown: 0, none: 1, low: 2, medium: 3, high: 4, critical: 5 };

/** An artifact digest in a product identifier: `sha256:<hex>`, `IMAGE@sha256:<hex>`, or a purl's `@sha256%3A<hex>` version (pkg:oci). */
const PRODUCT_DIGEST = /(?:^|@)sha256(?::|%3[Aa])([0-9a-fA-F]{64})(?:[?#].*)?$/;

/**
 * The graph nodes an OpenVEX statement's products name, read the way ssf scan reads them: a
 * product's `@id`, `identifiers.purl` and `hashes["sha-256"]` (and the older
 * `identifiers.sha256`); a digest names an artifact, a purl a component; a plain string (the
 * older form) is an `@id`.
 */
export function vexProductTargets(products: readonly unknown[]): NodeRef[] {
  const out = new Map<string, NodeRef>();
  const add = (id: string | undefined): void => {
    if (!id) return;
    const m = PRODUCT_DIGEST.exec(id);
    const n = m ? artifactNode((m[1] as string).toLowerCase()) : componentNode(id);
    if (n) out.set(`${n.kind}\u0000${n.key}`, n);
  };
  for (const raw of products) {
    if (typeof raw === 'string') {
      add(raw);
      continue;
    }
    const prod = obj(raw);
    const ids = obj(prod['identifiers']);
    const hash = str(obj(prod['hashes'])['sha-256']) ?? str(ids['sha256']);
    add(str(prod['@id']));
    add(str(ids['purl']));
    if (hash) add(hash.startsWith('sha256:') ? hash : `sha256:${hash}`);
  }
  return [...out.values()];
}

const TASK_ID = /^spiffe:\/\/[^/]+\/run\/([^/]+)\/task\/([^/]+)\/node\//;

/** Nodes and edges of one statement. */
export function projectStatement(st: Statement, ev: EvidenceFacts): EdgeSpec[] {
  const edges: EdgeSpec[] = [];
  const kind = attestationKind(st.predicateType);
  const att: NodeRef = { kind: 'attestation', key: `log:${ev.logIndex}`, name: st.predicateType };
  const signer = identityNode(ev.signer);
  edges.push({ src: att, verb: 'signed-by', dst: signer, ...(ev.thirdParty ? { props: { thirdParty: true } } : {}) });
  const p = st.predicate;
  if (kind === 'task') {
    // A task's statement is about workspaces, not artifacts: it places the task in its run.
    const m = TASK_ID.exec(ev.signer);
    if (m) {
      const task: NodeRef = { kind: 'task', key: `${m[1]}/${m[2]}`, name: m[2] as string };
      edges.push({ src: task, verb: 'attested-by', dst: att }, { src: task, verb: 'part-of', dst: { kind: 'run', key: m[1] as string } });
    }
    return edges;
  }
  if (kind === 'node') return edges;
  const artifacts = subjectArtifacts(st);
  if (kind === 'pipeline' || st.predicateType === 'https://ssf.invalid/attestations/policy/v1') {
    const nodeKind: NodeKind = kind === 'pipeline' ? 'pipeline' : 'policy';
    for (const a of artifacts) edges.push({ src: { kind: nodeKind, key: a.key, ...(str(p['name']) ? { name: str(p['name']) } : {}) }, verb: 'signed-by', dst: signer });
    return edges;
  }
  for (const a of artifacts) edges.push({ src: a, verb: 'attested-by', dst: att });
  switch (kind) {
    case 'provenance': {
      const bd = obj(p['buildDefinition']);
      const rd = obj(p['runDetails']);
      const runId = str(obj(rd['metadata'])['invocationId']);
      const pipeline = obj(obj(bd['externalParameters'])['pipeline']);
      const pipeDigest = str(obj(pipeline['digest'])['sha256']);
      const run: NodeRef | undefined = runId ? { kind: 'run', key: runId } : undefined;
      if (run && pipeDigest) edges.push({ src: run, verb: 'instance-of', dst: { kind: 'pipeline', key: `sha256:${pipeDigest}`, ...(str(pipeline['name']) ? { name: str(pipeline['name']) } : {}) } });
      for (const a of artifacts) {
        if (run) edges.push({ src: a, verb: 'built-by', dst: run });
        for (const d of arr(bd['resolvedDependencies']).map(obj)) {
          const uri = str(d['uri']);
          const digest = obj(d['digest']);
          if (d['name'] === 'source') {
            const commit = str(digest['gitCommit']);
            const tree = str(digest['sha256']);
            edges.push({ src: a, verb: 'built-from', dst: { kind: 'source', key: `${uri ?? 'unknown'}${commit ? `@${commit}` : tree ? `#sha256:${tree}` : ''}`, ...(uri ? { name: uri } : {}) } });
          } else if (uri) {
            const c = componentNode(uri);
            if (c) edges.push({ src: a, verb: 'built-from', dst: c });
          }
        }
      }
      return edges;
    }
    case 'sbom': {
      const components = new Map<string, NodeRef>();
      if (Array.isArray(p['components'])) {
        // CycloneDX: components with purl and bom-ref; dependencies by ref.
        for (const c of arr(p['components']).map(obj)) {
          const n = str(c['purl']) ? componentNode(c['purl'] as string) : undefined;
          if (!n) continue;
          components.set(str(c['bom-ref']) ?? n.key, n);
          for (const a of artifacts) edges.push({ src: a, verb: 'contains', dst: n });
        }
        for (const d of arr(p['dependencies']).map(obj)) {
          const from = components.get(String(d['ref'] ?? ''));
          if (!from) continue;
          for (const t of arr(d['dependsOn'])) {
            const to = components.get(String(t));
            if (to) edges.push({ src: from, verb: 'depends-on', dst: to });
          }
        }
      } else {
        // SPDX 2.3: packages with a purl external reference; DEPENDS_ON relationships.
        for (const pkg of arr(p['packages']).map(obj)) {
          const ref = arr(pkg['externalRefs']).map(obj).find((r) => r['referenceType'] === 'purl');
          const n = ref && str(ref['referenceLocator']) ? componentNode(ref['referenceLocator'] as string) : undefined;
          if (!n) continue;
          components.set(String(pkg['SPDXID'] ?? n.key), n);
          for (const a of artifacts) edges.push({ src: a, verb: 'contains', dst: n });
        }
        for (const r of arr(p['relationships']).map(obj)) {
          if (r['relationshipType'] !== 'DEPENDS_ON') continue;
          const from = components.get(String(r['spdxElementId'] ?? ''));
          const to = components.get(String(r['relatedSpdxElement'] ?? ''));
          if (from && to) edges.push({ src: from, verb: 'depends-on', dst: to });
        }
      }
      return edges;
    }
    case 'vulns': {
      // One edge per artifact and vulnerability (the store keeps one per source, verb,
      // destination and evidence): a vulnerability found in two versions of a package names
      // both, as `purl` (the first) and `purls` (all of them, when there are several).
      const byId = new Map<string, { severity: string; purls: string[]; suppressed: string[]; status?: string; justification?: string }>();
      for (const r of arr(obj(p['scanner'])['result']).map(obj)) {
        const id = str(r['id']);
        if (!id) continue;
        const note = obj(arr(r['annotations'])[0]);
        const sev = arr(r['severity']).map(obj).find((s) => s['method'] === 'severity');
        const severity = str(sev?.['score']) ?? 'unknown';
        const purl = str(note['purl']);
        const v = vulnerabilityNode(id);
        const vex = note['vex'] !== undefined ? obj(note['vex']) : undefined;
        const status = str(vex?.['status']);
        const c = purl ? componentNode(purl) : undefined;
        if (c) edges.push({ src: c, verb: 'affected-by', dst: v, props: { severity } });
        for (const alias of arr(note['aliases'])) if (typeof alias === 'string' && alias !== id) edges.push({ src: v, verb: 'alias-of', dst: vulnerabilityNode(alias) });
        const g = byId.get(id) ?? { severity, purls: [], suppressed: [] };
        if ((SEVERITY_RANK[severity] ?? 0) > (SEVERITY_RANK[g.severity] ?? 0)) g.severity = severity;
        if (purl && !g.purls.includes(purl)) g.purls.push(purl);
        if (status === 'not_affected' || status === 'fixed') {
          if (purl && !g.suppressed.includes(purl)) g.suppressed.push(purl);
          if (g.status === undefined) {
            g.status = status;
            const j = str(vex?.['justification']);
            if (j) g.justification = j;
          }
        }
        byId.set(id, g);
      }
      const purls = (list: string[]): Record<string, unknown> => (list.length === 0 ? {} : list.length === 1 ? { purl: list[0] } : { purl: list[0], purls: list });
      for (const [id, g] of byId) {
        const v = vulnerabilityNode(id);
        for (const a of artifacts) {
          edges.push({ src: a, verb: 'affected-by', dst: v, props: { severity: g.severity, ...purls(g.purls) } });
          if (g.status) edges.push({ src: a, verb: 'suppressed-by', dst: v, props: { status: g.status, ...purls(g.suppressed), ...(g.justification ? { justification: g.justification } : {}) } });
        }
      }
      return edges;
    }
    case 'vex': {
      for (const s of arr(p['statements']).map(obj)) {
        const id = str(obj(s['vulnerability'])['name']) ?? str(s['vulnerability']);
        const status = str(s['status']);
        if (!id || (status !== 'not_affected' && status !== 'fixed')) continue;
        for (const target of vexProductTargets(arr(s['products']))) edges.push({ src: target, verb: 'suppressed-by', dst: vulnerabilityNode(id), props: { status } });
      }
      return edges;
    }
    case 'licenses': {
      for (const f of arr(obj(p['report'])['findings']).map(obj)) {
        const c = componentNode(String(obj(f['component'])['purl'] ?? ''));
        const e = str(f['expression']);
        if (c && e) edges.push({ src: c, verb: 'licensed-under', dst: { kind: 'license', key: e } });
      }
      return edges;
    }
    case 'vsa': {
      const policy = obj(p['policy']);
      const digest = str(obj(policy['digest'])['sha256']);
      const decision = obj(p['decision']);
      const gate = str(decision['gate']) ?? 'unknown';
      if (!digest) return edges;
      for (const a of artifacts) edges.push({ src: a, verb: 'decided', dst: { kind: 'policy', key: `sha256:${digest}`, name: gate }, props: { gate, result: str(p['verificationResult']) ?? '' } });
      return edges;
    }
    default:
      if (st.predicateType === SSF_DEPLOYMENT_PREDICATE) {
        const d = obj(p['deployment']);
        const cluster = str(d['cluster']);
        const namespace = str(d['namespace']);
        const name = str(d['name']);
        const k = str(d['kind']) ?? 'Deployment';
        if (cluster && namespace && name) {
          // A removal record (`ssf deployments remove`) ends what the deployment records before it said.
          const verb = p['removed'] === true ? 'removed-from' : 'deployed-as';
          for (const a of artifacts) edges.push({ src: a, verb, dst: deploymentNode({ cluster, namespace, kind: k, name }), props: { ...(str(p['image']) ? { image: str(p['image']) } : {}) } });
        }
      }
      return edges;
  }
}
