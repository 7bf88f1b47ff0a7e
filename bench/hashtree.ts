/**
 * Tree hashing against the pipeline a user would otherwise run:
 * `find DIR -type f -print0 | xargs -0 -P2 -n 500 openssl dgst -sha256`, on a node_modules of ~50k files.
 * ssf does more work (a full manifest with modes, sizes, symlinks and directories, sorted, and its digest).
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, rmSync, writeFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { hashTree, type TreeDigest } from '../src/observer/index.js';

const SYNTHETIC = '/tmp/ssf-bench-nm';
const TARGET_FILES = 50_000;
const MARKER = '.ssf-bench-tree';

/** Runs the comparison and returns printable lines. */
export async function benchHashTree(opts: { quick: boolean }): Promise<string[]> {
  const lines: string[] = [];
  const dir = benchTree(lines);
  const runs = opts.quick ? 1 : 3;

  // Warm the page cache and the worker pool, and check that both tools hashed the same files the same way.
  const warm = await hashTree(dir);
  // One process for the check: with -P2 the two openssl processes' output lines interleave.
  const peer = runPeer(dir, 1);
  if (peer === undefined) {
    lines.push('hash tree: openssl not found; peer comparison skipped');
  } else {
    lines.push(`  digests agree with openssl for ${agreeing(warm, dir, peer.stdout)} of ${warm.files} files`);
  }

  const ssf: number[] = [];
  const ossl: number[] = [];
  for (let i = 0; i < runs; i++) {
    // Interleaved, so load from other processes falls on both sides alike.
    let t0 = process.hrtime.bigint();
    await hashTree(dir);
    ssf.push(Number(process.hrtime.bigint() - t0) / 1e6);
    if (peer !== undefined) {
      t0 = process.hrtime.bigint();
      runPeer(dir, 2);
      ossl.push(Number(process.hrtime.bigint() - t0) / 1e6);
    }
  }
  const x = median(ssf);
  if (peer !== undefined) {
    const y = median(ossl);
    lines.push(`hash tree (${warm.files} files): ssf ${x.toFixed(0)} ms, find|xargs -P2 openssl ${y.toFixed(0)} ms, ratio ${(y / x).toFixed(2)}`);
  } else {
    lines.push(`hash tree (${warm.files} files): ssf ${x.toFixed(0)} ms`);
  }
  if (!opts.quick) {
    const t0 = process.hrtime.bigint();
    await hashTree(dir, { workers: 0 });
    const single = Number(process.hrtime.bigint() - t0) / 1e6;
    lines.push(`  ${(warm.bytes / 1e6).toFixed(0)} MB in ${warm.entries.length} entries; ssf on one thread (workers: 0): ${single.toFixed(0)} ms`);
  }
  return lines;
}

/** The repository's node_modules if it is big enough, else copies of it under /tmp (reused while the source is unchanged). */
function benchTree(lines: string[]): string {
  const repoModules = fileURLToPath(new URL('../../node_modules', import.meta.url));
  const count = countFiles(repoModules);
  if (count >= 40_000) return repoModules;
  const copies = Math.ceil(TARGET_FILES / count);
  const stamp = `${repoModules} ${count} ${copies}\n`;
  const marker = join(SYNTHETIC, MARKER);
  if (!existsSync(marker) || readFileSync(marker, 'utf8') !== stamp) {
    lines.push(`  building ${SYNTHETIC}: ${copies} copies of ${repoModules} (${count} files)`);
    rmSync(SYNTHETIC, { recursive: true, force: true });
    mkdirSync(SYNTHETIC);
    for (let i = 0; i < copies; i++) execFileSync('cp', ['-r', repoModules, join(SYNTHETIC, `c${i}`)]);
    writeFileSync(marker, stamp);
  }
  return SYNTHETIC;
}

function countFiles(dir: string): number {
  let n = 0;
  const stack = [dir];
  let d: string | undefined;
  while ((d = stack.pop()) !== undefined) {
    for (const e of readdirSync(d, { withFileTypes: true })) {
      if (e.isDirectory()) stack.push(join(d, e.name));
      else if (e.isFile()) n++;
    }
  }
  return n;
}

/** With parallel 1 the output is kept for the check; the timed runs (parallel 2) write to /dev/null. */
function runPeer(dir: string, parallel: 1 | 2): { stdout: string } | undefined {
  const r = spawnSync('sh', ['-c', `find "$1" -type f -print0 | xargs -0 -P${parallel} -n 500 openssl dgst -sha256${parallel === 2 ? ' > /dev/null' : ''}`, 'sh', dir], {
    encoding: 'utf8',
    maxBuffer: 1 << 30,
  });
  if (r.error !== undefined || r.status !== 0) {
    if (spawnSync('openssl', ['version']).status !== 0) return undefined;
    throw new Error(`the find|xargs|openssl pipeline failed: ${r.stderr || String(r.error)}`);
  }
  return { stdout: r.stdout };
}

/** How many of ssf's file digests openssl printed identically (`SHA2-256(<path>)= <hex>`). */
function agreeing(t: TreeDigest, dir: string, out: string): number {
  const theirs = new Map<string, string>();
  for (const line of out.split('\n')) {
    const m = /^[A-Z0-9-]+\((.*)\)= ([0-9a-f]{64})$/.exec(line);
    if (m) theirs.set(m[1]!, m[2]!);
  }
  let n = 0;
  for (const e of t.entries) if (e.type === 'file' && theirs.get(`${dir}/${e.path}`) === e.sha256) n++;
  return n;
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[s.length >> 1]!;
}
