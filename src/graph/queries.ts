import semver from 'semver';
import { SsfError } from '../core/index.js';
import type { Db } from '../store/index.js';
import { componentNode } from './project.js';

/**
 * The questions a security team asks during an incident, as queries over the graph. Each
 * answer names the evidence (log index) behind every fact it reports.
 */

interface Row {
  id: number;
  kind: string;
  key: string;
  name: string | null;
  version: string | null;
  log_index: number;
  observed_at: number;
  props: string | null;
  revoked_at: number | null;
}

/** A fact in an answer: what, and the evidence that proves it. */
export interface Evidenced {
  readonly logIndex: number;
  readonly observedAt: string;
  readonly revoked?: boolean;
}

const IN_CHUNK = 400;

function iso(sec: number): string {
  return new Date(Number(sec) * 1000).toISOString();
}

function props(r: { props: string | null }): Record<string, unknown> {
  if (!r.props) return {};
  try {
    return JSON.parse(r.props) as Record<string, unknown>;
  } catch {
    return {};
  }
}

function evidenced(r: Row): Evidenced {
  return { logIndex: Number(r.log_index), observedAt: iso(r.observed_at), ...(r.revoked_at !== null ? { revoked: true } : {}) };
}

export interface ProvenanceTree {
  readonly artifact: string;
  readonly runs: readonly {
    readonly id: string;
    readonly pipeline?: { readonly digest: string; readonly name?: string; readonly signedBy: readonly { identity: string; logIndex: number }[] };
    readonly tasks: readonly { readonly name: string; readonly identity?: string; readonly logIndex?: number }[];
    readonly evidence: Evidenced;
  }[];
  readonly sources: readonly ({ readonly uri: string } & Evidenced)[];
  readonly materials: readonly ({ readonly purl: string } & Evidenced)[];
  readonly attestations: readonly ({ readonly predicateType: string; readonly signer?: string } & Evidenced)[];
  readonly decisions: readonly ({ readonly gate: string; readonly result: string; readonly policySet: string } & Evidenced)[];
  readonly deployments: readonly ({ readonly deployment: string } & Evidenced)[];
}

export interface BlastRadius {
  readonly query: string;
  readonly components: readonly { readonly purl: string; readonly version?: string }[];
  readonly artifacts: readonly { readonly digest: string; readonly via: readonly string[]; readonly how: 'contains' | 'built-from'; readonly logIndex: number }[];
  readonly deployments: readonly ({ readonly deployment: string; readonly artifact: string } & Evidenced)[];
}

export interface AffectedDeployments {
  readonly vulnerability: string;
  readonly aliases: readonly string[];
  readonly artifacts: readonly { readonly digest: string; readonly purls: readonly string[]; readonly severity: string; readonly logIndex: number }[];
  readonly suppressed: readonly { readonly digest: string; readonly status: string; readonly logIndex: number }[];
  readonly deployments: readonly ({ readonly deployment: string; readonly artifact: string } & Evidenced)[];
}

export interface SignedByAnswer {
  readonly identity: string;
  readonly from: string;
  readonly to: string;
  readonly attestations: readonly ({ readonly predicateType: string; readonly signer: string; readonly subjects: readonly string[] } & Evidenced)[];
}

export interface SbomDiff {
  readonly from: string;
  readonly to: string;
  readonly added: readonly string[];
  readonly removed: readonly string[];
  readonly changed: readonly { readonly name: string; readonly from: string; readonly to: string }[];
  readonly newFindings: readonly { readonly vulnerability: string; readonly purl?: string; readonly severity?: string }[];
  readonly resolvedFindings: readonly { readonly vulnerability: string; readonly purl?: string }[];
}

/** Read-only queries over the graph tables. */
export class GraphQueries {
  constructor(private readonly db: Db) {}

  private node(kind: string, key: string): { id: number } | undefined {
    const r = this.db.prepare('SELECT id FROM g_node WHERE kind = ? AND key = ?').get(kind, key) as { id: number } | undefined;
    return r ? { id: Number(r.id) } : undefined;
  }

  private out(src: number, verb: string): Row[] {
    return this.db.prepare(`SELECT n.id, n.kind, n.key, n.name, n.version, e.log_index, e.observed_at, e.props, e.revoked_at
      FROM g_edge e JOIN g_node n ON n.id = e.dst WHERE e.src = ? AND e.verb = ? ORDER BY e.log_index`).all(src, verb) as Row[];
  }

  private in(dst: number, verb: string): Row[] {
    return this.db.prepare(`SELECT n.id, n.kind, n.key, n.name, n.version, e.log_index, e.observed_at, e.props, e.revoked_at
      FROM g_edge e JOIN g_node n ON n.id = e.src WHERE e.dst = ? AND e.verb = ? ORDER BY e.log_index`).all(dst, verb) as Row[];
  }

  /** Sources with rows for many ids at once (dst IN …), chunked to keep statements small. */
  private inMany(dsts: readonly number[], verbs: readonly string[]): (Row & { dst: number; verb: string })[] {
    const out: (Row & { dst: number; verb: string })[] = [];
    for (let i = 0; i < dsts.length; i += IN_CHUNK) {
      const chunk = dsts.slice(i, i + IN_CHUNK);
      const rows = this.db.prepare(`SELECT n.id, n.kind, n.key, n.name, n.version, e.log_index, e.observed_at, e.props, e.revoked_at, e.dst, e.verb
        FROM g_edge e JOIN g_node n ON n.id = e.src
        WHERE e.dst IN (${chunk.map(() => '?').join(', ')}) AND e.verb IN (${verbs.map(() => '?').join(', ')})`).all(...chunk, ...verbs) as (Row & { dst: number; verb: string })[];
      out.push(...rows);
    }
    return out;
  }

  private signerOf(attestationId: number): string | undefined {
    return this.out(attestationId, 'signed-by')[0]?.key;
  }

  private requireArtifact(digest: string): number {
    if (!/^sha256:[0-9a-f]{64}$/.test(digest)) throw new SsfError('USAGE', `${JSON.stringify(digest)} is not a digest of the form sha256:<64 hex>`);
    const n = this.node('artifact', digest);
    if (!n) throw new SsfError('ARTIFACT_NOT_FOUND', `the graph has no evidence about ${digest}`);
    return n.id;
  }

  /** Where a digest came from: runs (pipeline, tasks and their identities), sources, materials, attestations, decisions, deployments. */
  provenance(digest: string): ProvenanceTree {
    const a = this.requireArtifact(digest);
    const runs = this.out(a, 'built-by').map((run) => {
      const p = this.out(run.id, 'instance-of')[0];
      const tasks = this.in(run.id, 'part-of').map((t) => {
        const att = this.out(t.id, 'attested-by').at(-1);
        const identity = att ? this.signerOf(att.id) : undefined;
        return { name: t.name ?? t.key, ...(identity ? { identity } : {}), ...(att ? { logIndex: Number(att.log_index) } : {}) };
      });
      return {
        id: run.key,
        ...(p ? { pipeline: { digest: p.key, ...(p.name ? { name: p.name } : {}), signedBy: this.out(p.id, 'signed-by').map((s) => ({ identity: s.key, logIndex: Number(s.log_index) })) } } : {}),
        tasks,
        evidence: evidenced(run),
      };
    });
    const from = this.out(a, 'built-from');
    return {
      artifact: digest,
      runs,
      sources: from.filter((r) => r.kind === 'source').map((r) => ({ uri: r.key, ...evidenced(r) })),
      materials: from.filter((r) => r.kind === 'component').map((r) => ({ purl: r.key, ...evidenced(r) })),
      attestations: this.out(a, 'attested-by').map((r) => {
        const signer = this.signerOf(r.id);
        return { predicateType: r.name ?? '', ...(signer ? { signer } : {}), ...evidenced(r) };
      }),
      decisions: this.out(a, 'decided').map((r) => ({ gate: String(props(r)['gate'] ?? r.name ?? ''), result: String(props(r)['result'] ?? ''), policySet: r.key, ...evidenced(r) })),
      deployments: this.out(a, 'deployed-as').map((r) => ({ deployment: r.key, ...evidenced(r) })),
    };
  }

  /** Every artifact (and its deployments) that contains a package, any version or those in a semver range, directly or through its dependencies. */
  blastRadius(purl: string, range?: string): BlastRadius {
    const c = componentNode(purl);
    if (!c) throw new SsfError('USAGE', `${JSON.stringify(purl)} is not a package URL (pkg:type/namespace/name[@version])`);
    if (range !== undefined && semver.validRange(range) === null) throw new SsfError('USAGE', `${JSON.stringify(range)} is not a semver range`);
    const exact = c.version !== undefined && c.name !== c.key;
    const rows = (exact
      ? this.db.prepare("SELECT id, key, version FROM g_node WHERE kind = 'component' AND key = ?").all(c.key)
      : this.db.prepare("SELECT id, key, version FROM g_node WHERE kind = 'component' AND name = ?").all(c.name ?? c.key)) as { id: number; key: string; version: string | null }[];
    const matched = rows.filter((r) => range === undefined || (r.version !== null && semver.valid(r.version) !== null && semver.satisfies(r.version, range, { includePrerelease: true })));
    // Components that depend on a matched one, transitively, as each SBOM says: a path counts
    // for an artifact only when every depends-on edge on it comes from that artifact's own SBOM
    // (the same evidence as its contains edge), since one package version can resolve its
    // dependencies differently in two lockfiles.
    const direct = new Map<number, string>(matched.map((m) => [Number(m.id), m.key]));
    const paths = new Map<string, { id: number; log: number; target: string }>();
    let frontier: { id: number; log: number | null; target: string }[] = [...direct].map(([id, target]) => ({ id, log: null, target }));
    while (frontier.length > 0) {
      const byId = new Map<number, { log: number | null; target: string }[]>();
      for (const x of frontier) byId.set(x.id, [...(byId.get(x.id) ?? []), { log: x.log, target: x.target }]);
      const next: { id: number; log: number; target: string }[] = [];
      for (const r of this.inMany([...byId.keys()], ['depends-on'])) {
        if (r.kind !== 'component') continue;
        for (const from of byId.get(Number(r.dst)) ?? []) {
          if (from.log !== null && from.log !== Number(r.log_index)) continue;
          const k = `${r.id}\u0000${r.log_index}`;
          if (paths.has(k) || direct.has(Number(r.id))) continue;
          const p = { id: Number(r.id), log: Number(r.log_index), target: from.target };
          paths.set(k, p);
          next.push(p);
        }
      }
      frontier = next;
    }
    const reach = new Map<number, { target: string; log: number | null }[]>();
    for (const [id, target] of direct) reach.set(id, [{ target, log: null }]);
    for (const p of paths.values()) reach.set(p.id, [...(reach.get(p.id) ?? []), { target: p.target, log: p.log }]);
    const artifacts = new Map<number, { digest: string; via: Set<string>; how: 'contains' | 'built-from'; logIndex: number }>();
    for (const r of this.inMany([...reach.keys()], ['contains', 'built-from'])) {
      if (r.kind !== 'artifact' || r.revoked_at !== null) continue;
      const ok = (reach.get(Number(r.dst)) ?? []).filter((x) => x.log === null || (r.verb === 'contains' && x.log === Number(r.log_index)));
      if (ok.length === 0) continue;
      const hit = artifacts.get(Number(r.id)) ?? { digest: r.key, via: new Set<string>(), how: r.verb as 'contains' | 'built-from', logIndex: Number(r.log_index) };
      for (const x of ok) hit.via.add(x.target);
      if (r.verb === 'contains') hit.how = 'contains';
      artifacts.set(Number(r.id), hit);
    }
    const deployments = this.deploymentsOf([...artifacts.keys()]);
    return {
      query: `${purl}${range ? ` ${range}` : ''}`,
      components: matched.map((m) => ({ purl: m.key, ...(m.version ? { version: m.version } : {}) })),
      artifacts: [...artifacts.values()].map((x) => ({ digest: x.digest, via: [...x.via].sort(), how: x.how, logIndex: x.logIndex })).sort((x, y) => x.digest.localeCompare(y.digest)),
      deployments,
    };
  }

  private deploymentsOf(artifactIds: readonly number[]): ({ deployment: string; artifact: string } & Evidenced)[] {
    const out: ({ deployment: string; artifact: string } & Evidenced)[] = [];
    for (let i = 0; i < artifactIds.length; i += IN_CHUNK) {
      const chunk = artifactIds.slice(i, i + IN_CHUNK);
      const rows = this.db.prepare(`SELECT a.key AS artifact, d.key AS deployment, e.log_index, e.observed_at, e.revoked_at
        FROM g_edge e JOIN g_node a ON a.id = e.src JOIN g_node d ON d.id = e.dst
        WHERE e.verb = 'deployed-as' AND e.src IN (${chunk.map(() => '?').join(', ')}) ORDER BY e.log_index`).all(...chunk) as { artifact: string; deployment: string; log_index: number; observed_at: number; revoked_at: number | null }[];
      for (const r of rows) out.push({ deployment: r.deployment, artifact: r.artifact, logIndex: Number(r.log_index), observedAt: iso(r.observed_at), ...(r.revoked_at !== null ? { revoked: true } : {}) });
    }
    return out;
  }

  /** The vulnerability's id and every alias, in both directions. */
  aliasesOf(id: string): { ids: string[]; nodes: number[] } {
    const seen = new Map<string, number>();
    const start = this.node('vulnerability', id);
    if (!start) return { ids: [id], nodes: [] };
    seen.set(id, start.id);
    let frontier = [start.id];
    while (frontier.length > 0) {
      const next: number[] = [];
      for (const n of frontier) {
        for (const r of [...this.out(n, 'alias-of'), ...this.in(n, 'alias-of')]) {
          if (seen.has(r.key)) continue;
          seen.set(r.key, Number(r.id));
          next.push(Number(r.id));
        }
      }
      frontier = next;
    }
    return { ids: [...seen.keys()], nodes: [...seen.values()] };
  }

  /**
   * Artifacts affected by a vulnerability (or any alias) in their newest scan, minus those a
   * VEX statement marks not_affected or fixed, and the deployments running them.
   */
  affected(vulnerability: string): AffectedDeployments {
    const { ids, nodes } = this.aliasesOf(vulnerability);
    const rows = this.inMany(nodes, ['affected-by', 'suppressed-by']).filter((r) => r.kind === 'artifact' && r.revoked_at === null);
    const newestScan = new Map<number, number>();
    const scanOf = (artifact: number): number => {
      let v = newestScan.get(artifact);
      if (v === undefined) {
        const r = this.db.prepare(`SELECT MAX(e.log_index) AS m FROM g_edge e JOIN g_node a ON a.id = e.dst
          WHERE e.src = ? AND e.verb = 'attested-by' AND a.name LIKE 'https://in-toto.io/attestation/vulns%' AND e.revoked_at IS NULL`).get(artifact) as { m: number | null } | undefined;
        v = r?.m === null || r?.m === undefined ? -1 : Number(r.m);
        newestScan.set(artifact, v);
      }
      return v;
    };
    const affected = new Map<number, { digest: string; purls: Set<string>; severity: string; logIndex: number }>();
    const suppressed = new Map<number, { digest: string; status: string; logIndex: number }>();
    for (const r of rows) {
      const id = Number(r.id);
      if (r.verb === 'suppressed-by') {
        const prev = suppressed.get(id);
        if (!prev || Number(r.log_index) > prev.logIndex) suppressed.set(id, { digest: r.key, status: String(props(r)['status'] ?? ''), logIndex: Number(r.log_index) });
        continue;
      }
      // Only the newest scan of an artifact counts: a rescan that no longer finds it resolves it.
      if (Number(r.log_index) !== scanOf(id)) continue;
      const p = props(r);
      const hit = affected.get(id) ?? { digest: r.key, purls: new Set<string>(), severity: String(p['severity'] ?? 'unknown'), logIndex: Number(r.log_index) };
      if (typeof p['purl'] === 'string') hit.purls.add(p['purl']);
      affected.set(id, hit);
    }
    for (const id of suppressed.keys()) affected.delete(id);
    return {
      vulnerability,
      aliases: ids.filter((x) => x !== vulnerability).sort(),
      artifacts: [...affected.values()].map((x) => ({ digest: x.digest, purls: [...x.purls].sort(), severity: x.severity, logIndex: x.logIndex })),
      suppressed: [...suppressed.values()],
      deployments: this.deploymentsOf([...affected.keys()]),
    };
  }

  /** Everything an identity (exact, or a glob with *) signed between two times. */
  signedBy(identity: string, from: Date, to: Date): SignedByAnswer {
    const like = identity.includes('*');
    const rows = this.db.prepare(`SELECT s.id, s.kind, s.key, s.name, s.version, e.log_index, e.observed_at, e.props, e.revoked_at, i.key AS signer
      FROM g_edge e JOIN g_node i ON i.id = e.dst JOIN g_node s ON s.id = e.src
      WHERE i.kind = 'identity' AND ${like ? "i.key LIKE ? ESCAPE '\\'" : 'i.key = ?'} AND e.verb = 'signed-by' AND e.observed_at >= ? AND e.observed_at <= ?
      ORDER BY e.log_index`).all(like ? identity.replace(/[%_\\]/g, '\\$&').replace(/\*/g, '%') : identity, Math.floor(from.getTime() / 1000), Math.floor(to.getTime() / 1000)) as (Row & { signer: string })[];
    return {
      identity, from: from.toISOString(), to: to.toISOString(),
      attestations: rows.filter((r) => r.kind === 'attestation').map((r) => ({
        predicateType: r.name ?? '', signer: r.signer,
        subjects: this.in(Number(r.id), 'attested-by').map((x) => (x.kind === 'task' ? `task:${x.key}` : x.key)),
        ...evidenced(r),
      })),
    };
  }

  /** Components added, removed and changed between two artifacts' SBOMs, and findings new in the second. */
  diff(fromDigest: string, toDigest: string): SbomDiff {
    const a = this.requireArtifact(fromDigest);
    const b = this.requireArtifact(toDigest);
    const comps = (id: number): Map<string, Set<string>> => {
      const m = new Map<string, Set<string>>();
      for (const r of this.out(id, 'contains')) {
        const set = m.get(r.name ?? r.key) ?? new Set<string>();
        set.add(r.version ?? '');
        m.set(r.name ?? r.key, set);
      }
      return m;
    };
    const ca = comps(a);
    const cb = comps(b);
    const added: string[] = [];
    const removed: string[] = [];
    const changed: { name: string; from: string; to: string }[] = [];
    for (const [name, vs] of cb) {
      const old = ca.get(name);
      if (!old) for (const v of vs) added.push(v ? `${name}@${v}` : name);
      else if ([...vs].sort().join(',') !== [...old].sort().join(',')) changed.push({ name, from: [...old].sort().join(','), to: [...vs].sort().join(',') });
    }
    for (const [name, vs] of ca) if (!cb.has(name)) for (const v of vs) removed.push(v ? `${name}@${v}` : name);
    const findings = (id: number): Map<string, { purl?: string; severity?: string }> => {
      const newest = this.db.prepare(`SELECT MAX(e.log_index) AS m FROM g_edge e JOIN g_node n ON n.id = e.dst
        WHERE e.src = ? AND e.verb = 'attested-by' AND n.name LIKE 'https://in-toto.io/attestation/vulns%'`).get(id) as { m: number | null } | undefined;
      const m = new Map<string, { purl?: string; severity?: string }>();
      for (const r of this.out(id, 'affected-by')) {
        if (newest?.m === null || newest === undefined || Number(r.log_index) !== Number(newest.m)) continue;
        const p = props(r);
        m.set(`${r.key}\u0000${String(p['purl'] ?? '')}`, { ...(typeof p['purl'] === 'string' ? { purl: p['purl'] } : {}), ...(typeof p['severity'] === 'string' ? { severity: p['severity'] } : {}) });
      }
      return m;
    };
    const fa = findings(a);
    const fb = findings(b);
    return {
      from: fromDigest, to: toDigest, added: added.sort(), removed: removed.sort(), changed: changed.sort((x, y) => x.name.localeCompare(y.name)),
      newFindings: [...fb].filter(([k]) => !fa.has(k)).map(([k, v]) => ({ vulnerability: k.split('\u0000')[0] as string, ...v })),
      resolvedFindings: [...fa].filter(([k]) => !fb.has(k)).map(([k, v]) => ({ vulnerability: k.split('\u0000')[0] as string, ...(v.purl ? { purl: v.purl } : {}) })),
    };
  }
}
