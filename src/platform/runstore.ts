import { SsfError } from '../core/index.js';
import { migrate, type Db, type Migration } from '../store/index.js';

export type RunStatus = 'running' | 'succeeded' | 'failed';
export type TaskStatus = 'pending' | 'running' | 'succeeded' | 'failed' | 'skipped';

/** A run as stored. */
export interface RunRow {
  readonly id: string;
  readonly pipeline: string;
  readonly pipeline_digest: string;
  readonly pipeline_file: string;
  readonly params: string;
  readonly status: RunStatus;
  readonly started_at: string;
  readonly finished_at: string | null;
  readonly error: string | null;
  readonly node_log_index: number | null;
  readonly provenance_log_index: number | null;
  readonly artifacts: string;
  readonly insecure: number;
  readonly pid: number | null;
}

/** A task of a run as stored. */
export interface TaskRow {
  readonly run_id: string;
  readonly seq: number;
  readonly name: string;
  readonly kind: string;
  readonly status: TaskStatus;
  readonly started_at: string | null;
  readonly finished_at: string | null;
  readonly duration_ms: number | null;
  readonly exit_code: number | null;
  readonly log_index: number | null;
  readonly detail: string | null;
}

/** One published artifact of a run. */
export interface RunArtifact {
  readonly name: string;
  readonly type: 'file' | 'tarball' | 'image';
  readonly digest: string;
  readonly size: number;
  readonly mediaType: string;
}

export const runMigrations: readonly Migration[] = [
  {
    id: '0101_runs',
    up(db) {
      db.exec(`
        CREATE TABLE run (
          id TEXT PRIMARY KEY,
          pipeline TEXT NOT NULL,
          pipeline_digest TEXT NOT NULL,
          pipeline_file TEXT NOT NULL,
          params TEXT NOT NULL,
          status TEXT NOT NULL CHECK (status IN ('running','succeeded','failed')),
          started_at TEXT NOT NULL,
          finished_at TEXT,
          error TEXT,
          node_log_index INTEGER,
          provenance_log_index INTEGER,
          artifacts TEXT NOT NULL DEFAULT '[]',
          insecure INTEGER NOT NULL DEFAULT 0,
          pid INTEGER
        );
        CREATE INDEX run_started ON run (started_at);
        CREATE TABLE run_task (
          run_id TEXT NOT NULL REFERENCES run (id),
          seq INTEGER NOT NULL,
          name TEXT NOT NULL,
          kind TEXT NOT NULL,
          status TEXT NOT NULL CHECK (status IN ('pending','running','succeeded','failed','skipped')),
          started_at TEXT,
          finished_at TEXT,
          duration_ms INTEGER,
          exit_code INTEGER,
          log_index INTEGER,
          detail TEXT,
          PRIMARY KEY (run_id, name)
        );
        CREATE TABLE run_artifact (
          digest TEXT NOT NULL,
          run_id TEXT NOT NULL REFERENCES run (id),
          name TEXT NOT NULL,
          PRIMARY KEY (digest, run_id, name)
        );
      `);
    },
  },
];

/** Runs and their tasks, in the factory database. */
export class RunStore {
  constructor(private readonly db: Db) {
    migrate(db, runMigrations);
  }

  create(run: { id: string; pipeline: string; pipelineDigest: string; pipelineFile: string; params: unknown; startedAt: Date; insecure: boolean; tasks: { name: string; kind: string }[] }): void {
    this.db.transaction(() => {
      this.db.prepare('INSERT INTO run (id, pipeline, pipeline_digest, pipeline_file, params, status, started_at, insecure, pid) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)')
        .run(run.id, run.pipeline, run.pipelineDigest, run.pipelineFile, JSON.stringify(run.params), 'running', run.startedAt.toISOString(), run.insecure ? 1 : 0, process.pid);
      const ins = this.db.prepare("INSERT INTO run_task (run_id, seq, name, kind, status) VALUES (?, ?, ?, ?, 'pending')");
      run.tasks.forEach((t, i) => ins.run(run.id, i, t.name, t.kind));
    })();
  }

  taskStarted(runId: string, name: string, at: Date): void {
    this.db.prepare("UPDATE run_task SET status = 'running', started_at = ? WHERE run_id = ? AND name = ?").run(at.toISOString(), runId, name);
  }

  taskFinished(runId: string, name: string, t: { status: TaskStatus; finishedAt: Date; durationMs: number; exitCode: number | null; logIndex: number | null; detail: unknown }): void {
    this.db.prepare('UPDATE run_task SET status = ?, finished_at = ?, duration_ms = ?, exit_code = ?, log_index = ?, detail = ? WHERE run_id = ? AND name = ?')
      .run(t.status, t.finishedAt.toISOString(), Math.round(t.durationMs), t.exitCode, t.logIndex, JSON.stringify(t.detail), runId, name);
  }

  setNode(runId: string, logIndex: number): void {
    this.db.prepare('UPDATE run SET node_log_index = ? WHERE id = ?').run(logIndex, runId);
  }

  finish(runId: string, r: { status: RunStatus; finishedAt: Date; error?: string; provenanceLogIndex?: number; artifacts?: readonly RunArtifact[] }): void {
    this.db.transaction(() => {
      this.db.prepare("UPDATE run_task SET status = 'skipped' WHERE run_id = ? AND status IN ('pending','running')").run(runId);
      this.db.prepare('UPDATE run SET status = ?, finished_at = ?, error = ?, provenance_log_index = ?, artifacts = ? WHERE id = ?')
        .run(r.status, r.finishedAt.toISOString(), r.error ?? null, r.provenanceLogIndex ?? null, JSON.stringify(r.artifacts ?? []), runId);
      const ins = this.db.prepare('INSERT INTO run_artifact (digest, run_id, name) VALUES (?, ?, ?) ON CONFLICT DO NOTHING');
      for (const a of r.artifacts ?? []) ins.run(a.digest, runId, a.name);
    })();
  }

  /** Runs left 'running' by a process that died: marked failed, their tasks skipped. */
  reapAbandoned(at: Date): string[] {
    const rows = this.db.prepare("SELECT id, pid FROM run WHERE status = 'running'").all() as { id: string; pid: number | null }[];
    const ids = rows.filter((r) => r.pid === null || !processAlive(r.pid)).map((r) => r.id);
    for (const id of ids) this.finish(id, { status: 'failed', finishedAt: at, error: 'the ssf process running this run stopped before it finished' });
    return ids;
  }

  get(runId: string): RunRow {
    const r = this.db.prepare('SELECT * FROM run WHERE id = ?').get(runId) as RunRow | undefined;
    if (!r) {
      const like = this.db.prepare('SELECT * FROM run WHERE id LIKE ? ORDER BY started_at DESC LIMIT 2').all(`${runId.replace(/[%_]/g, '')}%`) as RunRow[];
      if (like.length === 1 && runId.length >= 4) return like[0] as RunRow;
      if (like.length > 1 && runId.length >= 4) throw new SsfError('USAGE', `run id prefix ${JSON.stringify(runId)} is ambiguous; give more of the id (\`ssf runs\` lists them)`);
      throw new SsfError('RUN_NOT_FOUND', `no run ${JSON.stringify(runId)} in this factory; \`ssf runs\` lists them`);
    }
    return r;
  }

  tasks(runId: string): TaskRow[] {
    return this.db.prepare('SELECT * FROM run_task WHERE run_id = ? ORDER BY seq').all(runId) as TaskRow[];
  }

  list(limit = 50): RunRow[] {
    return this.db.prepare('SELECT * FROM run ORDER BY started_at DESC, id DESC LIMIT ?').all(limit) as RunRow[];
  }

  /** Runs that published an artifact with this digest ('sha256:…'), newest first. */
  runsForArtifact(digest: string): RunRow[] {
    return this.db.prepare("SELECT run.* FROM run_artifact JOIN run ON run.id = run_artifact.run_id WHERE run_artifact.digest = ? AND run.status = 'succeeded' ORDER BY run.started_at DESC").all(digest) as RunRow[];
  }
}

function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}
