/** Which mechanism isolates a task: bubblewrap, util-linux unshare + setpriv, or nothing (insecure). */
export type SandboxBackend = 'bubblewrap' | 'unshare' | 'none';

/** A host directory made visible inside the sandbox; `target` lies under /workspace or /opt/ssf. */
export interface Mount {
  host: string;
  target: string;
  mode: 'ro' | 'rw';
}

/** Network modes a sandbox can have; only 'none' exists today ('loopback' and others may follow). */
export type SandboxNetwork = 'none';

/** Everything one sandboxed task needs; see docs/sandbox.md. */
export interface SandboxSpec {
  /** argv; command[0] is an absolute path visible inside (e.g. /usr/bin/node). */
  command: string[];
  /** Absolute working directory inside the sandbox. */
  cwd: string;
  mounts: Mount[];
  /** The only environment, plus PATH, HOME, TMPDIR and LANG defaults unless given. */
  env: Record<string, string>;
  network: SandboxNetwork;
  timeoutMs: number;
  memoryBytes: number;
  /** Host paths that receive the task's stdout and stderr. */
  stdoutFile: string;
  stderrFile: string;
  /** Optional live tee of the output. */
  onOutput?: (chunk: Buffer, stream: 'stdout' | 'stderr') => void;
  /** Force one backend (tests); default: the detected one. */
  backend?: SandboxBackend;
  /** When no backend works, run unisolated (backend 'none') instead of throwing SANDBOX_UNAVAILABLE. */
  allowInsecure?: boolean;
}

/** How a task was isolated; goes verbatim into SLSA provenance, so it stays plain JSON. */
export interface IsolationReport {
  backend: SandboxBackend;
  version?: string;
  namespaces: string[];
  network: 'none' | 'host';
  uid: number;
  gid: number;
  capabilities: 'none' | 'inherited';
  noNewPrivileges: boolean;
  rootFilesystem: 'read-only' | 'host';
  tmp: 'tmpfs' | 'host';
  mounts: { target: string; mode: 'ro' | 'rw' }[];
  memoryLimit: { bytes: number; mechanism: 'cgroup-v1' | 'cgroup-v2' | 'rlimit' | 'none' };
  /** Present when a cgroup capped the number of processes and threads (fork-bomb guard). */
  processLimit?: { max: number; mechanism: 'cgroup-v1' | 'cgroup-v2' };
  timeLimitMs: number;
  diesWithParent: boolean;
  /** false only for backend 'none'. */
  secure: boolean;
}

/** The outcome of one sandboxed task; a non-zero exit is a result, not an exception. */
export interface SandboxResult {
  exitCode: number | null;
  signal: string | null;
  timedOut: boolean;
  oomKilled: boolean;
  durationMs: number;
  startedAt: Date;
  finishedAt: Date;
  isolation: IsolationReport;
}

/** What detectSandbox found. */
export interface SandboxDetection {
  backend: SandboxBackend;
  version?: string;
  reason?: string;
}
