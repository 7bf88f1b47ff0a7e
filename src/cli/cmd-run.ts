import { copyFileSync, existsSync, mkdirSync, readdirSync, statSync } from 'node:fs';
import { join, resolve, sep } from 'node:path';
import { SsfError } from '../core/index.js';
import { Factory, resolveDataDir } from '../factory/index.js';
import { Runner, type RunEvent, type RunOutcome } from '../platform/index.js';
import { str, strs, type Command, type Io, type ParsedArgs } from './command.js';

function parseParams(a: ParsedArgs): Record<string, string> {
  const out: Record<string, string> = {};
  for (const p of strs(a, 'param')) {
    const i = p.indexOf('=');
    if (i <= 0) throw new SsfError('USAGE', `--param must be NAME=VALUE, got ${JSON.stringify(p)}`);
    const k = p.slice(0, i);
    if (k in out) throw new SsfError('USAGE', `--param ${k} given twice`);
    out[k] = p.slice(i + 1);
  }
  return out;
}

function secs(ms: number): string {
  return ms < 1000 ? `${Math.round(ms)}ms` : `${(ms / 1000).toFixed(1)}s`;
}

/** Renders run events: a live line per task on a terminal, plain lines otherwise, JSON lines with --json. */
function reporter(io: Io, mode: 'tty' | 'plain' | 'json', showLogs: boolean): { onEvent: (e: RunEvent) => void; stop: () => void } {
  let timer: NodeJS.Timeout | undefined;
  let current: { name: string; kind: string; t0: number } | undefined;
  const stop = (): void => {
    if (timer) clearInterval(timer);
    timer = undefined;
  };
  const onEvent = (e: RunEvent): void => {
    if (mode === 'json') {
      if (e.type === 'task-output') return;
      io.out(JSON.stringify(e));
      return;
    }
    switch (e.type) {
      case 'run-start':
        io.out(`run ${e.runId}: pipeline ${e.pipeline}, ${e.tasks.length} task${e.tasks.length === 1 ? '' : 's'}`);
        break;
      case 'task-start':
        current = { name: e.task, kind: e.kind, t0: Date.now() };
        if (mode === 'tty' && io.write && !showLogs) {
          const draw = (): void => {
            if (current) io.write?.(`\r\x1b[K  ⋯ ${current.name} (${current.kind}) running ${secs(Date.now() - current.t0)}`);
          };
          draw();
          timer = setInterval(draw, 250);
          timer.unref();
        } else {
          io.out(`  task ${e.task} (${e.kind}) started`);
        }
        break;
      case 'task-output':
        if (showLogs) io.write ? io.write(e.chunk.toString('utf8')) : io.out(e.chunk.toString('utf8').replace(/\n$/, ''));
        break;
      case 'task-end': {
        stop();
        const mark = e.status === 'succeeded' ? '✓' : '✗';
        const tail = `${secs(e.durationMs)}${e.logIndex !== null ? `  log #${e.logIndex}` : ''}${e.message ? `  ${e.message}` : ''}`;
        if (mode === 'tty' && io.write && !showLogs) io.write(`\r\x1b[K`);
        io.out(mode === 'tty' ? `  ${mark} ${e.task.padEnd(14)} ${tail}` : `  task ${e.task} ${e.status} ${tail}`);
        current = undefined;
        break;
      }
      case 'gate': {
        const letter = { build: 'A', dependencies: 'B', publish: 'C', deploy: 'D' }[e.gate];
        const line = `  ${e.allowed ? '✓' : '✗'} gate ${letter} ${e.gate}${e.gate === 'build' ? '' : ` (${e.subject})`}: ${e.allowed ? 'allowed' : 'denied'}  decision log #${e.logIndex}`;
        if (mode === 'tty' && io.write && current && !showLogs) io.write(`\r\x1b[K`);
        io.out(line);
        for (const w of e.warnings) io.out(`      warning (audit): ${w}`);
        break;
      }
      case 'run-end':
        stop();
        break;
    }
  };
  return { onEvent, stop };
}

export const runCommand: Command = {
  name: 'run',
  summary: 'run a pipeline: each task sandboxed, observed and signed; SLSA provenance at the end',
  usage: `Usage: ssf run [PIPELINE.yaml] [--param NAME=VALUE]... [--json] [--logs]
               [--policy FILE|builtin:NAME]... [--require-signed] [--offline]
               [--insecure-no-sandbox] [--dir D]

Runs the pipeline (default: ./ssf-pipeline.yaml) through the factory in --dir.
Before anything runs: the definition is validated, parameters checked against
the ones it declares, every tool's digest compared with its pin, and the
sandbox backend probed. Then, task by task: the workspaces the task reads are
re-hashed and checked against the signed statement of the task that wrote
them; the task gets its own short-lived identity; it runs in a fresh sandbox
(no network, only its declared workspaces); its inputs and outputs are
digested and an in-toto statement signed, logged and stored. A successful run
ends with SLSA Provenance v1 signed by the factory, and its artifacts are
published to the repository in the data dir (an OCI image layout).

Policy gates decide by the factory's policies (\`ssf policy list\`) plus any
--policy: gate A before the run starts (the build request), gate B before
dependencies are installed, gate C before anything is published (per
artifact, from the verified provenance chain). Each decision is signed as an
SLSA VSA and stored; a denial stops the run and names the failing rules.

Options:
  --param NAME=VALUE      set a declared parameter (repeatable)
  --json                  one JSON object per event, for machines
  --logs                  stream task output
  --policy REF            also apply this policy (a file or builtin:NAME) to
                          this run (repeatable)
  --require-signed        refuse a definition not signed with \`ssf pipeline sign\`
  --offline               never fetch packages; the mirror must have them
  --insecure-no-sandbox   run without isolation when no sandbox works here
                          (the provenance records it)
  --dir D                 factory data directory (default: $SSF_DIR or ./.ssf)
  -h, --help              show this help

Exit status: 0 when the run succeeded, 1 when it failed (the failing task's
evidence is still signed and stored; nothing is published), 2 on usage errors.`,
  options: {
    param: { type: 'string', multiple: true },
    policy: { type: 'string', multiple: true },
    json: { type: 'boolean' },
    logs: { type: 'boolean' },
    'require-signed': { type: 'boolean' },
    offline: { type: 'boolean' },
    'insecure-no-sandbox': { type: 'boolean' },
    dir: { type: 'string' },
  },
  positionals: { min: 0, max: 1 },
  async run(a, io) {
    const file = resolve(a.positionals[0] ?? 'ssf-pipeline.yaml');
    if (!existsSync(file)) throw new SsfError('FILE_NOT_FOUND', `pipeline ${file} does not exist`);
    const params = parseParams(a);
    const f = Factory.open(resolveDataDir(str(a, 'dir'), io.env));
    const mode = a.values.json ? 'json' : io.outIsTty ? 'tty' : 'plain';
    const rep = reporter(io, mode, Boolean(a.values.logs));
    let outcome: RunOutcome;
    try {
      outcome = await new Runner(f).run({
        file, params, onEvent: rep.onEvent, policies: strs(a, 'policy'),
        requireSigned: Boolean(a.values['require-signed']),
        offline: Boolean(a.values.offline),
        insecureNoSandbox: Boolean(a.values['insecure-no-sandbox']),
      });
    } finally {
      rep.stop();
      f.close();
    }
    if (mode === 'json') {
      io.out(JSON.stringify({ type: 'summary', runId: outcome.runId, status: outcome.status, artifacts: outcome.artifacts, provenanceLogIndex: outcome.provenanceLogIndex ?? null, provenance: outcome.provenancePath ?? null, evidence: join(outcome.runDir, 'evidence'), ...(outcome.error ? { error: { code: outcome.error.code, message: outcome.error.message } } : {}) }));
    } else if (outcome.status === 'succeeded') {
      io.out(`run ${outcome.runId} succeeded`);
      for (const art of outcome.artifacts) io.out(`  artifact ${art.name.padEnd(28)} ${art.digest}`);
      io.out(`  provenance: log #${outcome.provenanceLogIndex ?? '?'}, ${outcome.provenancePath ?? ''}`);
      io.out(`  evidence:   ${join(outcome.runDir, 'evidence')}`);
      io.out(`  verify:     ssf verify ${outcome.artifacts[0]?.digest ?? 'ARTIFACT'}`);
    }
    if (outcome.error) {
      if (mode !== 'json') io.out(`run ${outcome.runId} failed; \`ssf show ${outcome.runId}${str(a, 'dir') ? ` --dir ${str(a, 'dir')}` : ''}\` for details`);
      throw outcome.error;
    }
    return 0;
  },
};

export const runsCommand: Command = {
  name: 'runs',
  summary: 'list recent runs',
  usage: `Usage: ssf runs [--limit N] [--json] [--dir D]

Lists the factory's runs, newest first: id, pipeline, status, start time,
duration and number of published artifacts.

Options:
  --limit N   how many (default 20)
  --json      machine-readable
  --dir D     factory data directory
  -h, --help  show this help`,
  options: { limit: { type: 'string' }, json: { type: 'boolean' }, dir: { type: 'string' } },
  async run(a, io) {
    const lim = str(a, 'limit');
    if (lim !== undefined && !/^[1-9][0-9]{0,5}$/.test(lim)) throw new SsfError('USAGE', `--limit must be a positive integer, got ${JSON.stringify(lim)}`);
    const f = Factory.open(resolveDataDir(str(a, 'dir'), io.env));
    try {
      const runner = new Runner(f);
      runner.runs.reapAbandoned(f.clock.now());
      const rows = runner.runs.list(lim ? Number(lim) : 20);
      if (a.values.json) {
        io.out(JSON.stringify(rows.map((r) => ({ id: r.id, pipeline: r.pipeline, status: r.status, startedAt: r.started_at, finishedAt: r.finished_at, artifacts: JSON.parse(r.artifacts) as unknown[], error: r.error }))));
        return 0;
      }
      if (rows.length === 0) {
        io.out('no runs yet; start one with `ssf run PIPELINE.yaml`');
        return 0;
      }
      io.out(`${'RUN'.padEnd(24)} ${'PIPELINE'.padEnd(18)} ${'STATUS'.padEnd(10)} ${'STARTED'.padEnd(20)} DURATION  ARTIFACTS`);
      for (const r of rows) {
        const dur = r.finished_at ? secs(Date.parse(r.finished_at) - Date.parse(r.started_at)) : '-';
        io.out(`${r.id.padEnd(24)} ${r.pipeline.slice(0, 18).padEnd(18)} ${r.status.padEnd(10)} ${r.started_at.slice(0, 19).padEnd(20)} ${dur.padEnd(9)} ${(JSON.parse(r.artifacts) as unknown[]).length}`);
      }
      return 0;
    } finally {
      f.close();
    }
  },
};

export const showCommand: Command = {
  name: 'show',
  summary: 'show one run: tasks, evidence, artifacts; --export the evidence for offline verification',
  usage: `Usage: ssf show RUN [--json] [--export DIR] [--dir D]

Shows a run (its id, or a unique prefix of it): parameters, the pipeline's
digest, each task's status, duration, exit status and log index, the
published artifacts and where the evidence is.

Options:
  --export DIR  copy the run's published files, its signed evidence
                (provenance, task and node statements as Sigstore bundles)
                and the factory's trusted_root.json and revocations.json
                into DIR (new or empty), for \`ssf verify --provenance\` on
                another machine
  --force       allow --export into a non-empty directory
  --json        machine-readable
  --dir D       factory data directory
  -h, --help    show this help`,
  options: { json: { type: 'boolean' }, export: { type: 'string' }, force: { type: 'boolean' }, dir: { type: 'string' } },
  positionals: { min: 1, max: 1 },
  async run(a, io) {
    const f = Factory.open(resolveDataDir(str(a, 'dir'), io.env));
    try {
      const runner = new Runner(f);
      runner.runs.reapAbandoned(f.clock.now());
      const run = runner.runs.get(a.positionals[0] as string);
      const tasks = runner.runs.tasks(run.id);
      const evidenceDir = join(f.layout.runs, run.id, 'evidence');
      const exportDir = str(a, 'export');
      if (exportDir) {
        const out = resolve(exportDir);
        const data = resolve(f.layout.dir);
        if (out === data || out.startsWith(data + sep)) throw new SsfError('PATH_ESCAPE', `--export ${exportDir} is inside the factory's data directory; export somewhere else`);
        if (existsSync(out)) {
          if (!statSync(out).isDirectory()) throw new SsfError('USAGE', `--export ${exportDir} exists and is not a directory`);
          if (readdirSync(out).length > 0 && !a.values.force) throw new SsfError('USAGE', `--export ${exportDir} is not empty; use an empty or new directory, or --force to overwrite`);
        }
        mkdirSync(out, { recursive: true });
        for (const n of existsSync(evidenceDir) ? readdirSync(evidenceDir) : []) if (n.endsWith('.json')) copyFileSync(join(evidenceDir, n), join(out, n));
        copyFileSync(f.layout.trustedRoot, join(out, 'trusted_root.json'));
        if (existsSync(f.layout.revocations)) copyFileSync(f.layout.revocations, join(out, 'revocations.json'));
        // The published files themselves (images stay in the repository: an OCI layout).
        for (const art of JSON.parse(run.artifacts) as { name: string; digest: string; type: string }[]) {
          if (art.type === 'image' || !/^[A-Za-z0-9._-]+$/.test(art.name)) continue;
          copyFileSync(join(f.layout.repository, 'blobs', 'sha256', art.digest.replace(/^sha256:/, '')), join(out, art.name));
        }
      }
      const { DecisionStore } = await import('../admission/index.js');
      const decisions = new DecisionStore(f.db).forRun(run.id);
      if (a.values.json) {
        io.out(JSON.stringify({
          gates: decisions.map((d) => ({ gate: d.gate, subject: d.subject, allowed: d.allowed === 1, logIndex: d.log_index, policySetDigest: d.policy_set_digest, inputDigest: d.input_digest, summary: d.summary })),
          id: run.id, pipeline: run.pipeline, pipelineDigest: run.pipeline_digest, pipelineFile: run.pipeline_file, params: JSON.parse(run.params) as unknown,
          status: run.status, startedAt: run.started_at, finishedAt: run.finished_at, error: run.error, insecure: run.insecure === 1,
          nodeLogIndex: run.node_log_index, provenanceLogIndex: run.provenance_log_index, artifacts: JSON.parse(run.artifacts) as unknown, evidence: evidenceDir,
          tasks: tasks.map((t) => ({ name: t.name, kind: t.kind, status: t.status, startedAt: t.started_at, durationMs: t.duration_ms, exitCode: t.exit_code, logIndex: t.log_index, detail: t.detail ? JSON.parse(t.detail) as unknown : null })),
        }));
        return 0;
      }
      io.out(`run ${run.id}  ${run.status}${run.insecure ? '  (INSECURE: no sandbox)' : ''}`);
      io.out(`  pipeline:   ${run.pipeline} ${run.pipeline_digest}  ${run.pipeline_file}`);
      io.out(`  params:     ${run.params}`);
      io.out(`  started:    ${run.started_at}${run.finished_at ? `  finished: ${run.finished_at}` : ''}`);
      if (run.error) io.out(`  error:      ${run.error}`);
      if (run.node_log_index !== null) io.out(`  node:       attested at log #${run.node_log_index}`);
      io.out('  tasks:');
      for (const t of tasks) {
        const d = t.detail ? (JSON.parse(t.detail) as { error?: string }) : {};
        io.out(`    ${t.name.padEnd(14)} ${t.kind.padEnd(13)} ${t.status.padEnd(10)} ${t.duration_ms !== null ? secs(t.duration_ms).padEnd(7) : '-'.padEnd(7)} ${t.exit_code !== null ? `exit ${t.exit_code}` : ''}${t.log_index !== null ? `  log #${t.log_index}` : ''}${d.error ? `  ${d.error}` : ''}`);
      }
      const arts = JSON.parse(run.artifacts) as { name: string; digest: string; type: string }[];
      if (arts.length > 0) {
        io.out('  artifacts:');
        for (const art of arts) io.out(`    ${art.name.padEnd(28)} ${art.type.padEnd(8)} ${art.digest}`);
      }
      if (decisions.length > 0) {
        io.out('  gates:');
        for (const d of decisions) io.out(`    ${d.gate.padEnd(14)} ${d.allowed ? 'allowed' : 'DENIED '}  log #${d.log_index}  ${d.subject.slice(0, 19)}…  ${d.summary}`);
      }
      if (run.provenance_log_index !== null) io.out(`  provenance: log #${run.provenance_log_index}`);
      io.out(`  evidence:   ${evidenceDir}`);
      io.out(`  logs:       ${join(f.layout.runs, run.id, 'logs')}`);
      if (exportDir) io.out(`  exported evidence and trust root to ${resolve(exportDir)}`);
      return 0;
    } finally {
      f.close();
    }
  },
};
