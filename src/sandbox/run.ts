import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, openSync, readdirSync, readFileSync, statSync, writeSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import { once } from 'node:events';
import { setTimeout as delay } from 'node:timers/promises';
import { SsfError } from '../core/index.js';
import { ENV, LAUNCH_ENV, NAMESPACES, SH, bubblewrapArgv, shQuote, unshareArgv } from './backends.js';
import { TaskCgroup, detectLimits } from './cgroup.js';
import { detectSandbox, probeBackend, rootfsInputs } from './detect.js';
import { SANDBOX_GID, SANDBOX_UID, checkSpec, hostPathOf, type CheckedSpec, type ResolvedMount } from './spec.js';
import type { IsolationReport, SandboxBackend, SandboxResult, SandboxSpec } from './types.js';

/** Bytes of stderr kept in memory to explain a setup failure. */
const STDERR_TAIL = 4096;
/** How long to wait for output pipes to drain after the sandbox exited and its cgroup was emptied. */
const DRAIN_MS = 2000;

/** Picks the backend for a spec: the forced one if it works, else the detected one; 'none' only when allowed. */
function chooseBackend(spec: SandboxSpec): { backend: SandboxBackend; version?: string } {
  if (spec.backend === 'none' || spec.backend === undefined) {
    const d = spec.backend === 'none' ? { backend: 'none' as const, reason: 'backend none was requested' } : detectSandbox();
    if (d.backend !== 'none') return d.version ? { backend: d.backend, version: d.version } : { backend: d.backend };
    if (!spec.allowInsecure) {
      throw new SsfError('SANDBOX_UNAVAILABLE', `no sandbox backend works here (${d.reason ?? 'none found'}); install bubblewrap, or allow insecure execution (--insecure-no-sandbox)`);
    }
    return { backend: 'none' };
  }
  if (spec.backend !== 'bubblewrap' && spec.backend !== 'unshare') {
    throw new SsfError('SANDBOX_FAILED', `unknown sandbox backend ${JSON.stringify(spec.backend)}; use bubblewrap, unshare or none`);
  }
  const p = probeBackend(spec.backend);
  if (!p.ok) throw new SsfError('SANDBOX_UNAVAILABLE', `sandbox backend ${spec.backend} does not work here (${p.reason ?? 'probe failed'})`);
  return p.version ? { backend: spec.backend, version: p.version } : { backend: spec.backend };
}

/** A read-write mount must be writable by the sandbox user, or the task would fail obscurely half-way. */
function checkWritable(m: ResolvedMount): void {
  const st = statSync(m.hostReal);
  const ok = (st.uid === SANDBOX_UID && (st.mode & 0o200) !== 0) || (st.gid === SANDBOX_GID && (st.mode & 0o020) !== 0) || (st.mode & 0o002) !== 0;
  if (!ok) {
    throw new SsfError('SANDBOX_FAILED', `rw mount ${m.target}: host directory ${m.host} (owner ${st.uid}:${st.gid}, mode ${(st.mode & 0o7777).toString(8)}) is not writable by the sandbox user ${SANDBOX_UID}; create it with prepareWorkspaceDir`);
  }
}

function openOutput(path: string, what: string): number {
  try {
    return openSync(path, 'w', 0o644);
  } catch (e) {
    throw new SsfError('IO_FAILED', `cannot open the task's ${what} file ${path}: ${(e as Error).message}`, { cause: e });
  }
}

/** All descendants of a pid, parents before children (from /proc/<pid>/task/<tid>/children). */
function descendants(pid: number): number[] {
  const out: number[] = [];
  const walk = (p: number): void => {
    let tids: string[];
    try {
      tids = readdirSync(`/proc/${p}/task`);
    } catch {
      return;
    }
    for (const tid of tids) {
      let text = '';
      try {
        text = readFileSync(`/proc/${p}/task/${tid}/children`, 'utf8');
      } catch {
        continue;
      }
      for (const c of text.split(' ').filter(Boolean).map(Number)) {
        out.push(c);
        walk(c);
      }
    }
  };
  walk(pid);
  return out;
}

function killQuietly(pid: number): void {
  try {
    process.kill(pid, 'SIGKILL');
  } catch {
    // already gone
  }
}

/**
 * Kills a whole sandbox: the launcher and every descendant (which includes the pid namespace's
 * init, whose death takes every process in the namespace along), and for 'none' the process group.
 */
function killSandbox(child: ChildProcess, backend: SandboxBackend): void {
  const pid = child.pid;
  if (pid === undefined) return;
  const tree = descendants(pid);
  killQuietly(pid);
  for (const p of tree) killQuietly(p);
  if (backend === 'none') killQuietly(-pid);
}

function isolationReport(backend: SandboxBackend, version: string | undefined, spec: CheckedSpec, memory: IsolationReport['memoryLimit'], cg: TaskCgroup | undefined): IsolationReport {
  const secure = backend !== 'none';
  const r: IsolationReport = {
    backend,
    ...(version ? { version } : {}),
    namespaces: secure ? [...NAMESPACES] : [],
    network: secure ? 'none' : 'host',
    uid: secure ? SANDBOX_UID : process.getuid?.() ?? -1,
    gid: secure ? SANDBOX_GID : process.getgid?.() ?? -1,
    capabilities: secure ? 'none' : 'inherited',
    noNewPrivileges: secure,
    rootFilesystem: secure ? 'read-only' : 'host',
    tmp: secure ? 'tmpfs' : 'host',
    mounts: spec.mounts.map((m) => ({ target: m.target, mode: m.mode })),
    memoryLimit: memory,
    ...(cg?.processLimit !== undefined ? { processLimit: { max: cg.processLimit, mechanism: cg.mechanism } } : {}),
    timeLimitMs: spec.timeoutMs,
    diesWithParent: secure,
    secure,
  };
  return r;
}

/**
 * The host-side first link: joins the task's cgroups (or sets RLIMIT_DATA) before anything of the
 * sandbox exists, so every process the sandbox ever creates is inside the limit.
 */
function launcherScript(cg: TaskCgroup | undefined, rlimitBytes: number | undefined, signalReady: boolean): string {
  const steps: string[] = ['set -e'];
  for (const f of cg?.procsFiles() ?? []) steps.push(`echo $$ > ${shQuote(f)}`);
  if (rlimitBytes !== undefined) steps.push(`ulimit -d ${Math.max(1, Math.floor(rlimitBytes / 1024))}`);
  if (signalReady) steps.push('printf r >&3', 'exec 3>&-');
  steps.push('exec "$@"');
  return steps.join('\n');
}

/** Runs one task in a fresh sandbox; resolves with its outcome (a non-zero exit is not an error). */
export async function runSandboxed(spec: SandboxSpec): Promise<SandboxResult> {
  const checked = checkSpec(spec);
  const { backend, version } = chooseBackend(spec);
  if (backend !== 'none') for (const m of checked.mounts) if (m.mode === 'rw') checkWritable(m);

  let inner: string[];
  let cwd = '/';
  if (backend === 'bubblewrap') inner = bubblewrapArgv(checked, rootfsInputs());
  else if (backend === 'unshare') inner = unshareArgv(checked, rootfsInputs());
  else {
    // No isolation: paths are the host's. cwd and command[0] are mapped through the mounts; other arguments are not.
    cwd = hostPathOf(checked.cwd, checked.mounts) ?? checked.cwd;
    const exe = hostPathOf(checked.command[0] as string, checked.mounts) ?? (checked.command[0] as string);
    inner = [ENV, '-i', ...Object.entries(checked.env).map(([k, v]) => `${k}=${v}`), exe, ...checked.command.slice(1)];
  }

  const limits = detectLimits();
  const outFd = openOutput(spec.stdoutFile, 'stdout');
  let errFd: number;
  try {
    errFd = openOutput(spec.stderrFile, 'stderr');
  } catch (e) {
    closeSync(outFd);
    throw e;
  }
  let cg: TaskCgroup | undefined;
  try {
    if (limits.layout) cg = TaskCgroup.create(limits.layout, checked.memoryBytes);
    const memory: IsolationReport['memoryLimit'] = cg ? { bytes: checked.memoryBytes, mechanism: cg.mechanism } : { bytes: checked.memoryBytes, mechanism: 'rlimit' };
    const script = launcherScript(cg, cg ? undefined : checked.memoryBytes, backend === 'none');
    const startedAt = new Date();
    const t0 = performance.now();
    const child = spawn(SH, ['-c', script, 'ssf-sandbox-launch', ...inner], {
      cwd,
      env: LAUNCH_ENV,
      // fd 3 carries the one-byte "setup finished" signal.
      stdio: ['ignore', 'pipe', 'pipe', 'pipe'],
      // A new session: no controlling terminal to inject input into, and a process group to kill for 'none'.
      detached: true,
    });
    let ready = false;
    let stderrTail = Buffer.alloc(0);
    let writeError: { file: string; error: Error } | undefined;
    const tee = (stream: 'stdout' | 'stderr', fd: number) => (chunk: Buffer): void => {
      if (!writeError) {
        try {
          writeSync(fd, chunk);
        } catch (e) {
          // Keep draining the pipe (a blocked task would hang); report after the task ends.
          writeError = { file: stream === 'stdout' ? spec.stdoutFile : spec.stderrFile, error: e as Error };
        }
      }
      if (stream === 'stderr' && !ready) stderrTail = Buffer.concat([stderrTail, chunk]).subarray(-STDERR_TAIL);
      spec.onOutput?.(chunk, stream);
    };
    child.stdout?.on('data', tee('stdout', outFd));
    child.stderr?.on('data', tee('stderr', errFd));
    const readyPipe = child.stdio[3] as NodeJS.ReadableStream | null;
    readyPipe?.on('data', (b: Buffer) => {
      if (b.includes(0x72)) ready = true;
    });
    readyPipe?.on('error', () => undefined);

    const closed = once(child, 'close').then(
      () => true,
      () => false,
    );
    const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve, reject) => {
      child.once('exit', (code, signal) => resolve({ code, signal }));
      child.once('error', reject);
    });
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      killSandbox(child, backend);
    }, checked.timeoutMs);
    let status: { code: number | null; signal: NodeJS.Signals | null };
    try {
      status = await exited;
    } catch (e) {
      throw new SsfError('SANDBOX_FAILED', `cannot start the ${backend} sandbox: ${(e as Error).message}`, { cause: e });
    } finally {
      clearTimeout(timer);
    }
    const t1 = performance.now();
    const finishedAt = new Date();
    // Nothing may outlive the task: sweep the cgroup (the real backends' pid namespace is gone
    // already; this catches anything that escaped it, and everything for 'none').
    if (backend === 'none') killSandbox(child, backend);
    if (cg) await cg.killAll();
    if (!(await Promise.race([closed, delay(DRAIN_MS, undefined, { ref: false }).then(() => false)]))) {
      child.stdout?.destroy();
      child.stderr?.destroy();
      (readyPipe as unknown as { destroy?: () => void } | null)?.destroy?.();
    }
    const oomKilled = cg?.oomKilled() ?? false;
    if (!ready && !timedOut) {
      const why = stderrTail.toString('utf8').trim().split('\n').slice(-3).join(' | ') || (status.signal ? `killed by ${status.signal}` : `exit ${status.code}`);
      throw new SsfError('SANDBOX_FAILED', `the ${backend} sandbox could not be set up: ${why}`);
    }
    if (writeError) {
      throw new SsfError('IO_FAILED', `cannot write the task's output to ${writeError.file}: ${writeError.error.message}`, { cause: writeError.error });
    }
    return {
      exitCode: status.code,
      signal: status.signal,
      timedOut,
      oomKilled,
      durationMs: Math.round((t1 - t0) * 1000) / 1000,
      startedAt,
      finishedAt,
      isolation: isolationReport(backend, version, checked, memory, cg),
    };
  } finally {
    await cg?.remove();
    closeSync(outFd);
    closeSync(errFd);
  }
}
