import { existsSync } from 'node:fs';
import { SsfError, parseDigestRef, sha256File } from '../core/index.js';
import type { Factory } from '../factory/index.js';
import type { ProvenanceTree } from '../graph/index.js';
import { need, str, type Command, type Io, type ParsedArgs } from './command.js';

async function withFactory<T>(a: ParsedArgs, io: Io, fn: (f: Factory) => Promise<T>): Promise<T> {
  const { Factory, resolveDataDir } = await import('../factory/index.js');
  const f = Factory.open(resolveDataDir(str(a, 'dir'), io.env));
  try {
    return await fn(f);
  } finally {
    f.close();
  }
}

/** A digest from `sha256:<hex>`, `IMAGE@sha256:<hex>` or a file (hashed). */
function digestArg(v: string): string {
  const m = /(?:^|@)(sha256:[0-9a-f]{64})$/.exec(v);
  if (m) return m[1] as string;
  if (parseDigestRef(v)) return v;
  if (v.startsWith('sha256:')) throw new SsfError('USAGE', `${JSON.stringify(v)} is not a digest of the form sha256:<64 hex>`);
  if (!existsSync(v)) throw new SsfError('FILE_NOT_FOUND', `${v} is neither a digest nor a file`);
  return `sha256:${sha256File(v)}`;
}

function time(v: string | undefined, fallback: Date, what: string): Date {
  if (v === undefined) return fallback;
  const d = new Date(v);
  if (Number.isNaN(d.getTime())) throw new SsfError('USAGE', `--${what} must be a date or RFC 3339 time, got ${JSON.stringify(v)}`);
  return d;
}

const short = (d: string): string => (d.startsWith('sha256:') ? `${d.slice(0, 19)}…` : d);

function dot(t: ProvenanceTree): string {
  const lines = ['digraph provenance {', '  rankdir=LR;', '  node [shape=box, fontname="monospace"];'];
  const id = (s: string): string => JSON.stringify(s);
  lines.push(`  ${id(t.artifact)} [label=${id(`artifact\n${short(t.artifact)}`)}, style=bold];`);
  for (const s of t.sources) lines.push(`  ${id(t.artifact)} -> ${id(s.uri)} [label="built-from #${s.logIndex}"];`);
  for (const r of t.runs) {
    lines.push(`  ${id(`run:${r.id}`)} [label=${id(`run\n${r.id}`)}];`, `  ${id(t.artifact)} -> ${id(`run:${r.id}`)} [label="built-by #${r.evidence.logIndex}"];`);
    if (r.pipeline) {
      lines.push(`  ${id(`pipeline:${r.pipeline.digest}`)} [label=${id(`pipeline ${r.pipeline.name ?? ''}\n${short(r.pipeline.digest)}`)}];`, `  ${id(`run:${r.id}`)} -> ${id(`pipeline:${r.pipeline.digest}`)} [label="instance-of"];`);
      for (const s of r.pipeline.signedBy) lines.push(`  ${id(`pipeline:${r.pipeline.digest}`)} -> ${id(s.identity)} [label="signed-by #${s.logIndex}"];`);
    }
    for (const task of r.tasks) {
      const tid = `task:${r.id}/${task.name}`;
      lines.push(`  ${id(tid)} [label=${id(`task ${task.name}`)}];`, `  ${id(tid)} -> ${id(`run:${r.id}`)} [label="part-of"];`);
      if (task.identity) lines.push(`  ${id(tid)} -> ${id(task.identity)} [label="signed-by #${task.logIndex ?? '?'}"];`);
    }
  }
  for (const m of t.materials) lines.push(`  ${id(t.artifact)} -> ${id(m.purl)} [label="built-from #${m.logIndex}"];`);
  for (const d of t.decisions) lines.push(`  ${id(t.artifact)} -> ${id(`policy:${d.policySet}`)} [label=${id(`decided ${d.gate} ${d.result} #${d.logIndex}`)}];`);
  for (const d of t.deployments) lines.push(`  ${id(t.artifact)} -> ${id(d.deployment)} [label="deployed-as #${d.logIndex}"];`);
  lines.push('}');
  return lines.join('\n');
}

function mermaid(t: ProvenanceTree): string {
  const ids = new Map<string, string>();
  const n = (label: string): string => {
    let v = ids.get(label);
    if (!v) {
      v = `n${ids.size}`;
      ids.set(label, v);
    }
    return v;
  };
  const q = (s: string): string => `"${s.replace(/"/g, '#quot;')}"`;
  const lines = ['flowchart LR'];
  const edge = (from: string, to: string, label: string): void => {
    lines.push(`  ${n(from)}[${q(from)}] -->|${q(label)}| ${n(to)}[${q(to)}]`);
  };
  const art = `artifact ${short(t.artifact)}`;
  for (const s of t.sources) edge(art, `source ${s.uri}`, `built-from #${s.logIndex}`);
  for (const r of t.runs) {
    edge(art, `run ${r.id}`, `built-by #${r.evidence.logIndex}`);
    if (r.pipeline) edge(`run ${r.id}`, `pipeline ${r.pipeline.name ?? ''} ${short(r.pipeline.digest)}`, 'instance-of');
    for (const task of r.tasks) {
      edge(`task ${task.name}`, `run ${r.id}`, 'part-of');
      if (task.identity) edge(`task ${task.name}`, task.identity, `signed-by #${task.logIndex ?? '?'}`);
    }
  }
  for (const d of t.decisions) edge(art, `policy ${d.gate}`, `decided ${d.result} #${d.logIndex}`);
  for (const d of t.deployments) edge(art, d.deployment, `deployed-as #${d.logIndex}`);
  return lines.join('\n');
}

export const queryProvenanceCommand: Command = {
  name: 'query provenance',
  summary: 'where a digest came from: source commit, pipeline, run, tasks, identities, materials (tree, --dot, --mermaid)',
  usage: `Usage: ssf query provenance DIGEST|FILE|IMAGE@DIGEST [--json|--dot|--mermaid] [--dir D]

From the knowledge graph: the runs that built the digest (pipeline, who signed
it, every task and the identity that signed its statement), the source commit,
the materials (locked packages), every attestation about it (with signer and
log index), the gate decisions and the deployments. Every fact names the
transparency-log index of the evidence that proves it.

Options:
  --json       machine-readable tree
  --dot        Graphviz DOT (render with \`dot -Tsvg\`)
  --mermaid    a Mermaid flowchart
  --dir D      factory data directory
  -h, --help   show this help`,
  options: { json: { type: 'boolean' }, dot: { type: 'boolean' }, mermaid: { type: 'boolean' }, dir: { type: 'string' } },
  positionals: { min: 1, max: 1 },
  async run(a, io) {
    const digest = digestArg(a.positionals[0] as string);
    return withFactory(a, io, async (f) => {
      const { GraphQueries } = await import('../graph/index.js');
      const t = new GraphQueries(f.db, { trustDomain: f.trustDomain }).provenance(digest);
      if (a.values.json) io.out(JSON.stringify(t));
      else if (a.values.dot) io.out(dot(t));
      else if (a.values.mermaid) io.out(mermaid(t));
      else {
        // Branches with their children; the last of each level is drawn with └─.
        const top: { line: string; children: string[] }[] = [];
        for (const s of t.sources) top.push({ line: `built-from source ${s.uri}  (log #${s.logIndex})`, children: [] });
        for (const r of t.runs) {
          const children: string[] = [];
          if (r.pipeline) children.push(`pipeline ${r.pipeline.name ?? ''} ${r.pipeline.digest}${r.pipeline.signedBy.map((s) => `  signed by ${s.identity} (log #${s.logIndex})`).join('')}`);
          for (const task of r.tasks) children.push(`task ${task.name.padEnd(12)} ${task.identity ?? ''}${task.logIndex !== undefined ? `  (log #${task.logIndex})` : ''}`);
          top.push({ line: `built-by run ${r.id}  (log #${r.evidence.logIndex})`, children });
        }
        if (t.materials.length > 0) top.push({ line: `built-from ${t.materials.length} material${t.materials.length === 1 ? '' : 's'}: ${t.materials.slice(0, 5).map((m) => m.purl).join(', ')}${t.materials.length > 5 ? ', …' : ''}`, children: [] });
        for (const x of t.attestations) top.push({ line: `attested-by ${x.predicateType}  ${x.signer ?? ''}  (log #${x.logIndex}${x.revoked ? ', REVOKED' : ''})`, children: [] });
        for (const d of t.decisions) top.push({ line: `gate ${d.gate}: ${d.result}  (log #${d.logIndex})`, children: [] });
        for (const d of t.deployments) top.push({ line: `deployed-as ${d.deployment}  (log #${d.logIndex})`, children: [] });
        io.out(`artifact ${t.artifact}`);
        top.forEach((b, i) => {
          const last = i === top.length - 1;
          io.out(`${last ? '└─' : '├─'} ${b.line}`);
          b.children.forEach((c, j) => io.out(`${last ? '   ' : '│  '}${j === b.children.length - 1 ? '└─' : '├─'} ${c}`));
        });
      }
      return 0;
    });
  },
};

export const queryBlastRadiusCommand: Command = {
  name: 'query blast-radius',
  summary: 'every artifact and deployment that contains a package (any version, or a semver range), transitively',
  usage: `Usage: ssf query blast-radius PURL [--range RANGE] [--json] [--dir D]

PURL is a package URL with or without a version: pkg:npm/lodash (any version),
pkg:npm/lodash@4.17.20 (exactly), or with --range '<4.17.21'. Lists every
artifact whose SBOM contains a matching component, or a component that
depends on one (transitively), or whose build used one as a material; and the
deployments running those artifacts.

Options:
  --range R   a semver range the version must satisfy
  --json      machine-readable
  --dir D     factory data directory
  -h, --help  show this help`,
  options: { range: { type: 'string' }, json: { type: 'boolean' }, dir: { type: 'string' } },
  positionals: { min: 1, max: 1 },
  async run(a, io) {
    return withFactory(a, io, async (f) => {
      const { GraphQueries } = await import('../graph/index.js');
      const range = str(a, 'range');
      const r = new GraphQueries(f.db, { trustDomain: f.trustDomain }).blastRadius(a.positionals[0] as string, range);
      if (a.values.json) {
        io.out(JSON.stringify(r));
        return 0;
      }
      io.out(`${r.query}: ${r.components.length} component version${r.components.length === 1 ? '' : 's'}, ${r.artifacts.length} artifact${r.artifacts.length === 1 ? '' : 's'}, ${r.deployments.length} deployment${r.deployments.length === 1 ? '' : 's'}`);
      for (const x of r.artifacts) io.out(`  artifact ${x.digest}  ${x.how} ${x.via.join(', ')}  (log #${x.logIndex})`);
      for (const d of r.deployments) io.out(`  deployment ${d.deployment}  runs ${short(d.artifact)}  (log #${d.logIndex})`);
      return 0;
    });
  },
};

export const queryAffectedCommand: Command = {
  name: 'query affected',
  summary: 'which artifacts and deployments are affected by a vulnerability (aliases followed, VEX respected)',
  usage: `Usage: ssf query affected VULN-ID [--json] [--dir D]

VULN-ID is an advisory id or any alias (GHSA-…, CVE-…). An artifact counts when
its newest signed scan (a rescan replaces the build-time one) reports the
vulnerability and no VEX statement marks it not_affected or fixed; those are
listed separately. Then the deployments that run an affected artifact.

Options:
  --json      machine-readable
  --dir D     factory data directory
  -h, --help  show this help`,
  options: { json: { type: 'boolean' }, dir: { type: 'string' } },
  positionals: { min: 1, max: 1 },
  async run(a, io) {
    return withFactory(a, io, async (f) => {
      const { GraphQueries } = await import('../graph/index.js');
      const r = new GraphQueries(f.db, { trustDomain: f.trustDomain }).affected(a.positionals[0] as string);
      if (a.values.json) {
        io.out(JSON.stringify(r));
        return 0;
      }
      io.out(`${r.vulnerability}${r.aliases.length > 0 ? ` (aliases: ${r.aliases.join(', ')})` : ''}: ${r.artifacts.length} affected artifact${r.artifacts.length === 1 ? '' : 's'}, ${r.deployments.length} deployment${r.deployments.length === 1 ? '' : 's'}, ${r.suppressed.length} suppressed by VEX`);
      for (const x of r.artifacts) io.out(`  affected   ${x.digest}  ${x.severity}  ${x.purls.join(', ')}  (log #${x.logIndex})`);
      for (const x of r.suppressed) io.out(`  suppressed ${x.digest}  ${x.status}  (log #${x.logIndex})`);
      for (const d of r.deployments) io.out(`  deployment ${d.deployment}  runs ${short(d.artifact)}  (log #${d.logIndex})`);
      return 0;
    });
  },
};

export const querySignedByCommand: Command = {
  name: 'query signed-by',
  summary: 'everything an identity signed between two times (incident response for a leaked key)',
  usage: `Usage: ssf query signed-by IDENTITY [--from TIME] [--to TIME] [--json] [--dir D]

IDENTITY is a SPIFFE ID (or another signer name); * matches any run of
characters, e.g. 'spiffe://example.internal/run/*/task/build/*'. Lists every
attestation it signed in the window (default: all time), what each was about,
and whether the signer has since been revoked.

Options:
  --from T    start (date or RFC 3339 time)
  --to T      end (default: now)
  --json      machine-readable
  --dir D     factory data directory
  -h, --help  show this help`,
  options: { from: { type: 'string' }, to: { type: 'string' }, json: { type: 'boolean' }, dir: { type: 'string' } },
  positionals: { min: 1, max: 1 },
  async run(a, io) {
    const from = time(str(a, 'from'), new Date(0), 'from');
    const to = time(str(a, 'to'), new Date(), 'to');
    return withFactory(a, io, async (f) => {
      const { GraphQueries } = await import('../graph/index.js');
      const r = new GraphQueries(f.db, { trustDomain: f.trustDomain }).signedBy(a.positionals[0] as string, from, to);
      if (a.values.json) {
        io.out(JSON.stringify(r));
        return 0;
      }
      io.out(`${r.identity}: ${r.attestations.length} attestation${r.attestations.length === 1 ? '' : 's'} signed between ${r.from} and ${r.to}`);
      for (const x of r.attestations) io.out(`  log #${x.logIndex}  ${x.observedAt}  ${x.predicateType}${x.revoked ? '  REVOKED' : ''}  about ${x.subjects.map(short).join(', ') || '-'}${x.signer !== r.identity ? `  (${x.signer})` : ''}`);
      return 0;
    });
  },
};

export const queryDiffCommand: Command = {
  name: 'query diff',
  summary: "compare two artifacts' SBOMs: added, removed and changed components, new findings",
  usage: `Usage: ssf query diff FROM TO [--json] [--dir D]

FROM and TO are digests (or files, or IMAGE@DIGEST). Compares the components
their newest SBOMs contain (by package: added, removed, version changed) and
the findings of their newest scans (new in TO, resolved since FROM).

Options:
  --json      machine-readable
  --dir D     factory data directory
  -h, --help  show this help`,
  options: { json: { type: 'boolean' }, dir: { type: 'string' } },
  positionals: { min: 2, max: 2 },
  async run(a, io) {
    const from = digestArg(a.positionals[0] as string);
    const to = digestArg(a.positionals[1] as string);
    return withFactory(a, io, async (f) => {
      const { GraphQueries } = await import('../graph/index.js');
      const d = new GraphQueries(f.db, { trustDomain: f.trustDomain }).diff(from, to);
      if (a.values.json) {
        io.out(JSON.stringify(d));
        return 0;
      }
      io.out(`${short(d.from)} (SBOM log #${d.fromSbom}) → ${short(d.to)} (SBOM log #${d.toSbom}): ${d.added.length} added, ${d.removed.length} removed, ${d.changed.length} changed, ${d.newFindings.length} new finding${d.newFindings.length === 1 ? '' : 's'}, ${d.resolvedFindings.length} resolved`);
      for (const x of d.added) io.out(`  + ${x}`);
      for (const x of d.removed) io.out(`  - ${x}`);
      for (const x of d.changed) io.out(`  ~ ${x.name} ${x.from} → ${x.to}`);
      for (const x of d.newFindings) io.out(`  ! ${x.vulnerability} ${x.severity ?? ''} ${x.purl ?? ''}`);
      for (const x of d.resolvedFindings) io.out(`  ✓ ${x.vulnerability} ${x.purl ?? ''} resolved`);
      return 0;
    });
  },
};

const DEPLOYMENT_OPTIONS = `Options:
  --cluster C     cluster name
  --namespace N   namespace
  --name W        workload name
  --kind K        workload kind (default Deployment)
  --dir D         factory data directory
  -h, --help      show this help`;

/** The digest (and the reference as given) and the workload of a deployments command. */
function deploymentArgs(a: ParsedArgs, command: string): { ref: string; digest: string; d: { cluster: string; namespace: string; name: string; kind: string }; where: string } {
  const ref = a.positionals[0] as string;
  const m = /(?:^|@)(sha256:[0-9a-f]{64})$/.exec(ref);
  if (!m) throw new SsfError('USAGE', `${JSON.stringify(ref)} is not pinned by digest; give IMAGE@sha256:<64 hex> or sha256:<64 hex>`);
  const d = { cluster: need(a, 'cluster', command), namespace: need(a, 'namespace', command), name: need(a, 'name', command), kind: str(a, 'kind') ?? 'Deployment' };
  return { ref, digest: m[1] as string, d, where: `${d.cluster}/${d.namespace}/${d.kind}/${d.name}` };
}

const deploymentOptions = { cluster: { type: 'string' }, namespace: { type: 'string' }, name: { type: 'string' }, kind: { type: 'string' }, dir: { type: 'string' } } as const;

export const deploymentsRecordCommand: Command = {
  name: 'deployments record',
  summary: 'record (as signed evidence) that a digest runs in a cluster, namespace and workload',
  usage: `Usage: ssf deployments record IMAGE@DIGEST|DIGEST --cluster C --namespace N --name W
                              [--kind Deployment] [--dir D]

Signs a deployment statement about the digest as
spiffe://<trust domain>/operator/deployments, logs and stores it; the graph
gets the artifact's deployed-as edge in the same transaction, so blast-radius
and affected queries reach the deployment.

${DEPLOYMENT_OPTIONS}`,
  options: deploymentOptions,
  positionals: { min: 1, max: 1 },
  async run(a, io) {
    const { ref, digest, d, where } = deploymentArgs(a, 'deployments record');
    return withFactory(a, io, async (f) => {
      const { recordDeployment } = await import('../admission/index.js');
      const r = await recordDeployment(f, { ...d, digest, ...(ref !== digest ? { image: ref } : {}) });
      io.out(`recorded ${where} runs ${digest} (log #${r.logIndex})`);
      return 0;
    });
  },
};

export const deploymentsRemoveCommand: Command = {
  name: 'deployments remove',
  summary: 'record (as signed evidence) that a digest no longer runs in a workload',
  usage: `Usage: ssf deployments remove IMAGE@DIGEST|DIGEST --cluster C --namespace N --name W
                              [--kind Deployment] [--dir D]

Signs a removal record about the digest as spiffe://<trust domain>/operator/deployments
(a deployment statement with "removed": true), logs and stores it; the graph
gets a removed-from edge in the same transaction, and blast-radius, affected,
provenance and rescan stop counting the deployment records before it. A later
\`ssf deployments record\` of the same digest and workload counts again.
Refuses (DEPLOYMENT_NOT_FOUND, nothing recorded) when the graph holds no
current deployment of the digest in that workload.

${DEPLOYMENT_OPTIONS}`,
  options: deploymentOptions,
  positionals: { min: 1, max: 1 },
  async run(a, io) {
    const { ref, digest, d, where } = deploymentArgs(a, 'deployments remove');
    return withFactory(a, io, async (f) => {
      const { recordDeployment } = await import('../admission/index.js');
      const { GraphQueries } = await import('../graph/index.js');
      if (!new GraphQueries(f.db, { trustDomain: f.trustDomain }).isDeployed(digest, where)) throw new SsfError('DEPLOYMENT_NOT_FOUND', `the graph holds no current deployment of ${digest} in ${where}; nothing recorded (see \`ssf query provenance ${digest}\`)`);
      const r = await recordDeployment(f, { ...d, digest, ...(ref !== digest ? { image: ref } : {}) }, { removed: true });
      io.out(`recorded ${where} no longer runs ${digest} (log #${r.logIndex})`);
      return 0;
    });
  },
};

export const graphRebuildCommand: Command = {
  name: 'graph rebuild',
  summary: 'derive the knowledge graph again from every stored piece of evidence',
  usage: `Usage: ssf graph rebuild [--dir D]

Deletes every graph edge and projects each stored evidence row again, in one
transaction (for a factory whose evidence predates the graph, or to repair
what \`ssf fsck\` found). Revocation marks are kept; the current state the
queries read (newest scans, open findings, deployments, aliases) is derived
again from the new edges. Refuses (FACTORY_CORRUPT,
nothing changed) when \`ssf fsck\` finds the evidence or the log itself edited:
the graph would be derived from the edit.

Options:
  --dir D     factory data directory
  -h, --help  show this help`,
  options: { dir: { type: 'string' } },
  async run(a, io) {
    return withFactory(a, io, async (f) => {
      const { rebuildGraph } = await import('../graph/index.js');
      // The graph is derived from the evidence: from evidence that no longer matches its log
      // entry and signature it would derive whatever the edit says. Only a graph is repaired.
      const { fsck } = await import('../operate/index.js');
      const check = fsck(f, { graph: false, limit: 1 });
      const first = check.problems[0];
      if (first) throw new SsfError('FACTORY_CORRUPT', `not rebuilding the graph: ${check.problemCount} problem${check.problemCount === 1 ? '' : 's'} with the evidence or the log itself, which a rebuild would project (first: ${first.area} ${first.where}: ${first.problem}); see \`ssf fsck\`; nothing was changed`);
      const r = rebuildGraph(f.graph);
      io.out(`graph rebuilt: ${r.edges} edges from ${r.evidence} evidence rows`);
      return 0;
    });
  },
};

export const rescanCommand: Command = {
  name: 'rescan',
  summary: 'match every released SBOM against the current advisory database; record new and resolved findings',
  usage: `Usage: ssf rescan [--full] [--json] [--dir D]

The operate phase. After \`ssf vulndb import\` brings new or changed advisories,
re-evaluates the artifacts they can affect: those whose SBOM names a package
of an advisory imported (added or updated) since the last rescan, whatever its
modified time, or that have an open finding of one. The first rescan, and one
after the advisory database file was replaced, evaluates everything. Each artifact whose findings changed gets a new signed scan (in-toto
vulns, by spiffe://<td>/factory/rescan) about its digest, with the VEX already
in the graph applied; new and resolved findings are recorded with their time.
\`ssf query affected\` and the deploy gate read the newest scan. Lists the
deployments now at risk.

Options:
  --full      re-evaluate every artifact with an SBOM, whatever changed
  --json      machine-readable report
  --dir D     factory data directory
  -h, --help  show this help

Exit status: 0 (also when new findings were found; see the report); 1 on errors.`,
  options: { full: { type: 'boolean' }, json: { type: 'boolean' }, dir: { type: 'string' } },
  async run(a, io) {
    return withFactory(a, io, async (f) => {
      const { rescan } = await import('../operate/index.js');
      const r = await rescan(f, { full: Boolean(a.values.full) });
      if (a.values.json) {
        io.out(JSON.stringify(r));
        return 0;
      }
      io.out(`rescan (${r.full ? 'full' : 'incremental'}) against ${r.database.digest.slice(0, 19)}… of ${r.database.date}: ${r.advisoriesChanged} advisor${r.advisoriesChanged === 1 ? 'y' : 'ies'} considered, ${r.artifactsEvaluated} artifact${r.artifactsEvaluated === 1 ? '' : 's'} evaluated, ${r.statementsSigned} new signed scan${r.statementsSigned === 1 ? '' : 's'}, ${Math.round(r.durationMs)} ms`);
      for (const x of r.newFindings) io.out(`  new       ${x.vulnerability} (${x.severity}) in ${x.purl}  ${short(x.artifact)}`);
      for (const x of r.resolvedFindings) io.out(`  resolved  ${x.vulnerability} in ${x.purl}  ${short(x.artifact)}`);
      for (const d of r.atRisk) io.out(`  at risk   ${d.deployment} runs ${short(d.artifact)}: ${d.vulnerabilities.join(', ')}`);
      return 0;
    });
  },
};

export const fsckCommand: Command = {
  name: 'fsck',
  summary: 'check the store: recompute the log, every evidence row against its entry, every graph edge against its evidence',
  usage: `Usage: ssf fsck [--json] [--limit N] [--dir D]

Recomputes the transparency log's tree from its leaves and compares it with
every signed checkpoint; checks every evidence row against its log entry
(payload and envelope hashes, signature, signer certificate), verifies its
DSSE signature and signed entry timestamp; requires a row for every log entry
and an entry for every row; checks that the graph holds exactly the edges
each piece of evidence projects to, and that its current state (newest scans,
open findings, deployments, aliases) is what those edges give. Reports edited,
deleted and inserted rows.
Nothing is repaired (\`ssf graph rebuild\` re-derives the graph).

Options:
  --json      machine-readable report
  --limit N   list at most N problems (default 100; all are counted)
  --dir D     factory data directory
  -h, --help  show this help

Exit status: 0 when the store is consistent; 1 with FACTORY_CORRUPT otherwise.`,
  options: { json: { type: 'boolean' }, limit: { type: 'string' }, dir: { type: 'string' } },
  async run(a, io) {
    const limitText = str(a, 'limit');
    if (limitText !== undefined && !/^[1-9][0-9]*$/.test(limitText)) throw new SsfError('USAGE', `--limit must be a positive integer, got ${JSON.stringify(limitText)}`);
    return withFactory(a, io, async (f) => {
      const { fsck } = await import('../operate/index.js');
      const r = fsck(f, { ...(limitText ? { limit: Number(limitText) } : {}) });
      if (a.values.json) io.out(JSON.stringify(r));
      else {
        io.out(`log: ${r.logSize} entries, ${r.checkpointsChecked} signed checkpoints; evidence: ${r.evidenceChecked} rows; graph: ${r.edgesChecked} edges, ${r.currentChecked} current-state rows`);
        for (const p of r.problems) io.out(`  ${p.area.padEnd(8)} ${p.where}: ${p.problem}`);
        if (r.problemCount > r.problems.length) io.out(`  … and ${r.problemCount - r.problems.length} more`);
      }
      if (!r.ok) throw new SsfError('FACTORY_CORRUPT', `fsck found ${r.problemCount} problem${r.problemCount === 1 ? '' : 's'} (first: ${r.problems[0]?.area} ${r.problems[0]?.where}: ${r.problems[0]?.problem})`);
      if (!a.values.json) io.out('ok');
      return 0;
    });
  },
};

export const ingestCommand: Command = {
  name: 'ingest',
  summary: "take in third-party evidence (a supplier's SBOM, a package's provenance): verified, logged, in the graph",
  usage: `Usage: ssf ingest BUNDLE --trusted-root FILE [--revocations FILE]
                  [--certificate-identity ID] [--dir D]

BUNDLE is a Sigstore bundle (v0.3) of an in-toto statement signed elsewhere: a
supplier's signed SBOM or scan, another factory's provenance. It is verified
offline against the trusted root you name (the signer's, not this factory's):
signature, certificate chain, transparency-log proof and checkpoint,
revocation. Only then is its envelope logged in this factory's log, stored,
and projected into the graph, each edge marked third-party with the
identity that signed it. An unverifiable bundle changes nothing.

Options:
  --trusted-root FILE          the signer's trusted_root.json
  --revocations FILE           its signed revocation list (default: beside the
                               trusted root; a warning when there is none)
  --certificate-identity ID    require this signer identity (SPIFFE ID, URI)
  --dir D                      factory data directory
  -h, --help                   show this help`,
  options: { 'trusted-root': { type: 'string' }, revocations: { type: 'string' }, 'certificate-identity': { type: 'string' }, dir: { type: 'string' } },
  positionals: { min: 1, max: 1 },
  async run(a, io) {
    const file = a.positionals[0] as string;
    if (!existsSync(file)) throw new SsfError('FILE_NOT_FOUND', `bundle ${file} does not exist`);
    need(a, 'trusted-root', 'ingest');
    const { readTextFile, sha256File: hashFile } = await import('../core/index.js');
    const { trustFromArgs } = await import('./trust-args.js');
    const { BundleVerifier } = await import('../verify/index.js');
    const { trust, revocations, trustPath } = trustFromArgs(a, io);
    let bundle: unknown;
    try {
      bundle = JSON.parse(readTextFile(file, 'bundle', 64 * 1024 * 1024));
    } catch (e) {
      if (e instanceof SsfError) throw e;
      throw new SsfError('BUNDLE_MALFORMED', `${file} is not JSON`);
    }
    const verifier = new BundleVerifier(trust, { revocations });
    const want = str(a, 'certificate-identity');
    if (want !== undefined) verifier.verify(bundle, { identity: want });
    return withFactory(a, io, async (f) => {
      const r = f.ingest(bundle, verifier, { file, trustedRootSha256: `sha256:${hashFile(trustPath)}` });
      io.out(`ingested ${r.predicateType} about ${r.subjects} subject${r.subjects === 1 ? '' : 's'}, signed by ${r.signer} (verified with ${trustPath}); logged at #${r.logIndex}`);
      return 0;
    });
  },
};
