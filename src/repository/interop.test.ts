// Independent checks: the layouts, images and artifacts ssf writes are read by skopeo and umoci
// (Debian 12: skopeo 1.9.3, umoci 0.4.7). Each test skips when its tool is not installed;
// .ci/run installs both.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { chmodSync, cpSync, lstatSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, readlinkSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MEDIA_TYPE, OciLayout, buildImage, type BuiltImage, type Descriptor } from './index.js';

function hasTool(name: string): boolean {
  return spawnSync('sh', ['-c', `command -v ${name}`], { stdio: 'ignore' }).status === 0;
}

function run(cmd: string, args: string[]): string {
  return execFileSync(cmd, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
}

function sha(b: Buffer | string): string {
  return `sha256:${createHash('sha256').update(b).digest('hex')}`;
}

const root = mkdtempSync(join(tmpdir(), 'ssf-interop-'));
after(() => rmSync(root, { recursive: true, force: true }));

// A tree with what a tar reader can get wrong: modes to normalise (0600, setuid), an
// executable, a relative symlink, an empty directory, a name too long for ustar (PAX header),
// a non-ASCII name (PAX header) and an empty file.
const src = join(root, 'src');
const longName = `${'a'.repeat(60)}/${'b'.repeat(70)}/${'c'.repeat(120)}`;
mkdirSync(join(src, 'bin'), { recursive: true });
mkdirSync(join(src, 'share', 'deep'), { recursive: true });
mkdirSync(join(src, 'empty'));
mkdirSync(join(src, 'a'.repeat(60), 'b'.repeat(70)), { recursive: true });
writeFileSync(join(src, 'bin', 'run.sh'), '#!/bin/sh\necho hello\n');
chmodSync(join(src, 'bin', 'run.sh'), 0o755);
writeFileSync(join(src, 'share', 'deep', 'secret.txt'), 'private\n');
chmodSync(join(src, 'share', 'deep', 'secret.txt'), 0o600);
writeFileSync(join(src, 'setuid'), '');
chmodSync(join(src, 'setuid'), 0o4711);
writeFileSync(join(src, longName), 'long\n');
writeFileSync(join(src, 'ünïcødé-名前.txt'), 'unicode\n');
symlinkSync('../share/deep/secret.txt', join(src, 'bin', 'link'));

const REF = 'example.org/app:1.0';
const SIG_REF = 'sig';
const layoutDir = join(root, 'layout');
const layout = OciLayout.open(layoutDir);
const image: BuiltImage = await buildImage(layout, {
  layers: [{ dir: src, prefix: 'app' }],
  config: { entrypoint: ['/app/bin/run.sh'], cmd: ['--serve'], env: ['PATH=/usr/bin:/bin', 'MODE=prod'], user: '1000:1000', workingDir: '/app' },
  refName: REF,
  annotations: { 'org.opencontainers.image.title': 'interop' },
});
const sigBlob = Buffer.from('{"mediaType":"application/vnd.dev.sigstore.bundle.v0.3+json"}');
const referrer: Descriptor = layout.attach(image.manifest, sigBlob, {
  artifactType: MEDIA_TYPE.sigstoreBundle,
  mediaType: MEDIA_TYPE.sigstoreBundle,
  annotations: { 'org.example.kind': 'signature' },
});

/** The layout's tree as a tar reader should produce it under `app/`: kind, mode, content or target. */
function expectedTree(dir: string, prefix = ''): Map<string, string> {
  const out = new Map<string, string>();
  for (const name of readdirSync(dir).sort()) {
    const p = join(dir, name);
    const rel = prefix + name;
    const st = lstatSync(p);
    if (st.isDirectory()) {
      out.set(rel, 'dir 755');
      for (const [k, v] of expectedTree(p, `${rel}/`)) out.set(k, v);
    } else if (st.isSymbolicLink()) {
      out.set(rel, `link -> ${readlinkSync(p)}`);
    } else {
      out.set(rel, `file ${st.mode & 0o111 ? '755' : '644'} ${sha(readFileSync(p))}`);
    }
  }
  return out;
}

/** What is actually on disk, in the same notation, with the real modes. */
function actualTree(dir: string, prefix = ''): Map<string, string> {
  const out = new Map<string, string>();
  for (const name of readdirSync(dir).sort()) {
    const p = join(dir, name);
    const rel = prefix + name;
    const st = lstatSync(p);
    const mode = (st.mode & 0o7777).toString(8);
    if (st.isDirectory()) {
      out.set(rel, `dir ${mode}`);
      for (const [k, v] of actualTree(p, `${rel}/`)) out.set(k, v);
    } else if (st.isSymbolicLink()) {
      out.set(rel, `link -> ${readlinkSync(p)}`);
    } else if (st.isFile()) {
      out.set(rel, `file ${mode} ${sha(readFileSync(p))}`);
    } else {
      out.set(rel, 'other');
    }
  }
  return out;
}

function assertUnpacked(rootfs: string): void {
  assert.deepEqual(readdirSync(rootfs), ['app']);
  assert.equal((lstatSync(join(rootfs, 'app')).mode & 0o7777).toString(8), '755');
  const actual = actualTree(join(rootfs, 'app'));
  const expected = expectedTree(src);
  assert.ok(expected.has(longName) && expected.has('empty') && expected.get('setuid') === `file 755 ${sha('')}`);
  assert.deepEqual([...actual.entries()], [...expected.entries()]);
}

interface SkopeoConfig { config: Record<string, unknown>; rootfs: { diff_ids: string[] } }
interface SkopeoInfo { Digest: string; Layers: string[]; Env: string[]; Os: string; Created: string }
interface Artifact { artifactType: string; config: { mediaType: string }; subject: { digest: string } }
interface UmociStat { history: { layer: { digest: string }; diff_id: string; created_by: string }[] }
interface Runtime { process: { args: string[]; user: { uid: number; gid: number }; cwd: string; env: string[] } }

const skopeo = { skip: !hasTool('skopeo') && 'skopeo not installed' };
const umoci = { skip: !hasTool('umoci') && 'umoci not installed' };

test('skopeo reads the manifest and config as built, and copies the image with its digest', skopeo, () => {
  const raw = run('skopeo', ['inspect', '--raw', `oci:${layoutDir}:${REF}`]);
  assert.equal(sha(raw), image.manifest.digest, 'skopeo returns the stored manifest bytes');
  assert.equal(raw, layout.readBlob(image.manifest.digest).toString('utf8'));

  const config = JSON.parse(run('skopeo', ['inspect', '--config', `oci:${layoutDir}:${REF}`])) as SkopeoConfig;
  assert.deepEqual(config.config, {
    User: '1000:1000',
    Env: ['PATH=/usr/bin:/bin', 'MODE=prod'],
    Entrypoint: ['/app/bin/run.sh'],
    Cmd: ['--serve'],
    WorkingDir: '/app',
  });
  assert.equal(config.rootfs.diff_ids.length, 1);

  const info = JSON.parse(run('skopeo', ['inspect', `oci:${layoutDir}:${REF}`])) as SkopeoInfo;
  assert.equal(info.Digest, image.manifest.digest);
  assert.deepEqual(info.Layers, image.layers.map((l) => l.digest));
  assert.deepEqual(info.Env, ['PATH=/usr/bin:/bin', 'MODE=prod']);
  assert.equal(info.Os, 'linux');
  assert.equal(info.Created, '1970-01-01T00:00:00Z');

  // skopeo decompresses nothing on an oci→oci copy: every blob and the manifest keep their digests.
  const copyDir = join(root, 'skopeo-copy');
  run('skopeo', ['--insecure-policy', 'copy', '--quiet', `oci:${layoutDir}:${REF}`, `oci:${copyDir}:${REF}`]);
  assert.equal(sha(run('skopeo', ['inspect', '--raw', `oci:${copyDir}:${REF}`])), image.manifest.digest);
  // ssf reads what skopeo wrote (its index.json has no mediaType) and finds it intact.
  const copied = OciLayout.open(copyDir);
  assert.equal(copied.resolve(REF).digest, image.manifest.digest);
  assert.deepEqual(copied.fsck().problems, []);
  for (const d of [image.config, ...image.layers]) assert.ok(copied.hasBlob(d.digest), `${d.digest} copied`);
});

test('skopeo reads and copies an attached artifact (empty config, artifactType, subject) unchanged', skopeo, () => {
  // skopeo 1.9 addresses images in a layout only by ref name, and ssf lists referrers without
  // one, so a copy of the layout names the referrer (same bytes, same digest).
  const named = join(root, 'named-referrer');
  cpSync(layoutDir, named, { recursive: true });
  const l = OciLayout.open(named);
  const manifest = JSON.parse(l.readBlob(referrer.digest).toString('utf8')) as Record<string, unknown>;
  assert.equal(l.putManifest(manifest, { refName: SIG_REF }).digest, referrer.digest);

  const raw = run('skopeo', ['inspect', '--raw', `oci:${named}:${SIG_REF}`]);
  assert.equal(sha(raw), referrer.digest);
  const parsed = JSON.parse(raw) as Artifact;
  assert.equal(parsed.artifactType, MEDIA_TYPE.sigstoreBundle);
  assert.equal(parsed.config.mediaType, MEDIA_TYPE.empty);
  assert.equal(parsed.subject.digest, image.manifest.digest);

  const copyDir = join(root, 'skopeo-copy-referrer');
  run('skopeo', ['--insecure-policy', 'copy', '--quiet', `oci:${named}:${SIG_REF}`, `oci:${copyDir}:${SIG_REF}`]);
  assert.equal(sha(run('skopeo', ['inspect', '--raw', `oci:${copyDir}:${SIG_REF}`])), referrer.digest);
  const copied = OciLayout.open(copyDir);
  assert.equal(copied.resolve(SIG_REF).digest, referrer.digest);
  assert.deepEqual(copied.readBlob(sha(sigBlob)), sigBlob);
  assert.deepEqual(copied.fsck().problems, []);
});

test('umoci lists, stats and unpacks the image: files, modes and runtime config as built', umoci, () => {
  assert.deepEqual(run('umoci', ['ls', '--layout', layoutDir]).trim().split('\n'), [REF]);

  const stat = JSON.parse(run('umoci', ['stat', '--json', '--image', `${layoutDir}:${REF}`])) as UmociStat;
  assert.equal(stat.history.length, 1);
  assert.equal(stat.history[0]?.layer.digest, image.layers[0]?.digest);
  const config = JSON.parse(layout.readBlob(image.config.digest).toString('utf8')) as SkopeoConfig;
  assert.equal(stat.history[0]?.diff_id, config.rootfs.diff_ids[0]);
  assert.equal(stat.history[0]?.created_by, 'ssf image: add layer at /app');

  // umoci checks each layer's decompressed digest against diff_ids while unpacking.
  const bundle = join(root, 'bundle');
  run('umoci', ['unpack', '--rootless', '--image', `${layoutDir}:${REF}`, bundle]);
  assertUnpacked(join(bundle, 'rootfs'));
  const runtime = JSON.parse(readFileSync(join(bundle, 'config.json'), 'utf8')) as Runtime;
  assert.deepEqual(runtime.process.args, ['/app/bin/run.sh', '--serve']);
  assert.deepEqual(runtime.process.user, { uid: 1000, gid: 1000 });
  assert.equal(runtime.process.cwd, '/app');
  for (const e of ['PATH=/usr/bin:/bin', 'MODE=prod']) assert.ok(runtime.process.env.includes(e), `${e} in ${runtime.process.env}`);

  const raw = join(root, 'raw-rootfs');
  run('umoci', ['raw', 'unpack', '--rootless', '--image', `${layoutDir}:${REF}`, raw]);
  assertUnpacked(raw);
});
