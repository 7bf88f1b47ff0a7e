import { SsfError } from '../core/index.js';
import { migrate, pgTextArray, type Db } from '../store/index.js';
import { graphMigrations } from './schema.js';
import type { EdgeSpec, EvidenceFacts, NodeRef } from './project.js';
import { VULNS_PREDICATE_PREFIX, addAliases, catchUpCurrent, refreshAllCurrent, refreshCurrent, signerPatterns, type SignerPatterns } from './current.js';

/** g_state key: the version of the current state's derivation the stored rows were made by. */
const CURRENT_STATE = 'current-state';
/** 2: findings keyed by digest, deployments with their digest and workload key (schema 0308). */
const CURRENT_VERSION = '2';
/**
 * g_state key: the highest log index whose statement the current state has taken in. Every
 * write moves it; a write (or an open) that finds it behind the log first catches up on the
 * statements in between, which something that does not keep the current state wrote.
 */
const CURRENT_THROUGH = 'current-through';

/** Rows per multi-row statement: one round trip per chunk instead of per row (it matters most on PostgreSQL). */
const CHUNK = 200;

/** The two statement calls the graph writer uses, whichever driver is behind the Db. */
interface Stmt {
  all(...params: unknown[]): unknown[];
  run(...params: unknown[]): { changes: number | bigint };
}

/**
 * Graph rows: nodes are upserted (unique by kind and key), edges inserted with their
 * evidence. Callers run writes inside the transaction that stores the evidence.
 */
export class GraphStore {
  private readonly nodeStmts = new Map<number, Stmt>();
  private readonly edgeStmts = new Map<number, Stmt>();
  private readonly selectStmts = new Map<number, Stmt>();
  private readonly depStmts = new Map<number, Stmt>();

  /** Whose scans and deployment records the current state believes (src/graph/current.ts). */
  readonly trust: SignerPatterns;

  /** `trustDomain`: the factory's; only its own identities' scans and deployment records count. */
  constructor(readonly db: Db, opts: { trustDomain?: string } = {}) {
    migrate(db, graphMigrations);
    this.trust = signerPatterns(opts.trustDomain);
    // A store from before the current state (schema 0306) or derived by another version of
    // it: derive it from the edges, in one transaction. A store written meanwhile by something
    // that does not keep it: catch up on those statements. Checked again under the write lock,
    // so that processes opening the store together derive it once.
    const behind = (): boolean => this.getState(CURRENT_STATE) !== CURRENT_VERSION || this.through() < this.lastLogIndex();
    if (!db.readonly && behind()) {
      db.transaction(() => {
        if (this.getState(CURRENT_STATE) !== CURRENT_VERSION) {
          this.refreshAll();
          this.setState(CURRENT_STATE, CURRENT_VERSION);
        } else {
          this.catchUp(this.lastLogIndex());
        }
      }).immediate();
    }
  }

  /** Set while rebuildGraph rewrites every edge: it derives the current state once, at the end. */
  private deferred = false;

  /** Runs `fn` (which rewrites the graph's edges) without keeping the current state, then derives all of it. Call inside a transaction. */
  rewriting<T>(fn: () => T): T {
    this.deferred = true;
    try {
      return fn();
    } finally {
      this.deferred = false;
      this.refreshAll();
    }
  }

  /** Derives the whole current state again from the edges (\`ssf graph rebuild\`). Call inside a transaction. */
  refreshAll(): void {
    refreshAllCurrent(this.db, this.trust);
    this.setState(CURRENT_THROUGH, String(this.lastLogIndex()));
  }

  private through(): number {
    const v = this.getState(CURRENT_THROUGH);
    return v === undefined ? -1 : Number(v);
  }

  /** The highest log index with graph edges (every statement has its signed-by edge), or -1. */
  private lastLogIndex(): number {
    const v = this.db.prepare('SELECT MAX(log_index) FROM g_edge').pluck().get() as number | bigint | null | undefined;
    return v === null || v === undefined ? -1 : Number(v);
  }

  /** Takes in the statements after the watermark up to `to` (see CURRENT_THROUGH). */
  private catchUp(to: number): void {
    const from = this.through() + 1;
    if (to >= from) {
      catchUpCurrent(this.db, this.trust, from, to);
      this.setState(CURRENT_THROUGH, String(to));
    }
  }

  private nodeStmt(n: number): Stmt {
    let s = this.nodeStmts.get(n);
    if (!s) {
      const values = Array.from({ length: n }, () => '(?, ?, ?, ?)').join(', ');
      // DO UPDATE (a no-op) rather than DO NOTHING, so that RETURNING gives existing rows too.
      s = this.db.prepare<unknown[]>(`INSERT INTO g_node (kind, key, name, version) VALUES ${values}
        ON CONFLICT (kind, key) DO UPDATE SET name = COALESCE(g_node.name, excluded.name) RETURNING id, kind, key`);
      this.nodeStmts.set(n, s);
    }
    return s;
  }

  private edgeStmt(n: number): Stmt {
    let s = this.edgeStmts.get(n);
    if (!s) {
      const values = Array.from({ length: n }, () => '(?, ?, ?, ?, ?, ?)').join(', ');
      s = this.db.prepare<unknown[]>(`INSERT INTO g_edge (src, verb, dst, log_index, observed_at, props) VALUES ${values} ON CONFLICT (src, verb, dst, log_index) DO NOTHING`);
      this.edgeStmts.set(n, s);
    }
    return s;
  }

  private depStmt(n: number): Stmt {
    let s = this.depStmts.get(n);
    if (!s) {
      const values = Array.from({ length: n }, () => '(?, ?, ?, ?)').join(', ');
      s = this.db.prepare<unknown[]>(`INSERT INTO g_dep (log_index, src, dst, observed_at) VALUES ${values} ON CONFLICT (log_index, src, dst) DO NOTHING`);
      this.depStmts.set(n, s);
    }
    return s;
  }

  private selectStmt(n: number): Stmt {
    let s = this.selectStmts.get(n);
    if (!s) {
      s = this.db.prepare<unknown[]>(`SELECT id, key, name FROM g_node WHERE kind = ? AND key IN (${Array.from({ length: n }, () => '?').join(', ')})`);
      this.selectStmts.set(n, s);
    }
    return s;
  }

  /** The existing nodes of one kind among `keys`: id, key and name. */
  private existing(kind: string, keys: readonly string[]): { id: number; key: string; name: string | null }[] {
    type R = { id: number; key: string; name: string | null };
    if (this.db.dialect === 'postgres') {
      // One statement for any number of keys, planned as index lookups (see pgTextArray).
      this.pgSelect ??= this.db.prepare<unknown[]>('SELECT n.id, n.key, n.name FROM unnest(CAST(? AS text[])) AS k(key) JOIN g_node n ON n.kind = ? AND n.key = k.key');
      return this.pgSelect.all(pgTextArray(keys), kind) as R[];
    }
    const out: R[] = [];
    for (let i = 0; i < keys.length; i += CHUNK) {
      const chunk = keys.slice(i, i + CHUNK);
      for (const r of this.selectStmt(chunk.length).all(kind, ...chunk) as R[]) out.push(r);
    }
    return out;
  }

  private pgSelect: Stmt | undefined;

  /** Node ids for refs, creating the nodes that do not exist yet. */
  nodeIds(refs: readonly NodeRef[]): Map<string, number> {
    const ids = new Map<string, number>();
    const unique = new Map<string, NodeRef>();
    for (const r of refs) unique.set(`${r.kind}\u0000${r.key}`, r);
    // Most nodes of a statement exist already (a fleet's SBOMs share their components): read
    // those, and upsert only the new ones and those gaining a name. An upsert of an existing
    // row rewrites it and its name index entry, which cost more than the lookup.
    const byKind = new Map<string, NodeRef[]>();
    for (const r of unique.values()) {
      const group = byKind.get(r.kind);
      if (group) group.push(r);
      else byKind.set(r.kind, [r]);
    }
    const missing: NodeRef[] = [];
    for (const [kind, group] of byKind) {
      const found = new Map<string, { id: number; name: string | null }>();
      for (const row of this.existing(kind, group.map((r) => r.key))) found.set(row.key, row);
      for (const r of group) {
        const row = found.get(r.key);
        if (row && (row.name !== null || r.name === undefined)) ids.set(`${kind}\u0000${r.key}`, Number(row.id));
        else missing.push(r);
      }
    }
    const list = missing;
    for (let i = 0; i < list.length; i += CHUNK) {
      const chunk = list.slice(i, i + CHUNK);
      const rows = this.nodeStmt(chunk.length).all(...chunk.flatMap((r) => [r.kind, r.key, r.name ?? null, r.version ?? null])) as { id: number; kind: string; key: string }[];
      for (const row of rows) ids.set(`${row.kind}\u0000${row.key}`, Number(row.id));
    }
    return ids;
  }

  /** Writes one statement's projection; returns how many edges were stored (a repeated one is stored once). */
  write(edges: readonly EdgeSpec[], ev: EvidenceFacts): number {
    if (this.deferred) return this.writeEdges(edges, ev);
    // Statements between the watermark and this one were written without the current state.
    const through = this.through();
    if (ev.logIndex - 1 > through) catchUpCurrent(this.db, this.trust, through + 1, ev.logIndex - 1);
    const stored = this.writeEdges(edges, ev);
    if (ev.logIndex > through) this.setState(CURRENT_THROUGH, String(ev.logIndex));
    return stored;
  }

  private writeEdges(edges: readonly EdgeSpec[], ev: EvidenceFacts): number {
    if (edges.length === 0) return 0;
    const ids = this.nodeIds(edges.flatMap((e) => [e.src, e.dst]));
    const id = (r: NodeRef): number => {
      const v = ids.get(`${r.kind}\u0000${r.key}`);
      if (v === undefined) throw new SsfError('STORE_FAILED', `graph node ${r.kind} ${r.key} was not created`);
      return v;
    };
    let stored = 0;
    // depends-on edges go to g_dep (schema 0305), every other verb to g_edge.
    const deps = edges.filter((e) => e.verb === 'depends-on');
    const rest = deps.length === 0 ? edges : edges.filter((e) => e.verb !== 'depends-on');
    for (let i = 0; i < rest.length; i += CHUNK) {
      const chunk = rest.slice(i, i + CHUNK);
      stored += Number(this.edgeStmt(chunk.length).run(...chunk.flatMap((e) => [id(e.src), e.verb, id(e.dst), ev.logIndex, ev.integratedTime, e.props ? JSON.stringify(e.props) : null])).changes);
    }
    for (let i = 0; i < deps.length; i += CHUNK) {
      const chunk = deps.slice(i, i + CHUNK);
      stored += Number(this.depStmt(chunk.length).run(...chunk.flatMap((e) => [ev.logIndex, id(e.src), id(e.dst), ev.integratedTime])).changes);
    }
    // The current state of the artifacts a scan or a deployment record is about, and the
    // alias pairs a scan names, change with this statement.
    const touched: number[] = [];
    const aliases: [number, number][] = [];
    for (const e of rest) {
      if (e.verb === 'alias-of') aliases.push([id(e.src), id(e.dst)]);
      else if (e.src.kind === 'artifact' && (e.verb === 'deployed-as' || e.verb === 'removed-from' || e.verb === 'affected-by' || (e.verb === 'attested-by' && e.dst.name?.startsWith(VULNS_PREDICATE_PREFIX)))) touched.push(id(e.src));
    }
    if (!this.deferred) {
      if (aliases.length > 0) addAliases(this.db, aliases);
      if (touched.length > 0) refreshCurrent(this.db, this.trust, touched);
    }
    return stored;
  }

  /** Marks every edge whose evidence is one of these log indices as revoked (at `at`, seconds). */
  markRevoked(logIndices: readonly number[], at: number): number {
    let n = 0;
    const st = this.db.prepare('UPDATE g_edge SET revoked_at = ? WHERE log_index = ? AND revoked_at IS NULL');
    const deps = this.db.prepare('UPDATE g_dep SET revoked_at = ? WHERE log_index = ? AND revoked_at IS NULL');
    for (const i of logIndices) n += Number(st.run(at, i).changes) + Number(deps.run(at, i).changes);
    // A revoked scan or deployment record no longer counts: those artifacts' current state is derived again.
    const touched = this.db.prepare(`SELECT DISTINCT e.src FROM g_edge e JOIN g_node a ON a.id = e.src
      WHERE e.log_index = ? AND e.verb IN ('attested-by', 'affected-by', 'deployed-as', 'removed-from') AND a.kind = 'artifact'`).pluck();
    const artifacts = new Set<number>();
    for (const i of logIndices) for (const a of touched.all(i) as (number | bigint)[]) artifacts.add(Number(a));
    refreshCurrent(this.db, this.trust, [...artifacts]);
    return n;
  }

  getState(key: string): string | undefined {
    const r = this.db.prepare('SELECT value FROM g_state WHERE key = ?').get(key) as { value: string } | undefined;
    return r?.value;
  }

  setState(key: string, value: string): void {
    this.db.prepare('INSERT INTO g_state (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value').run(key, value);
  }
}
