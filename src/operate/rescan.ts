import { existsSync } from 'node:fs';
import { SsfError } from '../core/index.js';
import { makeStatement } from '../attest/index.js';
import type { Factory } from '../factory/index.js';
import { GraphQueries, componentNode } from '../graph/index.js';
import { PREDICATE, SCANNER, VulnDb, ecosystemOf, baseEcosystem, makePurl, packageNameKey, parsePurl, purlOfPackage, purlPackageName, vulnsPredicate, type Component, type Finding, type VulnReport } from '../analysis/index.js';

/**
 * The operate phase: re-matching what the factory released against the current advisory
 * database. Incremental: only artifacts containing a package named by an advisory modified
 * since the last rescan (or with an open finding of one) are evaluated again; each whose
 * findings changed gets a new signed scan (in-toto vulns) by `spiffe://<td>/factory/rescan`,
 * which the graph, `ssf query affected` and the deploy gate read as its newest state.
 */

export interface RescanReport {
  readonly full: boolean;
  readonly database: { readonly digest: string; readonly date: string };
  readonly advisoriesChanged: number;
  readonly artifactsEvaluated: number;
  readonly statementsSigned: number;
  readonly newFindings: readonly { readonly artifact: string; readonly vulnerability: string; readonly purl: string; readonly severity: string }[];
  readonly resolvedFindings: readonly { readonly artifact: string; readonly vulnerability: string; readonly purl: string }[];
  /** Deployments running an artifact with a new finding. */
  readonly atRisk: readonly { readonly deployment: string; readonly artifact: string; readonly vulnerabilities: readonly string[] }[];
  readonly durationMs: number;
}

/** g_state: the newest advisory `modified` time at the last rescan (kept for older ssf). */
const WATERMARK = 'rescan.watermark';
/** g_state: the advisory database's id and import number (`<id>:<n>`, VulnDb) the last rescan read. */
const WATERMARK_SEQ = 'rescan.changes-through';

function byString(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

function componentOf(purl: string): Component | undefined {
  try {
    // Named as `ssf scan` names an imported SBOM's components: the OSV ecosystem of the purl
    // type, and the ecosystem's own package name (Maven's group:artifact, Go's module path).
    const p = parsePurl(purl);
    if (!p.version) return undefined;
    return { ref: purl, ecosystem: ecosystemOf(p.type), name: purlPackageName(p), version: p.version, purl, hashes: [], scope: 'required', paths: [] };
  } catch {
    return undefined;
  }
}

/** Runs a rescan; `full` re-evaluates every artifact whatever changed. */
export async function rescan(f: Factory, opts: { full?: boolean } = {}): Promise<RescanReport> {
  const t0 = performance.now();
  if (!existsSync(f.layout.vulnDb)) throw new SsfError('VULNDB_MISSING', 'the factory has no advisory database; run `ssf vulndb import` first');
  const vdb = VulnDb.open(f.layout.vulnDb);
  try {
    const info = vdb.info();
    // Read before the advisories: an import committed meanwhile is taken again next time.
    const dbId = vdb.databaseId();
    const seqNow = vdb.changeSeq();
    const db = f.db;
    // `<database id>:<import number>`. A full rescan when there is none (the first rescan, or
    // the first since an ssf that watched `modified` times, which missed records older than
    // the newest), when the database file is another one (its numbers start over), or when
    // the number is ahead of the file's (a restored backup): never a gap in what is compared.
    const lastMark = f.graph.getState(WATERMARK_SEQ);
    const sep = lastMark?.lastIndexOf(':') ?? -1;
    const lastSeq = lastMark !== undefined && lastMark.slice(0, sep) === dbId ? Number(lastMark.slice(sep + 1)) : NaN;
    const full = opts.full === true || !Number.isSafeInteger(lastSeq) || lastSeq < 0 || lastSeq > seqNow;
    const changed = full ? [] : vdb.changedSince({ seq: lastSeq });
    // Candidate artifacts: those whose SBOM names a package of a changed advisory, and those
    // with an open finding of one (a withdrawn or narrowed advisory resolves it).
    let candidates: number[];
    if (full) {
      candidates = (db.prepare("SELECT DISTINCT e.src AS id FROM g_edge e WHERE e.verb = 'contains'").all() as { id: number }[]).map((r) => Number(r.id));
    } else {
      const names = new Set<string>();
      // PyPI names as PyPI compares them (PEP 503): OSV writes `zope.interface`, an SBOM's purl
      // may say `zope-interface`; the graph's PyPI component names are compared in that form.
      const pypi = new Set<string>();
      for (const a of changed) {
        for (const p of a.packages) {
          if (baseEcosystem(p.ecosystem) === 'PyPI') pypi.add(packageNameKey('PyPI', p.name));
          const purl = purlOfPackage(p.ecosystem, p.name);
          if (!purl) continue;
          try {
            names.add(componentNode(makePurl(purl.type, purl.namespace, purl.name, '0'))?.name ?? '');
          } catch {
            // an OSV name no purl can hold (Maven without a group, say) names no component here
          }
        }
      }
      if (pypi.size > 0) {
        for (const n of db.prepare("SELECT DISTINCT name FROM g_node WHERE kind = 'component' AND name LIKE 'pkg:pypi/%'").pluck().all() as string[]) {
          let bare = n.slice('pkg:pypi/'.length);
          try {
            bare = decodeURIComponent(bare);
          } catch {
            // a name that is not percent-encoded as a purl's is compared as written
          }
          if (pypi.has(packageNameKey('PyPI', bare))) names.add(n);
        }
      }
      const ids = new Set<number>();
      const list = [...names].filter((n) => n !== '');
      for (let i = 0; i < list.length; i += 400) {
        const chunk = list.slice(i, i + 400);
        for (const r of db.prepare(`SELECT DISTINCT e.src AS id FROM g_edge e JOIN g_node c ON c.id = e.dst
          WHERE e.verb = 'contains' AND c.kind = 'component' AND c.name IN (${chunk.map(() => '?').join(', ')})`).all(...chunk) as { id: number }[]) ids.add(Number(r.id));
      }
      const advIds = changed.map((a) => a.id);
      for (let i = 0; i < advIds.length; i += 400) {
        const chunk = advIds.slice(i, i + 400);
        for (const r of db.prepare(`SELECT DISTINCT g.artifact AS id FROM g_finding g JOIN g_node v ON v.id = g.vulnerability
          WHERE g.resolved_at IS NULL AND v.key IN (${chunk.map(() => '?').join(', ')})`).all(...chunk) as { id: number }[]) ids.add(Number(r.id));
      }
      candidates = [...ids];
    }
    // The advisories of the ecosystems the graph's components are in (an SBOM ingested from a
    // supplier may hold Go modules or Maven artifacts beside npm packages).
    const ecosystems = new Set<string>();
    if (candidates.length > 0) {
      for (const r of db.prepare("SELECT DISTINCT name FROM g_node WHERE kind = 'component'").all() as { name: string | null }[]) {
        const m = /^pkg:([a-z0-9.+-]+)\//i.exec(r.name ?? '');
        if (m) ecosystems.add(ecosystemOf((m[1] as string).toLowerCase()));
      }
    }
    const index = candidates.length > 0 ? vdb.load([...ecosystems]) : undefined;
    const q = new GraphQueries(db, { trustDomain: f.trustDomain });
    const artifactKey = db.prepare('SELECT key FROM g_node WHERE id = ?');
    const contained = db.prepare("SELECT c.key FROM g_edge e JOIN g_node c ON c.id = e.dst WHERE e.src = ? AND e.verb = 'contains'");
    const open = db.prepare(`SELECT v.key AS vuln, c.key AS purl, g.vulnerability, g.component FROM g_finding g
      JOIN g_node v ON v.id = g.vulnerability JOIN g_node c ON c.id = g.component WHERE g.artifact = ? AND g.resolved_at IS NULL`);
    const hasFinding = db.prepare('SELECT 1 AS x FROM g_finding WHERE artifact = ? LIMIT 1');
    const scanEdges = db.prepare(`SELECT e.dst AS vulnerability, e.props, e.log_index, e.observed_at FROM g_edge e
      WHERE e.src = ? AND e.verb = 'affected-by' AND e.log_index = ?`);
    const seedRow = db.prepare(`INSERT INTO g_finding (artifact, vulnerability, component, severity, first_seen, resolved_at, log_index)
      VALUES (?, ?, ?, ?, ?, NULL, ?) ON CONFLICT (artifact, vulnerability, component) DO NOTHING`);
    const seed = (artifact: number): void => {
      db.transaction(() => {
        for (const r of scanEdges.all(artifact, q.newestScan(artifact)) as { vulnerability: number; props: string | null; log_index: number; observed_at: number }[]) {
          const p = r.props ? (JSON.parse(r.props) as { purl?: string; purls?: string[]; severity?: string }) : {};
          // One edge per vulnerability: `purls` when it was found in several packages.
          for (const purl of p.purls ?? (p.purl ? [p.purl] : [])) {
            const c = componentNode(purl);
            if (!c) continue;
            const cid = f.graph.nodeIds([c]).get(`component\u0000${c.key}`);
            if (cid !== undefined) seedRow.run(artifact, r.vulnerability, cid, p.severity ?? 'unknown', Number(r.observed_at), Number(r.log_index));
          }
        }
      })();
    };
    // A component's findings depend only on its purl, and a fleet's SBOMs share most of their
    // components: each distinct purl is parsed and matched once per rescan, not once per SBOM
    // that lists it (matching was ~80% of a full rescan of 1,000 SBOMs of 1,000 components).
    const parsedPurls = new Map<string, Component | undefined>();
    const componentFor = (purl: string): Component | undefined => {
      if (!parsedPurls.has(purl)) parsedPurls.set(purl, componentOf(purl));
      return parsedPurls.get(purl);
    };
    const perComponent = new Map<string, { findings: readonly Finding[]; warnings: readonly string[] }>();
    const matchAll = (digest: string, components: readonly Component[]): VulnReport => {
      const findings: Finding[] = [];
      const warnings = new Set<string>();
      for (const c of components) {
        let m = perComponent.get(c.purl);
        if (!m && index) {
          const r = index.match({ root: { ref: digest, name: digest, version: '' }, components: [c], dependencies: [], source: { kind: 'cyclonedx', digest }, warnings: [] });
          m = { findings: r.findings, warnings: r.warnings };
          perComponent.set(c.purl, m);
        }
        if (!m) continue;
        findings.push(...m.findings);
        for (const w of m.warnings) warnings.add(w);
      }
      // The order index.match gives a whole SBOM: by component purl, advisory id, component ref.
      findings.sort((x, y) => byString(x.component.purl, y.component.purl) || byString(x.id, y.id) || byString(x.component.ref, y.component.ref));
      return { db: index?.info ?? info, sbom: digest, findings, warnings: [...warnings] };
    };
    const identity = candidates.length > 0 ? await f.issueIdentity(['factory', 'rescan']) : undefined;
    const now = Math.floor(f.clock.now().getTime() / 1000);
    const newFindings: RescanReport['newFindings'][number][] = [];
    const resolvedFindings: RescanReport['resolvedFindings'][number][] = [];
    const withNew = new Map<number, Set<string>>();
    let signed = 0;
    for (const id of candidates) {
      const digest = (artifactKey.get(id) as { key: string } | undefined)?.key;
      if (!digest || !index || !identity) continue;
      const components = (contained.all(id) as { key: string }[]).map((r) => componentFor(r.key)).filter((c): c is Component => c !== undefined);
      const report = matchAll(digest, components);
      // VEX already in the graph that still holds for this artifact (signed by the factory's VEX
      // identity, not expired; see GraphQueries.suppressionsOf) carries over to the rescan, with
      // its expiry: about the artifact, about the finding's package, or carried by its newest
      // scan. The newest statement wins.
      const answers = q.suppressionsOf(id, f.clock.now(), report.findings.map((x) => x.component.purl));
      const findings: Finding[] = report.findings.map((x) => {
        const purl = componentNode(x.component.purl)?.key ?? x.component.purl;
        const ids = new Set([x.id, ...x.aliases].map((k) => k.toUpperCase()));
        const v = answers.filter((a) => ids.has(a.vulnerability.toUpperCase()) && (a.purls === undefined || a.purls.includes(purl))).sort((a, b) => b.logIndex - a.logIndex)[0];
        return v ? { ...x, vex: { status: v.status as 'not_affected' | 'fixed', ...(v.justification ? { justification: v.justification } : {}), ...(v.expires ? { expires: v.expires } : {}), author: 'ssf rescan (from the graph)', document: `log:${v.logIndex}` } } : x;
      });
      // An artifact rescanned for the first time starts from its newest signed scan in the graph
      // (the build-time one), so a finding that has gone since is reported as resolved.
      if (!(hasFinding.get(id) as { x: number } | undefined)) seed(id);
      const was = open.all(id) as { vuln: string; purl: string; vulnerability: number; component: number }[];
      const key = (v: string, p: string): string => `${v}\u0000${p}`;
      const before = new Set(was.map((w) => key(w.vuln, w.purl)));
      const after = new Map(findings.map((x) => [key(x.id, componentNode(x.component.purl)?.key ?? x.component.purl), x]));
      const added = [...after].filter(([k]) => !before.has(k)).map(([, x]) => x);
      const gone = was.filter((w) => !after.has(key(w.vuln, w.purl)));
      if (added.length === 0 && gone.length === 0) continue;
      const predicate = vulnsPredicate({ ...report, findings }, { uri: SCANNER.uri, version: SCANNER.version });
      const st = makeStatement([{ name: digest, digest: { sha256: digest.slice(7) } }], PREDICATE.vulns, predicate);
      f.attest([{ statement: st, identity }], {
        inTransaction: (results) => {
          const logIndex = results[0]?.logIndex ?? -1;
          const ids = f.graph.nodeIds(added.flatMap((x) => {
            const c = componentNode(x.component.purl);
            return c ? [{ kind: 'vulnerability' as const, key: x.id }, c] : [];
          }));
          const ins = db.prepare(`INSERT INTO g_finding (artifact, vulnerability, component, severity, first_seen, resolved_at, log_index) VALUES (?, ?, ?, ?, ?, NULL, ?)
            ON CONFLICT (artifact, vulnerability, component) DO UPDATE SET resolved_at = NULL, severity = excluded.severity, log_index = excluded.log_index`);
          for (const x of added) {
            const c = componentNode(x.component.purl);
            const vid = ids.get(`vulnerability\u0000${x.id}`);
            const cid = c ? ids.get(`component\u0000${c.key}`) : undefined;
            if (vid !== undefined && cid !== undefined) ins.run(id, vid, cid, x.severity, now, logIndex);
          }
          const res = db.prepare('UPDATE g_finding SET resolved_at = ?, log_index = ? WHERE artifact = ? AND vulnerability = ? AND component = ?');
          for (const w of gone) res.run(now, logIndex, id, w.vulnerability, w.component);
        },
      });
      signed++;
      for (const x of added) {
        if (x.vex?.status === 'not_affected' || x.vex?.status === 'fixed') continue;
        newFindings.push({ artifact: digest, vulnerability: x.id, purl: x.component.purl, severity: x.severity });
        const s = withNew.get(id) ?? new Set<string>();
        s.add(x.id);
        withNew.set(id, s);
      }
      for (const w of gone) resolvedFindings.push({ artifact: digest, vulnerability: w.vuln, purl: w.purl });
    }
    f.graph.setState(WATERMARK, info.date);
    f.graph.setState(WATERMARK_SEQ, `${dbId}:${seqNow}`);
    const atRisk: { deployment: string; artifact: string; vulnerabilities: string[] }[] = [];
    // Where the artifacts with new findings run, looked up together (not a provenance tree each).
    const byDigest = new Map<string, string[]>();
    for (const d of q.deploymentsOf([...withNew.keys()])) byDigest.set(d.artifact, [...(byDigest.get(d.artifact) ?? []), d.deployment]);
    for (const [id, vulns] of withNew) {
      const digest = (artifactKey.get(id) as { key: string } | undefined)?.key ?? '';
      for (const deployment of byDigest.get(digest) ?? []) atRisk.push({ deployment, artifact: digest, vulnerabilities: [...vulns].sort() });
    }
    return {
      full, database: { digest: info.digest, date: info.date }, advisoriesChanged: full ? info.advisories : changed.length,
      artifactsEvaluated: candidates.length, statementsSigned: signed, newFindings, resolvedFindings, atRisk, durationMs: performance.now() - t0,
    };
  } finally {
    vdb.close();
  }
}
