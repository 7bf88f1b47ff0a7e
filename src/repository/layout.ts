import { createHash, randomBytes } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { open as openFile } from 'node:fs/promises';
import {
  closeSync,
  existsSync,
  fsyncSync,
  lstatSync,
  mkdirSync,
  openSync,
  readdirSync,
  readFileSync,
  readSync,
  renameSync,
  statSync,
  unlinkSync,
  writeSync,
} from 'node:fs';
import { join } from 'node:path';
import { SsfError, canonicalize, sha256File, sha256Hex, toSsfError, writeFileAtomic } from '../core/index.js';
import { ANNOTATION, EMPTY_DIGEST, EMPTY_JSON, IMAGE_LAYOUT_VERSION, MEDIA_TYPE } from './media-types.js';
import {
  MAX_MANIFEST_BYTES,
  checkDigest,
  checkRefName,
  isDigest,
  parseAnnotations,
  parseDescriptor,
  parseImageConfig,
  parseLayoutIndex,
  parseManifestBytes,
  parseManifestObject,
  plainDescriptor,
  type Descriptor,
  type ImageIndex,
  type Manifest,
} from './validate.js';

const LOCK_STALE_MS = 60_000;
const LOCK_WAIT_MS = 30_000;
const TMP_DIR = '.ssf-tmp';

function hexOf(digest: string): string {
  return digest.slice('sha256:'.length);
}

function sleepSync(ms: number): void {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}

function checkMediaType(s: string, what: string): string {
  // Reuse the descriptor parser's media-type grammar through a throwaway descriptor.
  parseDescriptor({ mediaType: s, digest: EMPTY_DIGEST, size: 0 }, what);
  return s;
}

/** Serialises a descriptor with a fixed field order (index.json is read by people too). */
function descriptorJson(d: Descriptor): Record<string, unknown> {
  return {
    mediaType: d.mediaType,
    digest: d.digest,
    size: d.size,
    ...(d.artifactType !== undefined ? { artifactType: d.artifactType } : {}),
    ...(d.platform !== undefined ? { platform: { ...d.platform } } : {}),
    ...(d.annotations !== undefined ? { annotations: { ...d.annotations } } : {}),
  };
}

function copyDescriptor(d: Descriptor): Descriptor {
  return parseDescriptor(descriptorJson(d), 'descriptor');
}

/**
 * An OCI image layout (image-spec 1.1 §image-layout) on disk: `oci-layout`, `index.json` and
 * content-addressed `blobs/sha256/<hex>`. Blobs are written to a temporary file inside the
 * layout, synced, and renamed into place, so a reader never sees a torn blob; `index.json`
 * changes are serialised between processes by a lock file and replaced atomically.
 */
export class OciLayout {
  private readonly manifests = new Map<string, Manifest>();

  /** Use OciLayout.open. */
  private constructor(readonly dir: string) {}

  /**
   * Opens the layout in `dir`, creating `oci-layout` and an empty `index.json` when neither
   * exists; OCI_INVALID when either is present but malformed, or only `oci-layout` exists.
   */
  static open(dir: string): OciLayout {
    const layout = new OciLayout(dir);
    const layoutFile = join(dir, 'oci-layout');
    const indexFile = join(dir, 'index.json');
    try {
      const hasLayout = existsSync(layoutFile);
      const hasIndex = existsSync(indexFile);
      if (hasLayout && !hasIndex) throw new SsfError('OCI_INVALID', `${dir} has an oci-layout file but no index.json; restore index.json or move the directory aside`);
      if (hasLayout) readLayoutMarker(layoutFile);
      if (hasIndex) layout.readIndex();
      if (!hasIndex) {
        mkdirSync(join(dir, 'blobs', 'sha256'), { recursive: true });
        writeFileAtomic(indexFile, indexJson({ kind: 'index', mediaType: MEDIA_TYPE.imageIndex, manifests: [] }));
      }
      // The marker is written last: a directory with `oci-layout` is a complete layout.
      if (!hasLayout) writeFileAtomic(layoutFile, JSON.stringify({ imageLayoutVersion: IMAGE_LAYOUT_VERSION }));
    } catch (e) {
      throw toSsfError(e, 'IO_FAILED');
    }
    return layout;
  }

  /** Stores `data` as a blob; returns its descriptor. Idempotent: an intact existing blob is kept. */
  putBlob(data: Buffer, mediaType: string): Descriptor {
    checkMediaType(mediaType, 'blob media type');
    const hex = sha256Hex(data);
    const digest = `sha256:${hex}`;
    const path = this.blobPath(digest);
    if (!this.intactBlob(path, data.length, hex)) {
      const tmp = this.tempPath();
      try {
        const fd = openSync(tmp, 'wx', 0o444);
        try {
          let off = 0;
          while (off < data.length) off += writeSync(fd, data, off, data.length - off);
          fsyncSync(fd);
        } finally {
          closeSync(fd);
        }
        mkdirSync(join(this.dir, 'blobs', 'sha256'), { recursive: true });
        renameSync(tmp, path);
      } catch (e) {
        removeQuietly(tmp);
        throw new SsfError('IO_FAILED', `cannot write blob ${digest} in ${this.dir}: ${(e as Error).message}`, { cause: e });
      }
    }
    return { mediaType, digest, size: data.length };
  }

  /** Streams a file into the layout, hashing as it copies; returns its descriptor. */
  async putBlobFile(path: string, mediaType: string): Promise<Descriptor> {
    checkMediaType(mediaType, 'blob media type');
    return this.ingestFile(path, mediaType);
  }

  /**
   * Copies a file in as a blob. With `expected`, the content must hash to that digest and have
   * that size, or nothing is stored (OCI_INVALID): used when copying from untrusted layouts.
   */
  async ingestFile(path: string, mediaType: string, expected?: { digest: string; size: number }): Promise<Descriptor> {
    const tmp = this.tempPath();
    const h = createHash('sha256');
    let size = 0;
    try {
      const fh = await openFile(tmp, 'wx', 0o444);
      try {
        for await (const chunk of createReadStream(path, { highWaterMark: 1 << 20 })) {
          const buf = chunk as Buffer;
          h.update(buf);
          size += buf.length;
          await fh.write(buf);
        }
        await fh.sync();
      } finally {
        await fh.close();
      }
    } catch (e) {
      removeQuietly(tmp);
      const errno = (e as NodeJS.ErrnoException).code;
      if (errno === 'ENOENT' && !existsSync(path)) throw new SsfError('FILE_NOT_FOUND', `cannot store ${path} as a blob: it does not exist`, { cause: e });
      throw new SsfError('IO_FAILED', `cannot store ${path} as a blob in ${this.dir}: ${(e as Error).message}`, { cause: e });
    }
    return this.commitTemp(tmp, path, mediaType, `sha256:${h.digest('hex')}`, size, expected);
  }

  /** The synchronous form of ingestFile, for copies that must complete before returning. */
  ingestFileSync(path: string, mediaType: string, expected?: { digest: string; size: number }): Descriptor {
    const tmp = this.tempPath();
    const h = createHash('sha256');
    let size = 0;
    try {
      const src = openSync(path, 'r');
      try {
        const dst = openSync(tmp, 'wx', 0o444);
        try {
          const buf = Buffer.allocUnsafe(1 << 20);
          for (;;) {
            const n = readSync(src, buf, 0, buf.length, null);
            if (n === 0) break;
            h.update(buf.subarray(0, n));
            size += n;
            let off = 0;
            while (off < n) off += writeSync(dst, buf, off, n - off);
          }
          fsyncSync(dst);
        } finally {
          closeSync(dst);
        }
      } finally {
        closeSync(src);
      }
    } catch (e) {
      removeQuietly(tmp);
      if ((e as NodeJS.ErrnoException).code === 'ENOENT' && !existsSync(path)) throw new SsfError('FILE_NOT_FOUND', `cannot store ${path} as a blob: it does not exist`, { cause: e });
      throw new SsfError('IO_FAILED', `cannot store ${path} as a blob in ${this.dir}: ${(e as Error).message}`, { cause: e });
    }
    return this.commitTemp(tmp, path, mediaType, `sha256:${h.digest('hex')}`, size, expected);
  }

  private commitTemp(tmp: string, path: string, mediaType: string, digest: string, size: number, expected?: { digest: string; size: number }): Descriptor {
    if (expected && (expected.digest !== digest || expected.size !== size)) {
      removeQuietly(tmp);
      throw new SsfError('OCI_INVALID', `${path} should be ${expected.digest} (${expected.size} bytes) but is ${digest} (${size} bytes); the source is corrupt`);
    }
    try {
      mkdirSync(join(this.dir, 'blobs', 'sha256'), { recursive: true });
      renameSync(tmp, this.blobPath(digest));
    } catch (e) {
      removeQuietly(tmp);
      throw new SsfError('IO_FAILED', `cannot write blob ${digest} in ${this.dir}: ${(e as Error).message}`, { cause: e });
    }
    return { mediaType, digest, size };
  }

  /** Reads a blob and checks it against its digest (OCI_INVALID on mismatch, ARTIFACT_NOT_FOUND if absent). */
  readBlob(digest: string): Buffer {
    const path = this.blobPath(digest);
    let data: Buffer;
    try {
      const st = lstatSync(path);
      // A symlink in blobs/ could make a digest name content outside the layout.
      if (!st.isFile()) throw new SsfError('OCI_INVALID', `blob ${digest} in ${this.dir} is not a regular file`);
      data = readFileSync(path);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') throw new SsfError('ARTIFACT_NOT_FOUND', `blob ${digest} is not in the layout ${this.dir}`, { cause: e });
      throw toSsfError(e, 'IO_FAILED');
    }
    if (sha256Hex(data) !== hexOf(digest)) {
      throw new SsfError('OCI_INVALID', `blob ${digest} in ${this.dir} does not match its digest (the file was changed); run fsck and restore it`);
    }
    return data;
  }

  /** The file that holds a blob (whether or not it exists); OCI_INVALID for a malformed digest. */
  blobPath(digest: string): string {
    return join(this.dir, 'blobs', 'sha256', hexOf(checkDigest(digest, 'blob digest')));
  }

  /** Is a blob with this digest present (not verified; readBlob verifies)? */
  hasBlob(digest: string): boolean {
    try {
      return lstatSync(this.blobPath(digest)).isFile();
    } catch (e) {
      if (e instanceof SsfError) throw e;
      return false;
    }
  }

  /**
   * Stores a manifest or index (validated, serialised as canonical JSON) whose config, layers
   * and manifests must already be in the layout. With `refName` the index.json entry carrying
   * that `org.opencontainers.image.ref.name` is added or replaced.
   */
  putManifest(manifest: object, opts: { refName?: string; annotations?: Record<string, string> } = {}): Descriptor {
    const m = parseManifestObject(manifest, 'manifest');
    if (opts.refName !== undefined) checkRefName(opts.refName);
    const annotations = opts.annotations === undefined ? undefined : parseAnnotations(opts.annotations, 'manifest annotations');
    const children = m.kind === 'manifest' ? [m.config, ...m.layers] : m.manifests;
    for (const c of children) this.requirePresent(c, 'manifest');
    const bytes = Buffer.from(canonicalize(manifest));
    if (bytes.length > MAX_MANIFEST_BYTES) throw new SsfError('OCI_INVALID', `manifest is ${bytes.length} bytes, more than the ${MAX_MANIFEST_BYTES}-byte limit`);
    const stored = this.putBlob(bytes, m.mediaType);
    this.manifests.set(stored.digest, m);
    const desc: Descriptor = { ...stored };
    if (m.artifactType !== undefined) desc.artifactType = m.artifactType;
    const platform = this.platformOf(m);
    if (platform) desc.platform = platform;
    if (opts.refName !== undefined) {
      const refName = opts.refName;
      desc.annotations = { ...(annotations ?? {}), [ANNOTATION.refName]: refName };
      this.updateIndex((entries) => [...entries.filter((e) => e.annotations?.[ANNOTATION.refName] !== refName), desc]);
    } else if (annotations !== undefined) {
      desc.annotations = annotations;
    }
    return copyDescriptor(desc);
  }

  /** The manifests listed in index.json, in file order. */
  index(): Descriptor[] {
    return this.readIndex().manifests.map(copyDescriptor);
  }

  /** Finds a manifest by ref name (last index.json entry with that name) or by digest. */
  resolve(ref: string): Descriptor {
    if (ref.startsWith('sha256:') || isDigest(ref)) {
      const digest = checkDigest(ref, 'reference');
      const listed = this.readIndex().manifests.find((d) => d.digest === digest);
      if (listed) return copyDescriptor(listed);
      if (!this.hasBlob(digest)) throw new SsfError('ARTIFACT_NOT_FOUND', `no manifest ${digest} in the layout ${this.dir}`);
      const size = statSync(this.blobPath(digest)).size;
      if (size > MAX_MANIFEST_BYTES) throw new SsfError('OCI_INVALID', `${digest} is ${size} bytes, too large to be a manifest`);
      const m = this.manifest({ mediaType: MEDIA_TYPE.imageManifest, digest, size }, false);
      return { mediaType: m.mediaType, digest, size, ...(m.artifactType !== undefined ? { artifactType: m.artifactType } : {}) };
    }
    checkRefName(ref, 'reference');
    const entries = this.readIndex().manifests.filter((d) => d.annotations?.[ANNOTATION.refName] === ref);
    const hit = entries[entries.length - 1];
    if (!hit) throw new SsfError('ARTIFACT_NOT_FOUND', `no manifest named ${ref} in the layout ${this.dir}; see its index.json for the names it has`);
    return copyDescriptor(hit);
  }

  /**
   * Manifests listed in index.json whose `subject` is `subjectDigest`, described as the
   * distribution spec's referrers API does: artifactType (else the config media type) and the
   * manifest's annotations.
   */
  referrers(subjectDigest: string): Descriptor[] {
    checkDigest(subjectDigest, 'subject digest');
    const seen = new Set<string>();
    const out: Descriptor[] = [];
    for (const d of this.readIndex().manifests) {
      if (seen.has(d.digest)) continue;
      seen.add(d.digest);
      if (d.mediaType !== MEDIA_TYPE.imageManifest && d.mediaType !== MEDIA_TYPE.imageIndex) continue;
      const m = this.manifest(d);
      if (m.subject?.digest !== subjectDigest) continue;
      const artifactType = m.artifactType ?? (m.kind === 'manifest' ? m.config.mediaType : undefined);
      out.push({
        mediaType: m.mediaType,
        digest: d.digest,
        size: d.size,
        ...(artifactType !== undefined ? { artifactType } : {}),
        ...(m.annotations !== undefined ? { annotations: { ...m.annotations } } : {}),
      });
    }
    return out;
  }

  /**
   * Attaches `blob` to `subject` as an OCI 1.1 artifact: an image manifest with
   * `artifactType`, the empty config, one layer and `subject`. It is listed in index.json
   * (without a ref name) so that referrers() finds it.
   */
  attach(subject: Descriptor, blob: Buffer, opts: { artifactType: string; mediaType: string; annotations?: Record<string, string> }): Descriptor {
    const s = plainDescriptor(parseDescriptor(subject, 'subject'));
    checkMediaType(opts.artifactType, 'artifactType');
    const annotations = opts.annotations === undefined ? undefined : parseAnnotations(opts.annotations, 'artifact annotations');
    const layer = this.putBlob(blob, opts.mediaType);
    const config = this.putBlob(EMPTY_JSON, MEDIA_TYPE.empty);
    const manifest = {
      schemaVersion: 2,
      mediaType: MEDIA_TYPE.imageManifest,
      artifactType: opts.artifactType,
      config,
      layers: [layer],
      subject: s,
      ...(annotations !== undefined ? { annotations } : {}),
    };
    const desc = this.putManifest(manifest);
    const entry: Descriptor = { ...desc, ...(annotations !== undefined ? { annotations } : {}) };
    this.updateIndex((entries) => (entries.some((e) => e.digest === entry.digest) ? entries : [...entries, entry]));
    return copyDescriptor(entry);
  }

  /** Lists a descriptor in index.json unless an entry with the same digest is already there. */
  addToIndex(desc: Descriptor): void {
    const entry = copyDescriptor(desc);
    this.updateIndex((entries) => (entries.some((e) => e.digest === entry.digest) ? entries : [...entries, entry]));
  }

  /**
   * Checks the whole layout: every blob's content matches its name, every descriptor reachable
   * from index.json names a present blob of the stated size, and every manifest on the way is
   * valid. Problems are listed, not thrown.
   */
  fsck(): { blobs: number; problems: string[] } {
    const problems: string[] = [];
    let blobs = 0;
    const blobsDir = join(this.dir, 'blobs');
    try {
      readLayoutMarker(join(this.dir, 'oci-layout'));
    } catch (e) {
      problems.push(`oci-layout: ${(e as Error).message}`);
    }
    try {
      for (const alg of readdirSync(blobsDir)) {
        if (alg !== 'sha256') {
          problems.push(`blobs/${alg}: digest algorithm not supported by this repository`);
          continue;
        }
        for (const name of readdirSync(join(blobsDir, alg))) {
          const path = join(blobsDir, alg, name);
          if (!/^[0-9a-f]{64}$/.test(name)) {
            problems.push(`blobs/sha256/${name}: not a sha256 digest name`);
            continue;
          }
          blobs++;
          try {
            if (!lstatSync(path).isFile()) problems.push(`blobs/sha256/${name}: not a regular file`);
            else if (sha256File(path) !== name) problems.push(`blobs/sha256/${name}: content does not match its digest`);
          } catch (e) {
            problems.push(`blobs/sha256/${name}: ${(e as Error).message}`);
          }
        }
      }
    } catch (e) {
      problems.push(`blobs: ${(e as Error).message}`);
    }
    let index: ImageIndex | undefined;
    try {
      index = this.readIndex();
    } catch (e) {
      problems.push(`index.json: ${(e as Error).message}`);
    }
    const seen = new Set<string>();
    const queue: { d: Descriptor; where: string }[] = (index?.manifests ?? []).map((d, i) => ({ d, where: `index.json manifests[${i}]` }));
    while (queue.length > 0) {
      const { d, where } = queue.shift() as { d: Descriptor; where: string };
      if (seen.has(`${d.digest} ${d.size}`)) continue;
      seen.add(`${d.digest} ${d.size}`);
      let size: number;
      try {
        size = lstatSync(this.blobPath(d.digest)).size;
      } catch {
        problems.push(`${where}: ${d.digest} is not in the layout`);
        continue;
      }
      if (size !== d.size) {
        problems.push(`${where}: ${d.digest} is ${size} bytes, the descriptor says ${d.size}`);
        continue;
      }
      if (d.mediaType === MEDIA_TYPE.imageManifest || d.mediaType === MEDIA_TYPE.imageIndex) {
        let m: Manifest;
        try {
          m = parseManifestBytes(this.readBlob(d.digest), d.digest, d.mediaType);
        } catch (e) {
          problems.push(`${where}: ${(e as Error).message}`);
          continue;
        }
        if (m.kind === 'manifest') {
          queue.push({ d: m.config, where: `${d.digest} config` });
          m.layers.forEach((l, i) => queue.push({ d: l, where: `${d.digest} layers[${i}]` }));
          if (m.config.mediaType === MEDIA_TYPE.imageConfig) {
            try {
              const c = parseImageConfig(this.readBlob(m.config.digest), m.config.digest);
              if (c.diffIds.length !== m.layers.length) problems.push(`${d.digest}: config has ${c.diffIds.length} diff_ids for ${m.layers.length} layers`);
            } catch (e) {
              if (!(e instanceof SsfError && e.code === 'ARTIFACT_NOT_FOUND')) problems.push(`${d.digest} config: ${(e as Error).message}`);
            }
          }
        } else {
          m.manifests.forEach((c, i) => queue.push({ d: c, where: `${d.digest} manifests[${i}]` }));
        }
      }
    }
    return { blobs, problems };
  }

  /** Reads and validates a manifest blob, caching it (content-addressed, so it cannot change legitimately). */
  manifest(d: Descriptor, checkType = true): Manifest {
    const cached = this.manifests.get(d.digest);
    if (cached && (!checkType || cached.mediaType === d.mediaType)) return cached;
    if (d.size > MAX_MANIFEST_BYTES) throw new SsfError('OCI_INVALID', `manifest ${d.digest} is ${d.size} bytes, more than the ${MAX_MANIFEST_BYTES}-byte limit`);
    const bytes = this.readBlob(d.digest);
    if (bytes.length !== d.size) throw new SsfError('OCI_INVALID', `manifest ${d.digest} is ${bytes.length} bytes but its descriptor says ${d.size}`);
    const m = parseManifestBytes(bytes, `manifest ${d.digest}`, checkType ? d.mediaType : undefined);
    this.manifests.set(d.digest, m);
    return m;
  }

  private platformOf(m: Manifest): Descriptor['platform'] | undefined {
    if (m.kind !== 'manifest' || m.config.mediaType !== MEDIA_TYPE.imageConfig) return undefined;
    const c = parseImageConfig(this.readBlob(m.config.digest), `config ${m.config.digest}`);
    return { architecture: c.architecture, os: c.os, ...(c.variant !== undefined ? { variant: c.variant } : {}) };
  }

  private requirePresent(d: Descriptor, what: string): void {
    // The empty descriptor's content is fixed by the spec, so it is supplied rather than demanded.
    if (d.digest === EMPTY_DIGEST && d.size === EMPTY_JSON.length && !this.hasBlob(d.digest)) this.putBlob(EMPTY_JSON, d.mediaType);
    let size: number;
    try {
      size = lstatSync(this.blobPath(d.digest)).size;
    } catch (e) {
      if (e instanceof SsfError) throw e;
      throw new SsfError('ARTIFACT_NOT_FOUND', `${what} references ${d.digest}, which is not in the layout ${this.dir}; store that blob first`);
    }
    if (size !== d.size) throw new SsfError('OCI_INVALID', `${what} says ${d.digest} is ${d.size} bytes but the stored blob is ${size} bytes`);
  }

  private intactBlob(path: string, size: number, hex: string): boolean {
    try {
      const st = lstatSync(path);
      if (!st.isFile() || st.size !== size) return false;
      return sha256Hex(readFileSync(path)) === hex;
    } catch {
      return false;
    }
  }

  private tempPath(): string {
    const dir = join(this.dir, TMP_DIR);
    try {
      mkdirSync(dir, { recursive: true });
    } catch (e) {
      throw toSsfError(e, 'IO_FAILED');
    }
    return join(dir, `${process.pid}-${randomBytes(8).toString('hex')}.tmp`);
  }

  private readIndex(): ImageIndex {
    const path = join(this.dir, 'index.json');
    let text: string;
    try {
      text = readFileSync(path, 'utf8');
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') throw new SsfError('OCI_INVALID', `${path} is missing; ${this.dir} is not a complete OCI layout`, { cause: e });
      throw toSsfError(e, 'IO_FAILED');
    }
    return parseLayoutIndex(text, path);
  }

  /** Read-modify-write of index.json under a lock file shared with other processes. */
  private updateIndex(change: (entries: Descriptor[]) => Descriptor[]): void {
    const lock = join(this.dir, 'index.json.lock');
    const deadline = Date.now() + LOCK_WAIT_MS;
    for (;;) {
      try {
        closeSync(openSync(lock, 'wx'));
        break;
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw toSsfError(e, 'IO_FAILED');
        try {
          // A writer that died holding the lock leaves it behind; index writes take milliseconds.
          if (Date.now() - statSync(lock).mtimeMs > LOCK_STALE_MS) unlinkSync(lock);
        } catch {
          // gone already: retry
        }
        if (Date.now() > deadline) throw new SsfError('IO_FAILED', `${lock} has been held for ${LOCK_WAIT_MS / 1000} s; remove it if no ssf process is running`);
        sleepSync(5);
      }
    }
    try {
      const current = this.readIndex();
      const next = change(current.manifests);
      if (next === current.manifests) return;
      writeFileAtomic(join(this.dir, 'index.json'), indexJson({ ...current, manifests: next }));
    } finally {
      removeQuietly(lock);
    }
  }
}

function indexJson(index: ImageIndex): string {
  return `${JSON.stringify(
    {
      schemaVersion: 2,
      mediaType: MEDIA_TYPE.imageIndex,
      manifests: index.manifests.map(descriptorJson),
      ...(index.annotations !== undefined ? { annotations: index.annotations } : {}),
    },
    null,
    2,
  )}\n`;
}

function readLayoutMarker(path: string): void {
  let v: unknown;
  try {
    v = JSON.parse(readFileSync(path, 'utf8'));
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') throw new SsfError('OCI_INVALID', `${path} is missing`, { cause: e });
    throw new SsfError('OCI_INVALID', `${path} is not valid JSON: ${(e as Error).message}`, { cause: e });
  }
  const version = typeof v === 'object' && v !== null && !Array.isArray(v) ? (v as Record<string, unknown>).imageLayoutVersion : undefined;
  if (version !== IMAGE_LAYOUT_VERSION) throw new SsfError('OCI_INVALID', `${path} must be {"imageLayoutVersion":"${IMAGE_LAYOUT_VERSION}"}`);
}

function removeQuietly(path: string): void {
  try {
    unlinkSync(path);
  } catch {
    // already gone
  }
}
