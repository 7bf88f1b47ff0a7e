import { SsfError } from '../core/index.js';
import { makeStatement } from '../attest/index.js';
import type { Factory } from '../factory/index.js';
import { SSF_DEPLOYMENT_PREDICATE } from '../graph/index.js';

/** Where an artifact runs. */
export interface DeploymentRecord {
  readonly cluster: string;
  readonly namespace: string;
  readonly kind: string;
  readonly name: string;
  /** `sha256:<hex>` of the image or artifact. */
  readonly digest: string;
  /** The reference as deployed, e.g. `registry.example/app@sha256:…`. */
  readonly image?: string;
}

const NAME = /^[A-Za-z0-9]([A-Za-z0-9._-]{0,251}[A-Za-z0-9])?$/;

/**
 * Records a deployment as evidence: a statement about the digest signed by
 * `spiffe://<td>/operator/deployments` (or the admission webhook's identity), logged and
 * stored; the graph gets its `deployed-as` edge in the same transaction. With `removed`, the
 * record says the digest no longer runs there (`"removed": true`, a `removed-from` edge), and
 * queries stop counting the deployment records before it.
 */
export async function recordDeployment(f: Factory, d: DeploymentRecord, opts: { by?: 'operator' | 'admission'; removed?: boolean } = {}): Promise<{ logIndex: number }> {
  const m = /^sha256:([0-9a-f]{64})$/.exec(d.digest);
  if (!m) throw new SsfError('USAGE', `${JSON.stringify(d.digest)} is not a digest of the form sha256:<64 hex>`);
  for (const [what, v] of [['cluster', d.cluster], ['namespace', d.namespace], ['kind', d.kind], ['name', d.name]] as const) {
    if (!NAME.test(v)) throw new SsfError('USAGE', `deployment ${what} ${JSON.stringify(v)} is invalid: use letters, digits, '.', '-' and '_'`);
  }
  const identity = await f.issueIdentity(opts.by === 'admission' ? ['factory', 'admission'] : ['operator', 'deployments']);
  const st = makeStatement([{ name: d.image ?? d.digest, digest: { sha256: m[1] as string } }], SSF_DEPLOYMENT_PREDICATE, {
    deployment: { cluster: d.cluster, namespace: d.namespace, kind: d.kind, name: d.name },
    ...(d.image ? { image: d.image } : {}),
    ...(opts.removed === true ? { removed: true } : {}),
    recordedAt: f.clock.now().toISOString(),
  });
  const [res] = f.attest([{ statement: st, identity }]);
  if (!res) throw new SsfError('INTERNAL', 'no bundle produced');
  return { logIndex: res.logIndex };
}
