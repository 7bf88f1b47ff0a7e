/**
 * The mirror against npm itself: `npm ci --offline` installs a project from a run cache built
 * by NpmMirror, with no network (the fake registry counts requests) and scripts off.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, realpathSync, rmSync, statSync, unlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { contentPath } from './cacache.js';
import { FakeRegistry, lockfileFor, makeTarball, type Tarball } from './fixtures.js';
import { parseNpmLockfile, type LockedPackage } from './lockfile.js';
import { npmCiArgs, NpmMirror } from './mirror.js';
import { parseIntegrity } from './sri.js';

function findNpmCli(): string | undefined {
  const which = spawnSync('sh', ['-c', 'command -v npm'], { encoding: 'utf8' });
  if (which.status !== 0) return undefined;
  try {
    const cli = realpathSync(which.stdout.trim());
    return cli.endsWith('npm-cli.js') ? cli : undefined;
  } catch {
    return undefined;
  }
}
const NPM_CLI = findNpmCli();

const reg = new FakeRegistry();
let tmp: string;
let deps: Tarball[];
let list: LockedPackage[];
let mirror: NpmMirror;

before(async () => {
  tmp = mkdtempSync(join(tmpdir(), 'ssf-npmci-'));
  deps = [
    await makeTarball('alpha', '1.0.0', { 'index.js': "module.exports = 'alpha';\n" }, { main: 'index.js' }),
    await makeTarball('@ssf-test/beta', '2.0.0', { 'index.js': "module.exports = 'beta';\n" }, { main: 'index.js', scripts: { install: `touch ${join(tmp, 'install-script-ran')}`, postinstall: `touch ${join(tmp, 'install-script-ran')}` } }),
  ];
  for (const d of deps) reg.add(d);
  await reg.start();
  mirror = new NpmMirror(join(tmp, 'mirror'));
  list = parseNpmLockfile(lockfileFor('proj', deps), 'package-lock.json', { registry: reg.url, allowedRegistries: [] }).packages;
  await mirror.ensure(list);
});
after(async () => {
  await reg.stop();
  rmSync(tmp, { recursive: true, force: true });
});

/** A project directory with package.json and the given lockfile text. */
function project(name: string, lockText: string): string {
  const dir = join(tmp, name);
  mkdirSync(dir);
  writeFileSync(join(dir, 'package.json'), JSON.stringify({ name: 'proj', version: '1.0.0', dependencies: Object.fromEntries(deps.map((d) => [d.name, d.version])) }));
  writeFileSync(join(dir, 'package-lock.json'), lockText);
  return dir;
}

/** Runs npm with no user or global configuration, as in the sandbox. */
function npmCi(cwd: string, cache: string, wrap: string[] = []): { status: number | null; out: string } {
  const env = { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: join(tmp, 'home'), npm_config_userconfig: join(tmp, 'no-userconfig'), npm_config_globalconfig: join(tmp, 'no-globalconfig') };
  const cmd = [...wrap, process.execPath, NPM_CLI as string, ...npmCiArgs({ cache, registry: reg.url })];
  const r = spawnSync(cmd[0] as string, cmd.slice(1), { cwd, env, encoding: 'utf8', timeout: 120_000 });
  return { status: r.status, out: `${r.stdout}\n${r.stderr}` };
}

/** path -> sha256 of every file below dir. */
function snapshot(dir: string): Map<string, string> {
  const m = new Map<string, string>();
  for (const f of readdirSync(dir, { recursive: true }) as string[]) {
    const p = join(dir, f);
    if (statSync(p).isFile()) m.set(f, createHash('sha256').update(readFileSync(p)).digest('hex'));
  }
  return m;
}

test('npm ci --offline installs a lockfile without resolved URLs from a run cache, touching neither network nor mirror', { skip: NPM_CLI ? false : 'npm not found' }, async () => {
  const dir = project('p1', lockfileFor('proj', deps));
  const run = join(tmp, 'run1');
  await mirror.runCache(run, list);
  const before = snapshot(mirror.cacheDir());
  reg.requests.length = 0;
  const r = npmCi(dir, run);
  assert.equal(r.status, 0, r.out);
  assert.equal(readFileSync(join(dir, 'node_modules', 'alpha', 'index.js'), 'utf8'), "module.exports = 'alpha';\n");
  assert.equal(readFileSync(join(dir, 'node_modules', '@ssf-test', 'beta', 'index.js'), 'utf8'), "module.exports = 'beta';\n");
  assert.equal(reg.requests.length, 0, `npm made requests: ${reg.requests.join(', ')}`);
  assert.ok(!existsSync(join(tmp, 'install-script-ran')), 'an install script ran');
  assert.deepEqual(snapshot(mirror.cacheDir()), before, 'the mirror changed');
  // the lockfile was not rewritten
  assert.equal(readFileSync(join(dir, 'package-lock.json'), 'utf8'), lockfileFor('proj', deps));
});

test('npm ci refuses a run cache whose tarball was altered (npm re-verifies integrity on read)', { skip: NPM_CLI ? false : 'npm not found' }, async () => {
  const dir = project('p2', lockfileFor('proj', deps));
  const run = join(tmp, 'run2');
  await mirror.runCache(run, list);
  const target = contentPath(run, parseIntegrity(deps[0]?.integrity ?? '', 'a').strongest);
  unlinkSync(target); // break the hard link first: the mirror's copy must stay intact
  writeFileSync(target, (await makeTarball('alpha', '1.0.0', { 'index.js': 'evil' })).bytes);
  const r = npmCi(dir, run);
  assert.notEqual(r.status, 0);
  assert.match(r.out, /EINTEGRITY|corrupted/);
  assert.ok(!existsSync(join(dir, 'node_modules', 'alpha', 'index.js')) || readFileSync(join(dir, 'node_modules', 'alpha', 'index.js'), 'utf8') !== 'evil');
  assert.ok(mirror.has(deps[0]?.integrity ?? ''));
});

/** Can this process make a private read-only bind mount (root with unshare)? */
function canMountReadOnly(): boolean {
  const probe = mkdtempSync(join(tmpdir(), 'ssf-ro-'));
  const r = spawnSync('unshare', ['-m', 'sh', '-c', `mount --bind -o ro ${probe} ${probe} && ! touch ${probe}/x 2>/dev/null`], { encoding: 'utf8' });
  rmSync(probe, { recursive: true, force: true });
  return r.status === 0;
}

test('with resolved URLs in the lockfile, npm ci installs straight from the read-only mirror', { skip: NPM_CLI && canMountReadOnly() ? false : 'needs npm and unshare -m' }, async () => {
  const lock = JSON.parse(lockfileFor('proj', deps)) as { packages: Record<string, Record<string, unknown>> };
  for (const p of list) (lock.packages[p.path] as Record<string, unknown>).resolved = p.resolved;
  const dir = project('p3', JSON.stringify(lock, null, 2));
  const cache = mirror.cacheDir();
  const before = snapshot(cache);
  const r = npmCi(dir, cache, ['unshare', '-m', 'sh', '-c', `mount --bind -o ro "$0" "$0" && exec "$@"`, cache]);
  assert.equal(r.status, 0, r.out);
  assert.ok(existsSync(join(dir, 'node_modules', '@ssf-test', 'beta', 'package.json')));
  assert.deepEqual(snapshot(cache), before);
});

test('without resolved URLs npm needs to write its cache index, so a read-only cache fails (why runCache exists)', { skip: NPM_CLI && canMountReadOnly() ? false : 'needs npm and unshare -m' }, async () => {
  const dir = project('p4', lockfileFor('proj', deps));
  const run = join(tmp, 'run4');
  await mirror.runCache(run, list);
  const r = npmCi(dir, run, ['unshare', '-m', 'sh', '-c', `mount --bind -o ro "$0" "$0" && exec "$@"`, run]);
  assert.notEqual(r.status, 0);
  assert.match(r.out, /ENOTCACHED/);
});
