import { X509Certificate, createHash, verify as cryptoVerify } from 'node:crypto';
import { canonicalEnvelope, pae, setPayload } from '../attest/index.js';
import type { Factory } from '../factory/index.js';
import { checkCurrent, evidenceRows, projectRow, type EdgeSpec } from '../graph/index.js';

/**
 * `ssf fsck`: the store checked against itself and its signatures. The transparency log is
 * recomputed from its leaves and compared with every signed checkpoint; every evidence row is
 * compared with its log entry (payload hash, envelope hash, signature, signer certificate),
 * its signature and signed entry timestamp verified; every log entry must have its row and
 * every row its entry; every graph edge must be one its evidence projects to, and every edge
 * the evidence projects to must be there; the graph's current state must be what the edges
 * give. Problems are reported, never repaired here.
 */

export type FsckArea = 'log' | 'evidence' | 'graph';

export interface FsckProblem {
  readonly area: FsckArea;
  /** `log index N`, `checkpoint N`, `edge N`… */
  readonly where: string;
  readonly problem: string;
}

export interface FsckReport {
  readonly ok: boolean;
  readonly logSize: number;
  readonly checkpointsChecked: number;
  readonly evidenceChecked: number;
  readonly edgesChecked: number;
  /** Rows of the graph's current state (newest scans, open findings, deployments, alias pairs) compared with a fresh derivation. */
  readonly currentChecked: number;
  /** The first problems found (at most `limit`), and how many there were. */
  readonly problems: readonly FsckProblem[];
  readonly problemCount: number;
}

const sha256 = (b: Buffer | string): string => createHash('sha256').update(b).digest('hex');

function pemToDer(pem: string): Buffer | undefined {
  const m = /-----BEGIN CERTIFICATE-----([\s\S]+?)-----END CERTIFICATE-----/.exec(pem);
  return m ? Buffer.from((m[1] ?? '').replace(/\s+/g, ''), 'base64') : undefined;
}

function edgeKey(e: { srcKind: string; srcKey: string; verb: string; dstKind: string; dstKey: string; props: string | null }): string {
  return [e.srcKind, e.srcKey, e.verb, e.dstKind, e.dstKey, e.props ?? ''].join('\u0000');
}

function specKey(e: EdgeSpec): string {
  return edgeKey({ srcKind: e.src.kind, srcKey: e.src.key, verb: e.verb, dstKind: e.dst.kind, dstKey: e.dst.key, props: e.props ? JSON.stringify(e.props) : null });
}

/** Checks the factory's store; see the module comment. */
/** `graph: false` checks only the log and the evidence (what `ssf graph rebuild` must be able to trust). */
export function fsck(f: Factory, opts: { limit?: number; graph?: boolean } = {}): FsckReport {
  const limit = opts.limit ?? 100;
  const problems: FsckProblem[] = [];
  let count = 0;
  const report = (area: FsckArea, where: string, problem: string): void => {
    count++;
    if (problems.length < limit) problems.push({ area, where, problem });
  };
  const log = f.log.fsckTree();
  for (const m of log.mismatches) report('log', `tree level ${m.level} index ${m.index}`, `stored tree row disagrees with the leaves (${m.kind})`);
  for (const c of log.checkpointIssues) report('log', `checkpoint ${c.size}`, c.problem);
  const size = log.size;
  const trust = f.trustMaterial();
  const db = f.db;
  const certs = db.prepare('SELECT c.der FROM evidence e JOIN certificate c ON c.id = e.certificate_id WHERE e.log_index = ?');
  const full = db.prepare('SELECT payload_sha256 AS payloadSha256, payload_type AS payloadType, signature, entry_timestamp AS entryTimestamp, checkpoint_size AS checkpointSize FROM evidence WHERE log_index = ?');
  const edgesAt = db.prepare(`SELECT s.kind AS srcKind, s.key AS srcKey, e.verb, d.kind AS dstKind, d.key AS dstKey, e.props
    FROM g_edge e JOIN g_node s ON s.id = e.src JOIN g_node d ON d.id = e.dst WHERE e.log_index = ?
    UNION ALL SELECT s.kind, s.key, 'depends-on', d.kind, d.key, NULL
    FROM g_dep e JOIN g_node s ON s.id = e.src JOIN g_node d ON d.id = e.dst WHERE e.log_index = ?`);
  const seen = new Set<number>();
  let evidenceChecked = 0;
  let edgesChecked = 0;
  for (const r of evidenceRows(db)) {
    evidenceChecked++;
    seen.add(r.logIndex);
    const where = `log index ${r.logIndex}`;
    if (r.logIndex >= size) {
      report('evidence', where, 'an evidence row for a log entry that does not exist (inserted row)');
      continue;
    }
    const row = full.get(r.logIndex) as { payloadSha256: string; payloadType: string; signature: Buffer; entryTimestamp: Buffer; checkpointSize: number };
    const der = (certs.get(r.logIndex) as { der: Buffer }).der;
    let body: { spec?: { envelopeHash?: { value?: string }; payloadHash?: { value?: string }; signatures?: { signature?: string; verifier?: string }[] } };
    const leaf = f.log.leafData(r.logIndex);
    try {
      body = JSON.parse(leaf.toString('utf8')) as typeof body;
    } catch {
      report('log', where, 'the log entry body is not JSON');
      continue;
    }
    const payloadHex = sha256(r.payload);
    if (payloadHex !== row.payloadSha256) report('evidence', where, 'the stored payload does not match its recorded sha256 (edited payload)');
    if (body.spec?.payloadHash?.value !== payloadHex) report('evidence', where, 'the stored payload differs from the one the log entry commits to (edited payload)');
    const sig = body.spec?.signatures?.[0];
    if (sig?.signature !== row.signature.toString('base64')) report('evidence', where, 'the stored signature differs from the logged one');
    const envelopeHex = sha256(canonicalEnvelope({ payload: r.payload.toString('base64'), payloadType: row.payloadType, signatures: [{ sig: row.signature.toString('base64') }] }));
    if (body.spec?.envelopeHash?.value !== envelopeHex) report('evidence', where, 'the stored envelope differs from the logged one');
    const loggedDer = sig?.verifier ? pemToDer(Buffer.from(sig.verifier, 'base64').toString('utf8')) : undefined;
    if (!loggedDer || !loggedDer.equals(der)) report('evidence', where, 'the stored signer certificate differs from the logged one');
    try {
      const cert = new X509Certificate(der);
      if (!cryptoVerify('sha256', pae(row.payloadType, r.payload), cert.publicKey, row.signature)) report('evidence', where, 'the DSSE signature does not verify with the signer certificate');
    } catch {
      report('evidence', where, 'the signer certificate cannot be parsed');
    }
    const set = setPayload({ canonicalizedBody: leaf, integratedTime: r.integratedTime, logIndex: r.logIndex, logIdHex: trust.tlogs[0]?.keyIdHex ?? '' });
    if (!trust.tlogs.some((t) => cryptoVerify('sha256', set, t.publicKey, row.entryTimestamp))) report('evidence', where, 'the signed entry timestamp does not verify (edited time or index)');
    if (row.checkpointSize <= r.logIndex || row.checkpointSize > size) report('evidence', where, `recorded checkpoint size ${row.checkpointSize} cannot include this entry`);
    // The graph: exactly the edges this evidence projects to.
    if (opts.graph === false) continue;
    // The store keeps one edge per source, verb and destination of a piece of evidence (the
    // first written): a projection that repeats one with other properties is held that way.
    const projected = new Map<string, EdgeSpec>();
    for (const e of projectRow(r) ?? []) {
      const k = [e.src.kind, e.src.key, e.verb, e.dst.kind, e.dst.key].join('\u0000');
      if (!projected.has(k)) projected.set(k, e);
    }
    const expected = new Set([...projected.values()].map(specKey));
    const actual = edgesAt.all(r.logIndex, r.logIndex) as { srcKind: string; srcKey: string; verb: string; dstKind: string; dstKey: string; props: string | null }[];
    edgesChecked += actual.length;
    const actualKeys = new Set(actual.map(edgeKey));
    for (const e of actual) if (!expected.has(edgeKey(e))) report('graph', where, `edge ${e.srcKind} ${e.srcKey} ${e.verb} ${e.dstKind} ${e.dstKey} is not in its evidence (inserted or edited edge)`);
    for (const k of expected) {
      if (!actualKeys.has(k)) {
        const [sk, sKey, verb, dk, dKey] = k.split('\u0000');
        report('graph', where, `edge ${sk} ${sKey} ${verb} ${dk} ${dKey} of this evidence is missing (deleted edge)`);
      }
    }
  }
  for (let i = 0; i < size; i++) if (!seen.has(i)) report('evidence', `log index ${i}`, 'the log entry has no evidence row (deleted row)');
  const orphans = opts.graph === false ? [] : db.prepare(`SELECT DISTINCT e.log_index AS i FROM g_edge e LEFT JOIN evidence v ON v.log_index = e.log_index WHERE v.id IS NULL
    UNION SELECT DISTINCT e.log_index FROM g_dep e LEFT JOIN evidence v ON v.log_index = e.log_index WHERE v.id IS NULL ORDER BY 1`).all() as { i: number }[];
  for (const o of orphans) report('graph', `log index ${o.i}`, 'graph edges name evidence that does not exist (inserted edges)');
  // PostgreSQL keeps no foreign keys on edges (docs/storage.md): an edge to a missing node is tampering too.
  const dangling = opts.graph === false ? [] : db.prepare(`SELECT x.i, COUNT(*) AS n FROM (
      SELECT e.log_index AS i FROM g_edge e LEFT JOIN g_node s ON s.id = e.src LEFT JOIN g_node d ON d.id = e.dst WHERE s.id IS NULL OR d.id IS NULL
      UNION ALL SELECT e.log_index FROM g_dep e LEFT JOIN g_node s ON s.id = e.src LEFT JOIN g_node d ON d.id = e.dst WHERE s.id IS NULL OR d.id IS NULL
    ) x GROUP BY x.i ORDER BY x.i`).all() as { i: number; n: number }[];
  for (const o of dangling) report('graph', `log index ${o.i}`, Number(o.n) === 1 ? 'a graph edge names a node that does not exist (deleted node)' : `${o.n} graph edges name nodes that do not exist (deleted node)`);
  // The current state the incident queries read must be what the edges give (src/graph/current.ts).
  let currentChecked = 0;
  if (opts.graph !== false) {
    // One snapshot for both sides: a scan or deployment record written meanwhile is not a problem.
    const cur = db.transaction(() => checkCurrent(db, f.graph.trust))();
    currentChecked = cur.checked;
    for (const p of cur.problems) report('graph', 'current state', p);
  }
  return { ok: count === 0, logSize: size, checkpointsChecked: log.checkpointsChecked, evidenceChecked, edgesChecked, currentChecked, problems, problemCount: count };
}
