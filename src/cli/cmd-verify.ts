import { existsSync } from 'node:fs';
import { SsfError, parseDigestRef, readTextFile, sha256File, type DigestRef } from '../core/index.js';
import { Factory, layoutOf, resolveDataDir } from '../factory/index.js';
import { Runner } from '../platform/index.js';
import { BundleVerifier, verifyProvenanceChain } from '../verify/index.js';
import { str, type Command, type Io, type ParsedArgs } from './command.js';
import { trustFromArgs } from './trust-args.js';

/** The provenance bundle: --provenance FILE, else the newest successful run in the factory that published the artifact. */
function provenanceFor(a: ParsedArgs, io: Io, artifact: DigestRef): unknown {
  const file = str(a, 'provenance');
  if (file) return readTextFile(file, 'provenance bundle', 16 * 1024 * 1024);
  const dir = resolveDataDir(str(a, 'dir'), io.env);
  if (!existsSync(layoutOf(dir).config)) throw new SsfError('USAGE', `no --provenance given and no factory in ${dir} to look the artifact up in; pass --provenance FILE --trusted-root FILE`);
  const f = Factory.open(dir);
  try {
    const runs = new Runner(f).runs.runsForArtifact(`sha256:${artifact.hex}`);
    const run = runs[0];
    if (!run || run.provenance_log_index === null) throw new SsfError('ARTIFACT_NOT_FOUND', `no successful run of this factory published sha256:${artifact.hex}`);
    return f.bundleOf(f.evidence.getByLogIndex(run.provenance_log_index));
  } finally {
    f.close();
  }
}

export const verifyCommand: Command = {
  name: 'verify',
  summary: 'verify an artifact offline against its SLSA provenance and the signed task chain',
  usage: `Usage: ssf verify ARTIFACT [--provenance FILE] [--trusted-root FILE] [--revocations FILE]
                  [--json] [--dir D]

ARTIFACT is a file, or a digest sha256:<64 hex>. Checks, using only the
trusted root (and revocation list):
  - the provenance bundle: DSSE signature, certificate chain to the factory's
    CA, code-signing profile, transparency-log inclusion proof and signed
    checkpoint, revocation; its subject is the artifact's digest;
  - its signer is the factory's builder identity and builder.id says so;
  - every task statement embedded in the provenance: each signed by that
    task's own identity for this run, logged and not revoked;
  - the chain: every workspace a task read is exactly what the task that
    wrote it signed; the artifact is a product of the publish task;
  - every evidence document of the run (SBOM, vulnerability scan, licences,
    secrets): each signed by its task's own identity; those whose subject is
    the artifact are listed.

Options:
  --provenance FILE    the provenance bundle (default: looked up in the factory)
  --trusted-root FILE  trusted_root.json (default: the factory's in --dir)
  --revocations FILE   signed revocation list (default: revocations.json beside
                       the trusted root)
  --json               machine-readable result
  --dir D              factory data directory
  -h, --help           show this help

Exit status: 0 verified; 1 with the reason on standard error when verification
fails; 2 on usage errors.`,
  options: { provenance: { type: 'string' }, 'trusted-root': { type: 'string' }, revocations: { type: 'string' }, json: { type: 'boolean' }, dir: { type: 'string' } },
  positionals: { min: 1, max: 1 },
  async run(a, io) {
    const target = a.positionals[0] as string;
    let artifact = parseDigestRef(target);
    if (!artifact) {
      if (target.startsWith('sha256:')) throw new SsfError('USAGE', `${JSON.stringify(target)} is not a digest of the form sha256:<64 hex>`);
      if (!existsSync(target)) throw new SsfError('FILE_NOT_FOUND', `artifact ${target} does not exist`);
      artifact = { algorithm: 'sha256', hex: sha256File(target) };
    }
    const bundle = provenanceFor(a, io, artifact);
    const { trust, revocations } = trustFromArgs(a, io);
    const report = verifyProvenanceChain(new BundleVerifier(trust, { revocations }), bundle, artifact);
    const deps = report.provenance.buildDefinition.resolvedDependencies ?? [];
    const source = deps.find((d) => d.name === 'source');
    if (a.values.json) {
      io.out(JSON.stringify({
        verified: true, artifact: `sha256:${artifact.hex}`, name: report.subjectName, runId: report.runId, builder: report.builderId,
        pipelineDigest: report.pipelineDigest ?? null, provenanceLogIndex: report.provenanceLogIndex, source: source ?? null,
        node: report.node ? { identity: report.node.identity, logIndex: report.node.logIndex } : null,
        tasks: report.tasks.map((t) => ({ name: t.name, identity: t.identity, logIndex: t.logIndex })),
        dependencies: deps.filter((d) => d.uri?.startsWith('pkg:')).length,
        evidence: report.evidence.filter((e) => e.aboutArtifact).map((e) => ({ task: e.task, identity: e.identity, predicateType: e.predicateType, logIndex: e.logIndex })),
      }));
      return 0;
    }
    io.out(`OK: ${target} (${report.subjectName || `sha256:${artifact.hex}`}) verified`);
    io.out(`  built by:   ${report.builderId}, run ${report.runId} (provenance log #${report.provenanceLogIndex})`);
    if (report.pipelineDigest) io.out(`  pipeline:   ${report.pipelineDigest}`);
    if (source) io.out(`  source:     ${source.uri ?? '?'}${source.digest?.gitCommit ? ` @ ${source.digest.gitCommit}` : ''} (tree sha256:${source.digest?.sha256 ?? '?'})`);
    io.out(`  packages:   ${deps.filter((d) => d.uri?.startsWith('pkg:')).length} locked dependencies with integrity`);
    if (report.node) io.out(`  node:       ${report.node.identity} (log #${report.node.logIndex})`);
    io.out(`  task chain: ${report.tasks.map((t) => t.name).join(' → ')} (each signed by its own identity; workspaces match between tasks)`);
    for (const e of report.evidence.filter((x) => x.aboutArtifact)) io.out(`  evidence:   ${e.predicateType} by task ${e.task} (log #${e.logIndex})`);
    return 0;
  },
};
