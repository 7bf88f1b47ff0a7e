/**
 * Run overhead: the wall time of a pipeline through `ssf run` divided by the wall time of
 * the same commands run directly (no sandbox, no hashing, no signing). Both sides use the
 * a warm package cache (ssf: its mirror; directly: an npm cache filled by one untimed
 * install), so neither pays for the network.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { cpSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

const ROOT = resolve(import.meta.dirname, '..', '..');
const SSF = join(ROOT, 'bin', 'ssf.js');
const NPM = '/usr/lib/node_modules/npm/bin/npm-cli.js';

function ssf(args: string[], cwd: string): string {
  const r = spawnSync(process.execPath, [SSF, ...args], { cwd, encoding: 'utf8', env: { ...process.env, SSF_ROOT_PASSPHRASE: 'bench-passphrase' } });
  if (r.status !== 0) throw new Error(`ssf ${args.join(' ')} failed: ${r.stderr.trim().split('\n').slice(-3).join(' | ')}`);
  return r.stdout;
}

function time(fn: () => void): number {
  const t0 = performance.now();
  fn();
  return performance.now() - t0;
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)] as number;
}

function copyProject(src: string, dest: string): void {
  cpSync(src, dest, { recursive: true, filter: (p) => !/\/(node_modules|dist|\.ssf|out|pkg)(\/|$)/.test(p.slice(src.length)) });
}

function run(cmd: string, args: string[], cwd: string): void {
  execFileSync(cmd, args, { cwd, stdio: 'ignore', env: { PATH: '/usr/bin:/bin', HOME: cwd, npm_config_update_notifier: 'false' } });
}

interface Case {
  readonly name: string;
  readonly project: string;
  /** The same commands the pipeline runs, done directly. */
  direct(work: string, cache: string, network: '--offline' | '--prefer-offline'): void;
  /** Factory set-up the pipeline needs before it can run (advisories, signed VEX). */
  prepare?(proj: string, dataDir: string, base: string): void;
}

const CASES: Case[] = [
  {
    name: 'example pipeline (examples/hello-service)',
    project: join(ROOT, 'examples', 'hello-service'),
    direct(work, cache, network) {
      run(process.execPath, [NPM, 'ci', network, '--ignore-scripts', '--no-audit', '--no-fund', '--cache', cache], work);
      run(process.execPath, ['node_modules/typescript/bin/tsc', '-p', 'tsconfig.json', '--outDir', join(work, 'out', 'dist')], work);
      run(process.execPath, ['--test', join(work, 'out', 'dist', 'test') + '/'], work);
      const stage = join(work, 'stage');
      mkdirSync(join(stage, 'dist'), { recursive: true });
      cpSync(join(work, 'package.json'), join(stage, 'package.json'));
      cpSync(join(work, 'out', 'dist', 'src'), join(stage, 'dist', 'src'), { recursive: true });
      mkdirSync(join(work, 'pkg'));
      run(process.execPath, [NPM, 'pack', '--ignore-scripts', '--pack-destination', join(work, 'pkg')], stage);
      // The pipeline also writes an SBOM (and scans, checks licences and secrets, for which no
      // local peer exists here: npm audit needs the registry's advisory service).
      run(process.execPath, [NPM, 'sbom', '--package-lock-only', '--sbom-format', 'cyclonedx'], work);
    },
    prepare(proj, dataDir, base) {
      ssf(['vulndb', 'import', join(proj, 'advisories'), '--dir', dataDir], base);
      ssf(['vex', 'sign', join(proj, 'vex', 'undici-types.openvex.json'), '--expires', '30d', '--bundle', join(proj, 'vex', 'undici-types.vex.sigstore.json'), '--dir', dataDir], base);
    },
  },
  {
    name: 'large project (1,084 locked packages, ~25k installed files)',
    project: join(ROOT, 'bench', 'fixtures', 'large'),
    direct(work, cache, network) {
      run(process.execPath, [NPM, 'ci', network, '--ignore-scripts', '--no-audit', '--no-fund', '--cache', cache], work);
      mkdirSync(join(work, 'out'));
      run(process.execPath, [join(work, 'list-packages.mjs'), join(work, 'out', 'packages.txt')], work);
    },
  },
];

/** Returns printable lines; `quick` runs each side once instead of three times. */
export async function benchRunOverhead(opts: { quick: boolean }): Promise<string[]> {
  const lines: string[] = [];
  const reps = opts.quick ? 1 : 3;
  for (const c of CASES) {
    const base = mkdtempSync(join(tmpdir(), 'ssf-bench-run-'));
    try {
      const dataDir = join(base, '.ssf');
      ssf(['init', '--dir', dataDir, '--trust-domain', 'bench.ssf.internal', '--root-key-out', join(base, 'root.key.pem')], base);
      const proj = join(base, 'project');
      copyProject(c.project, proj);
      ssf(['pipeline', 'pin', join(proj, 'ssf-pipeline.yaml')], base);
      c.prepare?.(proj, dataDir, base);
      // Warm: the first run fills the mirror from the registry; not timed.
      ssf(['run', join(proj, 'ssf-pipeline.yaml'), '--dir', dataDir], base);
      // The direct side gets its own npm cache, warmed by one untimed install, as a user's
      // ~/.npm would be.
      const cache = join(base, 'npm-cache');
      const warm = join(base, 'direct-warm');
      copyProject(c.project, warm);
      c.direct(warm, cache, '--prefer-offline');
      const viaSsf: number[] = [];
      const direct: number[] = [];
      for (let i = 0; i < reps; i++) {
        viaSsf.push(time(() => ssf(['run', join(proj, 'ssf-pipeline.yaml'), '--dir', dataDir, '--offline'], base)));
        const work = join(base, `direct-${i}`);
        copyProject(c.project, work);
        direct.push(time(() => c.direct(work, cache, '--offline')));
      }
      const s = median(viaSsf);
      const d = median(direct);
      lines.push(`run overhead, ${c.name}: ssf run ${(s / 1000).toFixed(2)} s, same commands directly ${(d / 1000).toFixed(2)} s, ratio ${(s / d).toFixed(2)} (goal <= 1.10)`);
    } catch (e) {
      lines.push(`run overhead, ${c.name}: FAILED: ${(e as Error).message}`);
    } finally {
      rmSync(base, { recursive: true, force: true });
    }
  }
  return lines;
}

