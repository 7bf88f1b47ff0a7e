import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { BWRAP, ENV, IP, LAUNCH_ENV, SETPRIV, SH, UNSHARE, bubblewrapArgv, unshareArgv, type RootfsInputs } from './backends.js';
import { hostCertsAvailable, sandboxStage } from './rootfs.js';
import { checkSpec } from './spec.js';
import type { SandboxDetection } from './types.js';

/** A real backend's probe outcome. */
export interface ProbeResult {
  ok: boolean;
  version?: string;
  reason?: string;
}

const probes = new Map<'bubblewrap' | 'unshare', ProbeResult>();
let detected: SandboxDetection | undefined;

/** What every sandbox's root is built from on this host. */
export function rootfsInputs(): RootfsInputs {
  const stage = sandboxStage();
  return { ...stage, certs: hostCertsAvailable(), loopbackUp: existsSync(IP) };
}

function firstLine(b: Buffer | string | null | undefined): string {
  const s = (b ?? '').toString().trim();
  return s.split('\n').find((l) => l.trim() !== '') ?? '';
}

function version(exe: string, pattern: RegExp): string | undefined {
  const r = spawnSync(exe, ['--version'], { env: LAUNCH_ENV, encoding: 'utf8', timeout: 5000 });
  return pattern.exec(r.stdout ?? '')?.[1];
}

/**
 * Launches `/usr/bin/true` in a complete sandbox of this backend (same argv builder as real
 * tasks, no mounts) and checks that setup finished and the task exited 0. Cached per backend.
 */
export function probeBackend(backend: 'bubblewrap' | 'unshare'): ProbeResult {
  const cached = probes.get(backend);
  if (cached) return cached;
  const result = runProbe(backend);
  probes.set(backend, result);
  return result;
}

function runProbe(backend: 'bubblewrap' | 'unshare'): ProbeResult {
  if (process.platform !== 'linux') return { ok: false, reason: `${backend} needs Linux, this is ${process.platform}` };
  const needed = backend === 'bubblewrap' ? [BWRAP, SH, SETPRIV, ENV] : [UNSHARE, SH, SETPRIV, ENV];
  const missing = needed.filter((p) => !existsSync(p));
  if (missing.length > 0) return { ok: false, reason: `${backend}: ${missing.join(', ')} not found` };
  let argv: string[];
  try {
    const spec = checkSpec({ command: ['/usr/bin/true'], cwd: '/', mounts: [], env: {}, network: 'none', timeoutMs: 10_000, memoryBytes: 64 << 20, stdoutFile: '', stderrFile: '' });
    argv = backend === 'bubblewrap' ? bubblewrapArgv(spec, rootfsInputs()) : unshareArgv(spec, rootfsInputs());
  } catch (e) {
    return { ok: false, reason: `${backend}: ${(e as Error).message}` };
  }
  const r = spawnSync(argv[0] as string, argv.slice(1), { env: LAUNCH_ENV, cwd: '/', stdio: ['ignore', 'pipe', 'pipe', 'pipe'], timeout: 10_000 });
  const ready = (r.output?.[3] ?? '').toString() === 'r';
  if (r.error || r.status !== 0 || !ready) {
    const why = r.error ? r.error.message : firstLine(r.stderr) || (r.signal ? `killed by ${r.signal}` : `exit ${r.status}`);
    return { ok: false, reason: `${backend}: ${why}` };
  }
  const v = backend === 'bubblewrap' ? version(BWRAP, /bubblewrap\s+(\S+)/) : version(UNSHARE, /(util-linux\s+\S+)/);
  return v ? { ok: true, version: v } : { ok: true };
}

/** The best backend that works here (bubblewrap, then unshare), probed once by really launching a sandbox. */
export function detectSandbox(): SandboxDetection {
  if (detected) return detected;
  const reasons: string[] = [];
  for (const backend of ['bubblewrap', 'unshare'] as const) {
    const p = probeBackend(backend);
    if (p.ok) {
      detected = p.version ? { backend, version: p.version } : { backend };
      return detected;
    }
    reasons.push(p.reason ?? `${backend} failed`);
  }
  detected = { backend: 'none', reason: reasons.join('; ') };
  return detected;
}
