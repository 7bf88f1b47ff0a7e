import { chownSync, existsSync, lstatSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { basename, dirname, isAbsolute, join, relative, resolve, sep } from 'node:path';
import { createHash, randomBytes } from 'node:crypto';
import { SsfError, sha256File, toSsfError, writeFileAtomic } from '../core/index.js';
import {
  INTOTO_LINK_V03, SLSA_PROVENANCE_V1, makeLink, makeProvenance, makeStatement, type ResourceDescriptor,
} from '../attest/index.js';
import type { WorkloadIdentity } from '../trust/index.js';
import { SIGSTORE_BUNDLE_MEDIA_TYPE, SSF_BUILD_TYPE, taskIdentity } from '../verify/index.js';
import type { Factory } from '../factory/index.js';
import {
  lintPipeline, loadPipeline, planRun, resolveParams, substitute, type LoadedPipeline, type PipelineDefinition, type TaskDef, type ToolSpec,
} from '../pipeline/index.js';
import { detectSandbox, prepareWorkspaceDir, runSandboxed, type Mount, type SandboxResult } from '../sandbox/index.js';
import { NPM_SANDBOX_CACHE, NpmMirror, checkoutSource, npmCiArgs, npmRegistry, parseIntegrity, parseNpmLockfile, type LockedPackage, type SourceResult } from '../materials/index.js';
import { diffTrees, hashTree, type TreeDigest } from '../observer/index.js';
import { EMPTY_DIGEST, MEDIA_TYPE, OciLayout, buildImage, deterministicTarGz, type Descriptor } from '../repository/index.js';
import { insideWorkspace, matchOne } from './paths.js';
import { runEvidence, type EvidenceResult } from './evidence.js';
import { measureNode, nodeStatement } from './node.js';
import { RunStore, type RunArtifact, type TaskStatus } from './runstore.js';
import { toolDigest } from './pin.js';
import { findPipelineSignature, type PipelineSignature } from './pipeline-sign.js';
import { decideGate, loadFactoryPolicies, type RecordedDecision } from '../admission/index.js';
import { GATE_LETTERS, assertAllowed, type Gate, type LoadedPolicy } from '../policy/index.js';
import { evaluateLicenses, readSbomInput, VulnDb } from '../analysis/index.js';
import { verifyProvenanceChain } from '../verify/index.js';
import { buildInput, dependenciesInput, publishInput } from './gates.js';

export const SSF_VERSION = '0.1.0';

/** Progress a run reports as it goes (for the CLI's live view and --json). */
export type RunEvent =
  | { type: 'run-start'; runId: string; pipeline: string; tasks: { name: string; kind: string }[] }
  | { type: 'task-start'; runId: string; task: string; kind: string }
  | { type: 'task-output'; task: string; stream: 'stdout' | 'stderr'; chunk: Buffer }
  | { type: 'task-end'; runId: string; task: string; status: TaskStatus; durationMs: number; exitCode: number | null; logIndex: number | null; message?: string }
  | { type: 'gate'; runId: string; gate: Gate; subject: string; allowed: boolean; logIndex: number; warnings: readonly string[]; message?: string }
  | { type: 'run-end'; runId: string; status: 'succeeded' | 'failed'; error?: string };

export interface RunOptions {
  readonly file: string;
  readonly params?: Readonly<Record<string, string>>;
  /** Run without a sandbox when none works here; the provenance then says so. */
  readonly insecureNoSandbox?: boolean;
  /** Refuse an unsigned pipeline definition. */
  readonly requireSigned?: boolean;
  /** Never fetch packages: everything must already be in the mirror. */
  readonly offline?: boolean;
  readonly fetch?: typeof fetch;
  /** The npm registry base URL (default: npm's configured registry). */
  readonly registry?: string;
  readonly onEvent?: (e: RunEvent) => void;
  /** Policies applied on top of the factory's own (files or builtin:<name>), for this run only. */
  readonly policies?: readonly string[];
}

export interface RunOutcome {
  readonly runId: string;
  readonly status: 'succeeded' | 'failed';
  readonly error?: SsfError;
  readonly artifacts: readonly RunArtifact[];
  readonly provenanceLogIndex?: number;
  readonly provenancePath?: string;
  readonly runDir: string;
}

/** What the observer knows about a task once it has run. */
interface TaskRecord {
  readonly task: TaskDef;
  readonly identity: string;
  readonly bundle: Record<string, unknown>;
  readonly logIndex: number;
  readonly products: Map<string, TreeDigest>;
}

const DEFAULT_TIMEOUT_S = 1800;
const DEFAULT_MEMORY_MIB = 4096;

function newRunId(now: Date): string {
  const t = now.toISOString().replace(/[-:]/g, '').replace(/\..*$/, '').replace('T', '-');
  return `${t}-${randomBytes(3).toString('hex')}`;
}

function chownTree(dir: string, uid: number): void {
  chownSync(dir, uid, uid);
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) chownTree(p, uid);
    else chownSync(p, uid, uid);
  }
}

function hexOf(digest: string): string {
  return digest.replace(/^sha256:/, '');
}

/** The strongest hash of an SRI string, as an in-toto digest set entry. */
function integrityDigest(integrity: string): Record<string, string> {
  const { strongest } = parseIntegrity(integrity, 'integrity');
  return { [strongest.algorithm]: strongest.digest.toString('hex') };
}

function purlOf(p: LockedPackage): string {
  const name = p.name.startsWith('@') ? `%40${p.name.slice(1)}` : p.name;
  return `pkg:npm/${name}@${encodeURIComponent(p.version)}`;
}

function bundleDescriptor(name: string, bundle: Record<string, unknown>, logIndex: number): ResourceDescriptor {
  const text = JSON.stringify(bundle);
  return { name, mediaType: SIGSTORE_BUNDLE_MEDIA_TYPE, content: Buffer.from(text).toString('base64'), annotations: { logIndex } };
}

/** Runs one pipeline through the factory: plan, per-task identity + sandbox + observation, provenance, publish. */
export class Runner {
  readonly runs: RunStore;
  readonly repository: OciLayout;

  constructor(private readonly factory: Factory) {
    this.runs = new RunStore(factory.db);
    mkdirSync(factory.layout.repository, { recursive: true });
    this.repository = OciLayout.open(factory.layout.repository);
  }

  async run(opts: RunOptions): Promise<RunOutcome> {
    const f = this.factory;
    const emit = opts.onEvent ?? ((): void => undefined);
    // ---- Gate A: definition, parameters, tools, signature, sandbox. Nothing runs if these fail.
    const loaded = loadPipeline(opts.file);
    // Policies load first: a policy that does not compile or lacks a required signature stops
    // the run before anything is recorded.
    const policies = loadFactoryPolicies(f, opts.policies ?? []);
    // Error-level lint findings (a hard-coded credential would otherwise end up in the
    // append-only log; two tasks writing one workspace at once) stop the run here.
    const lint = lintPipeline(loaded.bytes, loaded.file);
    const lintErrors = lint.filter((x) => x.severity === 'error' && x.rule !== 'unpinned-tool');
    const firstLint = lintErrors[0];
    if (firstLint) {
      throw new SsfError('PIPELINE_LINT', `${firstLint.file}:${firstLint.line}:${firstLint.column}: ${firstLint.rule}: ${firstLint.message}${lintErrors.length > 1 ? ` (and ${lintErrors.length - 1} more; run \`ssf lint\`)` : ''}`);
    }
    const params = resolveParams(loaded.def, { ...(opts.params ?? {}) });
    const def = substitute(loaded.def, params);
    const plan = planRun(def);
    const signature = findPipelineSignature(f, loaded);
    if (opts.requireSigned && !signature) {
      throw new SsfError('PIPELINE_SIGNATURE', `pipeline ${loaded.file} (${loaded.digest}) is not signed; run \`ssf pipeline sign ${loaded.file}\` or drop --require-signed`);
    }
    const sb = detectSandbox();
    if (sb.backend === 'none' && !opts.insecureNoSandbox) {
      throw new SsfError('SANDBOX_UNAVAILABLE', `no sandbox works on this host (${sb.reason ?? 'bubblewrap and unshare both failed'}); install bubblewrap, or pass --insecure-no-sandbox to run unisolated`);
    }
    if (!def.tasks.some((t) => t.kind === 'publish')) {
      throw new SsfError('PIPELINE_INVALID', `pipeline ${loaded.file} has no publish task, so a run could not publish anything or sign provenance; add one`);
    }
    const tools = new Map<string, { spec: ToolSpec; digest: string }>();
    for (const t of def.tools) {
      const actual = await toolDigest(t);
      if (actual !== t.digest) {
        throw new SsfError('TOOL_DIGEST_MISMATCH', `tool ${t.name} at ${t.path} is ${actual} but the pipeline pins ${t.digest}; run \`ssf pipeline pin ${loaded.file}\` if the new binary is trusted`);
      }
      tools.set(t.name, { spec: t, digest: actual });
    }

    this.runs.reapAbandoned(f.clock.now());
    const startedAt = f.clock.now();
    const runId = newRunId(startedAt);
    const runDir = join(f.layout.runs, runId);
    mkdirSync(join(runDir, 'logs'), { recursive: true });
    mkdirSync(join(runDir, 'evidence'), { recursive: true });
    this.runs.create({
      id: runId, pipeline: def.metadata.name, pipelineDigest: loaded.digest, pipelineFile: loaded.file, params, startedAt,
      insecure: sb.backend === 'none', tasks: plan.order.map((t) => ({ name: t.name, kind: t.kind })),
    });
    emit({ type: 'run-start', runId, pipeline: def.metadata.name, tasks: plan.order.map((t) => ({ name: t.name, kind: t.kind })) });

    const ctx = new RunContext(f, this, runId, runDir, loaded, def, params, tools, opts, emit, policies, signature);
    try {
      // ---- Gate A by policy: the build request as a documented input, decided and signed.
      await ctx.gate('build', buildInput({
        time: f.clock.now(), trustDomain: f.trustDomain, loaded, def, signature, toolDigests: new Map([...tools].map(([k, v]) => [k, v.digest])),
        lint, params, sandbox: sb,
      }), {
        subjects: [{ name: basename(loaded.file), digest: { sha256: hexOf(loaded.digest) } }],
        resourceUri: `file://${loaded.file}`, subject: { pipeline: def.metadata.name },
        inputAttestations: signature ? [{ name: 'pipeline-signature', digest: { sha256: hexOf(loaded.digest) }, annotations: { logIndex: signature.logIndex } }] : [],
      });
      await ctx.attestNode();
      for (const task of plan.order) await ctx.runTask(task);
      const outcome = await ctx.finish(startedAt, signature);
      emit({ type: 'run-end', runId, status: 'succeeded' });
      return outcome;
    } catch (e) {
      const err = toSsfError(e);
      this.runs.finish(runId, { status: 'failed', finishedAt: f.clock.now(), error: `${err.code}: ${err.message}` });
      emit({ type: 'run-end', runId, status: 'failed', error: `${err.code}: ${err.message}` });
      return { runId, status: 'failed', error: err, artifacts: [], runDir };
    }
  }
}

/** Per-run state: workspaces, the chain of signed task records, materials for the provenance. */
class RunContext {
  private readonly records: TaskRecord[] = [];
  private readonly lastWriter = new Map<string, TaskRecord>();
  private nodeBundle?: { bundle: Record<string, unknown>; logIndex: number; nodeId: string; measurementDigest: string };
  private source?: SourceResult;
  private packages: LockedPackage[] = [];
  private images = new Map<string, Descriptor>();
  private pending: { artifact: RunArtifact; manifest: Descriptor }[] = [];
  /** Signed evidence documents of this run, attached at publish to the artifacts they are about. */
  private evidence: { task: string; predicateType: string; bundle: Record<string, unknown>; logIndex: number; digests: Set<string> }[] = [];

  constructor(
    private readonly f: Factory,
    private readonly runner: Runner,
    private readonly runId: string,
    private readonly runDir: string,
    private readonly loaded: LoadedPipeline,
    private readonly def: PipelineDefinition,
    private readonly params: Record<string, string | boolean | number>,
    private readonly tools: Map<string, { spec: ToolSpec; digest: string }>,
    private readonly opts: RunOptions,
    private readonly emit: (e: RunEvent) => void,
    private readonly policies: readonly LoadedPolicy[],
    private readonly signature: PipelineSignature | undefined,
  ) {}

  /**
   * Decides a gate by policy and records the signed decision (VSA) and its input beside the
   * run's evidence; a denial throws POLICY_DENIED after the decision is stored.
   */
  async gate(gate: Gate, input: Record<string, unknown>, opts: Parameters<typeof decideGate>[4] & { fileTag?: string }): Promise<RecordedDecision> {
    const d = await decideGate(this.f, this.policies, gate, input, { ...opts, runId: this.runId });
    const tag = `gate-${GATE_LETTERS[gate]}-${gate}${opts.fileTag ? `-${opts.fileTag}` : ''}`;
    writeFileAtomic(join(this.runDir, 'evidence', `${tag}.input.json`), JSON.stringify(input, null, 2) + '\n');
    writeFileAtomic(join(this.runDir, 'evidence', `${tag}.vsa.sigstore.json`), JSON.stringify(d.bundle));
    this.gateBundles.push({ name: tag, bundle: d.bundle, logIndex: d.logIndex });
    const subject = opts.subjects[0]?.name ?? '';
    let message: string | undefined;
    try {
      assertAllowed(d.decision, gate === 'build' ? `pipeline ${this.def.metadata.name}` : subject, d.logIndex);
    } catch (e) {
      message = (e as Error).message;
      this.emit({ type: 'gate', runId: this.runId, gate, subject, allowed: false, logIndex: d.logIndex, warnings: d.decision.warnings, message });
      throw e;
    }
    this.emit({ type: 'gate', runId: this.runId, gate, subject, allowed: true, logIndex: d.logIndex, warnings: d.decision.warnings });
    return d;
  }
  private readonly gateBundles: { name: string; bundle: Record<string, unknown>; logIndex: number }[] = [];

  private wsDir(name: string): string {
    const d = join(this.runDir, 'ws', name);
    if (!existsSync(d)) {
      mkdirSync(dirname(d), { recursive: true });
      prepareWorkspaceDir(d);
    }
    return d;
  }

  /** Node attestation: measure this host and sign it before any task is placed here. */
  async attestNode(): Promise<void> {
    const nodeTool = [...this.tools.values()].find((t) => t.spec.path === process.execPath);
    const m = await measureNode(SSF_VERSION, nodeTool ? { nodeSha256: hexOf(nodeTool.digest) } : {});
    const st = nodeStatement(m);
    const identity = await this.f.issueIdentity(['node', m.nodeId]);
    const [res] = this.f.attest([{ statement: st, identity }]);
    if (!res) throw new SsfError('INTERNAL', 'node attestation produced no bundle');
    this.nodeBundle = { bundle: res.bundle, logIndex: res.logIndex, nodeId: m.nodeId, measurementDigest: st.subject[0]?.digest?.sha256 ?? '' };
    this.runner.runs.setNode(this.runId, res.logIndex);
    writeFileAtomic(join(this.runDir, 'evidence', 'node.sigstore.json'), JSON.stringify(res.bundle));
  }

  /**
   * Before a task reads a workspace another task wrote, the writer's signed statement is
   * verified and the workspace re-hashed: it must be exactly what the writer signed.
   */
  private async checkInputs(task: TaskDef): Promise<Map<string, TreeDigest>> {
    const before = new Map<string, TreeDigest>();
    for (const w of task.workspaces) {
      const now = await hashTree(this.wsDir(w.name));
      const writer = this.lastWriter.get(w.name);
      if (writer) {
        const v = this.f.verifier().verify(writer.bundle, { identity: writer.identity });
        const signed = v.statement.subject.find((s) => s.name === `workspace/${w.name}`)?.digest?.sha256;
        if (signed !== hexOf(now.digest)) {
          const prev = writer.products.get(w.name);
          const d = prev ? diffTrees(prev, now) : undefined;
          const what = d ? [...d.changed.map((p) => `${p} modified`), ...d.added.map((p) => `${p} added`), ...d.removed.map((p) => `${p} removed`)].slice(0, 3).join(', ') : '';
          throw new SsfError('WORKSPACE_TAMPERED', `workspace ${w.name} changed after task ${writer.task.name} signed it${what ? ` (${what})` : ''}; task ${task.name} was not started`);
        }
      }
      before.set(w.name, now);
    }
    return before;
  }

  async runTask(task: TaskDef): Promise<void> {
    const started = this.f.clock.now();
    this.runner.runs.taskStarted(this.runId, task.name, started);
    this.emit({ type: 'task-start', runId: this.runId, task: task.name, kind: task.kind });
    const nodeId = this.nodeBundle?.nodeId ?? 'unattested';
    const identityName = taskIdentity(this.f.trustDomain, this.runId, task.name, nodeId);
    let identity: WorkloadIdentity | undefined;
    let status: TaskStatus = 'failed';
    let exitCode: number | null = null;
    let failure: SsfError | undefined;
    const t0 = performance.now();
    const materials: ResourceDescriptor[] = [];
    const subjects: ResourceDescriptor[] = [];
    const byproducts: Record<string, unknown> = { kind: task.kind, runId: this.runId, pipelineDigest: this.loaded.digest };
    const environment: Record<string, unknown> = { node: this.nodeBundle ? { id: this.nodeBundle.nodeId, measurement: { sha256: this.nodeBundle.measurementDigest }, logIndex: this.nodeBundle.logIndex } : null };
    let command: string[] = [];
    const products = new Map<string, TreeDigest>();
    let inputs = new Map<string, TreeDigest>();
    /** Output hashes a task kind already computed, so they are not computed twice. */
    const afterHashes = new Map<string, TreeDigest>();
    try {
      inputs = await this.checkInputs(task);
      for (const [name, t] of inputs) materials.push({ name: `workspace/${name}`, digest: { sha256: hexOf(t.digest) } });
      identity = await this.f.issueIdentity(['run', this.runId, 'task', task.name, 'node', nodeId]);
      const r = await this.execute(task, inputs, afterHashes, materials, byproducts, environment);
      command = r.command;
      exitCode = r.exitCode;
      subjects.push(...r.subjects);
      if (r.evidence) {
        // The document is signed by this task's identity before any failOn decision, so a
        // failed gate still leaves its evidence behind.
        const ev = r.evidence;
        const [res] = this.f.attest([{ statement: makeStatement(ev.subjects, ev.predicateType, ev.predicate), identity }]);
        if (!res) throw new SsfError('INTERNAL', `task ${task.name}: no evidence bundle produced`);
        writeFileAtomic(join(this.runDir, 'evidence', `${task.name}.${task.kind}.sigstore.json`), JSON.stringify(res.bundle));
        this.evidence.push({ task: task.name, predicateType: ev.predicateType, bundle: res.bundle, logIndex: res.logIndex, digests: new Set(ev.subjects.map((x) => `sha256:${x.digest?.sha256 ?? ''}`)) });
        byproducts.evidence = { predicateType: ev.predicateType, logIndex: res.logIndex, subjects: ev.subjects };
        if (ev.failure) throw ev.failure;
      }
      if (r.result) {
        byproducts.exitCode = r.result.exitCode;
        byproducts.signal = r.result.signal;
        byproducts.timedOut = r.result.timedOut;
        byproducts.oomKilled = r.result.oomKilled;
        environment.isolation = r.result.isolation;
        for (const s of ['stdout', 'stderr'] as const) {
          const p = join(this.runDir, 'logs', `${task.name}.${s}`);
          if (existsSync(p)) subjects.push({ name: `log/${task.name}.${s}`, digest: { sha256: sha256File(p) } });
        }
        if (r.result.exitCode !== 0 || r.result.timedOut || r.result.oomKilled) {
          const why = r.result.timedOut ? 'timed out' : r.result.oomKilled ? 'exceeded its memory limit' : r.result.signal ? `was killed by ${r.result.signal}` : `exited with status ${r.result.exitCode}`;
          throw new SsfError('TASK_FAILED', `task ${task.name} ${why}; its output is in ${join(this.runDir, 'logs', task.name)}.stderr`);
        }
      }
      status = 'succeeded';
    } catch (e) {
      failure = toSsfError(e);
      byproducts.error = `${failure.code}: ${failure.message}`;
    }
    // Outputs: every workspace the task could write, digested after it ended (also on failure).
    for (const w of task.workspaces.filter((x) => x.mode === 'rw')) {
      try {
        const t = afterHashes.get(w.name) ?? (await hashTree(this.wsDir(w.name)));
        products.set(w.name, t);
        subjects.unshift({ name: `workspace/${w.name}`, digest: { sha256: hexOf(t.digest) } });
      } catch (e) {
        failure ??= toSsfError(e);
      }
    }
    const finished = this.f.clock.now();
    const durationMs = performance.now() - t0;
    byproducts.startedOn = started.toISOString();
    byproducts.finishedOn = finished.toISOString();
    byproducts.durationMs = Math.round(durationMs);
    byproducts.status = status;
    let logIndex: number | null = null;
    if (identity) {
      if (subjects.length === 0) subjects.push({ name: `task/${task.name}`, digest: { sha256: hexOf(this.loaded.digest) } });
      const link = makeLink({ name: task.name, command, materials, byproducts, environment });
      const st = makeStatement(subjects, INTOTO_LINK_V03, link);
      const [res] = this.f.attest([{ statement: st, identity }]);
      if (!res) throw new SsfError('INTERNAL', `task ${task.name}: no bundle produced`);
      logIndex = res.logIndex;
      writeFileAtomic(join(this.runDir, 'evidence', `task-${task.name}.sigstore.json`), JSON.stringify(res.bundle));
      const rec: TaskRecord = { task, identity: identityName, bundle: res.bundle, logIndex: res.logIndex, products };
      this.records.push(rec);
      for (const w of task.workspaces.filter((x) => x.mode === 'rw')) this.lastWriter.set(w.name, rec);
    }
    this.runner.runs.taskFinished(this.runId, task.name, { status, finishedAt: finished, durationMs, exitCode, logIndex, detail: failure ? { error: `${failure.code}: ${failure.message}` } : {} });
    this.emit({ type: 'task-end', runId: this.runId, task: task.name, status, durationMs, exitCode, logIndex, ...(failure ? { message: `${failure.code}: ${failure.message}` } : {}) });
    if (failure) throw failure;
  }

  private mountsOf(task: TaskDef): Mount[] {
    return task.workspaces.map((w) => ({ host: this.wsDir(w.name), target: `/workspace/${w.name}`, mode: w.mode }));
  }

  private async sandbox(task: TaskDef, command: string[], cwd: string, env: Record<string, string>, extra: Mount[], limits: { timeoutS?: number; memoryMiB?: number }): Promise<SandboxResult> {
    return runSandboxed({
      command, cwd, env, network: 'none',
      mounts: [...this.mountsOf(task), ...extra],
      timeoutMs: (limits.timeoutS ?? DEFAULT_TIMEOUT_S) * 1000,
      memoryBytes: (limits.memoryMiB ?? DEFAULT_MEMORY_MIB) * 1024 * 1024,
      stdoutFile: join(this.runDir, 'logs', `${task.name}.stdout`),
      stderrFile: join(this.runDir, 'logs', `${task.name}.stderr`),
      onOutput: (chunk, stream) => this.emit({ type: 'task-output', task: task.name, stream, chunk }),
      allowInsecure: this.opts.insecureNoSandbox ?? false,
    });
  }

  private tool(name: string, task: TaskDef): { spec: ToolSpec; digest: string } {
    const t = this.tools.get(name);
    if (!t) throw new SsfError('PIPELINE_INVALID', `task ${task.name} uses tool ${name}, which the pipeline does not declare`);
    return t;
  }

  private async execute(task: TaskDef, inputs: Map<string, TreeDigest>, afterHashes: Map<string, TreeDigest>, materials: ResourceDescriptor[], byproducts: Record<string, unknown>, environment: Record<string, unknown>): Promise<{ command: string[]; exitCode: number | null; subjects: ResourceDescriptor[]; result?: SandboxResult; evidence?: EvidenceResult }> {
    const rw = task.workspaces.filter((w) => w.mode === 'rw').map((w) => w.name);
    switch (task.kind) {
      case 'source': {
        const spec = task.source ?? {};
        const ws = rw[0] ?? '';
        const dest = this.wsDir(ws);
        const baseDir = dirname(this.loaded.file);
        // The factory (root) writes the checkout; git refuses to work in a directory another
        // user owns. The tree is handed to the sandbox user afterwards.
        chownSync(dest, process.getuid?.() ?? 0, process.getgid?.() ?? 0);
        const src = await checkoutSource({ ...spec, ...(spec.path ? { path: resolve(baseDir, spec.path) } : {}), ...(spec.allowedSigners ? { allowedSigners: resolve(baseDir, spec.allowedSigners) } : {}) }, dest, { baseDir, hashTree: async (d: string) => (await hashTree(d)).digest });
        chownTree(dest, 65534);
        this.source = src;
        byproducts.source = src;
        const digest: Record<string, string> = { sha256: hexOf(src.treeDigest) };
        if (src.commit) digest.gitCommit = src.commit;
        materials.push({ name: 'source', uri: src.uri, digest });
        return { command: ['ssf:source', src.uri], exitCode: 0, subjects: [] };
      }
      case 'dependencies': {
        const spec = task.dependencies;
        if (!spec) throw new SsfError('PIPELINE_INVALID', `task ${task.name} has no dependencies block`);
        const ws = rw[0] ?? task.workspaces[0]?.name ?? '';
        const root = this.wsDir(ws);
        const lockPath = insideWorkspace(root, spec.lockfile, 'lockfile');
        const registry = this.opts.registry ?? npmRegistry();
        // ---- Gate B by policy, before the strict lockfile rules below (which no policy can relax).
        await this.dependenciesGate(task, lockPath, spec.lockfile, registry);
        const lock = parseNpmLockfile(readFileSync(lockPath, 'utf8'), spec.lockfile, { registry, allowedRegistries: [registry] });
        this.packages = lock.packages;
        const mirror = new NpmMirror(this.f.layout.npmMirror);
        const stats = await mirror.ensure(lock.packages, { offline: this.opts.offline ?? false, ...(this.opts.fetch ? { fetch: this.opts.fetch } : {}) });
        byproducts.dependencies = { manager: 'npm', lockfile: spec.lockfile, lockfileVersion: lock.lockfileVersion, packages: lock.packages.length, mirror: stats };
        materials.push({ name: 'lockfile', digest: { sha256: sha256File(lockPath) } });
        const npm = this.tool(spec.tool, task);
        const node = this.tools.get('node');
        if (!node) throw new SsfError('PIPELINE_INVALID', `task ${task.name}: dependency install needs a tool named node (the runtime for ${spec.tool})`);
        const npmCli = statSync(npm.spec.path).isDirectory() ? join(npm.spec.path, 'bin', 'npm-cli.js') : npm.spec.path;
        const command = [node.spec.path, npmCli, ...npmCiArgs({ registry })];
        const runCache = await mirror.runCache(join(this.runDir, 'npm-cache', task.name), lock.packages, { uid: 65534, gid: 65534 });
        materials.push({ name: `tool/${npm.spec.name}`, uri: `file://${npm.spec.path}`, digest: { sha256: hexOf(npm.digest) } }, { name: `tool/node`, uri: `file://${node.spec.path}`, digest: { sha256: hexOf(node.digest) } });
        const lockDir = dirname(lockPath);
        const cwd = join(`/workspace/${ws}`, relative(root, lockDir));
        const result = await this.sandbox(task, command, cwd, { npm_config_update_notifier: 'false' }, [{ host: runCache.dir, target: NPM_SANDBOX_CACHE, mode: 'rw' }], {});
        environment.network = 'none';
        // One hash of the workspace after the install serves both as the task's product and for
        // the check that nothing outside node_modules changed (compared with the input hash).
        const after = await hashTree(root);
        afterHashes.set(ws, after);
        const before = inputs.get(ws);
        const nm = relative(root, join(lockDir, 'node_modules'));
        const outside = (t: TreeDigest): TreeDigest => ({ ...t, entries: t.entries.filter((e) => e.path !== nm && !e.path.startsWith(`${nm}/`)) });
        const d = before ? diffTrees(outside(before), outside(after)) : { changed: [], added: [], removed: [] };
        const changed = [...d.changed, ...d.added, ...d.removed];
        if (result.exitCode === 0 && changed.length > 0) {
          throw new SsfError('WORKSPACE_TAMPERED', `dependency install changed the source tree outside node_modules (${changed.slice(0, 3).join(', ')})`);
        }
        return { command, exitCode: result.exitCode, subjects: [], result };
      }
      case 'run': {
        const spec = task.run;
        if (!spec) throw new SsfError('PIPELINE_INVALID', `task ${task.name} has no run block`);
        const tool = this.tool(spec.tool, task);
        const command = [tool.spec.path, ...spec.args];
        materials.push({ name: `tool/${tool.spec.name}`, uri: `file://${tool.spec.path}`, digest: { sha256: hexOf(tool.digest) } });
        const cwd = spec.cwd ? `/workspace/${spec.cwd}` : '/workspace';
        environment.env = spec.env ?? {};
        environment.cwd = cwd;
        environment.network = 'none';
        const result = await this.sandbox(task, command, cwd, { ...(spec.env ?? {}) }, [], { ...(spec.timeoutSeconds ? { timeoutS: spec.timeoutSeconds } : {}), ...(spec.memoryMiB ? { memoryMiB: spec.memoryMiB } : {}) });
        return { command, exitCode: result.exitCode, subjects: [], result };
      }
      case 'image': {
        const spec = task.image;
        if (!spec) throw new SsfError('PIPELINE_INVALID', `task ${task.name} has no image block`);
        const from = this.wsDir(spec.from);
        const dir = insideWorkspace(from, spec.path ?? '.', 'image path');
        if (!existsSync(dir)) throw new SsfError('FILE_NOT_FOUND', `task ${task.name}: ${spec.from}/${spec.path ?? '.'} does not exist`);
        const img = await buildImage(this.runner.repository, {
          ...(spec.base ? { base: spec.base } : {}),
          layers: [{ dir, prefix: (spec.target ?? '/app').replace(/^\/+/, '') }],
          config: {
            ...(spec.entrypoint ? { entrypoint: spec.entrypoint } : {}),
            ...(spec.cmd ? { cmd: spec.cmd } : {}),
            ...(spec.env ? { env: Object.entries(spec.env).map(([k, v]) => `${k}=${v}`) } : {}),
            ...(spec.workingDir ? { workingDir: spec.workingDir } : {}),
            user: spec.user ?? '65534',
            labels: { 'org.opencontainers.image.title': this.def.metadata.name },
          },
        });
        this.images.set(task.name, img.manifest);
        byproducts.image = { manifest: img.manifest.digest, config: img.config.digest, layers: img.layers.map((l) => l.digest) };
        if (spec.base && spec.base !== 'scratch') materials.push({ name: 'image/base', digest: { sha256: hexOf(spec.base) } });
        return { command: ['ssf:image'], exitCode: 0, subjects: [{ name: `image/${task.name}`, digest: { sha256: hexOf(img.manifest.digest) }, mediaType: img.manifest.mediaType }] };
      }
      case 'publish': {
        const spec = task.publish;
        if (!spec) throw new SsfError('PIPELINE_INVALID', `task ${task.name} has no publish block`);
        const subjects: ResourceDescriptor[] = [];
        const repo = this.runner.repository;
        for (const a of spec.artifacts) {
          if (a.type === 'image') {
            const m = this.images.get(a.task ?? '') ?? (() => { throw new SsfError('PIPELINE_INVALID', `publish: no image was built by task ${a.task ?? '?'}`); })();
            const name = a.name ?? `${this.def.metadata.name}-image`;
            this.pending.push({ artifact: { name, type: 'image', digest: m.digest, size: m.size, mediaType: m.mediaType }, manifest: m });
            subjects.push({ name, digest: { sha256: hexOf(m.digest) }, mediaType: m.mediaType });
            continue;
          }
          const ws = this.wsDir(a.from ?? '');
          let file: string;
          if (a.type === 'tarball') {
            const dir = insideWorkspace(ws, a.path ?? '.', 'tarball path');
            if (!existsSync(dir)) throw new SsfError('FILE_NOT_FOUND', `publish: ${a.from}/${a.path ?? '.'} does not exist`);
            file = join(this.runDir, 'evidence', a.name ?? 'artifact.tar.gz');
            await deterministicTarGz(dir, file);
          } else {
            file = matchOne(ws, a.path ?? '', `publish artifact ${a.name ?? a.path}`);
          }
          const mediaType = file.endsWith('.tgz') || file.endsWith('.tar.gz') ? 'application/gzip' : 'application/octet-stream';
          const blob = await repo.putBlobFile(file, mediaType);
          const name = a.name ?? basename(file);
          const manifest = repo.putManifest({
            schemaVersion: 2,
            mediaType: MEDIA_TYPE.imageManifest,
            artifactType: a.type === 'tarball' ? 'application/vnd.ssf.tarball.v1' : 'application/vnd.ssf.file.v1',
            config: { mediaType: MEDIA_TYPE.empty, digest: EMPTY_DIGEST, size: 2 },
            layers: [{ ...blob, annotations: { 'org.opencontainers.image.title': name } }],
            annotations: { 'org.opencontainers.image.title': name, 'dev.ssf.run': this.runId },
          });
          this.pending.push({ artifact: { name, type: a.type === 'tarball' ? 'tarball' : 'file', digest: blob.digest, size: blob.size, mediaType }, manifest });
          subjects.push({ name, digest: { sha256: hexOf(blob.digest) } });
        }
        byproducts.artifacts = this.pending.map((p) => p.artifact);
        return { command: ['ssf:publish'], exitCode: 0, subjects };
      }
      case 'sbom':
      case 'scan':
      case 'licenses':
      case 'secrets': {
        const ev = await runEvidence({
          task, wsDir: (n) => this.wsDir(n), pipelineDir: dirname(this.loaded.file), vulnDb: this.f.layout.vulnDb,
          images: new Map([...this.images].map(([k, d]) => [k, { digest: d.digest, mediaType: d.mediaType }])),
          verifier: () => this.f.verifier(), now: this.f.clock.now(),
        });
        materials.push(...ev.materials);
        byproducts[task.kind] = ev.summary;
        const subjects: ResourceDescriptor[] = [];
        for (const [name, bytes] of ev.files) {
          writeFileAtomic(join(this.runDir, 'evidence', name), bytes);
          subjects.push({ name: `evidence/${name}`, digest: { sha256: createHash('sha256').update(bytes).digest('hex') } });
        }
        return { command: [`ssf:${task.kind}`], exitCode: ev.failure ? 1 : 0, subjects, evidence: ev };
      }
      default:
        throw new SsfError('PIPELINE_INVALID', `task ${task.name}: kind ${String(task.kind)} is not supported by this runner`);
    }
  }

  private async dependenciesGate(task: TaskDef, lockPath: string, rel: string, registry: string): Promise<void> {
    const sbom = readSbomInput(lockPath);
    let vulns: { findings: import('../analysis/index.js').Finding[]; db: import('../analysis/index.js').VulnDbInfo } | null = null;
    if (existsSync(this.f.layout.vulnDb)) {
      const db = VulnDb.open(this.f.layout.vulnDb);
      try {
        const r = db.load(['npm']).match(sbom);
        vulns = { findings: r.findings, db: r.db };
      } finally {
        db.close();
      }
    }
    const digest = sha256File(lockPath);
    await this.gate('dependencies', dependenciesInput({
      time: this.f.clock.now(), trustDomain: this.f.trustDomain, pipeline: { name: this.def.metadata.name, digest: this.loaded.digest },
      runId: this.runId, task: task.name, lockfile: { path: rel, digest: `sha256:${digest}`, version: sbom.source.version ?? null }, registry, sbom, vulns,
      licenses: evaluateLicenses(sbom).findings,
    }), {
      subjects: [{ name: rel, digest: { sha256: digest } }], resourceUri: `file://${lockPath}`, subject: { pipeline: this.def.metadata.name }, fileTag: task.name,
    });
  }

  /** Signs the run's SLSA provenance and only then makes the artifacts visible in the repository. */
  async finish(startedAt: Date, signature: PipelineSignature | undefined): Promise<RunOutcome> {
    const f = this.f;
    const resolved: ResourceDescriptor[] = [];
    if (this.source) {
      const digest: Record<string, string> = { sha256: hexOf(this.source.treeDigest) };
      if (this.source.commit) digest.gitCommit = this.source.commit;
      resolved.push({ name: 'source', uri: this.source.uri, digest });
    }
    for (const [, t] of this.tools) resolved.push({ name: `tool/${t.spec.name}`, uri: `file://${t.spec.path}`, digest: { sha256: hexOf(t.digest) } });
    for (const p of this.packages) {
      resolved.push({ name: p.path, uri: purlOf(p), downloadLocation: p.resolved, digest: integrityDigest(p.integrity) });
    }
    const byproducts: ResourceDescriptor[] = [];
    if (this.nodeBundle) byproducts.push(bundleDescriptor(`node/${this.nodeBundle.nodeId}`, this.nodeBundle.bundle, this.nodeBundle.logIndex));
    for (const r of this.records) byproducts.push(bundleDescriptor(`task/${r.task.name}`, r.bundle, r.logIndex));
    for (const e of this.evidence) byproducts.push(bundleDescriptor(`evidence/${e.task}`, e.bundle, e.logIndex));
    const subjects = this.pending.map((p) => ({ name: p.artifact.name, digest: { sha256: hexOf(p.artifact.digest) } }));
    if (subjects.length === 0) throw new SsfError('RUN_FAILED', 'the run published no artifacts (add a publish task)');
    const provenance = makeProvenance({
      buildType: SSF_BUILD_TYPE,
      externalParameters: {
        pipeline: { name: this.def.metadata.name, uri: `file://${this.loaded.file}`, digest: { sha256: hexOf(this.loaded.digest) }, ...(signature ? { signedBy: signature.identity, signatureLogIndex: signature.logIndex } : {}) },
        parameters: this.params,
      },
      internalParameters: {
        trustDomain: f.trustDomain,
        // Each task's own isolation report (mounts, limits) is in its statement's environment.
        sandbox: (({ backend, version }) => ({ backend, ...(version ? { version } : {}) }))(detectSandbox()),
        insecure: detectSandbox().backend === 'none',
      },
      resolvedDependencies: resolved,
      builderId: `spiffe://${f.trustDomain}/factory/builder`,
      builderVersion: { ssf: SSF_VERSION, node: process.version },
      invocationId: this.runId,
      startedOn: startedAt,
      finishedOn: f.clock.now(),
      byproducts,
    });
    const identity = await f.issueIdentity(['factory', 'builder']);
    const [res] = f.attest([{ statement: makeStatement(subjects, SLSA_PROVENANCE_V1, provenance), identity }]);
    if (!res) throw new SsfError('INTERNAL', 'provenance produced no bundle');
    const provenancePath = join(this.runDir, 'evidence', 'provenance.sigstore.json');
    writeFileAtomic(provenancePath, JSON.stringify(res.bundle));
    // ---- Gate C by policy: for each artifact, the run's chain verified from the signed
    // provenance (as a consumer would), then decided; nothing is named or attached before.
    const verifier = f.verifier();
    const kinds = new Map(this.def.tasks.map((t) => [t.name, t.kind as string]));
    const publishDecisions = new Map<string, RecordedDecision>();
    for (const p of this.pending) {
      const report = verifyProvenanceChain(verifier, res.bundle, { algorithm: 'sha256', hex: hexOf(p.artifact.digest) });
      const d = await this.gate('publish', publishInput({ time: f.clock.now(), trustDomain: f.trustDomain, report, artifact: p.artifact, pipelineName: this.def.metadata.name, signature, kinds }), {
        subjects: [{ name: p.artifact.name, digest: { sha256: hexOf(p.artifact.digest) } }],
        resourceUri: `oci:${this.def.metadata.name}/${p.artifact.name}@${p.artifact.digest}`,
        subject: { pipeline: this.def.metadata.name, artifacts: [p.artifact.name] },
        inputAttestations: [{ name: 'provenance', digest: { sha256: createHash('sha256').update(JSON.stringify(res.bundle)).digest('hex') }, annotations: { logIndex: res.logIndex } }],
        fileTag: p.artifact.name.replace(/[^A-Za-z0-9._-]/g, '_'),
      });
      publishDecisions.set(p.artifact.digest, d);
    }
    // Publish: attach the provenance to each artifact, then name the artifact in the index.
    const repo = this.runner.repository;
    const bundleBytes = Buffer.from(JSON.stringify(res.bundle));
    for (const p of this.pending) {
      repo.attach(p.manifest, bundleBytes, { artifactType: SIGSTORE_BUNDLE_MEDIA_TYPE, mediaType: SIGSTORE_BUNDLE_MEDIA_TYPE, annotations: { 'dev.ssf.run': this.runId, 'dev.ssf.predicateType': SLSA_PROVENANCE_V1 } });
      const vsa = publishDecisions.get(p.artifact.digest);
      if (vsa) repo.attach(p.manifest, Buffer.from(JSON.stringify(vsa.bundle)), { artifactType: SIGSTORE_BUNDLE_MEDIA_TYPE, mediaType: SIGSTORE_BUNDLE_MEDIA_TYPE, annotations: { 'dev.ssf.run': this.runId, 'dev.ssf.gate': 'publish', 'dev.ssf.predicateType': 'https://slsa.dev/verification_summary/v1' } });
      for (const e of this.evidence.filter((x) => x.digests.has(p.artifact.digest))) {
        repo.attach(p.manifest, Buffer.from(JSON.stringify(e.bundle)), { artifactType: SIGSTORE_BUNDLE_MEDIA_TYPE, mediaType: SIGSTORE_BUNDLE_MEDIA_TYPE, annotations: { 'dev.ssf.run': this.runId, 'dev.ssf.task': e.task, 'dev.ssf.predicateType': e.predicateType } });
      }
      const manifest = JSON.parse(repo.readBlob(p.manifest.digest).toString('utf8')) as object;
      repo.putManifest(manifest, { refName: `${this.def.metadata.name}/${p.artifact.name}:${this.runId}` });
    }
    const artifacts = this.pending.map((p) => p.artifact);
    this.runner.runs.finish(this.runId, { status: 'succeeded', finishedAt: f.clock.now(), provenanceLogIndex: res.logIndex, artifacts });
    writeFileSync(join(this.runDir, 'evidence', 'artifacts.json'), JSON.stringify(artifacts, null, 2));
    return { runId: this.runId, status: 'succeeded', artifacts, provenanceLogIndex: res.logIndex, provenancePath, runDir: this.runDir };
  }
}
