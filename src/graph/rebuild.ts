import { parseStatementPayload } from '../attest/index.js';
import type { Db } from '../store/index.js';
import { projectStatement, type EdgeSpec } from './project.js';
import type { GraphStore } from './store.js';

/** One stored evidence row, as the graph needs it. */
export interface EvidenceRowFacts {
  readonly logIndex: number;
  readonly payload: Buffer;
  readonly signer: string | null;
  readonly integratedTime: number;
  readonly thirdParty?: boolean;
}

/** Every evidence row in log order, read in pages (a large store does not load at once). */
export function* evidenceRows(db: Db, page = 2000): Generator<EvidenceRowFacts> {
  let after = -1;
  const st = db.prepare(`SELECT e.log_index AS logIndex, e.payload, c.identity AS signer, e.integrated_time AS integratedTime, i.log_index AS ingested
    FROM evidence e JOIN certificate c ON c.id = e.certificate_id LEFT JOIN g_ingested i ON i.log_index = e.log_index
    WHERE e.log_index > ? ORDER BY e.log_index LIMIT ?`);
  for (;;) {
    const rows = st.all(after, page) as (EvidenceRowFacts & { ingested: number | null })[];
    if (rows.length === 0) return;
    for (const { ingested, ...r } of rows) yield { ...r, logIndex: Number(r.logIndex), integratedTime: Number(r.integratedTime), ...(ingested !== null ? { thirdParty: true } : {}) };
    after = Number(rows[rows.length - 1]?.logIndex);
  }
}

/** The projection of a stored row; a payload that no longer parses projects to nothing (fsck reports it). */
export function projectRow(r: EvidenceRowFacts): EdgeSpec[] | undefined {
  try {
    return projectStatement(parseStatementPayload(r.payload), { logIndex: r.logIndex, signer: r.signer ?? '', integratedTime: r.integratedTime, ...(r.thirdParty ? { thirdParty: true } : {}) });
  } catch {
    return undefined;
  }
}

/**
 * Re-derives every edge from the stored evidence, in one transaction: for a factory whose
 * evidence predates the graph, or to repair what `ssf fsck` found. Revocation marks and
 * rescan findings are kept (they are about the evidence, not derived from it); the current
 * state (current.ts) is derived again from the new edges.
 */
export function rebuildGraph(g: GraphStore): { evidence: number; edges: number } {
  const db = g.db;
  let evidence = 0;
  let edges = 0;
  const revoked = db.prepare(`SELECT DISTINCT log_index, revoked_at FROM g_edge WHERE revoked_at IS NOT NULL
    UNION SELECT DISTINCT log_index, revoked_at FROM g_dep WHERE revoked_at IS NOT NULL`).all() as { log_index: number; revoked_at: number }[];
  db.transaction(() => {
    // The current state follows the new edges and their revocation marks, derived once at the end.
    g.rewriting(() => {
      db.prepare('DELETE FROM g_edge').run();
      db.prepare('DELETE FROM g_dep').run();
      for (const r of evidenceRows(db)) {
        const p = projectRow(r);
        evidence++;
        if (p) edges += g.write(p, { logIndex: r.logIndex, signer: r.signer ?? '', integratedTime: r.integratedTime });
      }
      const mark = db.prepare('UPDATE g_edge SET revoked_at = ? WHERE log_index = ?');
      const markDeps = db.prepare('UPDATE g_dep SET revoked_at = ? WHERE log_index = ?');
      for (const x of revoked) {
        mark.run(x.revoked_at, x.log_index);
        markDeps.run(x.revoked_at, x.log_index);
      }
    });
  }).immediate();
  return { evidence, edges };
}
