import semver from 'semver';
import { SsfError } from '../core/index.js';
import { parseStatementPayload } from '../attest/index.js';
import { attestationKind } from '../policy/index.js';
import type { Db } from '../store/index.js';
import { componentNode, vexProductTargets } from './project.js';
import { inList, parseProps, purlsOf, signerPatterns } from './current.js';

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
  return parseProps(r.props);
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
  /** Log indices of the SBOMs compared: each artifact's newest (not revoked). */
  readonly fromSbom: number;
  readonly toSbom: number;
  readonly added: readonly string[];
  readonly removed: readonly string[];
  readonly changed: readonly { readonly name: string; readonly from: string; readonly to: string }[];
  readonly newFindings: readonly { readonly vulnerability: string; readonly purl?: string; readonly severity?: string }[];
  readonly resolvedFindings: readonly { readonly vulnerability: string; readonly purl?: string }[];
}

/**
 * A VEX answer that holds for an artifact now: from a VEX statement about the artifact or one
 * of its packages, or carried by the artifact's newest scan. `purls`: the packages it covers
 * (absent: the whole artifact).
 */
export interface Suppression {
  readonly vulnerability: string;
  readonly status: string;
  readonly justification?: string;
  readonly expires?: string;
  readonly logIndex: number;
  readonly purls?: readonly string[];
}

const SUPPRESSES = new Set(['not_affected', 'fixed']);


/** Sorts answers by digest in place (a no-op pass when the rows came in that order) and returns them. */
function byDigest<T extends { readonly digest: string }>(xs: T[]): T[] {
  for (let i = 1; i < xs.length; i++) {
    if ((xs[i - 1] as T).digest > (xs[i] as T).digest) return xs.sort((x, y) => (x.digest < y.digest ? -1 : x.digest > y.digest ? 1 : 0));
  }
  return xs;
}

/** Read-only queries over the graph tables. */
export class GraphQueries {
  private readonly vexSigner: RegExp;

  /**
   * `trustDomain`: only this factory's own identities are trusted for VEX (third-party
   * evidence is not). Whose scans and deployment records count was decided when the current
   * state was written (GraphStore, with the factory's trust domain; src/graph/current.ts).
   */
  constructor(private readonly db: Db, opts: { trustDomain?: string } = {}) {
    this.vexSigner = signerPatterns(opts.trustDomain).vex;
  }

  /**
   * Prepared statements by SQL text, kept for the life of this object: SQLite compiles a
   * statement on every prepare, which cost more than running it for the per-node lookups a
   * provenance tree or an affected answer makes (the IN lists have at most IN_CHUNK shapes).
   */
  private readonly statements = new Map<string, ReturnType<Db['prepare']>>();
  private st(sql: string): ReturnType<Db['prepare']> {
    let s = this.statements.get(sql);
    if (!s) {
      s = this.db.prepare(sql);
      this.statements.set(sql, s);
    }
    return s;
  }

  private node(kind: string, key: string): { id: number } | undefined {
    const r = this.st('SELECT id FROM g_node WHERE kind = ? AND key = ?').get(kind, key) as { id: number } | undefined;
    return r ? { id: Number(r.id) } : undefined;
  }

  private out(src: number, verb: string): Row[] {
    return this.st(`SELECT n.id, n.kind, n.key, n.name, n.version, e.log_index, e.observed_at, e.props, e.revoked_at
      FROM g_edge e JOIN g_node n ON n.id = e.dst WHERE e.src = ? AND e.verb = ? ORDER BY e.log_index`).all(src, verb) as Row[];
  }

  private in(dst: number, verb: string): Row[] {
    return this.st(`SELECT n.id, n.kind, n.key, n.name, n.version, e.log_index, e.observed_at, e.props, e.revoked_at
      FROM g_edge e JOIN g_node n ON n.id = e.src WHERE e.dst = ? AND e.verb = ? ORDER BY e.log_index`).all(dst, verb) as Row[];
  }

  /** Sources with rows for many ids at once (dst IN …), chunked to keep statements small. */
  private inMany(dsts: readonly number[], verbs: readonly string[]): (Row & { dst: number; verb: string })[] {
    const out: (Row & { dst: number; verb: string })[] = [];
    for (let i = 0; i < dsts.length; i += IN_CHUNK) {
      const chunk = dsts.slice(i, i + IN_CHUNK);
      const d = inList(this.db, 'e.dst', chunk);
      const rows = this.st(`SELECT n.id, n.kind, n.key, n.name, n.version, e.log_index, e.observed_at, e.props, e.revoked_at, e.dst, e.verb
        FROM g_edge e JOIN g_node n ON n.id = e.src
        WHERE ${d.sql} AND e.verb IN (${verbs.map(() => '?').join(', ')})`).all(...d.params, ...verbs) as (Row & { dst: number; verb: string })[];
      // Not out.push(...rows): a popular package's rows (one per SBOM) overflow the call stack as arguments.
      for (const r of rows) out.push(r);
    }
    return out;
  }

  /**
   * The log index of each artifact's newest vulnerability scan that is not revoked and is
   * signed by one of the factory's scanning identities (artifacts without one are absent),
   * for many artifacts at once, from the current state (current.ts).
   */
  private newestScans(artifactIds: readonly number[]): Map<number, number> {
    const out = new Map<number, number>();
    for (let i = 0; i < artifactIds.length; i += IN_CHUNK) {
      const chunk = artifactIds.slice(i, i + IN_CHUNK);
      const a = inList(this.db, 'artifact', chunk);
      for (const r of this.st(`SELECT artifact, log_index FROM g_cur_scan WHERE ${a.sql}`).raw().all(...a.params) as [number, number][]) out.set(Number(r[0]), Number(r[1]));
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

  private readonly evidenceCache = new Map<number, { predicateType: string; signer?: string; predicate?: Record<string, unknown> }>();

  /** The predicate type and signer of the evidence at a log index (from its attestation node), and its predicate when asked. */
  private evidenceAt(logIndex: number, withPredicate = false): { predicateType: string; signer?: string; predicate?: Record<string, unknown> } {
    let e = this.evidenceCache.get(logIndex);
    if (!e) {
      const r = this.st(`SELECT a.name, i.key AS signer, s.props FROM g_node a LEFT JOIN g_edge s ON s.src = a.id AND s.verb = 'signed-by' LEFT JOIN g_node i ON i.id = s.dst
        WHERE a.kind = 'attestation' AND a.key = ?`).get(`log:${logIndex}`) as { name: string | null; signer: string | null; props: string | null } | undefined;
      // Evidence ingested from elsewhere (\`ssf ingest\`) is never this factory's own.
      const own = r?.signer && props({ props: r.props ?? null })['thirdParty'] !== true;
      e = { predicateType: r?.name ?? '', ...(own ? { signer: r.signer as string } : {}) };
      this.evidenceCache.set(logIndex, e);
    }
    if (withPredicate && e.predicate === undefined) {
      const row = this.st('SELECT payload FROM evidence WHERE log_index = ?').get(logIndex) as { payload: Buffer } | undefined;
      let predicate: Record<string, unknown> = {};
      try {
        if (row) predicate = parseStatementPayload(Buffer.from(row.payload)).predicate;
      } catch {
        // an unreadable payload holds nothing (fsck reports it)
      }
      e = { ...e, predicate };
      this.evidenceCache.set(logIndex, e);
    }
    return e;
  }

  /**
   * The log index of an artifact's newest scan (in-toto vulns about it, not revoked) signed by
   * one of the factory's scanning identities (a pipeline task, \`ssf rescan\`, \`ssf scan
   * --attest\`), or -1. A vulns statement anyone else signed (\`ssf attest\`) is not a scan.
   */
  newestScan(artifact: number): number {
    return this.newestScans([artifact]).get(artifact) ?? -1;
  }

  /**
   * A VEX statement's answer for `target` and `vulnerability`, when the statement holds now:
   * signed by the factory's VEX identity (\`ssf vex sign\`), naming the target among its
   * products, with an expiry (its own, else the document's) still ahead.
   */
  private vexAnswer(logIndex: number, target: { kind: string; key: string }, vulnerability: string, now: Date): (Omit<Suppression, 'purls'> & { subcomponents?: string[] }) | undefined {
    const ev = this.evidenceAt(logIndex, true);
    if (attestationKind(ev.predicateType) !== 'vex' || !this.vexSigner.test(ev.signer ?? '')) return undefined;
    const doc = ev.predicate ?? {};
    let best: (Omit<Suppression, 'purls'> & { subcomponents?: string[] }) | undefined;
    for (const raw of Array.isArray(doc['statements']) ? (doc['statements'] as unknown[]) : []) {
      const st = (raw !== null && typeof raw === 'object' ? raw : {}) as Record<string, unknown>;
      const v = st['vulnerability'];
      const name = typeof v === 'string' ? v : typeof (v as Record<string, unknown> | null)?.['name'] === 'string' ? ((v as Record<string, unknown>)['name'] as string) : undefined;
      const status = typeof st['status'] === 'string' ? st['status'] : '';
      if (name !== vulnerability || !SUPPRESSES.has(status)) continue;
      const products = Array.isArray(st['products']) ? (st['products'] as unknown[]) : [];
      if (!vexProductTargets(products).some((t) => t.kind === target.kind && t.key === target.key)) continue;
      const expires = typeof st['expires'] === 'string' ? st['expires'] : typeof doc['expires'] === 'string' ? doc['expires'] : undefined;
      if (expires === undefined || !(Date.parse(expires) > now.getTime())) continue;
      const justification = typeof st['justification'] === 'string' ? st['justification'] : undefined;
      // Subcomponents (of the products, or beside them in the older form) narrow the statement
      // to those packages of the product, as ssf scan applies it.
      const subs = [st['subcomponents'], ...products.map((x) => (x !== null && typeof x === 'object' ? (x as Record<string, unknown>)['subcomponents'] : undefined))]
        .flatMap((x) => (Array.isArray(x) ? vexProductTargets(x) : [])).filter((n) => n.kind === 'component').map((n) => n.key);
      if (!best || Date.parse(expires) > Date.parse(best.expires ?? '')) best = { vulnerability, status, ...(justification ? { justification } : {}), expires, logIndex, ...(subs.length > 0 ? { subcomponents: subs } : {}) };
    }
    return best;
  }

  /** What a scan's VEX still answers for `vulnerability` now: the packages whose applied VEX has not expired. */
  private scanAnswers(logIndex: number, vulnerability: string, now: Date): Suppression[] {
    const ev = this.evidenceAt(logIndex, true);
    const out: Suppression[] = [];
    const scanner = (ev.predicate?.['scanner'] ?? {}) as Record<string, unknown>;
    for (const raw of Array.isArray(scanner['result']) ? (scanner['result'] as unknown[]) : []) {
      const r = (raw ?? {}) as Record<string, unknown>;
      if (r['id'] !== vulnerability) continue;
      const note = ((Array.isArray(r['annotations']) ? r['annotations'][0] : undefined) ?? {}) as Record<string, unknown>;
      const vex = (note['vex'] ?? {}) as Record<string, unknown>;
      const status = typeof vex['status'] === 'string' ? vex['status'] : '';
      if (!SUPPRESSES.has(status) || typeof note['purl'] !== 'string') continue;
      const expires = typeof vex['expires'] === 'string' ? vex['expires'] : undefined;
      if (expires !== undefined && !(Date.parse(expires) > now.getTime())) continue;
      const justification = typeof vex['justification'] === 'string' ? vex['justification'] : undefined;
      out.push({ vulnerability, status, ...(justification ? { justification } : {}), ...(expires ? { expires } : {}), logIndex, purls: [componentNode(note['purl'])?.key ?? note['purl']] });
    }
    return out;
  }

  /**
   * Every VEX answer that holds for an artifact now: statements about it or about a package it
   * contains (by versioned or versionless purl), signed by the factory's VEX identity and not
   * expired, and what its newest scan carried (VEX applied when it was made, not yet expired).
   */
  suppressionsOf(artifact: number, now: Date, purls?: Iterable<string>): Suppression[] {
    const key = (this.st('SELECT key FROM g_node WHERE id = ?').get(artifact) as { key: string } | undefined)?.key ?? '';
    const packages = purls ? [...purls] : this.out(artifact, 'contains').map((c) => c.key);
    return this.suppressionsMany(new Map([[artifact, { digest: key, purls: packages }]]), now).get(artifact) ?? [];
  }

  /**
   * suppressionsOf for many artifacts at once (each with the packages asked about). With
   * `vulnerabilities` (node ids: an id and its aliases), only the answers about those, found
   * from the suppressed-by edges into them (a handful, however many artifacts are asked about)
   * instead of every artifact's and package's.
   */
  private suppressionsMany(artifacts: ReadonlyMap<number, { readonly digest: string; readonly purls: Iterable<string> }>, now: Date, vulnerabilities?: readonly number[]): Map<number, Suppression[]> {
    const out = new Map<number, Suppression[]>();
    // Per artifact, the packages asked about by the keys a statement can name them with: every
    // version (pkg:npm/x) or one (pkg:npm/x@1.2.3); and which artifacts have each key. Built
    // only when there is a statement to apply: most vulnerabilities have no VEX at all, and an
    // answer of thousands of artifacts would pay for parsing each one's purls.
    const covers = new Map<number, Map<string, Set<string>>>();
    const holders = new Map<string, Set<number>>();
    const index = (): void => {
      for (const [id, a] of artifacts) {
        const m = new Map<string, Set<string>>();
        for (const purl of a.purls) {
          const c = componentNode(purl);
          if (!c) continue;
          for (const k of [c.key, c.name ?? c.key]) {
            m.set(k, (m.get(k) ?? new Set<string>()).add(c.key));
            holders.set(k, (holders.get(k) ?? new Set<number>()).add(id));
          }
        }
        covers.set(id, m);
      }
    };
    const covered = (id: number, subs: readonly string[]): string[] => [...new Set(subs.flatMap((k) => [...(covers.get(id)?.get(k) ?? [])]))];
    const push = (id: number, x: Suppression): void => {
      const list = out.get(id);
      if (list) list.push(x);
      else out.set(id, [x]);
    };
    type Edge = { src: number; kind: string; target: string; vuln: string; log_index: number };
    const edges: Edge[] = [];
    const SELECT = `SELECT e.src, n.kind, n.key AS target, v.key AS vuln, e.log_index FROM g_edge e JOIN g_node n ON n.id = e.src JOIN g_node v ON v.id = e.dst
      WHERE e.verb = 'suppressed-by' AND e.revoked_at IS NULL`;
    const collect = (sql: string, values: readonly (number | string)[], type: 'bigint' | 'text' = 'bigint'): void => {
      for (let i = 0; i < values.length; i += IN_CHUNK) {
        const l = inList(this.db, sql, values.slice(i, i + IN_CHUNK), type);
        for (const r of this.st(`${SELECT} AND ${l.sql}`).all(...l.params) as Edge[]) edges.push(r);
      }
    };
    if (vulnerabilities) {
      collect('e.dst', vulnerabilities);
      if (edges.length === 0) return out;
      index();
    } else {
      index();
      collect('e.src', [...artifacts.keys()]);
      collect("n.kind = 'component' AND n.key", [...holders.keys()], 'text');
    }
    const scanned = [...new Set(edges.filter((e) => e.kind === 'artifact' && artifacts.has(Number(e.src))).map((e) => Number(e.src)))];
    const newest = this.newestScans(scanned);
    const answerCache = new Map<string, ReturnType<GraphQueries['vexAnswer']>>();
    for (const r of edges.sort((x, y) => Number(x.log_index) - Number(y.log_index))) {
      const log = Number(r.log_index);
      const src = Number(r.src);
      if (r.kind === 'artifact') {
        const a = artifacts.get(src);
        if (!a) continue;
        if (attestationKind(this.evidenceAt(log).predicateType) === 'vulns') {
          if (log === newest.get(src)) for (const x of this.scanAnswers(log, r.vuln, now)) push(src, x);
          continue;
        }
        const ans = this.vexAnswer(log, { kind: 'artifact', key: a.digest }, r.vuln, now);
        if (!ans) continue;
        const { subcomponents, ...rest } = ans;
        push(src, subcomponents ? { ...rest, purls: covered(src, subcomponents) } : rest);
      } else if (r.kind === 'component') {
        const ids = holders.get(r.target);
        if (!ids) continue;
        const k = `${log}\u0000${r.target}\u0000${r.vuln}`;
        if (!answerCache.has(k)) answerCache.set(k, this.vexAnswer(log, { kind: 'component', key: r.target }, r.vuln, now));
        const ans = answerCache.get(k);
        if (!ans) continue;
        const { subcomponents: _, ...rest } = ans;
        for (const id of ids) push(id, { ...rest, purls: covered(id, [r.target]) });
      }
    }
    return out;
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
      deployments: this.deploymentsOf([a]).map(({ artifact: _, ...d }) => d),
    };
  }

  /** Every artifact (and its deployments) that contains a package, any version or those in a semver range, directly or through its dependencies. */
  blastRadius(purl: string, range?: string): BlastRadius {
    // The purl spec percent-encodes a namespace's @ (an npm scope), as SBOMs write it; people type it raw.
    const c = componentNode(purl.replace(/^(pkg:[a-z0-9.+-]+\/)@/i, '$1%40'));
    if (!c) throw new SsfError('USAGE', `${JSON.stringify(purl)} is not a package URL (pkg:type/namespace/name[@version])`);
    if (range !== undefined && semver.validRange(range) === null) throw new SsfError('USAGE', `${JSON.stringify(range)} is not a semver range`);
    const exact = c.version !== undefined && c.name !== c.key;
    const rows = (exact
      ? this.st("SELECT id, key, version FROM g_node WHERE kind = 'component' AND key = ?").all(c.key)
      : this.st("SELECT id, key, version FROM g_node WHERE kind = 'component' AND name = ?").all(c.name ?? c.key)) as { id: number; key: string; version: string | null }[];
    const matched = rows.filter((r) => range === undefined || (r.version !== null && semver.valid(r.version) !== null && semver.satisfies(r.version, range, { includePrerelease: true })));
    // No walk up the depends-on edges is needed to find the artifacts that have a matched
    // component through their dependencies: an SBOM lists every component of the tree, and a
    // depends-on edge of a statement only joins two components that the same statement lists,
    // each with a contains edge from every subject of that statement (projectStatement). So any
    // artifact a dependency path reaches contains the matched component through that same
    // statement directly. (Walking the paths, per SBOM, cost seconds for a package in most of a
    // fleet's SBOMs: every dependent of it in every SBOM; bench/graph.ts.)
    const direct = new Map<number, string>(matched.map((m) => [Number(m.id), m.key]));
    // One answer object per artifact, made as its first row is read (a wide answer's time is
    // largely allocating and collecting objects); via holds the few matched components.
    const artifacts = new Map<number, { digest: string; via: string[]; how: 'contains' | 'built-from'; logIndex: number }>();
    // Every column the edge side needs is in g_edge_dst_cover (schema 0307): the scan reads
    // the index alone, and each row costs one artifact-node lookup for its digest.
    const ids = [...direct.keys()];
    for (let i = 0; i < ids.length; i += IN_CHUNK) {
      const chunk = ids.slice(i, i + IN_CHUNK);
      const d = inList(this.db, 'e.dst', chunk);
      const rows = this.st(`SELECT e.src, n.key, e.dst, e.verb, e.log_index FROM g_edge e JOIN g_node n ON n.id = e.src
        WHERE ${d.sql} AND e.verb IN ('contains', 'built-from') AND e.revoked_at IS NULL AND n.kind = 'artifact'`)
        .raw().all(...d.params) as [src: number, key: string, dst: number, verb: 'contains' | 'built-from', logIndex: number][];
      for (const [src, key, dst, verb, logIndex] of rows) {
        const target = direct.get(Number(dst)) as string;
        const id = Number(src);
        let hit = artifacts.get(id);
        if (!hit) artifacts.set(id, (hit = { digest: key, via: [target], how: verb, logIndex: Number(logIndex) }));
        else if (!hit.via.includes(target)) hit.via.push(target);
        if (verb === 'contains' && hit.how !== 'contains') {
          hit.how = 'contains';
          hit.logIndex = Number(logIndex);
        }
      }
    }
    const deployments = this.deploymentsOf([...artifacts.keys()]);
    const answer = [...artifacts.values()];
    for (const x of answer) if (x.via.length > 1) x.via.sort();
    return {
      query: `${purl}${range ? ` ${range}` : ''}`,
      components: matched.map((m) => ({ purl: m.key, ...(m.version ? { version: m.version } : {}) })),
      artifacts: byDigest(answer),
      deployments,
    };
  }

  /**
   * Where these artifacts (node ids) run now, from the current state (current.ts): their trusted
   * deployment records, except where a later trusted removal record (not revoked) for the same
   * artifact and workload ended them.
   */
  deploymentsOf(artifactIds: readonly number[]): ({ deployment: string; artifact: string } & Evidenced)[] {
    type R = [digest: string, workload: string, logIndex: number, observedAt: number, revokedAt: number | null, deployment: number, artifact: number];
    const rows: R[] = [];
    if (artifactIds.length === 0) return [];
    // A row carries the artifact's digest and the workload's key (schema 0308): no join to
    // g_node, which PostgreSQL planned as a hash of every node, and no lookup per row.
    const COLUMNS = 'digest, workload, log_index, observed_at, revoked_at, deployment, artifact';
    // A wide answer (thousands of artifacts, as many lookups) reads every current deployment
    // once instead, when there are fewer of those than artifacts asked about.
    const wide = artifactIds.length > 1 && Number(this.st('SELECT COUNT(*) FROM g_cur_deployed').pluck().get()) <= artifactIds.length;
    if (wide) {
      const asked = new Set(artifactIds.map(Number));
      for (const r of this.st(`SELECT ${COLUMNS} FROM g_cur_deployed ORDER BY log_index, deployment, artifact`).raw().all() as R[]) if (asked.has(Number(r[6]))) rows.push(r);
    } else {
      for (let i = 0; i < artifactIds.length; i += IN_CHUNK) {
        const a = inList(this.db, 'artifact', artifactIds.slice(i, i + IN_CHUNK));
        for (const r of this.st(`SELECT ${COLUMNS} FROM g_cur_deployed WHERE ${a.sql} ORDER BY log_index, deployment, artifact`).raw().all(...a.params) as R[]) rows.push(r);
      }
    }
    // In log order (ties by workload and artifact node): as read, unless the ids took more than one statement.
    for (let i = 1; i < rows.length; i++) {
      if (Number((rows[i - 1] as R)[2]) > Number((rows[i] as R)[2])) {
        rows.sort((x, y) => Number(x[2]) - Number(y[2]) || Number(x[5]) - Number(y[5]) || Number(x[6]) - Number(y[6]));
        break;
      }
    }
    return rows.map((r) => ({ deployment: r[1], artifact: r[0], logIndex: Number(r[2]), observedAt: iso(r[3]), ...(r[4] !== null ? { revoked: true } : {}) }));
  }

  /** Does the graph show `digest` running in the workload `where` (`cluster/namespace/Kind/name`) now? An unknown digest runs nowhere. */
  isDeployed(digest: string, where: string): boolean {
    const a = this.node('artifact', digest);
    return a !== undefined && this.deploymentsOf([a.id]).some((d) => d.deployment === where && d.revoked !== true);
  }

  /** Vulnerability nodes whose key is one of `ids` in any letter case. */
  private vulnerabilityNodesLike(ids: readonly string[]): number[] {
    const upper = [...new Set(ids.map((x) => x.toUpperCase()))];
    const out: number[] = [];
    for (let i = 0; i < upper.length; i += IN_CHUNK) {
      const chunk = upper.slice(i, i + IN_CHUNK);
      const k = inList(this.db, 'upper(key)', chunk, 'text');
      for (const r of this.st(`SELECT id FROM g_node WHERE kind = 'vulnerability' AND ${k.sql}`).all(...k.params) as { id: number }[]) out.push(Number(r.id));
    }
    return out;
  }

  /** The vulnerability's id and every alias, in both directions (the distinct pairs of g_alias, current.ts). */
  aliasesOf(id: string): { ids: string[]; nodes: number[] } {
    const seen = new Map<string, number>();
    const start = this.node('vulnerability', id);
    if (!start) return { ids: [id], nodes: [] };
    seen.set(id, start.id);
    let frontier = [start.id];
    const neighbours = this.st('SELECT n.id, n.key FROM g_alias x JOIN g_node n ON n.id = x.b WHERE x.a = ?').raw();
    while (frontier.length > 0) {
      const next: number[] = [];
      for (const n of frontier) {
        for (const [nid, key] of neighbours.all(n) as [number, string][]) {
          if (seen.has(key)) continue;
          seen.set(key, Number(nid));
          next.push(Number(nid));
        }
      }
      frontier = next;
    }
    return { ids: [...seen.keys()], nodes: [...seen.values()] };
  }

  /**
   * Artifacts affected by a vulnerability (or any alias) in their newest scan, minus those a
   * VEX answer that holds now (see suppressionsOf) covers entirely, and the deployments running
   * them. An artifact with some affected packages covered and others not stays affected, with
   * the uncovered ones.
   */
  affected(vulnerability: string, now: Date = new Date()): AffectedDeployments {
    const { ids, nodes } = this.aliasesOf(vulnerability);
    const idKeys = new Set(ids.map((x) => x.toUpperCase()));
    // The findings of each artifact's newest trusted scan, keyed by vulnerability and digest in
    // the current state (current.ts, schema 0308): one range scan per id (and alias), however
    // many artifacts it holds, whose rows come in the order the answer prints (byDigest below
    // sorts only when they do not: more than one id with rows, or another collation).
    const rank: Record<string, number> = { unknown: 0, none: 1, low: 2, medium: 3, high: 4, critical: 5 };
    type Hit = { digest: string; purls: string[]; severity: string; logIndex: number };
    type FindingRow = [artifact: number, digest: string, logIndex: number, severity: string, purls: string];
    const byNode = this.st('SELECT artifact, digest, log_index, severity, purls FROM g_cur_finding WHERE vulnerability = ? ORDER BY digest').raw();
    const found = new Map<number, Hit>();
    for (const node of nodes) {
      for (const [rid, digest, logIndex, severity, purls] of byNode.all(node) as FindingRow[]) {
        const id = Number(rid);
        const hit = found.get(id);
        if (!hit) {
          found.set(id, { digest, purls: purls === '' ? [] : purls.split('\n'), severity, logIndex: Number(logIndex) });
          continue;
        }
        // The same artifact under an alias's node too (a scan names each id it found).
        for (const x of purls === '' ? [] : purls.split('\n')) if (!hit.purls.includes(x)) hit.purls.push(x);
        if ((rank[severity] ?? 0) > (rank[hit.severity] ?? 0)) hit.severity = severity;
      }
    }
    // Each artifact's answer object is the one made while reading its rows: a wide answer
    // (thousands of artifacts) spends much of its time allocating, then collecting, objects.
    const artifacts: Hit[] = [];
    const affectedIds: number[] = [];
    const suppressed: { digest: string; status: string; logIndex: number }[] = [];
    // The VEX answers about this vulnerability for every affected artifact, from the suppressed-by
    // edges into its nodes (an id written in another case, as a VEX author may, counts too).
    const vulnNodes = [...new Set([...nodes, ...this.vulnerabilityNodesLike(ids)])];
    const answersOf = this.suppressionsMany(found, now, vulnNodes);
    for (const [id, hit] of found) {
      const answers = answersOf.get(id)?.filter((s) => idKeys.has(s.vulnerability.toUpperCase())) ?? [];
      if (answers.length === 0) {
        if (hit.purls.length > 1) hit.purls.sort();
        artifacts.push(hit);
        affectedIds.push(id);
        continue;
      }
      const whole = answers.some((s) => s.purls === undefined);
      const covered = new Set(answers.flatMap((s) => s.purls ?? []));
      const left = whole ? [] : hit.purls.filter((x) => !covered.has(x)).sort();
      if (left.length === 0 && (whole || hit.purls.length > 0)) {
        const last = answers.reduce((a, b) => (b.logIndex > a.logIndex ? b : a));
        suppressed.push({ digest: hit.digest, status: last.status, logIndex: last.logIndex });
      } else {
        hit.purls = left;
        artifacts.push(hit);
        affectedIds.push(id);
      }
    }
    return {
      vulnerability,
      aliases: ids.filter((x) => x !== vulnerability).sort(),
      // By digest, as blast radius answers: the same on both backends, whatever order the rows came in.
      artifacts: byDigest(artifacts),
      suppressed: byDigest(suppressed),
      deployments: this.deploymentsOf(affectedIds),
    };
  }

  /** Everything an identity (exact, or a glob with *) signed between two times. */
  signedBy(identity: string, from: Date, to: Date): SignedByAnswer {
    const like = identity.includes('*');
    const rows = this.st(`SELECT s.id, s.kind, s.key, s.name, s.version, e.log_index, e.observed_at, e.props, e.revoked_at, i.key AS signer
      FROM g_edge e JOIN g_node i ON i.id = e.dst JOIN g_node s ON s.id = e.src
      WHERE i.kind = 'identity' AND ${like ? "i.key LIKE ? ESCAPE '\\'" : 'i.key = ?'} AND e.verb = 'signed-by' AND e.observed_at >= ? AND e.observed_at <= ?
      ORDER BY e.log_index`).all(like ? identity.replace(/[%_\\]/g, '\\$&').replace(/\*/g, '%') : identity, Math.floor(from.getTime() / 1000), Math.floor(to.getTime() / 1000)) as (Row & { signer: string })[];
    const atts = rows.filter((r) => r.kind === 'attestation');
    // The subjects of every attestation in the answer, looked up together.
    const subjects = new Map<number, string[]>();
    for (const x of this.inMany(atts.map((r) => Number(r.id)), ['attested-by'])) {
      const list = subjects.get(Number(x.dst)) ?? [];
      list.push(x.kind === 'task' ? `task:${x.key}` : x.key);
      subjects.set(Number(x.dst), list);
    }
    return {
      identity, from: from.toISOString(), to: to.toISOString(),
      attestations: atts.map((r) => ({
        predicateType: r.name ?? '', signer: r.signer,
        subjects: subjects.get(Number(r.id)) ?? [],
        ...evidenced(r),
      })),
    };
  }

  /** Components added, removed and changed between two artifacts' SBOMs, and findings new in the second. */
  diff(fromDigest: string, toDigest: string): SbomDiff {
    const a = this.requireArtifact(fromDigest);
    const b = this.requireArtifact(toDigest);
    // Each artifact's newest SBOM, not the union of all: the same bytes built twice, or an
    // SBOM ingested from a supplier beside the factory's own, would otherwise mix.
    const newestSbom = (id: number): number => this.out(id, 'contains').filter((r) => r.revoked_at === null).reduce((n, r) => Math.max(n, Number(r.log_index)), -1);
    const sa = newestSbom(a);
    const sb = newestSbom(b);
    const comps = (id: number, sbom: number): Map<string, Set<string>> => {
      const m = new Map<string, Set<string>>();
      for (const r of this.out(id, 'contains')) {
        if (Number(r.log_index) !== sbom || r.revoked_at !== null) continue;
        const set = m.get(r.name ?? r.key) ?? new Set<string>();
        set.add(r.version ?? '');
        m.set(r.name ?? r.key, set);
      }
      return m;
    };
    const ca = comps(a, sa);
    const cb = comps(b, sb);
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
      const newest = this.newestScan(id);
      const m = new Map<string, { purl?: string; severity?: string }>();
      for (const r of this.out(id, 'affected-by')) {
        if (Number(r.log_index) !== newest) continue;
        const p = props(r);
        const sev = typeof p['severity'] === 'string' ? { severity: p['severity'] } : {};
        const list = purlsOf(p);
        if (list.length === 0) m.set(`${r.key}\u0000`, sev);
        for (const purl of list) m.set(`${r.key}\u0000${purl}`, { purl, ...sev });
      }
      return m;
    };
    const fa = findings(a);
    const fb = findings(b);
    return {
      from: fromDigest, to: toDigest, fromSbom: sa, toSbom: sb, added: added.sort(), removed: removed.sort(), changed: changed.sort((x, y) => (x.name < y.name ? -1 : x.name > y.name ? 1 : 0)),
      newFindings: [...fb].filter(([k]) => !fa.has(k)).map(([k, v]) => ({ vulnerability: k.split('\u0000')[0] as string, ...v })),
      resolvedFindings: [...fa].filter(([k]) => !fb.has(k)).map(([k, v]) => ({ vulnerability: k.split('\u0000')[0] as string, ...(v.purl ? { purl: v.purl } : {}) })),
    };
  }
}
