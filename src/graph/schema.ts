import type { Db, Migration } from '../store/index.js';

/** PostgreSQL 13 or later (autovacuum_vacuum_insert_scale_factor exists from 13 on). */
function pg13(db: Db): boolean {
  return Number(db.prepare('SELECT current_setting(?) AS v').pluck().get('server_version_num')) >= 130000;
}

/**
 * The knowledge graph's tables. Nodes are unique by (kind, key); every edge names the
 * transparency-log index of the evidence that proves it and when it was observed (the
 * evidence's integrated time). Edges are written in the same transaction as their evidence
 * (Factory.attest) and can all be re-derived from it (`ssf fsck`, `GraphStore.rebuild`).
 */
export const graphMigrations: readonly Migration[] = [
  {
    id: '0301_graph',
    up(db) {
      db.exec(`
        CREATE TABLE g_node (
          id INTEGER PRIMARY KEY,
          kind TEXT NOT NULL,
          key TEXT NOT NULL,
          name TEXT,
          version TEXT,
          UNIQUE (kind, key)
        );
        CREATE INDEX g_node_name ON g_node(kind, name);
        CREATE TABLE g_edge (
          id INTEGER PRIMARY KEY,
          src INTEGER NOT NULL REFERENCES g_node(id),
          verb TEXT NOT NULL,
          dst INTEGER NOT NULL REFERENCES g_node(id),
          log_index INTEGER NOT NULL,
          observed_at INTEGER NOT NULL,
          props TEXT,
          revoked_at INTEGER,
          UNIQUE (src, verb, dst, log_index)
        );
        CREATE INDEX g_edge_dst ON g_edge(dst, verb);
        CREATE INDEX g_edge_log ON g_edge(log_index);
        CREATE TABLE g_finding (
          artifact INTEGER NOT NULL REFERENCES g_node(id),
          vulnerability INTEGER NOT NULL REFERENCES g_node(id),
          component INTEGER NOT NULL REFERENCES g_node(id),
          severity TEXT NOT NULL,
          first_seen INTEGER NOT NULL,
          resolved_at INTEGER,
          log_index INTEGER NOT NULL,
          PRIMARY KEY (artifact, vulnerability, component)
        );
        CREATE INDEX g_finding_vuln ON g_finding(vulnerability);
        CREATE TABLE g_state (
          key TEXT PRIMARY KEY,
          value TEXT NOT NULL
        );
      `);
    },
  },
  {
    id: '0302_graph_ingested',
    up(db) {
      // Evidence signed outside this factory (a supplier's SBOM, a package's provenance),
      // verified on \`ssf ingest\` against the trusted root given then, and logged here.
      db.exec(`
        CREATE TABLE g_ingested (
          log_index INTEGER PRIMARY KEY,
          source TEXT NOT NULL,
          trusted_root TEXT NOT NULL,
          verified_at INTEGER NOT NULL
        );
      `);
    },
  },
  {
    id: '0303_graph_vulnerability_case',
    up(db) {
      // `ssf query affected` also finds VEX that writes an id in another letter case.
      db.exec('CREATE INDEX g_node_upper_key ON g_node(kind, upper(key))');
    },
  },
  {
    id: '0304_graph_edge_no_fk_on_postgres',
    up(db) {
      // On PostgreSQL each foreign-key check is a row lookup with a share lock on the node:
      // half the cost of writing an SBOM's ~3,400 edges (docs/storage.md). The graph writer
      // creates both nodes in the same transaction, and `ssf fsck` reports any edge naming a
      // node that does not exist. SQLite's checks cost little and stay.
      if (db.dialect === 'postgres') db.exec('ALTER TABLE g_edge DROP CONSTRAINT IF EXISTS g_edge_src_fkey, DROP CONSTRAINT IF EXISTS g_edge_dst_fkey');
    },
  },
  {
    id: '0305_graph_dependencies',
    up(db) {
      // depends-on edges (~70% of an SBOM's) in a table of their own, keyed by the evidence
      // first: a new SBOM's rows append at the end of one B-tree instead of landing on a
      // different page of two edge indexes each (docs/graph.md, "Storage"). Nothing looks
      // them up by package; they are read per statement (fsck, a dependency path).
      db.exec(`
        CREATE TABLE g_dep (
          log_index INTEGER NOT NULL,
          src INTEGER NOT NULL,
          dst INTEGER NOT NULL,
          observed_at INTEGER NOT NULL,
          revoked_at INTEGER,
          PRIMARY KEY (log_index, src, dst)
        ) WITHOUT ROWID;
        INSERT INTO g_dep (log_index, src, dst, observed_at, revoked_at)
          SELECT log_index, src, dst, MIN(observed_at), MAX(revoked_at) FROM g_edge WHERE verb = 'depends-on' GROUP BY log_index, src, dst;
        DELETE FROM g_edge WHERE verb = 'depends-on';
      `);
    },
  },
  {
    id: '0306_graph_current_state',
    up(db) {
      // The current state (src/graph/current.ts): rows derived from the edges and kept in the
      // evidence's transaction, so that the widest incident answers are one range scan each.
      // A finding row carries what the answer prints (the artifact's digest, the severity, the
      // purls, newline-separated), so reading one is no node lookup and no JSON parse.
      // Filled by GraphStore on first open (it needs the factory's trust domain to tell whose
      // scans and deployment records count), then kept current by every write.
      db.exec(`
        CREATE TABLE g_cur_scan (
          artifact INTEGER NOT NULL PRIMARY KEY,
          log_index INTEGER NOT NULL
        );
        CREATE TABLE g_cur_finding (
          vulnerability INTEGER NOT NULL,
          artifact INTEGER NOT NULL,
          digest TEXT NOT NULL,
          log_index INTEGER NOT NULL,
          severity TEXT NOT NULL,
          purls TEXT NOT NULL,
          PRIMARY KEY (vulnerability, artifact)
        ) WITHOUT ROWID;
        CREATE INDEX g_cur_finding_artifact ON g_cur_finding(artifact);
        CREATE TABLE g_cur_deployed (
          artifact INTEGER NOT NULL,
          deployment INTEGER NOT NULL,
          log_index INTEGER NOT NULL,
          observed_at INTEGER NOT NULL,
          revoked_at INTEGER,
          PRIMARY KEY (artifact, deployment, log_index)
        ) WITHOUT ROWID;
        CREATE TABLE g_alias (
          a INTEGER NOT NULL,
          b INTEGER NOT NULL,
          PRIMARY KEY (a, b)
        ) WITHOUT ROWID;
      `);
    },
  },
  {
    id: '0307_graph_edge_dst_covering',
    up(db) {
      // Blast radius reads every contains edge into a package's nodes: with the source, log
      // index and revocation in the index, that is an index range scan without a table-row
      // lookup per edge (docs/graph.md, "Storage"). It replaces g_edge_dst, whose prefix it is.
      db.exec(`
        CREATE INDEX g_edge_dst_cover ON g_edge(dst, verb, src, log_index, revoked_at);
        DROP INDEX g_edge_dst;
      `);
      // PostgreSQL reads an index alone only for heap pages its visibility map marks
      // all-visible, and autovacuum sets those on an insert-only table after inserts of 20% of
      // its rows by default (PostgreSQL 13+): on a fleet's edge table that is millions of edges
      // answered with a heap fetch each. Vacuum it after 1% instead (docs/storage.md).
      if (db.dialect === 'postgres' && pg13(db)) {
        db.exec('ALTER TABLE g_edge SET (autovacuum_vacuum_insert_scale_factor = 0.01, autovacuum_analyze_scale_factor = 0.02)');
      }
    },
  },
  {
    id: '0308_graph_current_answer_order',
    up(db) {
      // The widest answers spent a fifth of their time sorting thousands of rows by digest and
      // another looking up the keys of the deployments they name (docs/graph.md, "Storage").
      // A finding row is now keyed by the artifact's digest within its vulnerability, so one
      // vulnerability's rows are read in the order the answer prints them; a deployment row
      // carries the artifact's digest and the workload's key. The rows are derived again at the
      // next open (GraphStore, current-state version 2), as a store from before 0306 is.
      // On PostgreSQL the key also carries the other columns (INCLUDE), so an answer is an
      // index-only scan instead of a heap fetch per row (a rescan appends one artifact's rows
      // at a time: one vulnerability's rows lie on as many heap pages as it has rows), and the
      // digest compares bytewise (COLLATE "C": the order the answer prints, and sorts by
      // memcmp rather than the database's locale).
      const pg = db.dialect === 'postgres';
      db.exec(`
        DROP TABLE g_cur_finding;
        DROP TABLE g_cur_deployed;
        CREATE TABLE g_cur_finding (
          vulnerability INTEGER NOT NULL,
          digest TEXT ${pg ? 'COLLATE "C" ' : ''}NOT NULL,
          artifact INTEGER NOT NULL,
          log_index INTEGER NOT NULL,
          severity TEXT NOT NULL,
          purls TEXT NOT NULL,
          PRIMARY KEY (vulnerability, digest)${pg ? ' INCLUDE (artifact, log_index, severity, purls)' : ''}
        ) WITHOUT ROWID;
        CREATE INDEX g_cur_finding_artifact ON g_cur_finding(artifact);
        CREATE TABLE g_cur_deployed (
          artifact INTEGER NOT NULL,
          deployment INTEGER NOT NULL,
          log_index INTEGER NOT NULL,
          digest TEXT NOT NULL,
          workload TEXT NOT NULL,
          observed_at INTEGER NOT NULL,
          revoked_at INTEGER,
          PRIMARY KEY (artifact, deployment, log_index)
        ) WITHOUT ROWID;
        DELETE FROM g_state WHERE key = 'current-state';
      `);
      // Index-only scans need the visibility map, which vacuum sets; every rescan deletes and
      // inserts rows here, so vacuum after 1% changed rows instead of 20% (docs/storage.md).
      if (pg) {
        db.exec(`ALTER TABLE g_cur_finding SET (autovacuum_vacuum_scale_factor = 0.01, ${pg13(db) ? 'autovacuum_vacuum_insert_scale_factor = 0.01, ' : ''}autovacuum_analyze_scale_factor = 0.02)`);
      }
    },
  },
];
