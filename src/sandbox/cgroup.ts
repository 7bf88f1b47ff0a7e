import { existsSync, mkdirSync, readdirSync, readFileSync, rmdirSync, statSync, writeFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { SsfError } from '../core/index.js';

/** How the memory limit is enforced. */
export type MemoryMechanism = 'cgroup-v1' | 'cgroup-v2' | 'rlimit';

/** Upper bound on processes + threads per sandbox, as a fork-bomb guard (npm and node use a few dozen). */
export const PIDS_MAX = 4096;

type Layout =
  | { kind: 'v1'; memoryBase: string; pidsBase?: string }
  | { kind: 'v2'; base: string; pids: boolean };

/** What limit mechanism this host offers; cached. */
export interface LimitSupport {
  mechanism: MemoryMechanism;
  layout?: Layout;
  /** Why cgroups are not used, when mechanism is 'rlimit'. */
  reason?: string;
}

interface MountInfo {
  root: string;
  mountPoint: string;
  fsType: string;
  superOptions: string[];
}

function readMountInfo(): MountInfo[] {
  const out: MountInfo[] = [];
  for (const line of readFileSync('/proc/self/mountinfo', 'utf8').split('\n')) {
    const sep = line.indexOf(' - ');
    if (sep < 0) continue;
    const pre = line.slice(0, sep).split(' ');
    const post = line.slice(sep + 3).split(' ');
    const unescape = (s: string): string => s.replace(/\\([0-7]{3})/g, (_, o: string) => String.fromCharCode(parseInt(o, 8)));
    out.push({ root: unescape(pre[3] ?? ''), mountPoint: unescape(pre[4] ?? ''), fsType: post[0] ?? '', superOptions: (post[2] ?? '').split(',') });
  }
  return out;
}

/** This process's cgroup paths: controller name (or '' for the v2 unified line) to path. */
function ownCgroups(): Map<string, string> {
  const m = new Map<string, string>();
  for (const line of readFileSync('/proc/self/cgroup', 'utf8').split('\n')) {
    const first = line.indexOf(':');
    const second = line.indexOf(':', first + 1);
    if (first < 0 || second < 0) continue;
    const path = line.slice(second + 1);
    const controllers = line.slice(first + 1, second);
    if (controllers === '') m.set('', path);
    for (const c of controllers.split(',')) if (c) m.set(c, path);
  }
  return m;
}

/** The directory of this process's own cgroup for a v1 controller; sandboxes nest below it so every limit placed on ssf still applies. */
function v1Dir(mounts: MountInfo[], own: Map<string, string>, controller: string): string | undefined {
  const mnt = mounts.find((m) => m.fsType === 'cgroup' && m.superOptions.includes(controller));
  const path = own.get(controller);
  if (!mnt || path === undefined) return undefined;
  const rel = mnt.root !== '/' && path.startsWith(mnt.root) ? path.slice(mnt.root.length) : path;
  return join(mnt.mountPoint, rel);
}

function tryMkdirProbe(base: string, file: string): void {
  mkdirSync(base, { recursive: true });
  const probe = join(base, `probe-${randomBytes(4).toString('hex')}`);
  mkdirSync(probe);
  try {
    if (!existsSync(join(probe, file))) throw new Error(`${file} missing in a new cgroup under ${base}`);
  } finally {
    rmdirSync(probe);
  }
}

function detectV1(mounts: MountInfo[], own: Map<string, string>): Layout {
  const mem = v1Dir(mounts, own, 'memory');
  if (!mem) throw new Error('no cgroup v1 memory hierarchy');
  const memoryBase = join(mem, 'ssf');
  tryMkdirProbe(memoryBase, 'memory.limit_in_bytes');
  let pidsBase: string | undefined;
  const pids = v1Dir(mounts, own, 'pids');
  if (pids) {
    try {
      tryMkdirProbe(join(pids, 'ssf'), 'pids.max');
      pidsBase = join(pids, 'ssf');
    } catch {
      // pids limit is a bonus; the memory limit is what the report promises
    }
  }
  return pidsBase ? { kind: 'v1', memoryBase, pidsBase } : { kind: 'v1', memoryBase };
}

function detectV2(mounts: MountInfo[], own: Map<string, string>): Layout {
  const mnt = mounts.find((m) => m.fsType === 'cgroup2');
  const path = own.get('');
  if (!mnt || path === undefined) throw new Error('no cgroup v2 hierarchy');
  const dir = join(mnt.mountPoint, path);
  const available = readFileSync(join(dir, 'cgroup.controllers'), 'utf8').trim().split(/\s+/);
  if (!available.includes('memory')) throw new Error(`cgroup v2 memory controller not delegated to ${dir}`);
  // Our own cgroup must already hand memory to its children: we cannot enable it ourselves
  // while ssf's own processes live in it (the cgroup v2 "no internal processes" rule).
  const subtree = readFileSync(join(dir, 'cgroup.subtree_control'), 'utf8').trim().split(/\s+/);
  if (!subtree.includes('memory')) throw new Error(`cgroup v2 memory controller not enabled in ${dir}/cgroup.subtree_control`);
  const base = join(dir, 'ssf');
  mkdirSync(base, { recursive: true });
  const pids = subtree.includes('pids');
  writeFileSync(join(base, 'cgroup.subtree_control'), pids ? '+memory +pids' : '+memory');
  tryMkdirProbe(base, 'memory.max');
  return { kind: 'v2', base, pids };
}

/** Task cgroups are named by 16 hex digits. */
const TASK_DIR = /^[0-9a-f]{16}$/;
/** A task cgroup this old and empty belongs to an ssf process that was killed before it could remove it. */
const STALE_MS = 60_000;

/**
 * Removes empty task cgroups left by ssf processes that were killed (die-with-parent ends their
 * sandboxes, but nobody is left to rmdir). Young ones are spared: another process may be about to
 * move its launcher into one.
 */
function sweepStale(base: string): void {
  let entries: string[];
  try {
    entries = readdirSync(base);
  } catch {
    return;
  }
  const now = Date.now();
  for (const e of entries) {
    if (!TASK_DIR.test(e)) continue;
    const d = join(base, e);
    try {
      if (now - statSync(d).mtimeMs < STALE_MS) continue;
      if (readFileSync(join(d, 'cgroup.procs'), 'utf8').trim() !== '') continue;
      rmdirSync(d);
    } catch {
      // in use, or removed by someone else meanwhile
    }
  }
}

let support: LimitSupport | undefined;

/** Finds a writable memory cgroup (v1 first, then v2) below this process's own; falls back to RLIMIT_DATA. Cached. */
export function detectLimits(): LimitSupport {
  if (support) return support;
  const reasons: string[] = [];
  try {
    const mounts = readMountInfo();
    const own = ownCgroups();
    for (const [mechanism, detect] of [['cgroup-v1', detectV1], ['cgroup-v2', detectV2]] as const) {
      try {
        const layout = detect(mounts, own);
        for (const base of layout.kind === 'v1' ? [layout.memoryBase, layout.pidsBase] : [layout.base]) if (base) sweepStale(base);
        support = { mechanism, layout };
        return support;
      } catch (e) {
        reasons.push(`${mechanism}: ${(e as Error).message}`);
      }
    }
  } catch (e) {
    reasons.push((e as Error).message);
  }
  support = { mechanism: 'rlimit', reason: reasons.join('; ') };
  return support;
}

/** One sandbox's cgroup(s): created before the sandbox starts, joined by its first process, removed after. */
export class TaskCgroup {
  private constructor(
    private readonly layout: Layout,
    /** Directories created for this task, memory first. */
    private readonly dirs: string[],
    readonly processLimit: number | undefined,
  ) {}

  /** Creates the per-task cgroup with the memory (and process) limit set. */
  static create(layout: Layout, memoryBytes: number): TaskCgroup {
    const id = randomBytes(8).toString('hex');
    const dirs: string[] = [];
    try {
      if (layout.kind === 'v1') {
        const mem = join(layout.memoryBase, id);
        mkdirSync(mem);
        dirs.push(mem);
        writeFileSync(join(mem, 'memory.limit_in_bytes'), String(memoryBytes));
        // Without swap accounting a task could page out past the limit; the file exists only with swapaccount.
        if (existsSync(join(mem, 'memory.memsw.limit_in_bytes'))) writeFileSync(join(mem, 'memory.memsw.limit_in_bytes'), String(memoryBytes));
        if (layout.pidsBase) {
          const pids = join(layout.pidsBase, id);
          mkdirSync(pids);
          dirs.push(pids);
          writeFileSync(join(pids, 'pids.max'), String(PIDS_MAX));
        }
      } else {
        const dir = join(layout.base, id);
        mkdirSync(dir);
        dirs.push(dir);
        writeFileSync(join(dir, 'memory.max'), String(memoryBytes));
        if (existsSync(join(dir, 'memory.swap.max'))) writeFileSync(join(dir, 'memory.swap.max'), '0');
        if (layout.pids) writeFileSync(join(dir, 'pids.max'), String(PIDS_MAX));
      }
    } catch (e) {
      const cg = new TaskCgroup(layout, dirs, undefined);
      cg.removeNow();
      throw new SsfError('SANDBOX_FAILED', `cannot create the task cgroup under ${layout.kind === 'v1' ? layout.memoryBase : layout.base}: ${(e as Error).message}`, { cause: e });
    }
    const limited = layout.kind === 'v1' ? layout.pidsBase !== undefined : layout.pids;
    return new TaskCgroup(layout, dirs, limited ? PIDS_MAX : undefined);
  }

  get mechanism(): 'cgroup-v1' | 'cgroup-v2' {
    return this.layout.kind === 'v1' ? 'cgroup-v1' : 'cgroup-v2';
  }

  /** The cgroup.procs files the sandbox's first process writes its pid into, before anything else runs. */
  procsFiles(): string[] {
    return this.dirs.map((d) => join(d, 'cgroup.procs'));
  }

  /** Pids still in the task's cgroup. */
  pids(): number[] {
    const first = this.dirs[0];
    if (!first) return [];
    try {
      return readFileSync(join(first, 'cgroup.procs'), 'utf8').split('\n').filter(Boolean).map(Number);
    } catch {
      return [];
    }
  }

  /** Whether the kernel's OOM killer killed a process in this cgroup. */
  oomKilled(): boolean {
    const first = this.dirs[0];
    if (!first) return false;
    try {
      const text = readFileSync(join(first, this.layout.kind === 'v1' ? 'memory.oom_control' : 'memory.events'), 'utf8');
      const m = /^oom_kill (\d+)$/m.exec(text);
      return m !== null && Number(m[1]) > 0;
    } catch {
      return false;
    }
  }

  /** SIGKILLs every process left in the cgroup until it is empty (or ~5 s pass); returns how many were killed. */
  async killAll(): Promise<number> {
    let killed = 0;
    // Right after the sandbox's launcher exits, its namespace's processes are usually still being
    // torn down; poll fast first, then back off (about 5 s in all).
    for (let round = 0, wait = 1; round < 300; round++, wait = Math.min(wait * 2, 20)) {
      const pids = this.pids();
      if (pids.length === 0) return killed;
      for (const pid of pids) {
        try {
          process.kill(pid, 'SIGKILL');
          killed++;
        } catch {
          // already gone
        }
      }
      await delay(wait);
    }
    return killed;
  }

  /** Removes the cgroup directories, retrying briefly while the last processes finish exiting. */
  async remove(): Promise<void> {
    for (let round = 0, wait = 1; round < 60 && this.dirs.length > 0; round++, wait = Math.min(wait * 2, 20)) {
      this.removeNow();
      if (this.dirs.length > 0) await delay(wait);
    }
  }

  private removeNow(): void {
    for (let i = this.dirs.length - 1; i >= 0; i--) {
      try {
        rmdirSync(this.dirs[i] as string);
        this.dirs.splice(i, 1);
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code === 'ENOENT') this.dirs.splice(i, 1);
      }
    }
  }
}
