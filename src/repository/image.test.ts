import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { throwsCode, rejectsCode } from '../core/testing.js';
import { MEDIA_TYPE, OciLayout, buildImage, importImageLayout, ociArchitecture, type ImageSpec } from './index.js';

const root = mkdtempSync(join(tmpdir(), 'ssf-img-'));
after(() => rmSync(root, { recursive: true, force: true }));
let n = 0;
function fresh(name: string): string {
  const d = join(root, `${name}-${n++}`);
  mkdirSync(d, { recursive: true });
  return d;
}

function sha(b: Buffer | string): string {
  return `sha256:${createHash('sha256').update(b).digest('hex')}`;
}

function json(layout: OciLayout, digest: string): Record<string, unknown> {
  return JSON.parse(layout.readBlob(digest).toString('utf8')) as Record<string, unknown>;
}

/** An application directory, written in either order. */
function appDir(reverse: boolean): string {
  const d = fresh('app');
  const steps = [
    () => writeFileSync(join(d, 'server.js'), 'console.log("hi")\n'),
    () => mkdirSync(join(d, 'lib')),
    () => writeFileSync(join(d, 'package.json'), '{"name":"hello","type":"module"}\n'),
  ];
  for (const s of reverse ? steps.reverse() : steps) s();
  writeFileSync(join(d, 'lib', 'util.js'), 'export const x = 1;\n');
  return d;
}

/** A tiny "base image" root file system. */
function baseDir(): string {
  const d = fresh('base');
  mkdirSync(join(d, 'bin'));
  mkdirSync(join(d, 'etc'));
  writeFileSync(join(d, 'bin', 'tool'), '#!/bin/sh\necho tool\n');
  chmodSync(join(d, 'bin', 'tool'), 0o755);
  writeFileSync(join(d, 'etc', 'passwd'), 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534::/:/bin/false\n');
  return d;
}

const spec = (dir: string): ImageSpec => ({
  layers: [{ dir, prefix: 'app' }],
  config: { entrypoint: ['node'], cmd: ['/app/server.js'], env: ['NODE_ENV=production'], workingDir: '/app', user: '65534', labels: { 'org.opencontainers.image.title': 'hello' } },
  refName: 'hello:1',
});

test('ociArchitecture maps Node names to OCI names', () => {
  assert.equal(ociArchitecture('x64'), 'amd64');
  assert.equal(ociArchitecture('arm64'), 'arm64');
  assert.equal(ociArchitecture('ia32'), '386');
});

test('an image on scratch: same inputs give the same manifest digest, in any layout, from any creation order', async () => {
  const a = OciLayout.open(fresh('layout-a'));
  const b = OciLayout.open(fresh('layout-b'));
  const one = await buildImage(a, spec(appDir(false)));
  const two = await buildImage(b, spec(appDir(true)));
  const again = await buildImage(a, spec(appDir(true)));
  assert.equal(two.manifest.digest, one.manifest.digest);
  assert.equal(again.manifest.digest, one.manifest.digest);
  assert.deepEqual(a.index().map((d) => d.digest), [one.manifest.digest]);

  const manifest = json(a, one.manifest.digest);
  assert.equal(manifest.schemaVersion, 2);
  assert.equal(manifest.mediaType, MEDIA_TYPE.imageManifest);
  assert.deepEqual(manifest.config, { mediaType: MEDIA_TYPE.imageConfig, digest: one.config.digest, size: one.config.size });
  assert.deepEqual(manifest.layers, [{ mediaType: MEDIA_TYPE.layerTarGzip, digest: one.layers[0]?.digest, size: one.layers[0]?.size }]);
  assert.equal(manifest.annotations, undefined);
  assert.deepEqual(one.manifest.platform, { architecture: ociArchitecture(), os: 'linux' });
  assert.equal(one.manifest.annotations?.['org.opencontainers.image.ref.name'], 'hello:1');

  const config = json(a, one.config.digest);
  const layerBytes = a.readBlob(one.layers[0]?.digest as string);
  assert.deepEqual(config, {
    architecture: ociArchitecture(),
    config: { Cmd: ['/app/server.js'], Entrypoint: ['node'], Env: ['NODE_ENV=production'], Labels: { 'org.opencontainers.image.title': 'hello' }, User: '65534', WorkingDir: '/app' },
    created: '1970-01-01T00:00:00Z',
    history: [{ created: '1970-01-01T00:00:00Z', created_by: 'ssf image: add layer at /app' }],
    os: 'linux',
    rootfs: { diff_ids: [sha(gunzipSync(layerBytes))], type: 'layers' },
  });
  // The layer is an ordinary tar.gz that GNU tar reads.
  const listing = execFileSync('tar', ['-tzf', a.blobPath(one.layers[0]?.digest as string)], { encoding: 'utf8' });
  assert.equal(listing, 'app/\napp/lib/\napp/lib/util.js\napp/package.json\napp/server.js\n');
  assert.deepEqual(a.fsck(), { blobs: 3, problems: [] });

  // Any change to the inputs changes the digest.
  const changed = await buildImage(b, { ...spec(appDir(false)), config: { ...spec('').config, env: ['NODE_ENV=development'] } });
  assert.notEqual(changed.manifest.digest, one.manifest.digest);
  assert.equal(changed.layers[0]?.digest, one.layers[0]?.digest);
  const later = await buildImage(b, { ...spec(appDir(false)), created: '2024-01-02T03:04:05Z' });
  assert.notEqual(later.layers[0]?.digest, one.layers[0]?.digest, 'created is also every file mtime');
});

test('an image built on an imported base keeps the base layers, diff_ids, history and config', async () => {
  // The base is built in its own layout, as a registry pull or `skopeo copy` would leave it.
  const baseLayout = OciLayout.open(fresh('base-layout'));
  const base = await buildImage(baseLayout, {
    layers: [{ dir: baseDir(), prefix: '' }],
    config: { env: ['PATH=/bin', 'LANG=C.UTF-8'], cmd: ['/bin/sh'], labels: { 'org.example.base': 'tiny' } },
    refName: 'tiny:latest',
    created: '2020-01-01T00:00:00Z',
  });
  const layout = OciLayout.open(fresh('work'));
  const imported = importImageLayout(layout, baseLayout.dir, 'tiny:latest');
  assert.equal(imported.digest, base.manifest.digest);
  assert.deepEqual(layout.index().map((d) => d.digest), [base.manifest.digest]);
  assert.equal(layout.index()[0]?.annotations, undefined, 'imported images are referenced by digest, not by name');
  assert.deepEqual(layout.fsck(), { blobs: 3, problems: [] });

  const app = appDir(false);
  const img = await buildImage(layout, {
    base: imported.digest,
    layers: [{ dir: app, prefix: 'app' }],
    config: { entrypoint: ['/bin/tool'], env: ['LANG=en_US.UTF-8', 'NODE_ENV=production'], labels: { 'org.opencontainers.image.title': 'hello' } },
    refName: 'hello:2',
    annotations: { 'org.opencontainers.image.source': 'https://example.invalid/hello' },
  });
  const m = json(layout, img.manifest.digest);
  const baseManifest = json(layout, base.manifest.digest);
  assert.equal((m.layers as unknown[]).length, 2);
  assert.deepEqual((m.layers as unknown[])[0], (baseManifest.layers as unknown[])[0]);
  assert.deepEqual(img.layers.map((l) => l.digest), (m.layers as { digest: string }[]).map((l) => l.digest));
  assert.deepEqual(m.annotations, { 'org.opencontainers.image.base.digest': base.manifest.digest, 'org.opencontainers.image.source': 'https://example.invalid/hello' });
  const c = json(layout, img.config.digest);
  const baseConfig = json(layout, base.config.digest);
  assert.deepEqual((c.rootfs as { diff_ids: string[] }).diff_ids, [
    ...(baseConfig.rootfs as { diff_ids: string[] }).diff_ids,
    sha(gunzipSync(layout.readBlob(img.layers[1]?.digest as string))),
  ]);
  assert.equal((c.history as unknown[]).length, 2);
  assert.deepEqual(c.config, {
    Entrypoint: ['/bin/tool'], // a new entrypoint drops the base's Cmd
    Env: ['PATH=/bin', 'LANG=en_US.UTF-8', 'NODE_ENV=production'],
    Labels: { 'org.example.base': 'tiny', 'org.opencontainers.image.title': 'hello' },
  });
  assert.deepEqual(layout.fsck().problems, []);

  // Unpacking the layers in order gives the combined root file system.
  const rootfs = fresh('rootfs');
  for (const l of img.layers) execFileSync('tar', ['-xzf', layout.blobPath(l.digest), '-C', rootfs]);
  assert.equal(readFileSync(join(rootfs, 'bin/tool'), 'utf8'), '#!/bin/sh\necho tool\n');
  assert.equal(readFileSync(join(rootfs, 'app/server.js'), 'utf8'), 'console.log("hi")\n');

  // The same base and inputs in another layout give the same image.
  const other = OciLayout.open(fresh('work2'));
  importImageLayout(other, baseLayout.dir, base.manifest.digest);
  const img2 = await buildImage(other, { base: base.manifest.digest, layers: [{ dir: appDir(true), prefix: 'app' }], config: { entrypoint: ['/bin/tool'], env: ['LANG=en_US.UTF-8', 'NODE_ENV=production'], labels: { 'org.opencontainers.image.title': 'hello' } }, annotations: { 'org.opencontainers.image.source': 'https://example.invalid/hello' } });
  assert.equal(img2.manifest.digest, img.manifest.digest);

  // The Sigstore bundle for the image is attached as a referrer.
  const att = layout.attach(img.manifest, Buffer.from('{"bundle":true}'), { artifactType: MEDIA_TYPE.sigstoreBundle, mediaType: MEDIA_TYPE.sigstoreBundle });
  assert.deepEqual(layout.referrers(img.manifest.digest).map((r) => r.digest), [att.digest]);
});

test('import checks every blob: a tampered base layer is refused and nothing is stored', async () => {
  const src = OciLayout.open(fresh('src'));
  const base = await buildImage(src, { layers: [{ dir: baseDir(), prefix: '' }], config: {}, refName: 'b' });
  const layer = base.layers[0]?.digest as string;
  const p = src.blobPath(layer);
  chmodSync(p, 0o644);
  const bytes = readFileSync(p);
  bytes[bytes.length - 5] = (bytes[bytes.length - 5] as number) ^ 1;
  writeFileSync(p, bytes);
  const dst = OciLayout.open(fresh('dst'));
  throwsCode(() => importImageLayout(dst, src.dir, 'b'), 'OCI_INVALID');
  assert.equal(dst.hasBlob(layer), false);
  assert.deepEqual(dst.index(), []);
  // A layer missing from the source is named.
  rmSync(p);
  throwsCode(() => importImageLayout(dst, src.dir, 'b'), 'ARTIFACT_NOT_FOUND');
});

test('import refuses non-layouts and ambiguous sources; picks this platform from an index', async () => {
  const dst = OciLayout.open(fresh('dst'));
  throwsCode(() => importImageLayout(dst, join(root, 'nope')), 'FILE_NOT_FOUND');
  throwsCode(() => importImageLayout(dst, fresh('not-a-layout')), 'OCI_INVALID');
  const emptyDir = fresh('empty-layout');
  OciLayout.open(emptyDir);
  throwsCode(() => importImageLayout(dst, emptyDir), 'OCI_INVALID');

  // A multi-platform index: one manifest for this machine, one for another architecture.
  const src = OciLayout.open(fresh('multi'));
  const native = await buildImage(src, { layers: [{ dir: baseDir(), prefix: '' }], config: {} });
  const foreignArch = ociArchitecture() === 'amd64' ? 'arm64' : 'amd64';
  const foreignConfig = src.putBlob(Buffer.from(JSON.stringify({ architecture: foreignArch, os: 'linux', rootfs: { type: 'layers', diff_ids: [] } })), MEDIA_TYPE.imageConfig);
  const foreign = src.putManifest({ schemaVersion: 2, mediaType: MEDIA_TYPE.imageManifest, config: foreignConfig, layers: [] });
  assert.deepEqual(foreign.platform, { architecture: foreignArch, os: 'linux' });
  const index = src.putManifest({ schemaVersion: 2, mediaType: MEDIA_TYPE.imageIndex, manifests: [foreign, native.manifest].map((d) => ({ mediaType: d.mediaType, digest: d.digest, size: d.size, platform: d.platform })) }, { refName: 'multi:1' });
  // Without a ref the source is ambiguous once it lists two manifests.
  src.putManifest(json(src, native.manifest.digest), { refName: 'native' });
  throwsCode(() => importImageLayout(dst, src.dir), 'OCI_INVALID');
  const got = importImageLayout(dst, src.dir, 'multi:1');
  assert.equal(got.digest, native.manifest.digest);
  assert.notEqual(got.digest, index.digest);
  assert.deepEqual(dst.fsck().problems, []);
});

test('buildImage refuses a missing or malformed base and bad specs', async () => {
  const layout = OciLayout.open(fresh('bad'));
  const dir = appDir(false);
  await rejectsCode(buildImage(layout, { base: `sha256:${'1'.repeat(64)}`, layers: [{ dir, prefix: 'app' }], config: {} }), 'ARTIFACT_NOT_FOUND');
  await rejectsCode(buildImage(layout, { base: 'node:20', layers: [{ dir, prefix: 'app' }], config: {} }), 'OCI_INVALID');
  // An artifact (empty config) is not an image and cannot be a base.
  const att = layout.attach({ mediaType: 'text/plain', digest: sha('x'), size: 1 }, Buffer.from('x'), { artifactType: 'application/vnd.example', mediaType: 'text/plain' });
  await rejectsCode(buildImage(layout, { base: att.digest, layers: [], config: {} }), 'OCI_INVALID');
  await rejectsCode(buildImage(layout, { layers: [{ dir: join(root, 'missing'), prefix: 'app' }], config: {} }), 'FILE_NOT_FOUND');
  await rejectsCode(buildImage(layout, { layers: [{ dir, prefix: '../../etc' }], config: {} }), 'PATH_ESCAPE');
  await rejectsCode(buildImage(layout, { layers: [], config: { env: ['NOEQUALS'] } }), 'USAGE');
  await rejectsCode(buildImage(layout, { layers: [], config: { workingDir: 'relative' } }), 'USAGE');
  await rejectsCode(buildImage(layout, { layers: [], config: {}, created: 'yesterday' }), 'USAGE');
  await rejectsCode(buildImage(layout, { layers: [], config: {}, refName: 'bad name' }), 'OCI_INVALID');
  assert.equal(existsSync(join(layout.dir, '.ssf-tmp')) ? execFileSync('ls', [join(layout.dir, '.ssf-tmp')], { encoding: 'utf8' }) : '', '');
});
