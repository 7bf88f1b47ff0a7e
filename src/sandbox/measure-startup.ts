/**
 * Measures what a sandbox costs to start: `node dist/src/sandbox/measure-startup.js [runs]`.
 * Prints median and p90 wall time of running /usr/bin/true (and `node -e 0`) per backend, through
 * runSandboxed (cgroup create/join/remove, output files, ready signal) and as the bare launch.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { LAUNCH_ENV, bubblewrapArgv, unshareArgv } from './backends.js';
import { probeBackend, rootfsInputs } from './detect.js';
import { runSandboxed } from './run.js';
import { checkSpec } from './spec.js';
import type { SandboxBackend } from './types.js';

const runs = Number(process.argv[2] ?? 30);
const dir = mkdtempSync(join(tmpdir(), 'ssf-sandbox-measure-'));

function stats(ms: number[]): string {
  const s = [...ms].sort((a, b) => a - b);
  const at = (q: number): number => s[Math.min(s.length - 1, Math.floor(q * s.length))] ?? NaN;
  return `median ${at(0.5).toFixed(1)} ms, p90 ${at(0.9).toFixed(1)} ms`;
}

function bare(argv: string[]): number {
  const t0 = performance.now();
  const r = spawnSync(argv[0] as string, argv.slice(1), { env: LAUNCH_ENV, stdio: ['ignore', 'ignore', 'ignore', 'pipe'] });
  if (r.status !== 0) throw new Error(`${argv[0]} exited ${r.status}`);
  return performance.now() - t0;
}

async function full(backend: SandboxBackend, command: string[]): Promise<number> {
  const r = await runSandboxed({
    command, cwd: '/', mounts: [], env: {}, network: 'none', timeoutMs: 30_000, memoryBytes: 256 << 20,
    stdoutFile: join(dir, 'out'), stderrFile: join(dir, 'err'), backend, allowInsecure: true,
  });
  if (r.exitCode !== 0) throw new Error(`${backend}: exit ${r.exitCode}`);
  return r.durationMs;
}

const lines: string[] = [];
lines.push(`direct spawn /usr/bin/true: ${stats(Array.from({ length: runs }, () => bare(['/usr/bin/true'])))}`);
lines.push(`direct spawn node -e 0:     ${stats(Array.from({ length: Math.min(runs, 20) }, () => bare(['/usr/bin/node', '-e', '0'])))}`);
const spec = checkSpec({ command: ['/usr/bin/true'], cwd: '/', mounts: [], env: {}, network: 'none', timeoutMs: 1000, memoryBytes: 64 << 20, stdoutFile: '', stderrFile: '' });
for (const backend of ['bubblewrap', 'unshare', 'none'] as const) {
  if (backend !== 'none' && !probeBackend(backend).ok) {
    lines.push(`${backend}: not available (${probeBackend(backend).reason ?? ''})`);
    continue;
  }
  if (backend !== 'none') {
    const argv = backend === 'bubblewrap' ? bubblewrapArgv(spec, rootfsInputs()) : unshareArgv(spec, rootfsInputs());
    lines.push(`${backend} bare launch, true:      ${stats(Array.from({ length: runs }, () => bare(argv)))}`);
  }
  const t: number[] = [];
  for (let i = 0; i < runs; i++) t.push(await full(backend, ['/usr/bin/true']));
  lines.push(`${backend} runSandboxed, true:     ${stats(t)}`);
  const n: number[] = [];
  for (let i = 0; i < Math.min(runs, 20); i++) n.push(await full(backend, ['/usr/bin/node', '-e', '0']));
  lines.push(`${backend} runSandboxed, node -e 0: ${stats(n)}`);
}
rmSync(dir, { recursive: true, force: true });
console.log(lines.join('\n'));
