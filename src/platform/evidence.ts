import { existsSync, readFileSync } from 'node:fs';
import { basename, resolve } from 'node:path';
import { SsfError, sha256Hex, sha256File } from '../core/index.js';
import type { ResourceDescriptor } from '../attest/index.js';
import type { BundleVerifier } from '../verify/index.js';
import type { TaskDef, EvidenceSubject, EvidenceTaskKind } from '../pipeline/index.js';
import {
  PREDICATE, SCANNER, VulnDb, applyVex, evaluateLicenses, gatingLicenses, gatingSecrets, gatingVulns, loadAllowlist, loadLicensePolicy,
  parseVex, readSbomInput, scanSecrets, toCycloneDx, toSarif, toSpdx, vulnsPredicate, findLockfile,
  type Sbom, type VexDocument,
} from '../analysis/index.js';
import { insideWorkspace, matchFiles } from './paths.js';


/** What an evidence task needs from the run around it. */
export interface EvidenceContext {
  readonly task: TaskDef;
  /** Host directory of a workspace. */
  wsDir(name: string): string;
  /** Directory of the pipeline file: VEX, policy and allowlist paths are relative to it. */
  readonly pipelineDir: string;
  /** The factory's advisory database file. */
  readonly vulnDb: string;
  /** Manifest digests of the images built so far, by image task. */
  readonly images: ReadonlyMap<string, { digest: string; mediaType: string }>;
  readonly verifier: () => BundleVerifier;
  readonly now: Date;
}

/** One signed document about the subjects, plus the facts the task's link records. */
export interface EvidenceResult {
  readonly kind: EvidenceTaskKind;
  readonly predicateType: string;
  readonly predicate: Record<string, unknown>;
  readonly subjects: ResourceDescriptor[];
  /** Files written next to the bundle (the document itself; SARIF for scans), name → bytes. */
  readonly files: Map<string, Buffer>;
  readonly materials: ResourceDescriptor[];
  readonly summary: Record<string, unknown>;
  /** Set when the findings cross the task's failOn threshold: the evidence is signed, then the task fails. */
  readonly failure?: SsfError;
}

function hex(d: string): string {
  return d.replace(/^sha256:/, '');
}

/** The statement's subjects: files in mounted workspaces (by digest) and built images. */
export function resolveSubjects(ctx: EvidenceContext, subjects: EvidenceSubject[]): ResourceDescriptor[] {
  const out: ResourceDescriptor[] = [];
  for (const s of subjects) {
    if ('image' in s) {
      const m = ctx.images.get(s.image);
      if (!m) throw new SsfError('PIPELINE_INVALID', `task ${ctx.task.name}: image task ${s.image} has not built an image`);
      out.push({ name: `image/${s.image}`, digest: { sha256: hex(m.digest) }, mediaType: m.mediaType });
      continue;
    }
    for (const f of matchFiles(ctx.wsDir(s.from), s.path, `task ${ctx.task.name} subject`)) {
      out.push({ name: basename(f), digest: { sha256: sha256File(f) } });
    }
  }
  return out;
}

/** A file the pipeline names next to itself (VEX, policy, allowlist), as text plus a material. */
function pipelineFile(ctx: EvidenceContext, rel: string, what: string, materials: ResourceDescriptor[]): string {
  const p = resolve(ctx.pipelineDir, rel);
  if (!existsSync(p)) throw new SsfError('FILE_NOT_FOUND', `task ${ctx.task.name}: ${what} ${rel} does not exist (paths are relative to the pipeline file)`);
  const bytes = readFileSync(p);
  materials.push({ name: `${what}/${basename(p)}`, digest: { sha256: sha256Hex(bytes) } });
  return bytes.toString('utf8');
}

function sbomOf(ctx: EvidenceContext, from: string, lockfile: string | undefined, materials: ResourceDescriptor[]): Sbom {
  const root = ctx.wsDir(from);
  const path = lockfile ? insideWorkspace(root, lockfile, 'lockfile') : findLockfile(root);
  const sbom = readSbomInput(path);
  materials.push({ name: `lockfile/${basename(path)}`, digest: { sha256: hex(sbom.source.digest) } });
  return sbom;
}

const VEX_SIGNER = /^spiffe:\/\/[^/]+\/evidence\/vex$/;

/** Verifies signed VEX bundles against the factory's trust root; returns the documents and their signers. */
export function verifiedVex(bundles: { text: string; file: string }[], verifier: BundleVerifier): { doc: VexDocument; signer?: string }[] {
  return bundles.map(({ text, file }) => {
    let v;
    try {
      v = verifier.verify(text);
    } catch (e) {
      throw new SsfError('VEX_INVALID', `${file}: the VEX bundle does not verify: ${(e as Error).message}`);
    }
    if (v.statement.predicateType !== PREDICATE.openvex) throw new SsfError('VEX_INVALID', `${file}: the bundle is a ${v.statement.predicateType} statement, not OpenVEX`);
    // Only the identity `ssf vex sign` uses may suppress findings, and only for a limited time:
    // a bundle from any other workload identity of the factory (ssf attest, a run task) is refused.
    if (!VEX_SIGNER.test(v.signer.identity ?? '')) throw new SsfError('VEX_INVALID', `${file}: VEX is signed by ${v.signer.identity ?? 'a key'}, not by the factory's VEX identity (spiffe://<trust domain>/evidence/vex, used by \`ssf vex sign\`)`);
    const doc = parseVex(JSON.stringify(v.statement.predicate), { file });
    if (!doc.expires && doc.statements.some((st) => !st.expires)) throw new SsfError('VEX_INVALID', `${file}: the signed VEX has no expiry; sign it with \`ssf vex sign --expires\``);
    return { doc, ...(v.signer.identity ? { signer: v.signer.identity } : {}) };
  });
}

/** Runs one evidence task with ssf's own code: reads the mounted workspace, writes nothing there. */
export async function runEvidence(ctx: EvidenceContext): Promise<EvidenceResult> {
  const task = ctx.task;
  const kind = task.kind as EvidenceTaskKind;
  const materials: ResourceDescriptor[] = [];
  const files = new Map<string, Buffer>();
  const json = (v: unknown): Buffer => Buffer.from(JSON.stringify(v, null, 2) + '\n');
  switch (kind) {
    case 'sbom': {
      const spec = task.sbom ?? (() => { throw new SsfError('PIPELINE_INVALID', `task ${task.name} has no sbom block`); })();
      const subjects = resolveSubjects(ctx, spec.subjects);
      const sbom = sbomOf(ctx, spec.from, spec.lockfile, materials);
      const format = spec.format ?? 'cyclonedx';
      const opts = { timestamp: ctx.now, tool: { name: SCANNER.name, version: SCANNER.version } };
      const predicate = format === 'spdx' ? toSpdx(sbom, opts) : toCycloneDx(sbom, opts);
      files.set(`${task.name}.${format === 'spdx' ? 'spdx' : 'cdx'}.json`, json(predicate));
      return {
        kind, predicateType: format === 'spdx' ? PREDICATE.spdx : PREDICATE.cyclonedx, predicate, subjects, files, materials,
        summary: { format, components: sbom.components.length, warnings: sbom.warnings.length },
      };
    }
    case 'scan': {
      const spec = task.scan ?? (() => { throw new SsfError('PIPELINE_INVALID', `task ${task.name} has no scan block`); })();
      const subjects = resolveSubjects(ctx, spec.subjects);
      const sbom = sbomOf(ctx, spec.from, spec.lockfile, materials);
      const vex = verifiedVex((spec.vex ?? []).map((f) => ({ text: pipelineFile(ctx, f, 'vex', materials), file: f })), ctx.verifier());
      if (!existsSync(ctx.vulnDb)) throw new SsfError('VULNDB_MISSING', `task ${task.name}: the factory has no advisory database; run \`ssf vulndb import\` first`);
      const db = VulnDb.open(ctx.vulnDb);
      let report;
      try {
        report = db.load(['npm']).match(sbom);
      } finally {
        db.close();
      }
      const applied = applyVex(report.findings, vex, { now: ctx.now, products: subjects.map((s) => `sha256:${s.digest?.sha256 ?? ''}`) });
      report = { ...report, findings: applied.findings, warnings: [...report.warnings, ...applied.warnings] };
      materials.push({ name: 'vulndb', digest: { sha256: hex(report.db.digest) } });
      const predicate = vulnsPredicate(report, { uri: SCANNER.uri, version: SCANNER.version });
      files.set(`${task.name}.vulns.json`, json(predicate));
      files.set(`${task.name}.sarif.json`, json(toSarif({ vulns: report, ...(sbom.source.file ? { sbomFile: `${spec.from}/${spec.lockfile ?? sbom.source.file}` } : {}) }, SCANNER)));
      const threshold = spec.failOn ?? 'high';
      const gating = gatingVulns(report, threshold);
      return {
        kind, predicateType: PREDICATE.vulns, predicate, subjects, files, materials,
        summary: { findings: report.findings.length, gating: gating.length, db: report.db },
        ...(gating.length > 0 ? { failure: new SsfError('FINDINGS_FAILED', `task ${task.name}: ${gating.length} vulnerabilit${gating.length === 1 ? 'y' : 'ies'} at or above ${threshold} (${gating.slice(0, 3).map((f) => `${f.id} in ${f.component.name}@${f.component.version}`).join(', ')})`) } : {}),
      };
    }
    case 'licenses': {
      const spec = task.licenses ?? (() => { throw new SsfError('PIPELINE_INVALID', `task ${task.name} has no licenses block`); })();
      const subjects = resolveSubjects(ctx, spec.subjects);
      const sbom = sbomOf(ctx, spec.from, spec.lockfile, materials);
      const policy = spec.policy ? loadLicensePolicy(pipelineFile(ctx, spec.policy, 'policy', materials), spec.policy) : undefined;
      const report = evaluateLicenses(sbom, policy);
      const predicate = { scanner: { uri: SCANNER.uri, version: SCANNER.version }, report };
      files.set(`${task.name}.licenses.json`, json(predicate));
      const threshold = spec.failOn ?? 'denied';
      const gating = gatingLicenses(report, threshold);
      return {
        kind, predicateType: PREDICATE.licenses, predicate, subjects, files, materials,
        summary: { components: report.findings.length, gating: gating.length },
        ...(gating.length > 0 ? { failure: new SsfError('FINDINGS_FAILED', `task ${task.name}: ${gating.length} component${gating.length === 1 ? '' : 's'} fail the licence policy (${gating.slice(0, 3).map((f) => `${f.component.name}@${f.component.version}: ${f.declared ?? 'no licence'}`).join(', ')})`) } : {}),
      };
    }
    case 'secrets': {
      const spec = task.secrets ?? (() => { throw new SsfError('PIPELINE_INVALID', `task ${task.name} has no secrets block`); })();
      const subjects = resolveSubjects(ctx, spec.subjects);
      const root = insideWorkspace(ctx.wsDir(spec.from), spec.path ?? '.', 'secrets path');
      const allowlist = spec.allowlist ? loadAllowlist(pipelineFile(ctx, spec.allowlist, 'allowlist', materials), spec.allowlist) : undefined;
      const report = await scanSecrets(root, { ...(allowlist ? { allowlist } : {}) });
      const predicate = { scanner: { uri: SCANNER.uri, version: SCANNER.version }, report };
      files.set(`${task.name}.secrets.json`, json(predicate));
      const n = gatingSecrets(report, spec.failOn ?? 'any');
      return {
        kind, predicateType: PREDICATE.secrets, predicate, subjects, files, materials,
        summary: { filesScanned: report.filesScanned, findings: report.findings.length, suppressed: report.suppressed },
        ...(n > 0 ? { failure: new SsfError('FINDINGS_FAILED', `task ${task.name}: ${n} secret${n === 1 ? '' : 's'} found (${report.findings.slice(0, 3).map((f) => `${f.what} at ${f.file}:${f.line}`).join(', ')})`) } : {}),
      };
    }
  }
}
