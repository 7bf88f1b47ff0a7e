import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { lstatSync, mkdirSync, mkdtempSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { throwsCode } from '../core/testing.js';
import { checkSpec, hostPathOf } from './spec.js';
import { shQuote, unshareScript, bubblewrapArgv, type RootfsInputs } from './backends.js';
import { prepareWorkspaceDir } from './workspace.js';
import type { SandboxSpec } from './types.js';

let dir: string;
let ws: string;

before(() => {
  dir = mkdtempSync(join(tmpdir(), 'ssf-sandbox-spec-'));
  ws = join(dir, 'ws');
  mkdirSync(ws);
  writeFileSync(join(dir, 'file'), 'x');
  symlinkSync('/', join(dir, 'to-root'));
  symlinkSync('/proc/self', join(dir, 'to-proc'));
  symlinkSync(ws, join(dir, 'to-ws'));
});

after(() => rmSync(dir, { recursive: true, force: true }));

const base = (over: Partial<SandboxSpec> = {}): SandboxSpec => ({
  command: ['/usr/bin/true'], cwd: '/', mounts: [], env: {}, network: 'none', timeoutMs: 1000, memoryBytes: 64 << 20,
  stdoutFile: '/dev/null', stderrFile: '/dev/null', ...over,
});

describe('checkSpec: mount targets', () => {
  for (const target of ['/etc', '/', '/workspace/../etc', '/workspacex', '/opt/ssfx/a', 'workspace/a', '/workspace/a/', '/workspace//a', '/tmp/a']) {
    test(`refuses target ${target} with PATH_ESCAPE`, () => {
      throwsCode(() => checkSpec(base({ mounts: [{ host: ws, target, mode: 'ro' }] })), 'PATH_ESCAPE');
    });
  }
  test('accepts targets under /workspace and /opt/ssf, and sorts them', () => {
    const c = checkSpec(base({ mounts: [{ host: ws, target: '/workspace/b', mode: 'rw' }, { host: ws, target: '/opt/ssf/cache', mode: 'ro' }] }));
    assert.deepEqual(c.mounts.map((m) => m.target), ['/opt/ssf/cache', '/workspace/b']);
  });
  test('refuses overlapping targets', () => {
    throwsCode(() => checkSpec(base({ mounts: [{ host: ws, target: '/workspace/a', mode: 'rw' }, { host: ws, target: '/workspace/a/b', mode: 'ro' }] })), 'SANDBOX_FAILED');
    throwsCode(() => checkSpec(base({ mounts: [{ host: ws, target: '/workspace/a', mode: 'rw' }, { host: ws, target: '/workspace/a', mode: 'ro' }] })), 'SANDBOX_FAILED');
  });
  test('refuses an unknown mode', () => {
    throwsCode(() => checkSpec(base({ mounts: [{ host: ws, target: '/workspace/a', mode: 'rwx' as 'rw' }] })), 'SANDBOX_FAILED');
  });
});

describe('checkSpec: mount hosts', () => {
  const cases: [string, () => string][] = [
    ['the host root', () => '/'],
    ['a symlink to the host root', () => join(dir, 'to-root')],
    ['a symlink into /proc', () => join(dir, 'to-proc')],
    ['/proc', () => '/proc'],
    ['/sys/fs', () => '/sys/fs'],
    ['/etc', () => '/etc'],
    ['/root', () => '/root'],
    ['a file', () => join(dir, 'file')],
    ['a missing path', () => join(dir, 'missing')],
    ['a relative path', () => 'ws'],
  ];
  for (const [what, host] of cases) {
    test(`refuses ${what}`, () => {
      throwsCode(() => checkSpec(base({ mounts: [{ host: host(), target: '/workspace/a', mode: 'ro' }] })), 'SANDBOX_FAILED');
    });
  }
  test('binds the resolved directory behind a symlink', () => {
    const c = checkSpec(base({ mounts: [{ host: join(dir, 'to-ws'), target: '/workspace/a', mode: 'ro' }] }));
    assert.equal(c.mounts[0]?.hostReal, ws);
  });
});

describe('checkSpec: command, cwd, env, limits', () => {
  test('env gets the defaults, and declared values win', () => {
    const c = checkSpec(base({ env: { PATH: '/opt/ssf/bin:/usr/bin', X: '1' } }));
    assert.deepEqual(c.env, { PATH: '/opt/ssf/bin:/usr/bin', HOME: '/tmp', TMPDIR: '/tmp', LANG: 'C.UTF-8', X: '1' });
  });
  for (const name of ['1X', 'A-B', 'A=B', '', 'A B']) {
    test(`refuses env name ${JSON.stringify(name)}`, () => {
      throwsCode(() => checkSpec(base({ env: { [name]: 'v' } })), 'SANDBOX_FAILED');
    });
  }
  test('refuses NUL bytes in env values and arguments', () => {
    throwsCode(() => checkSpec(base({ env: { A: 'a\0b' } })), 'SANDBOX_FAILED');
    throwsCode(() => checkSpec(base({ command: ['/usr/bin/true', 'a\0b'] })), 'SANDBOX_FAILED');
  });
  test('refuses a command that is relative, contains =, or is not visible inside', () => {
    throwsCode(() => checkSpec(base({ command: ['true'] })), 'SANDBOX_FAILED');
    throwsCode(() => checkSpec(base({ command: [] })), 'SANDBOX_FAILED');
    throwsCode(() => checkSpec(base({ command: ['/usr/bin/a=b'] })), 'SANDBOX_FAILED');
    throwsCode(() => checkSpec(base({ command: ['/tmp/tool'] })), 'SANDBOX_FAILED');
    throwsCode(() => checkSpec(base({ command: ['/usr/bin/does-not-exist-ssf'] })), 'SANDBOX_FAILED');
  });
  test('finds commands through the /usr symlinks and the mounts', () => {
    writeFileSync(join(ws, 'tool'), '#!/bin/sh\n', { mode: 0o755 });
    checkSpec(base({ command: ['/bin/sh'] }));
    checkSpec(base({ command: ['/workspace/a/tool'], mounts: [{ host: ws, target: '/workspace/a', mode: 'ro' }] }));
  });
  test('cwd must be a directory visible inside', () => {
    mkdirSync(join(ws, 'sub'), { recursive: true });
    const m = [{ host: ws, target: '/workspace/a/b', mode: 'ro' as const }];
    for (const cwd of ['/', '/tmp', '/workspace', '/workspace/a', '/workspace/a/b', '/workspace/a/b/sub', '/usr/lib']) checkSpec(base({ cwd, mounts: m }));
    for (const cwd of ['/root', '/workspace/a/b/missing', '/workspace/c', 'relative', '/workspace/a/b/../b']) {
      throwsCode(() => checkSpec(base({ cwd, mounts: m })), 'SANDBOX_FAILED');
    }
  });
  test('limits must be sane and the network none', () => {
    for (const over of [{ timeoutMs: 0 }, { timeoutMs: 1.5 }, { timeoutMs: 2 ** 31 }, { memoryBytes: 1024 }, { memoryBytes: Number.NaN }, { network: 'host' as 'none' }]) {
      throwsCode(() => checkSpec(base(over)), 'SANDBOX_FAILED');
    }
  });
});

describe('hostPathOf', () => {
  test('maps mounts and the /usr-merged links, nothing else', () => {
    const mounts = [{ host: ws, hostReal: ws, target: '/workspace/a', mode: 'ro' as const }];
    assert.equal(hostPathOf('/workspace/a/x/y', mounts), join(ws, 'x/y'));
    assert.equal(hostPathOf('/workspace/ab', mounts), undefined);
    assert.equal(hostPathOf('/bin/sh', mounts), '/usr/bin/sh');
    assert.equal(hostPathOf('/usr/bin/node', mounts), '/usr/bin/node');
    assert.equal(hostPathOf('/etc/passwd', mounts), undefined);
    assert.equal(hostPathOf('/tmp/x', mounts), undefined);
  });
});

describe('backend argv', () => {
  const fs: RootfsInputs = { etcDir: '/x/etc', rootMountpoint: '/x/root', skeleton: '/x/skeleton', certs: false, loopbackUp: true };
  test('shQuote survives quotes and shell syntax', () => {
    assert.equal(shQuote(`a'b`), `'a'\\''b'`);
    assert.equal(shQuote('$(rm -rf /)'), `'$(rm -rf /)'`);
  });
  test('arguments with shell syntax reach the unshare script only quoted', () => {
    const c = checkSpec(base({ command: ['/usr/bin/true', `'; touch /pwned; '`, '$(id)'] }));
    const script = unshareScript(c, fs);
    assert.ok(script.includes(`''\\''; touch /pwned; '\\'''`));
    assert.ok(script.includes(`'$(id)'`));
  });
  test('bubblewrap drops to 65534 with an empty bounding set and runs env -i', () => {
    const a = bubblewrapArgv(checkSpec(base({ env: { A: 'b' } })), fs);
    for (const flag of ['--die-with-parent', '--new-session', '--unshare-net', '--unshare-pid', '--remount-ro', '--clearenv']) assert.ok(a.includes(flag), flag);
    const tail = a.slice(a.indexOf('/usr/bin/setpriv'));
    assert.deepEqual(tail.slice(0, 9), ['/usr/bin/setpriv', '--reuid=65534', '--regid=65534', '--clear-groups', '--bounding-set=-all', '--inh-caps=-all', '--no-new-privs', '--', '/usr/bin/env']);
    assert.ok(tail.includes('A=b'));
  });
});

describe('prepareWorkspaceDir', () => {
  test('creates a 0755 directory owned by 65534', { skip: process.getuid?.() !== 0 ? 'needs root' : false }, () => {
    const p = join(dir, 'prepared', 'deep');
    prepareWorkspaceDir(p);
    const st = statSync(p);
    assert.equal(st.uid, 65534);
    assert.equal(st.gid, 65534);
    assert.equal(st.mode & 0o7777, 0o755);
  });
  test('refuses a symlink or a file at the path', () => {
    throwsCode(() => prepareWorkspaceDir(join(dir, 'to-ws')), 'IO_FAILED');
    throwsCode(() => prepareWorkspaceDir(join(dir, 'file')), 'IO_FAILED');
    assert.ok(lstatSync(join(dir, 'to-ws')).isSymbolicLink());
    assert.notEqual(statSync(ws).uid, 65534);
  });
});
