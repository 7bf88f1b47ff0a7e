import { pgTextArray, type Db } from '../store/index.js';

/**
 * The graph's current state, kept beside the edges: per artifact its newest trusted scan, the
 * findings of that scan (clustered by vulnerability), and the deployments running it now; and
 * the distinct alias pairs between vulnerability ids. Every row is a pure function of the
 * edges (derive below), written in the same transaction as the evidence that changes it
 * (GraphStore.write, markRevoked, rebuildGraph), and compared with a fresh derivation by
 * `ssf fsck`. The widest incident answers read these rows as one range scan each instead of a
 * join per artifact (docs/graph.md, "Current state").
 */

/** Who may sign what the graph believes about vulnerabilities and deployments. */
export interface SignerPatterns {
  /** OpenVEX by `ssf vex sign`. */
  readonly vex: RegExp;
  /** Scans by a pipeline task, `ssf rescan` or `ssf scan --attest`. */
  readonly scan: RegExp;
  /** Deployment and removal records: `ssf deployments record|remove` and the admission webhook. */
  readonly deploy: RegExp;
}

const VEX_PATH = 'evidence\\/vex';
const SCAN_PATH = '(?:run\\/[^/]+\\/task\\/[^/]+\\/node\\/[^/]+|factory\\/rescan|evidence\\/scan)';
const DEPLOY_PATH = '(?:operator\\/deployments|factory\\/admission)';

/** The signer patterns of a factory's trust domain (absent: any trust domain, as a bare store has none). */
export function signerPatterns(trustDomain?: string): SignerPatterns {
  const td = trustDomain ? trustDomain.replace(/[.*+?^${}()|[\]\\]/g, '\\$&') : '[^/]+';
  const p = (path: string): RegExp => new RegExp(`^spiffe://${td}/${path}$`);
  return { vex: p(VEX_PATH), scan: p(SCAN_PATH), deploy: p(DEPLOY_PATH) };
}

/** Predicate types whose statements are vulnerability scans (in-toto vulns, any version). */
export const VULNS_PREDICATE_PREFIX = 'https://in-toto.io/attestation/vulns';

/** Current-state rows of some artifacts. */
export interface CurrentRows {
  /** artifact id → log index of its newest trusted scan. */
  readonly scans: Map<number, number>;
  /** The newest trusted scan's affected-by edges: [vulnerability, artifact, digest, log index, severity, purls (newline-separated)]. */
  readonly findings: [number, number, string, number, string, string][];
  /** Deployments running the artifact now: [artifact, deployment, log index, the artifact's digest, the workload's key, observed at, revoked at]. */
  readonly deployed: [number, number, number, string, string, number, number | null][];
}

const CHUNK = 400;

/** An edge's properties (JSON text); {} when absent or unreadable (fsck reports an edited edge). */
export function parseProps(props: string | null): Record<string, unknown> {
  if (!props) return {};
  try {
    const v = JSON.parse(props) as unknown;
    return v !== null && typeof v === 'object' ? (v as Record<string, unknown>) : {};
  } catch {
    return {};
  }
}

/** The purls of an affected-by or suppressed-by edge's properties. */
export function purlsOf(p: Record<string, unknown>): string[] {
  if (Array.isArray(p['purls'])) return (p['purls'] as unknown[]).filter((x): x is string => typeof x === 'string');
  return typeof p['purl'] === 'string' ? [p['purl']] : [];
}

function isThirdParty(props: string | null): boolean {
  return parseProps(props)['thirdParty'] === true;
}

/**
 * Prepared statements by SQL text, per connection: SQLite compiles a statement on every
 * prepare, which would cost more than the one-artifact refresh each scan or deployment record
 * makes (the IN lists have at most CHUNK shapes).
 */
const statements = new WeakMap<Db, Map<string, ReturnType<Db['prepare']>>>();
function st(db: Db, sql: string): ReturnType<Db['prepare']> {
  let m = statements.get(db);
  if (!m) statements.set(db, (m = new Map()));
  let s = m.get(sql);
  if (!s) m.set(sql, (s = db.prepare(sql)));
  return s;
}

function marks(n: number): string {
  return Array.from({ length: n }, () => '?').join(', ');
}

/**
 * `column` is one of `values`: an IN list on SQLite; on PostgreSQL one array parameter
 * (`= ANY`), planned as index lookups whatever the plan, where a long IN list of parameters
 * becomes, once PostgreSQL switches a prepared statement to a generic plan, a scan comparing
 * every row with every parameter (docs/storage.md).
 */
export function inList(db: Db, column: string, values: readonly (number | string)[], type: 'bigint' | 'text' = 'bigint'): { sql: string; params: unknown[] } {
  // One value is an equality, which PostgreSQL can answer in an index's order (an ORDER BY by
  // the index's next column needs no sort); an array comparison it cannot (before version 17).
  if (values.length === 1) return { sql: `${column} = ?`, params: [type === 'bigint' ? Math.trunc(Number(values[0])) : String(values[0])] };
  if (db.dialect !== 'postgres') return { sql: `${column} IN (${marks(values.length)})`, params: [...values] };
  const array = type === 'bigint' ? `{${values.map((x) => Math.trunc(Number(x))).join(',')}}` : pgTextArray(values.map(String));
  return { sql: `${column} = ANY(CAST(? AS ${type}[]))`, params: [array] };
}

/** Derives, from the edges alone, the current-state rows of these artifacts. */
export function deriveCurrent(db: Db, trust: SignerPatterns, artifactIds: readonly number[]): CurrentRows {
  const scans = new Map<number, number>();
  const findings: CurrentRows['findings'] = [];
  const deployed: CurrentRows['deployed'] = [];
  for (let i = 0; i < artifactIds.length; i += CHUNK) {
    const chunk = artifactIds.slice(i, i + CHUNK);
    // The newest scan: an in-toto vulns statement about the artifact, not revoked, signed by
    // one of the factory's scanning identities and not ingested from elsewhere. A vulns
    // statement anyone else signed (`ssf attest`) is not a scan.
    const a = inList(db, 'e.src', chunk);
    const scanRows = st(db, `SELECT e.src AS id, e.log_index, i.key AS signer, s.props FROM g_edge e JOIN g_node a ON a.id = e.dst
      JOIN g_edge s ON s.src = a.id AND s.verb = 'signed-by' JOIN g_node i ON i.id = s.dst
      WHERE ${a.sql} AND e.verb = 'attested-by' AND a.name LIKE '${VULNS_PREDICATE_PREFIX}%' AND e.revoked_at IS NULL`)
      .all(...a.params) as { id: number; log_index: number; signer: string; props: string | null }[];
    for (const r of scanRows) {
      if (!trust.scan.test(r.signer) || isThirdParty(r.props)) continue;
      const id = Number(r.id);
      if (Number(r.log_index) > (scans.get(id) ?? -1)) scans.set(id, Number(r.log_index));
    }
    // Only an artifact's newest scan counts: a rescan that no longer finds something resolves
    // it. The log index is in the unique index after the vulnerability, so the older scans'
    // edges are passed over in the index, without reading their rows.
    const scanEdges = st(db, `SELECT e.dst, e.props FROM g_edge e WHERE e.src = ? AND e.verb = 'affected-by' AND e.log_index = ? AND e.revoked_at IS NULL`);
    const digest = st(db, 'SELECT key FROM g_node WHERE id = ?').pluck();
    for (const id of chunk) {
      const scan = scans.get(Number(id));
      if (scan === undefined) continue;
      const rows = scanEdges.all(id, scan) as { dst: number; props: string | null }[];
      if (rows.length === 0) continue;
      const key = String(digest.get(id));
      for (const r of rows) {
        const p = parseProps(r.props);
        findings.push([Number(r.dst), Number(id), key, scan, String(p['severity'] ?? 'unknown'), purlsOf(p).join('\n')]);
      }
    }
    // Deployments: each record's signer comes with it (its attestation node's signed-by edge).
    type D = { src: number; dst: number; verb: string; log_index: number; digest: string; workload: string; observed_at: number; revoked_at: number | null; signer: string | null; sprops: string | null };
    const depRows = st(db, `SELECT e.src, e.dst, e.verb, e.log_index, sn.key AS digest, dn.key AS workload, e.observed_at, e.revoked_at, i.key AS signer, s.props AS sprops
      FROM g_edge e JOIN g_node sn ON sn.id = e.src JOIN g_node dn ON dn.id = e.dst LEFT JOIN g_node t ON t.kind = 'attestation' AND t.key = 'log:' || CAST(e.log_index AS TEXT)
      LEFT JOIN g_edge s ON s.src = t.id AND s.verb = 'signed-by' LEFT JOIN g_node i ON i.id = s.dst
      WHERE e.verb IN ('deployed-as', 'removed-from') AND ${a.sql} ORDER BY e.log_index`).all(...a.params) as D[];
    // Only the factory's own deployment identities say what runs where: a deployment statement
    // anyone else signed (`ssf attest`, an ingested bundle) neither adds nor removes one.
    const trusted = (r: D): boolean => trust.deploy.test(r.signer ?? '') && !isThirdParty(r.sprops);
    const removedAt = new Map<string, number>();
    for (const r of depRows) if (r.verb === 'removed-from' && r.revoked_at === null && trusted(r)) removedAt.set(`${r.src}\u0000${r.dst}`, Number(r.log_index));
    for (const r of depRows) {
      if (r.verb !== 'deployed-as' || !trusted(r) || Number(r.log_index) <= (removedAt.get(`${r.src}\u0000${r.dst}`) ?? -1)) continue;
      deployed.push([Number(r.src), Number(r.dst), Number(r.log_index), r.digest, r.workload, Number(r.observed_at), r.revoked_at === null ? null : Number(r.revoked_at)]);
    }
  }
  return { scans, findings, deployed };
}

/** The stored current-state rows of these artifacts (what deriveCurrent gives, when nothing was tampered with). */
export function storedCurrent(db: Db, artifactIds: readonly number[]): CurrentRows {
  const scans = new Map<number, number>();
  const findings: CurrentRows['findings'] = [];
  const deployed: CurrentRows['deployed'] = [];
  for (let i = 0; i < artifactIds.length; i += CHUNK) {
    const chunk = artifactIds.slice(i, i + CHUNK);
    const a = inList(db, 'artifact', chunk);
    for (const r of st(db, `SELECT artifact, log_index FROM g_cur_scan WHERE ${a.sql}`).all(...a.params) as { artifact: number; log_index: number }[]) scans.set(Number(r.artifact), Number(r.log_index));
    for (const r of st(db, `SELECT vulnerability, artifact, digest, log_index, severity, purls FROM g_cur_finding WHERE ${a.sql}`).raw().all(...a.params) as CurrentRows['findings']) {
      findings.push([Number(r[0]), Number(r[1]), r[2], Number(r[3]), r[4], r[5]]);
    }
    for (const r of st(db, `SELECT artifact, deployment, log_index, digest, workload, observed_at, revoked_at FROM g_cur_deployed WHERE ${a.sql}`).all(...a.params) as { artifact: number; deployment: number; log_index: number; digest: string; workload: string; observed_at: number; revoked_at: number | null }[]) {
      deployed.push([Number(r.artifact), Number(r.deployment), Number(r.log_index), r.digest, r.workload, Number(r.observed_at), r.revoked_at === null ? null : Number(r.revoked_at)]);
    }
  }
  return { scans, findings, deployed };
}

/** Replaces the current-state rows of these artifacts with a fresh derivation. Call inside the evidence's transaction. */
export function refreshCurrent(db: Db, trust: SignerPatterns, artifactIds: readonly number[]): void {
  if (artifactIds.length === 0) return;
  const ids = [...new Set(artifactIds)];
  const rows = deriveCurrent(db, trust, ids);
  for (let i = 0; i < ids.length; i += CHUNK) {
    const chunk = ids.slice(i, i + CHUNK);
    const a = inList(db, 'artifact', chunk);
    for (const t of ['g_cur_scan', 'g_cur_finding', 'g_cur_deployed']) st(db, `DELETE FROM ${t} WHERE ${a.sql}`).run(...a.params);
  }
  insertRows(db, 'g_cur_scan (artifact, log_index)', 2, [...rows.scans]);
  insertRows(db, 'g_cur_finding (vulnerability, artifact, digest, log_index, severity, purls)', 6, rows.findings);
  insertRows(db, 'g_cur_deployed (artifact, deployment, log_index, digest, workload, observed_at, revoked_at)', 7, rows.deployed);
}

function insertRows(db: Db, into: string, width: number, rows: readonly (readonly unknown[])[]): void {
  const per = Math.floor(CHUNK / width);
  for (let i = 0; i < rows.length; i += per) {
    const chunk = rows.slice(i, i + per);
    const one = `(${marks(width)})`;
    st(db, `INSERT INTO ${into} VALUES ${chunk.map(() => one).join(', ')}`).run(...chunk.flat());
  }
}

/** Every artifact node's id, in pages (a fleet's artifacts do not load at once). */
export function* artifactIdPages(db: Db, page = 2000): Generator<number[]> {
  let after = -1;
  const q = st(db, "SELECT id FROM g_node WHERE kind = 'artifact' AND id > ? ORDER BY id LIMIT ?").pluck();
  for (;;) {
    const ids = (q.all(after, page) as (number | bigint)[]).map(Number);
    if (ids.length === 0) return;
    yield ids;
    after = ids[ids.length - 1] as number;
  }
}

/** Derives the whole current state again (a new store's migration, `ssf graph rebuild`). Call inside a transaction. */
export function refreshAllCurrent(db: Db, trust: SignerPatterns): void {
  for (const t of ['g_cur_scan', 'g_cur_finding', 'g_cur_deployed', 'g_alias']) st(db, `DELETE FROM ${t}`).run();
  for (const ids of artifactIdPages(db)) refreshCurrent(db, trust, ids);
  st(db, `INSERT INTO g_alias (a, b) SELECT src, dst FROM g_edge WHERE verb = 'alias-of'
    UNION SELECT dst, src FROM g_edge WHERE verb = 'alias-of'`).run();
}

/**
 * Brings the current state up to date with the evidence at log indices `from`..`to`, written
 * by something that did not keep it (an ssf from before schema 0306 sharing the store, such
 * as a webhook replica not yet upgraded): the artifacts those statements are about are
 * derived again, and their alias pairs added. Call inside a transaction.
 */
export function catchUpCurrent(db: Db, trust: SignerPatterns, from: number, to: number): void {
  if (to < from) return;
  const artifacts = (st(db, `SELECT DISTINCT e.src FROM g_edge e JOIN g_node a ON a.id = e.src WHERE e.log_index BETWEEN ? AND ?
    AND e.verb IN ('attested-by', 'affected-by', 'deployed-as', 'removed-from') AND a.kind = 'artifact'`).raw().all(from, to) as [number][]).map((r) => Number(r[0]));
  refreshCurrent(db, trust, artifacts);
  addAliases(db, (st(db, "SELECT src, dst FROM g_edge WHERE log_index BETWEEN ? AND ? AND verb = 'alias-of'").raw().all(from, to) as [number, number][]).map(([x, y]) => [Number(x), Number(y)] as const));
}

/** Adds alias pairs (both directions) between vulnerability node ids. */
export function addAliases(db: Db, pairs: readonly (readonly [number, number])[]): void {
  const ins = st(db, 'INSERT INTO g_alias (a, b) VALUES (?, ?) ON CONFLICT (a, b) DO NOTHING');
  for (const [a, b] of pairs) {
    ins.run(a, b);
    ins.run(b, a);
  }
}

/** Differences between the stored current state and a fresh derivation, as lines for `ssf fsck`. */
export function checkCurrent(db: Db, trust: SignerPatterns): { checked: number; problems: string[] } {
  const problems: string[] = [];
  let checked = 0;
  const key = (r: readonly unknown[]): string => r.map((x) => (x === null ? '' : String(x))).join('\u0000');
  const known = new Set<number>();
  for (const ids of artifactIdPages(db)) {
    for (const id of ids) known.add(id);
    const want = deriveCurrent(db, trust, ids);
    const have = storedCurrent(db, ids);
    checked += have.scans.size + have.findings.length + have.deployed.length;
    for (const id of ids) {
      if (want.scans.get(id) !== have.scans.get(id)) problems.push(`artifact node ${id}: newest scan is stored as ${have.scans.get(id) ?? 'none'} but the edges give ${want.scans.get(id) ?? 'none'}`);
    }
    for (const [name, w, h] of [['finding', want.findings, have.findings], ['deployment', want.deployed, have.deployed]] as const) {
      const ws = new Set(w.map(key));
      const hs = new Set(h.map(key));
      const show = (r: readonly unknown[]): string => key(r).replace(/[\u0000\n]/g, ' ');
      for (const r of h) if (!ws.has(key(r))) problems.push(`current ${name} ${show(r)} is not what the edges give (inserted or edited row)`);
      for (const r of w) if (!hs.has(key(r))) problems.push(`current ${name} ${show(r)} that the edges give is missing (deleted row)`);
    }
  }
  // Rows about a node that is not an artifact (or no longer exists) are inserted rows too.
  for (const t of ['g_cur_scan', 'g_cur_finding', 'g_cur_deployed']) {
    for (const r of st(db, `SELECT DISTINCT artifact FROM ${t}`).pluck().all() as (number | bigint)[]) {
      if (!known.has(Number(r))) problems.push(`${t} holds rows about node ${r}, which is not an artifact (inserted row)`);
    }
  }
  const aliasWant = new Set((st(db, `SELECT src AS a, dst AS b FROM g_edge WHERE verb = 'alias-of' UNION SELECT dst, src FROM g_edge WHERE verb = 'alias-of'`).all() as { a: number; b: number }[]).map((r) => `${r.a} ${r.b}`));
  const aliasHave = new Set((st(db, 'SELECT a, b FROM g_alias').all() as { a: number; b: number }[]).map((r) => `${r.a} ${r.b}`));
  checked += aliasHave.size;
  for (const k of aliasHave) if (!aliasWant.has(k)) problems.push(`alias pair ${k} is in no alias-of edge (inserted row)`);
  for (const k of aliasWant) if (!aliasHave.has(k)) problems.push(`alias pair ${k} of an alias-of edge is missing (deleted row)`);
  return { checked, problems };
}
