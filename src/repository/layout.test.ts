import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, unlinkSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { throwsCode, rejectsCode } from '../core/testing.js';
import { EMPTY_DIGEST, MEDIA_TYPE, OciLayout, type Descriptor } from './index.js';

const root = mkdtempSync(join(tmpdir(), 'ssf-oci-'));
after(() => rmSync(root, { recursive: true, force: true }));
let n = 0;
function freshLayout(): OciLayout {
  return OciLayout.open(join(root, `layout-${n++}`));
}

function sha(b: Buffer | string): string {
  return `sha256:${createHash('sha256').update(b).digest('hex')}`;
}

/** Overwrites a stored blob in place, as an attacker with write access to the disk could. */
function tamper(layout: OciLayout, digest: string, data: Buffer | string): void {
  const p = layout.blobPath(digest);
  chmodSync(p, 0o644);
  writeFileSync(p, data);
}

/** A small artifact manifest (empty config, one layer) with its blobs stored. */
function artifact(layout: OciLayout, content: string, extra: Record<string, unknown> = {}): Record<string, unknown> {
  const layer = layout.putBlob(Buffer.from(content), 'text/plain');
  const config = layout.putBlob(Buffer.from('{}'), MEDIA_TYPE.empty);
  return { schemaVersion: 2, mediaType: MEDIA_TYPE.imageManifest, artifactType: 'application/vnd.example.test', config, layers: [layer], ...extra };
}

test('open creates oci-layout and an empty index.json, and reopens an existing layout', () => {
  const dir = join(root, 'fresh', 'nested');
  const layout = OciLayout.open(dir);
  assert.deepEqual(JSON.parse(readFileSync(join(dir, 'oci-layout'), 'utf8')), { imageLayoutVersion: '1.0.0' });
  assert.deepEqual(JSON.parse(readFileSync(join(dir, 'index.json'), 'utf8')), { schemaVersion: 2, mediaType: MEDIA_TYPE.imageIndex, manifests: [] });
  assert.ok(statSync(join(dir, 'blobs', 'sha256')).isDirectory());
  assert.deepEqual(layout.index(), []);
  const d = layout.putManifest(artifact(layout, 'x'), { refName: 'x' });
  assert.deepEqual(OciLayout.open(dir).resolve('x'), d);
});

test('open refuses a malformed oci-layout or index.json', () => {
  const cases: [string, Record<string, string>][] = [
    ['bad marker JSON', { 'oci-layout': '{', 'index.json': '{"schemaVersion":2,"manifests":[]}' }],
    ['wrong layout version', { 'oci-layout': '{"imageLayoutVersion":"2.0.0"}', 'index.json': '{"schemaVersion":2,"manifests":[]}' }],
    ['marker without index', { 'oci-layout': '{"imageLayoutVersion":"1.0.0"}' }],
    ['index not JSON', { 'oci-layout': '{"imageLayoutVersion":"1.0.0"}', 'index.json': 'nope' }],
    ['index schemaVersion 1', { 'oci-layout': '{"imageLayoutVersion":"1.0.0"}', 'index.json': '{"schemaVersion":1,"manifests":[]}' }],
    ['index is a manifest', { 'oci-layout': '{"imageLayoutVersion":"1.0.0"}', 'index.json': `{"schemaVersion":2,"mediaType":"${MEDIA_TYPE.imageManifest}","manifests":[]}` }],
    ['traversal digest', { 'oci-layout': '{"imageLayoutVersion":"1.0.0"}', 'index.json': `{"schemaVersion":2,"manifests":[{"mediaType":"${MEDIA_TYPE.imageManifest}","digest":"sha256:../../../etc/passwd","size":1}]}` }],
    ['negative size', { 'oci-layout': '{"imageLayoutVersion":"1.0.0"}', 'index.json': `{"schemaVersion":2,"manifests":[{"mediaType":"${MEDIA_TYPE.imageManifest}","digest":"${EMPTY_DIGEST}","size":-1}]}` }],
    ['bad annotation', { 'oci-layout': '{"imageLayoutVersion":"1.0.0"}', 'index.json': `{"schemaVersion":2,"manifests":[{"mediaType":"${MEDIA_TYPE.imageManifest}","digest":"${EMPTY_DIGEST}","size":2,"annotations":{"a":1}}]}` }],
  ];
  for (const [name, files] of cases) {
    const dir = join(root, `bad-${n++}`);
    mkdirSync(dir);
    for (const [f, text] of Object.entries(files)) writeFileSync(join(dir, f), text);
    throwsCode(() => OciLayout.open(dir), 'OCI_INVALID');
    assert.equal(readFileSync(join(dir, 'oci-layout'), 'utf8'), files['oci-layout'], name);
  }
});

test('blobs round-trip, are content-addressed, idempotent and read-only on disk', async () => {
  const layout = freshLayout();
  const data = Buffer.from('hello, layout');
  const d = layout.putBlob(data, 'text/plain');
  assert.deepEqual(d, { mediaType: 'text/plain', digest: sha(data), size: data.length });
  assert.equal(layout.blobPath(d.digest), join(layout.dir, 'blobs', 'sha256', d.digest.slice(7)));
  assert.ok(layout.hasBlob(d.digest));
  assert.deepEqual(layout.readBlob(d.digest), data);
  assert.equal(statSync(layout.blobPath(d.digest)).mode & 0o777, 0o444);
  const before = statSync(layout.blobPath(d.digest)).ino;
  assert.deepEqual(layout.putBlob(data, 'text/plain'), d);
  assert.equal(statSync(layout.blobPath(d.digest)).ino, before, 'an intact blob is not rewritten');
  // Streaming a file gives the same digest as putting its bytes; large enough for several chunks.
  const big = Buffer.alloc(5 * 1024 * 1024 + 3, 0xab);
  const file = join(root, 'big.bin');
  writeFileSync(file, big);
  const fd = await layout.putBlobFile(file, 'application/octet-stream');
  assert.deepEqual(fd, { mediaType: 'application/octet-stream', digest: sha(big), size: big.length });
  assert.deepEqual(layout.readBlob(fd.digest), big);
  await rejectsCode(layout.putBlobFile(join(root, 'missing.bin'), 'application/octet-stream'), 'FILE_NOT_FOUND');
  throwsCode(() => layout.putBlob(data, 'not a media type'), 'OCI_INVALID');
  // No temporary files are left behind.
  assert.deepEqual(readdirSync(join(layout.dir, '.ssf-tmp')), []);
});

test('digests are checked before they touch the file system', () => {
  const layout = freshLayout();
  const bad = ['sha256:../../../etc/passwd', `sha256:${'A'.repeat(64)}`, `sha256:${'a'.repeat(63)}`, `sha512:${'a'.repeat(128)}`, 'sha256:', `${'a'.repeat(64)}`, `sha256:${'a'.repeat(64)}/x`];
  for (const d of bad) {
    throwsCode(() => layout.readBlob(d), 'OCI_INVALID');
    throwsCode(() => layout.blobPath(d), 'OCI_INVALID');
    throwsCode(() => layout.hasBlob(d), 'OCI_INVALID');
    throwsCode(() => layout.referrers(d), 'OCI_INVALID');
    if (d.startsWith('sha256:')) throwsCode(() => layout.resolve(d), 'OCI_INVALID');
  }
  throwsCode(() => layout.readBlob(`sha256:${'0'.repeat(64)}`), 'ARTIFACT_NOT_FOUND');
  assert.equal(layout.hasBlob(`sha256:${'0'.repeat(64)}`), false);
});

test('a tampered blob is caught by readBlob and fsck, and putBlob repairs it', () => {
  const layout = freshLayout();
  const data = Buffer.from('original content');
  const d = layout.putBlob(data, 'text/plain');
  layout.putManifest(artifact(layout, 'named'), { refName: 'named' });
  assert.deepEqual(layout.fsck(), { blobs: 4, problems: [] });
  tamper(layout, d.digest, 'original c0ntent');
  throwsCode(() => layout.readBlob(d.digest), 'OCI_INVALID');
  const { blobs, problems } = layout.fsck();
  assert.equal(blobs, 4);
  assert.deepEqual(problems, [`blobs/sha256/${d.digest.slice(7)}: content does not match its digest`]);
  layout.putBlob(data, 'text/plain');
  assert.deepEqual(layout.readBlob(d.digest), data);
  assert.deepEqual(layout.fsck().problems, []);
});

test('fsck reports missing referenced blobs, wrong sizes, stray files and broken manifests', () => {
  const layout = freshLayout();
  const m = artifact(layout, 'payload');
  const desc = layout.putManifest(m, { refName: 'app:1' });
  const layer = (m.layers as Descriptor[])[0] as Descriptor;
  unlinkSync(layout.blobPath(layer.digest));
  writeFileSync(join(layout.dir, 'blobs', 'sha256', 'not-a-digest'), 'x');
  const { problems } = layout.fsck();
  assert.deepEqual(problems, [`blobs/sha256/not-a-digest: not a sha256 digest name`, `${desc.digest} layers[0]: ${layer.digest} is not in the layout`]);
  // A manifest whose bytes are replaced is both a digest mismatch and an invalid reference.
  const other = freshLayout();
  const d2 = other.putManifest(artifact(other, 'p'), { refName: 'p' });
  tamper(other, d2.digest, '{"schemaVersion":1}');
  const p2 = other.fsck().problems;
  assert.equal(p2.length, 2);
  assert.match(p2[0] as string, /content does not match its digest/);
  assert.match(p2[1] as string, /index\.json manifests\[0\]: .* is 19 bytes, the descriptor says/);
});

test('putManifest validates the manifest and requires its blobs', () => {
  const layout = freshLayout();
  const good = artifact(layout, 'content');
  const missing = { mediaType: 'text/plain', digest: sha('never stored'), size: 12 };
  const cases: [string, Record<string, unknown>, 'OCI_INVALID' | 'ARTIFACT_NOT_FOUND'][] = [
    ['schemaVersion 1', { ...good, schemaVersion: 1 }, 'OCI_INVALID'],
    ['no mediaType', { ...good, mediaType: undefined }, 'OCI_INVALID'],
    ['docker mediaType', { ...good, mediaType: 'application/vnd.docker.distribution.manifest.v2+json' }, 'OCI_INVALID'],
    ['layers not an array', { ...good, layers: {} }, 'OCI_INVALID'],
    ['uppercase digest', { ...good, layers: [{ mediaType: 'text/plain', digest: `sha256:${'A'.repeat(64)}`, size: 1 }] }, 'OCI_INVALID'],
    ['fractional size', { ...good, layers: [{ mediaType: 'text/plain', digest: EMPTY_DIGEST, size: 1.5 }] }, 'OCI_INVALID'],
    ['empty config without artifactType', { ...good, artifactType: undefined }, 'OCI_INVALID'],
    ['bad subject', { ...good, subject: { mediaType: MEDIA_TYPE.imageManifest, digest: 'sha256:x', size: 1 } }, 'OCI_INVALID'],
    ['missing layer', { ...good, layers: [missing] }, 'ARTIFACT_NOT_FOUND'],
    ['wrong layer size', { ...good, layers: [{ mediaType: 'text/plain', digest: EMPTY_DIGEST, size: 3 }] }, 'OCI_INVALID'],
    ['data not matching digest', { ...good, config: { mediaType: MEDIA_TYPE.empty, digest: EMPTY_DIGEST, size: 2, data: Buffer.from('[]').toString('base64') } }, 'OCI_INVALID'],
    ['index with a config', { schemaVersion: 2, mediaType: MEDIA_TYPE.imageIndex, manifests: [], config: good.config }, 'OCI_INVALID'],
  ];
  for (const [name, m, code] of cases) {
    assert.doesNotThrow(() => JSON.stringify(m), name);
    throwsCode(() => layout.putManifest(m), code);
  }
  throwsCode(() => layout.putManifest(good, { refName: 'bad name with spaces' }), 'OCI_INVALID');
  // The empty config `{}` is known content: a manifest may name it before it is stored.
  const other = freshLayout();
  const layer = other.putBlob(Buffer.from('x'), 'text/plain');
  assert.equal(other.hasBlob(EMPTY_DIGEST), false);
  other.putManifest({ schemaVersion: 2, mediaType: MEDIA_TYPE.imageManifest, artifactType: 'application/vnd.example', config: { mediaType: MEDIA_TYPE.empty, digest: EMPTY_DIGEST, size: 2 }, layers: [layer] });
  assert.equal(other.readBlob(EMPTY_DIGEST).toString(), '{}');
  throwsCode(() => layout.putManifest(good, { refName: '../escape' }), 'OCI_INVALID');
  assert.deepEqual(layout.index(), []);
});

test('ref names add and replace index entries; resolve finds names and digests', () => {
  const layout = freshLayout();
  const m1 = layout.putManifest(artifact(layout, 'one'), { refName: 'app/hello:1', annotations: { 'org.example.note': 'first' } });
  assert.deepEqual(m1.annotations, { 'org.example.note': 'first', 'org.opencontainers.image.ref.name': 'app/hello:1' });
  assert.equal(m1.artifactType, 'application/vnd.example.test');
  const m2 = layout.putManifest(artifact(layout, 'two'), { refName: 'app/hello:1' });
  const m3 = layout.putManifest(artifact(layout, 'three'), { refName: 'other' });
  assert.deepEqual(layout.index().map((d) => d.digest), [m2.digest, m3.digest]);
  assert.deepEqual(layout.resolve('app/hello:1'), m2);
  assert.equal(layout.resolve(m3.digest).digest, m3.digest);
  // A manifest not listed in the index is still found by digest.
  const unlisted = layout.putManifest(artifact(layout, 'four'));
  assert.deepEqual(layout.resolve(unlisted.digest), { mediaType: MEDIA_TYPE.imageManifest, digest: unlisted.digest, size: unlisted.size, artifactType: 'application/vnd.example.test' });
  throwsCode(() => layout.resolve('app/hello:2'), 'ARTIFACT_NOT_FOUND');
  throwsCode(() => layout.resolve(m1.digest.replace(/.$/, (c) => (c === '0' ? '1' : '0'))), 'ARTIFACT_NOT_FOUND');
  throwsCode(() => layout.resolve('no spaces allowed'), 'OCI_INVALID');
  // The stored manifest is canonical JSON: putting it again yields the same digest.
  const again = layout.putManifest(JSON.parse(layout.readBlob(m2.digest).toString('utf8')) as object, { refName: 'app/hello:1' });
  assert.equal(again.digest, m2.digest);
  assert.equal(layout.index().length, 2);
  assert.equal(layout.readBlob(m2.digest).toString('utf8').includes(' '), false);
});

test('attach stores an OCI 1.1 artifact manifest and referrers lists it', () => {
  const layout = freshLayout();
  const subject = layout.putManifest(artifact(layout, 'the artifact'), { refName: 'subject:1' });
  const bundle = Buffer.from(JSON.stringify({ mediaType: MEDIA_TYPE.sigstoreBundle, verificationMaterial: {}, dsseEnvelope: {} }));
  const att = layout.attach(subject, bundle, { artifactType: MEDIA_TYPE.sigstoreBundle, mediaType: MEDIA_TYPE.sigstoreBundle, annotations: { 'dev.ssf.run': 'r1' } });
  assert.equal(att.artifactType, MEDIA_TYPE.sigstoreBundle);
  const m = JSON.parse(layout.readBlob(att.digest).toString('utf8')) as Record<string, unknown>;
  assert.deepEqual(m, {
    annotations: { 'dev.ssf.run': 'r1' },
    artifactType: MEDIA_TYPE.sigstoreBundle,
    config: { digest: EMPTY_DIGEST, mediaType: MEDIA_TYPE.empty, size: 2 },
    layers: [{ digest: sha(bundle), mediaType: MEDIA_TYPE.sigstoreBundle, size: bundle.length }],
    mediaType: MEDIA_TYPE.imageManifest,
    schemaVersion: 2,
    subject: { digest: subject.digest, mediaType: MEDIA_TYPE.imageManifest, size: subject.size },
  });
  assert.deepEqual(layout.readBlob(EMPTY_DIGEST).toString(), '{}');
  assert.deepEqual(layout.referrers(subject.digest), [
    { mediaType: MEDIA_TYPE.imageManifest, digest: att.digest, size: att.size, artifactType: MEDIA_TYPE.sigstoreBundle, annotations: { 'dev.ssf.run': 'r1' } },
  ]);
  // Attaching the same thing again changes nothing; a second, different attachment is added.
  assert.equal(layout.attach(subject, bundle, { artifactType: MEDIA_TYPE.sigstoreBundle, mediaType: MEDIA_TYPE.sigstoreBundle, annotations: { 'dev.ssf.run': 'r1' } }).digest, att.digest);
  const sbom = layout.attach(subject, Buffer.from('{"bomFormat":"CycloneDX"}'), { artifactType: 'application/vnd.cyclonedx+json', mediaType: 'application/vnd.cyclonedx+json' });
  assert.deepEqual(layout.referrers(subject.digest).map((r) => r.artifactType), [MEDIA_TYPE.sigstoreBundle, 'application/vnd.cyclonedx+json']);
  assert.deepEqual(layout.referrers(sbom.digest), []);
  assert.deepEqual(layout.referrers(sha('unrelated')), []);
  // A referrer without artifactType reports its config media type (distribution spec, referrers API).
  const cfg = layout.putBlob(Buffer.from('{"k":1}'), 'application/vnd.example.config.v1+json');
  const plain = layout.putManifest({ schemaVersion: 2, mediaType: MEDIA_TYPE.imageManifest, config: cfg, layers: [], subject: { mediaType: subject.mediaType, digest: subject.digest, size: subject.size } }, { refName: 'plain' });
  assert.equal(layout.referrers(subject.digest).find((r) => r.digest === plain.digest)?.artifactType, 'application/vnd.example.config.v1+json');
  assert.deepEqual(layout.fsck().problems, []);
  // The subject need not be in the layout (image-spec 1.1), but it must be a valid descriptor.
  const foreign = { mediaType: MEDIA_TYPE.imageManifest, digest: sha('elsewhere'), size: 10 };
  layout.attach(foreign, bundle, { artifactType: MEDIA_TYPE.sigstoreBundle, mediaType: MEDIA_TYPE.sigstoreBundle });
  assert.equal(layout.referrers(foreign.digest).length, 1);
  throwsCode(() => layout.attach({ ...foreign, digest: 'sha256:../x' }, bundle, { artifactType: MEDIA_TYPE.sigstoreBundle, mediaType: MEDIA_TYPE.sigstoreBundle }), 'OCI_INVALID');
});

test('referrers refuses a referrer manifest that was tampered with', () => {
  const layout = freshLayout();
  const subject = layout.putManifest(artifact(layout, 's'), { refName: 's' });
  const att = layout.attach(subject, Buffer.from('sig'), { artifactType: MEDIA_TYPE.sigstoreBundle, mediaType: MEDIA_TYPE.sigstoreBundle });
  const fresh = OciLayout.open(layout.dir); // no cached manifests
  tamper(fresh, att.digest, layout.readBlob(att.digest).toString().replace(subject.digest, sha('other')));
  throwsCode(() => fresh.referrers(subject.digest), 'OCI_INVALID');
});

test('a stale index lock left by a dead writer is broken; index.json stays valid JSON', () => {
  const layout = freshLayout();
  const lock = join(layout.dir, 'index.json.lock');
  writeFileSync(lock, '');
  const old = Date.now() / 1000 - 3600;
  utimesSync(lock, old, old);
  const d = layout.putManifest(artifact(layout, 'x'), { refName: 'x' });
  assert.equal(existsSync(lock), false);
  assert.deepEqual(layout.resolve('x'), d);
  const index = JSON.parse(readFileSync(join(layout.dir, 'index.json'), 'utf8')) as { manifests: unknown[] };
  assert.equal(index.manifests.length, 1);
});
