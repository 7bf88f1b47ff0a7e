import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createConnection, createServer, type Server } from 'node:net';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { rejectsCode } from '../core/testing.js';
import { prepareWorkspaceDir, runSandboxed, type Mount, type SandboxBackend, type SandboxResult, type SandboxSpec } from './index.js';
import { probeBackend } from './detect.js';
import { detectLimits } from './cgroup.js';

const NODE = '/usr/bin/node';

let dir: string;
let ws: string;
let roDir: string;
let secretDir: string;
let server: Server;
let port: number;
let connections = 0;

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'ssf-sandbox-test-'));
  ws = join(dir, 'ws');
  prepareWorkspaceDir(ws);
  // Owned by the sandbox user and world-writable, so only the read-only mount can stop a write.
  roDir = join(dir, 'ro');
  prepareWorkspaceDir(roDir);
  writeFileSync(join(roDir, 'input.txt'), 'read me\n', { mode: 0o666 });
  chmodSync(join(roDir, 'input.txt'), 0o666);
  secretDir = join(dir, 'secret');
  mkdirSync(secretDir);
  writeFileSync(join(secretDir, 'key'), 'host-only secret\n', { mode: 0o644 });
  server = createServer((s) => {
    connections++;
    s.on('error', () => undefined);
    s.end('hello from the host\n');
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  port = (server.address() as { port: number }).port;
});

after(() => {
  server.close();
  rmSync(dir, { recursive: true, force: true });
});

const mounts = (): Mount[] => [
  { host: ws, target: '/workspace/out', mode: 'rw' },
  { host: roDir, target: '/workspace/in', mode: 'ro' },
];

interface Ran {
  result: SandboxResult;
  stdout: string;
  stderr: string;
}

async function run(backend: SandboxBackend, command: string[], extra: Partial<SandboxSpec> = {}): Promise<Ran> {
  const n = Math.random().toString(36).slice(2);
  const stdoutFile = join(dir, `${n}.out`);
  const stderrFile = join(dir, `${n}.err`);
  const result = await runSandboxed({
    command, cwd: '/workspace/out', mounts: mounts(), env: {}, network: 'none', timeoutMs: 30_000, memoryBytes: 512 << 20,
    stdoutFile, stderrFile, backend, ...extra,
  });
  return { result, stdout: readFileSync(stdoutFile, 'utf8'), stderr: readFileSync(stderrFile, 'utf8') };
}

/** Runs a Node script inside the sandbox and returns the JSON it prints. */
async function probe(backend: SandboxBackend, script: string, extra: Partial<SandboxSpec> = {}): Promise<Record<string, unknown>> {
  const r = await run(backend, [NODE, '-e', script], extra);
  assert.equal(r.result.exitCode, 0, `script failed: ${r.stderr}`);
  return JSON.parse(r.stdout) as Record<string, unknown>;
}

/** Host pids whose command line contains `marker`. */
function hostPidsWith(marker: string): number[] {
  const out: number[] = [];
  for (const e of readdirSync('/proc')) {
    if (!/^\d+$/.test(e)) continue;
    try {
      if (readFileSync(`/proc/${e}/cmdline`, 'utf8').split('\0').includes(marker)) out.push(Number(e));
    } catch {
      // exited meanwhile
    }
  }
  return out;
}

async function until(cond: () => boolean, what: string, ms = 10_000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) assert.fail(`timed out waiting for ${what}`);
    await delay(20);
  }
}

for (const backend of ['bubblewrap', 'unshare'] as const) {
  const p = probeBackend(backend);
  describe(`sandbox escape tests: ${backend}`, { skip: p.ok ? false : `${backend} does not work here: ${p.reason}` }, () => {
    test('captures exit code, stdout and stderr, and tees them live', async () => {
      const chunks: string[] = [];
      const r = await run(backend, [NODE, '-e', "process.stdout.write('to out'); process.stderr.write('to err'); process.exitCode = 7"], {
        onOutput: (c, s) => chunks.push(`${s}:${c.toString()}`),
      });
      assert.equal(r.result.exitCode, 7);
      assert.equal(r.result.signal, null);
      assert.equal(r.result.timedOut, false);
      assert.equal(r.stdout, 'to out');
      assert.equal(r.stderr, 'to err');
      assert.deepEqual(chunks.sort(), ['stderr:to err', 'stdout:to out']);
      assert.ok(r.result.finishedAt >= r.result.startedAt);
    });

    test('runs as uid/gid 65534 without capabilities and with no_new_privs', async () => {
      const o = await probe(backend, `
        const s = require('fs').readFileSync('/proc/self/status', 'utf8');
        const f = (k) => s.match(new RegExp('^' + k + ':\\\\s*(.*)$', 'm'))[1].trim();
        console.log(JSON.stringify({ uid: process.getuid(), gid: process.getgid(), groups: process.getgroups(),
          eff: f('CapEff'), prm: f('CapPrm'), bnd: f('CapBnd'), amb: f('CapAmb'), nnp: f('NoNewPrivs') }));`);
      assert.deepEqual(o, { uid: 65534, gid: 65534, groups: [65534], eff: '0000000000000000', prm: '0000000000000000', bnd: '0000000000000000', amb: '0000000000000000', nnp: '1' });
    });

    test('the environment holds only the declared variables and the defaults', async () => {
      const r = await run(backend, ['/usr/bin/env'], { env: { FOO: 'bar baz', PATH: '/usr/bin' } });
      assert.equal(r.result.exitCode, 0);
      const vars = r.stdout.trim().split('\n').sort();
      assert.deepEqual(vars, ['FOO=bar baz', 'HOME=/tmp', 'LANG=C.UTF-8', 'PATH=/usr/bin', 'TMPDIR=/tmp']);
    });

    test('no network: the host loopback server and an external address are unreachable', async () => {
      // The same connection from the host works, so a failure inside is the sandbox's doing.
      await new Promise<void>((resolve, reject) => {
        const s = createConnection(port, '127.0.0.1', () => s.destroy());
        s.on('close', () => resolve());
        s.on('error', reject);
      });
      const before = connections;
      const o = await probe(backend, `
        const net = require('net');
        const tryConnect = (host, port) => new Promise((resolve) => {
          const s = net.connect({ host, port, timeout: 3000 });
          s.on('connect', () => { s.destroy(); resolve('connected'); });
          s.on('timeout', () => { s.destroy(); resolve('timeout'); });
          s.on('error', (e) => resolve(e.code));
        });
        (async () => {
          const loop = await tryConnect('127.0.0.1', ${port});
          const ext = await tryConnect('1.1.1.1', 443);
          const ext6 = await tryConnect('2606:4700:4700::1111', 443);
          const ifs = Object.keys(require('os').networkInterfaces());
          console.log(JSON.stringify({ loop, ext, ext6, ifs }));
        })();`);
      assert.equal(connections, before, 'the host server saw a connection from the sandbox');
      assert.equal(o.loop, 'ECONNREFUSED');
      assert.notEqual(o.ext, 'connected');
      assert.notEqual(o.ext6, 'connected');
      assert.deepEqual(o.ifs, ['lo']);
    });

    test('read-only mounts and system directories cannot be written; rw mounts and /tmp can', async () => {
      const o = await probe(backend, `
        const fs = require('fs');
        const attempt = (f) => { try { f(); return 'ok'; } catch (e) { return e.code; } };
        console.log(JSON.stringify({
          roNew: attempt(() => fs.writeFileSync('/workspace/in/new.txt', 'x')),
          roEdit: attempt(() => fs.appendFileSync('/workspace/in/input.txt', 'x')),
          roRead: fs.readFileSync('/workspace/in/input.txt', 'utf8'),
          root: attempt(() => fs.writeFileSync('/evil', 'x')),
          usr: attempt(() => fs.writeFileSync('/usr/bin/evil', 'x')),
          etc: attempt(() => fs.writeFileSync('/etc/passwd', 'x')),
          ws: attempt(() => fs.mkdirSync('/workspace/new')),
          rw: attempt(() => fs.writeFileSync('/workspace/out/result.txt', 'built')),
          tmp: attempt(() => fs.writeFileSync('/tmp/scratch', 'x')),
          tmpBytes: (() => { const st = fs.statfsSync('/tmp'); return st.blocks * st.bsize; })(),
        }));`);
      assert.equal(o.roNew, 'EROFS');
      assert.equal(o.roEdit, 'EROFS');
      assert.equal(o.roRead, 'read me\n');
      assert.ok(o.root === 'EROFS' || o.root === 'EACCES', `root: ${String(o.root)}`);
      assert.ok(o.usr === 'EROFS' || o.usr === 'EACCES', `usr: ${String(o.usr)}`);
      assert.ok(o.etc === 'EROFS' || o.etc === 'EACCES', `etc: ${String(o.etc)}`);
      assert.equal(o.ws, 'EROFS');
      assert.equal(o.rw, 'ok');
      assert.equal(o.tmp, 'ok');
      assert.equal(o.tmpBytes, 512 << 20, '/tmp is sized to the memory limit');
      assert.equal(readFileSync(join(roDir, 'input.txt'), 'utf8'), 'read me\n');
      assert.equal(existsSync(join(roDir, 'new.txt')), false);
      const st = statSync(join(ws, 'result.txt'));
      assert.equal(st.uid, 65534);
      assert.equal(readFileSync(join(ws, 'result.txt'), 'utf8'), 'built');
    });

    test('host files outside the declared mounts are invisible', async () => {
      const key = join(secretDir, 'key');
      const o = await probe(backend, `
        const fs = require('fs');
        const attempt = (p) => { try { fs.readFileSync(p); return 'read'; } catch (e) { return e.code; } };
        const list = (p) => { try { return fs.readdirSync(p); } catch (e) { return e.code; } };
        console.log(JSON.stringify({
          key: attempt(${JSON.stringify(key)}),
          testDir: list(${JSON.stringify(dir)}),
          root: list('/root'), work: list('/work'), home: list('/home'), varDir: list('/var'), sys: list('/sys'),
          shadow: attempt('/etc/shadow'),
          tmp: list('/tmp'),
          top: list('/').sort(),
          users: fs.readFileSync('/etc/passwd', 'utf8').trim().split('\\n').map((l) => l.split(':')[0]),
          resolv: fs.readFileSync('/etc/resolv.conf', 'utf8'),
          pid1root: (() => { try { return fs.readlinkSync('/proc/1/root'); } catch (e) { return e.code; } })(),
        }));`);
      assert.equal(o.key, 'ENOENT');
      assert.equal(o.testDir, 'ENOENT');
      for (const k of ['root', 'work', 'home', 'varDir', 'sys', 'shadow']) assert.equal(o[k], 'ENOENT', k);
      assert.deepEqual(o.tmp, []);
      assert.deepEqual(o.top, ['bin', 'dev', 'etc', 'lib', 'lib64', 'opt', 'proc', 'sbin', 'tmp', 'usr', 'workspace']);
      assert.deepEqual(o.users, ['root', 'nobody']);
      assert.equal(o.resolv, '');
      // pid 1 inside is root-owned (bwrap's init, or the task itself for unshare): either hidden or the sandbox root.
      assert.ok(o.pid1root === 'EACCES' || o.pid1root === '/', `pid1root: ${String(o.pid1root)}`);
    });

    test('/proc shows only the sandbox processes', async () => {
      const o = await probe(backend, `
        const pids = require('fs').readdirSync('/proc').filter((e) => /^\\d+$/.test(e)).map(Number);
        console.log(JSON.stringify({ pids, self: process.pid }));`);
      const pids = o.pids as number[];
      assert.ok(!pids.includes(process.pid), `host test pid ${process.pid} visible in ${pids.join(',')}`);
      assert.ok(pids.length <= 4, `too many pids visible: ${pids.join(',')}`);
      // The namespace's init (bwrap's, or the unshare setup shell) and the task itself.
      assert.ok(pids.includes(1) && pids.includes(o.self as number), `pids: ${pids.join(',')}`);
    });

    test('background processes do not outlive the task', async () => {
      const marker = `${900000 + Math.floor(Math.random() * 99999)}`;
      const r = await run(backend, ['/bin/sh', '-c', `setsid sleep ${marker} </dev/null >/dev/null 2>&1 & nohup sleep ${marker} </dev/null >/dev/null 2>&1 & echo started`]);
      assert.equal(r.result.exitCode, 0);
      assert.equal(r.stdout.trim(), 'started');
      assert.deepEqual(hostPidsWith(marker), []);
    });

    test('a timeout kills the whole sandbox and is reported', async () => {
      const marker = `${800000 + Math.floor(Math.random() * 99999)}`;
      const r = await run(backend, ['/bin/sh', '-c', `sleep ${marker} & sleep ${marker}; echo never`], { timeoutMs: 300 });
      assert.equal(r.result.timedOut, true);
      assert.notEqual(r.result.exitCode, 0);
      assert.equal(r.stdout, '');
      assert.deepEqual(hostPidsWith(marker), []);
    });

    test('the memory limit stops a task that allocates past it', async () => {
      const r = await run(backend, [NODE, '-e', `
        const keep = [];
        for (let i = 0; i < 64; i++) keep.push(Buffer.alloc(16 << 20, 1));
        console.log('allocated', keep.length * 16, 'MiB');`], { memoryBytes: 128 << 20 });
      assert.notEqual(r.result.exitCode, 0);
      assert.doesNotMatch(r.stdout, /allocated/);
      if (r.result.isolation.memoryLimit.mechanism.startsWith('cgroup')) assert.equal(r.result.oomKilled, true);
    });

    test('the task runs inside its own cgroup with the requested limit, removed afterwards', { skip: detectLimits().mechanism !== 'cgroup-v1' ? 'needs cgroup v1' : false }, async () => {
      const layout = detectLimits().layout;
      assert.ok(layout && layout.kind === 'v1');
      const marker = `${700000 + Math.floor(Math.random() * 99999)}`;
      const flag = join(ws, `go-${marker}`);
      const running = run(backend, ['/bin/sh', '-c', `while [ ! -e /workspace/out/go-${marker} ]; do sleep 0.02; done; exec sleep 0.${marker}`], { memoryBytes: 200 << 20 });
      // Find the task's cgroup: the one whose processes include the waiting shell.
      let cgDir = '';
      await until(() => {
        for (const id of readdirSync(layout.memoryBase)) {
          const d = join(layout.memoryBase, id);
          try {
            const pids = readFileSync(join(d, 'cgroup.procs'), 'utf8').split('\n').filter(Boolean);
            for (const pid of pids) {
              if (readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes(`go-${marker}`)) cgDir = d;
            }
          } catch {
            // another task's cgroup went away meanwhile
          }
        }
        return cgDir !== '';
      }, 'the task cgroup');
      assert.equal(readFileSync(join(cgDir, 'memory.limit_in_bytes'), 'utf8').trim(), String(200 << 20));
      writeFileSync(flag, '');
      const r = await running;
      assert.equal(r.result.exitCode, 0);
      assert.equal(r.result.isolation.memoryLimit.mechanism, 'cgroup-v1');
      assert.equal(existsSync(cgDir), false, `${cgDir} still exists`);
    });

    test('the sandbox dies with its parent', async () => {
      const marker = `${600000 + Math.floor(Math.random() * 99999)}`;
      const index = new URL('./index.js', import.meta.url).href;
      const parent = spawn(process.execPath, ['--input-type=module', '-e', `
        import { runSandboxed } from ${JSON.stringify(index)};
        await runSandboxed({ command: ['/bin/sh', '-c', 'sleep ${marker} & exec sleep ${marker}'], cwd: '/', mounts: [], env: {}, network: 'none',
          timeoutMs: 600000, memoryBytes: 64 << 20, stdoutFile: '/dev/null', stderrFile: '/dev/null', backend: ${JSON.stringify(backend)} });`], { stdio: 'inherit' });
      try {
        await until(() => hostPidsWith(marker).length === 2, 'the sandboxed sleeps to start');
      } finally {
        parent.kill('SIGKILL');
      }
      await until(() => hostPidsWith(marker).length === 0, 'the sandboxed sleeps to die with the parent');
    });

    test('the isolation report describes this backend and is plain JSON', async () => {
      const r = await run(backend, ['/usr/bin/true'], { timeoutMs: 12_345, memoryBytes: 100 << 20 });
      const iso = r.result.isolation;
      assert.equal(iso.backend, backend);
      assert.equal(iso.secure, true);
      assert.deepEqual(iso.namespaces, ['mount', 'pid', 'net', 'ipc', 'uts', 'cgroup']);
      assert.equal(iso.network, 'none');
      assert.equal(iso.uid, 65534);
      assert.equal(iso.capabilities, 'none');
      assert.equal(iso.noNewPrivileges, true);
      assert.equal(iso.rootFilesystem, 'read-only');
      assert.equal(iso.tmp, 'tmpfs');
      assert.deepEqual(iso.mounts, [{ target: '/workspace/in', mode: 'ro' }, { target: '/workspace/out', mode: 'rw' }]);
      assert.equal(iso.memoryLimit.bytes, 100 << 20);
      assert.equal(iso.timeLimitMs, 12_345);
      assert.equal(iso.diesWithParent, true);
      assert.deepEqual(JSON.parse(JSON.stringify(iso)), iso);
    });

    test('cwd, hostname and a command from a read-only mount', async () => {
      writeFileSync(join(roDir, 'tool.sh'), '#!/bin/sh\necho "tool in $(pwd) on $(cat /proc/sys/kernel/hostname)"\n', { mode: 0o755 });
      const r = await run(backend, ['/workspace/in/tool.sh'], { cwd: '/workspace/in' });
      assert.equal(r.result.exitCode, 0, r.stderr);
      assert.equal(r.stdout, 'tool in /workspace/in on sandbox\n');
    });

    test('a rw mount the sandbox user cannot write is refused before start', async () => {
      const rootOwned = join(dir, `root-owned-${backend}`);
      mkdirSync(rootOwned, { mode: 0o755 });
      await rejectsCode(run(backend, ['/usr/bin/true'], { mounts: [{ host: rootOwned, target: '/workspace/x', mode: 'rw' }], cwd: '/' }), 'SANDBOX_FAILED');
    });
  });
}

describe('output files', () => {
  test('an output file that cannot be written is IO_FAILED after the task, not a crash', async () => {
    await rejectsCode(
      runSandboxed({ command: ['/bin/sh', '-c', 'echo lots of output'], cwd: '/', mounts: [], env: {}, network: 'none', timeoutMs: 10_000, memoryBytes: 64 << 20,
        stdoutFile: '/dev/full', stderrFile: '/dev/null', backend: 'none', allowInsecure: true }),
      'IO_FAILED',
    );
  });
  test('an output file in a missing directory is IO_FAILED before the task starts', async () => {
    await rejectsCode(run('none', ['/usr/bin/true'], { allowInsecure: true, stdoutFile: join(dir, 'missing', 'out') }), 'IO_FAILED');
  });
});

describe('insecure backend none', () => {
  test('is refused without allowInsecure', async () => {
    await rejectsCode(run('none', ['/usr/bin/true']), 'SANDBOX_UNAVAILABLE');
  });

  test('with allowInsecure it runs and says secure: false', async () => {
    const r = await run('none', ['/bin/sh', '-c', 'pwd; echo "$FOO"'], { allowInsecure: true, env: { FOO: 'x' } });
    assert.equal(r.result.exitCode, 0);
    assert.equal(r.stdout, `${ws}\nx\n`);
    assert.equal(r.result.isolation.secure, false);
    assert.equal(r.result.isolation.backend, 'none');
    assert.equal(r.result.isolation.network, 'host');
    assert.equal(r.result.isolation.capabilities, 'inherited');
  });

  test('with allowInsecure a timeout still kills the task and its children', async () => {
    const marker = `${500000 + Math.floor(Math.random() * 99999)}`;
    const r = await run('none', ['/bin/sh', '-c', `sleep ${marker} & sleep ${marker}`], { allowInsecure: true, timeoutMs: 300 });
    assert.equal(r.result.timedOut, true);
    await until(() => hostPidsWith(marker).length === 0, 'the sleeps to be killed');
  });
});
