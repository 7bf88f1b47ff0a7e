import { SsfError, sha256Hex } from '../core/index.js';
import { MEDIA_TYPE } from './media-types.js';

/** An OCI content descriptor (image-spec 1.1 §descriptor), as this repository reads and writes it. */
export interface Descriptor {
  mediaType: string;
  /** `sha256:<64 lower-case hex>`. */
  digest: string;
  size: number;
  annotations?: Record<string, string>;
  artifactType?: string;
  platform?: { architecture: string; os: string; variant?: string };
}

/** A parsed image manifest. */
export interface ImageManifest {
  readonly kind: 'manifest';
  readonly mediaType: typeof MEDIA_TYPE.imageManifest;
  readonly artifactType?: string;
  readonly config: Descriptor;
  readonly layers: Descriptor[];
  readonly subject?: Descriptor;
  readonly annotations?: Record<string, string>;
}

/** A parsed image index. */
export interface ImageIndex {
  readonly kind: 'index';
  readonly mediaType: typeof MEDIA_TYPE.imageIndex;
  readonly artifactType?: string;
  readonly manifests: Descriptor[];
  readonly subject?: Descriptor;
  readonly annotations?: Record<string, string>;
}

export type Manifest = ImageManifest | ImageIndex;

/** The parts of an image config (image-spec §config) that image assembly uses. */
export interface ImageConfig {
  readonly architecture: string;
  readonly os: string;
  readonly variant?: string;
  readonly config: Record<string, unknown>;
  readonly diffIds: string[];
  readonly history: Record<string, unknown>[];
}

/** Manifests larger than this are refused before they are read (the distribution spec's 4 MiB floor). */
export const MAX_MANIFEST_BYTES = 4 * 1024 * 1024;

const DIGEST_RE = /^sha256:[0-9a-f]{64}$/;
// RFC 6838 §4.2 restricted-name, as image-spec requires for mediaType.
const MEDIA_TYPE_RE = /^[A-Za-z0-9][A-Za-z0-9!#$&^_.+-]{0,126}\/[A-Za-z0-9][A-Za-z0-9!#$&^_.+-]{0,126}$/;
// image-spec image-layout §index.json: the grammar of org.opencontainers.image.ref.name.
const REF_COMPONENT = '[A-Za-z0-9]+(?:(?:[-._:@+]|--)[A-Za-z0-9]+)*';
const REF_NAME_RE = new RegExp(`^${REF_COMPONENT}(?:/${REF_COMPONENT})*$`);

function fail(what: string, why: string): never {
  throw new SsfError('OCI_INVALID', `${what} ${why}`);
}

function clip(s: string): string {
  return s.length > 80 ? `${s.slice(0, 80)}…` : s;
}

/** Is `s` a digest this repository accepts: `sha256:` and 64 lower-case hex digits? */
export function isDigest(s: unknown): s is string {
  return typeof s === 'string' && DIGEST_RE.test(s);
}

/**
 * Checks a digest string before it is used to build a path. The fixed grammar is the guard
 * against traversal: nothing but hex can follow `sha256:`, so `../` never reaches the file system.
 */
export function checkDigest(s: unknown, what: string): string {
  if (isDigest(s)) return s;
  const shown = typeof s === 'string' ? JSON.stringify(clip(s)) : typeof s;
  if (typeof s === 'string' && /^sha(384|512):/.test(s)) fail(what, `${shown} uses an algorithm this repository does not support; only sha256 digests are accepted`);
  return fail(what, `${shown} is not a digest of the form sha256:<64 lower-case hex digits>`);
}

/** Checks an `org.opencontainers.image.ref.name` value against the image-layout grammar. */
export function checkRefName(s: string, what = 'ref name'): string {
  if (!REF_NAME_RE.test(s) || s.length > 1024) fail(what, `${JSON.stringify(clip(s))} does not match the OCI ref-name grammar (letters and digits joined by - . _ : @ + or /)`);
  return s;
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function obj(v: unknown, what: string): Record<string, unknown> {
  if (!isObject(v)) fail(what, 'must be a JSON object');
  return v;
}

function str(v: unknown, what: string): string {
  if (typeof v !== 'string') fail(what, 'must be a string');
  return v;
}

function mediaType(v: unknown, what: string): string {
  const s = str(v, what);
  if (!MEDIA_TYPE_RE.test(s)) fail(what, `${JSON.stringify(clip(s))} is not an RFC 6838 media type`);
  return s;
}

/** Validates an annotations map: a JSON object of string values. */
export function parseAnnotations(v: unknown, what: string): Record<string, string> {
  const o = obj(v, what);
  const out: Record<string, string> = {};
  for (const [k, val] of Object.entries(o)) {
    if (typeof val !== 'string') fail(`${what}[${JSON.stringify(clip(k))}]`, 'must be a string');
    out[k] = val;
  }
  return out;
}

/** Validates a descriptor read from untrusted JSON; `data`, when present, must match digest and size. */
export function parseDescriptor(v: unknown, what: string): Descriptor {
  const o = obj(v, what);
  const d: Descriptor = {
    mediaType: mediaType(o.mediaType, `${what}.mediaType`),
    digest: checkDigest(o.digest, `${what}.digest`),
    size: 0,
  };
  if (typeof o.size !== 'number' || !Number.isSafeInteger(o.size) || o.size < 0) fail(`${what}.size`, 'must be a non-negative integer');
  d.size = o.size;
  if (o.urls !== undefined) {
    if (!Array.isArray(o.urls) || !o.urls.every((u) => typeof u === 'string')) fail(`${what}.urls`, 'must be an array of strings');
  }
  if (o.data !== undefined) {
    const data = str(o.data, `${what}.data`);
    const bytes = Buffer.from(data, 'base64');
    if (bytes.toString('base64') !== data) fail(`${what}.data`, 'is not canonical base64');
    // Embedded data must be the content the descriptor names (image-spec §descriptor "data").
    if (bytes.length !== d.size) fail(`${what}.data`, `holds ${bytes.length} bytes but size says ${d.size}`);
    if (`sha256:${sha256Hex(bytes)}` !== d.digest) fail(`${what}.data`, `does not match the digest ${d.digest}`);
  }
  if (o.annotations !== undefined) d.annotations = parseAnnotations(o.annotations, `${what}.annotations`);
  if (o.artifactType !== undefined) d.artifactType = mediaType(o.artifactType, `${what}.artifactType`);
  if (o.platform !== undefined) {
    const p = obj(o.platform, `${what}.platform`);
    d.platform = { architecture: str(p.architecture, `${what}.platform.architecture`), os: str(p.os, `${what}.platform.os`) };
    if (p.variant !== undefined) d.platform.variant = str(p.variant, `${what}.platform.variant`);
  }
  return d;
}

/** The descriptor fields that identify content, without annotations or platform. */
export function plainDescriptor(d: Descriptor): Descriptor {
  return { mediaType: d.mediaType, digest: d.digest, size: d.size };
}

function descriptors(v: unknown, what: string): Descriptor[] {
  if (!Array.isArray(v)) fail(what, 'must be an array');
  return v.map((x, i) => parseDescriptor(x, `${what}[${i}]`));
}

/** Validates a manifest or index object (already parsed JSON). */
export function parseManifestObject(v: unknown, what: string): Manifest {
  const o = obj(v, what);
  if (o.schemaVersion !== 2) fail(`${what}.schemaVersion`, 'must be 2');
  const mt = o.mediaType;
  const artifactType = o.artifactType === undefined ? undefined : mediaType(o.artifactType, `${what}.artifactType`);
  const subject = o.subject === undefined ? undefined : parseDescriptor(o.subject, `${what}.subject`);
  const annotations = o.annotations === undefined ? undefined : parseAnnotations(o.annotations, `${what}.annotations`);
  const common = {
    ...(artifactType !== undefined ? { artifactType } : {}),
    ...(subject ? { subject } : {}),
    ...(annotations ? { annotations } : {}),
  };
  if (mt === MEDIA_TYPE.imageManifest) {
    if (o.manifests !== undefined) fail(what, 'is an image manifest but has a manifests field');
    const config = parseDescriptor(o.config, `${what}.config`);
    const layers = descriptors(o.layers, `${what}.layers`);
    // image-spec 1.1 §image-manifest: an empty config requires artifactType.
    if (config.mediaType === MEDIA_TYPE.empty && artifactType === undefined) fail(what, 'has an empty config but no artifactType');
    return { kind: 'manifest', mediaType: MEDIA_TYPE.imageManifest, config, layers, ...common };
  }
  if (mt === MEDIA_TYPE.imageIndex) {
    if (o.config !== undefined || o.layers !== undefined) fail(what, 'is an image index but has config or layers');
    return { kind: 'index', mediaType: MEDIA_TYPE.imageIndex, manifests: descriptors(o.manifests, `${what}.manifests`), ...common };
  }
  return fail(`${what}.mediaType`, `must be ${MEDIA_TYPE.imageManifest} or ${MEDIA_TYPE.imageIndex}, not ${typeof mt === 'string' ? JSON.stringify(clip(mt)) : 'absent'}`);
}

/** Parses manifest bytes; `expectedMediaType` is the media type of the descriptor that pointed here. */
export function parseManifestBytes(bytes: Buffer, what: string, expectedMediaType?: string): Manifest {
  if (bytes.length > MAX_MANIFEST_BYTES) fail(what, `is ${bytes.length} bytes, more than the ${MAX_MANIFEST_BYTES}-byte limit for manifests`);
  let v: unknown;
  try {
    v = JSON.parse(bytes.toString('utf8'));
  } catch (e) {
    throw new SsfError('OCI_INVALID', `${what} is not valid JSON: ${(e as Error).message}`, { cause: e });
  }
  const m = parseManifestObject(v, what);
  // A descriptor and its content must agree on what the content is, or a reader could be
  // steered into treating an index as a manifest (image-spec §manifest "mediaType").
  if (expectedMediaType !== undefined && expectedMediaType !== m.mediaType) fail(what, `is ${m.mediaType} but its descriptor says ${expectedMediaType}`);
  return m;
}

/**
 * Parses `index.json` of a layout. Unlike content-addressed manifests its mediaType may be
 * absent (older writers omit it), but when present it must name an image index.
 */
export function parseLayoutIndex(text: string, what: string): ImageIndex {
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch (e) {
    throw new SsfError('OCI_INVALID', `${what} is not valid JSON: ${(e as Error).message}`, { cause: e });
  }
  const o = obj(v, what);
  const m = parseManifestObject(o.mediaType === undefined ? { ...o, mediaType: MEDIA_TYPE.imageIndex } : o, what);
  if (m.kind !== 'index') fail(what, 'must be an image index');
  return m;
}

/** Parses an image config blob (image-spec §config) to the fields assembly needs. */
export function parseImageConfig(bytes: Buffer, what: string): ImageConfig {
  let v: unknown;
  try {
    v = JSON.parse(bytes.toString('utf8'));
  } catch (e) {
    throw new SsfError('OCI_INVALID', `${what} is not valid JSON: ${(e as Error).message}`, { cause: e });
  }
  const o = obj(v, what);
  const rootfs = obj(o.rootfs, `${what}.rootfs`);
  if (rootfs.type !== 'layers') fail(`${what}.rootfs.type`, 'must be "layers"');
  if (!Array.isArray(rootfs.diff_ids)) fail(`${what}.rootfs.diff_ids`, 'must be an array');
  const diffIds = rootfs.diff_ids.map((d, i) => checkDigest(d, `${what}.rootfs.diff_ids[${i}]`));
  const config = o.config === undefined || o.config === null ? {} : obj(o.config, `${what}.config`);
  let history: Record<string, unknown>[] = [];
  if (o.history !== undefined) {
    if (!Array.isArray(o.history)) fail(`${what}.history`, 'must be an array');
    history = o.history.map((h, i) => obj(h, `${what}.history[${i}]`));
  }
  return {
    architecture: str(o.architecture, `${what}.architecture`),
    os: str(o.os, `${what}.os`),
    ...(o.variant !== undefined ? { variant: str(o.variant, `${what}.variant`) } : {}),
    config,
    diffIds,
    history,
  };
}
