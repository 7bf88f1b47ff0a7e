import { randomBytes } from 'node:crypto';
import { existsSync, statSync, unlinkSync } from 'node:fs';
import { join } from 'node:path';
import { SsfError, canonicalize } from '../core/index.js';
import { OciLayout } from './layout.js';
import { ANNOTATION, MEDIA_TYPE } from './media-types.js';
import { deterministicTarGz, prefixParts } from './tar.js';
import { checkDigest, parseAnnotations, parseImageConfig, type Descriptor, type ImageConfig, type ImageManifest } from './validate.js';

/** What to assemble: a base (or scratch), directory layers, and the container config. */
export interface ImageSpec {
  /** 'scratch' (the default) or the digest of an image manifest already in the layout. */
  base?: string;
  /** Each directory becomes one layer, its contents under `prefix` in the image. */
  layers: { dir: string; prefix: string }[];
  config: { entrypoint?: string[]; cmd?: string[]; env?: string[]; workingDir?: string; user?: string; labels?: Record<string, string> };
  /** RFC 3339 time for the config and history; also every file's mtime. Default 1970-01-01T00:00:00Z. */
  created?: string;
  /** Name the manifest in index.json. */
  refName?: string;
  /** Annotations of the image manifest. */
  annotations?: Record<string, string>;
}

/** What buildImage stored. */
export interface BuiltImage {
  manifest: Descriptor;
  config: Descriptor;
  /** Every layer of the manifest, base layers first. */
  layers: Descriptor[];
}

const DEFAULT_CREATED = '1970-01-01T00:00:00Z';
const RFC3339 = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$/;

/** The OCI (GOARCH) name of an architecture Node reports. */
export function ociArchitecture(arch: string = process.arch): string {
  switch (arch) {
    case 'x64':
      return 'amd64';
    case 'ia32':
      return '386';
    case 'ppc64':
      return 'ppc64le';
    default:
      // arm64, arm, s390x, riscv64, loong64, mips64el are spelled the same way.
      return arch;
  }
}

function usage(what: string, why: string): never {
  throw new SsfError('USAGE', `image spec ${what} ${why}`);
}

function strings(v: unknown, what: string): string[] {
  if (!Array.isArray(v) || !v.every((s) => typeof s === 'string')) usage(what, 'must be an array of strings');
  return [...(v as string[])];
}

function envName(entry: string): string {
  const i = entry.indexOf('=');
  return i <= 0 ? '' : entry.slice(0, i);
}

/** The base config with the spec applied, following the Dockerfile rules for each field. */
function containerConfig(base: Record<string, unknown>, c: ImageSpec['config']): Record<string, unknown> {
  const out: Record<string, unknown> = { ...base };
  if (c.user !== undefined) {
    if (typeof c.user !== 'string') usage('config.user', 'must be a string');
    out.User = c.user;
  }
  if (c.env !== undefined) {
    const env = Array.isArray(out.Env) ? strings(out.Env, 'base Env') : [];
    for (const e of strings(c.env, 'config.env')) {
      const name = envName(e);
      if (name === '') usage('config.env', `entry ${JSON.stringify(e)} must be NAME=value`);
      const i = env.findIndex((x) => envName(x) === name);
      if (i >= 0) env[i] = e;
      else env.push(e);
    }
    out.Env = env;
  }
  if (c.entrypoint !== undefined) {
    out.Entrypoint = strings(c.entrypoint, 'config.entrypoint');
    // As with a Dockerfile ENTRYPOINT, a new entrypoint drops the base's CMD unless a CMD is given.
    if (c.cmd === undefined) delete out.Cmd;
  }
  if (c.cmd !== undefined) out.Cmd = strings(c.cmd, 'config.cmd');
  if (c.workingDir !== undefined) {
    if (typeof c.workingDir !== 'string' || !c.workingDir.startsWith('/')) usage('config.workingDir', 'must be an absolute path');
    out.WorkingDir = c.workingDir;
  }
  if (c.labels !== undefined) {
    const baseLabels = typeof out.Labels === 'object' && out.Labels !== null && !Array.isArray(out.Labels) ? (out.Labels as Record<string, unknown>) : {};
    out.Labels = { ...baseLabels, ...parseAnnotations(c.labels, 'config.labels') };
  }
  return out;
}

interface Base {
  readonly digest: string;
  readonly manifest: ImageManifest;
  readonly config: ImageConfig;
}

function loadBase(layout: OciLayout, base: string): Base {
  const digest = checkDigest(base, 'base image');
  const desc = layout.resolve(digest);
  const m = layout.manifest(desc);
  if (m.kind !== 'manifest') throw new SsfError('OCI_INVALID', `base ${digest} is an image index; import one platform's manifest and use its digest`);
  if (m.config.mediaType !== MEDIA_TYPE.imageConfig) throw new SsfError('OCI_INVALID', `base ${digest} is not an image (config media type ${m.config.mediaType})`);
  const config = parseImageConfig(layout.readBlob(m.config.digest), `base config ${m.config.digest}`);
  if (config.diffIds.length !== m.layers.length) throw new SsfError('OCI_INVALID', `base ${digest} has ${m.layers.length} layers but its config lists ${config.diffIds.length} diff_ids`);
  return { digest, manifest: m, config };
}

/**
 * Assembles an OCI image in the layout without a container engine: one deterministic layer
 * per directory on top of the base's layers, an image config and a manifest. The same inputs
 * give the same manifest digest (for one zlib build; see docs/repository.md).
 */
export async function buildImage(layout: OciLayout, spec: ImageSpec): Promise<BuiltImage> {
  const created = spec.created ?? DEFAULT_CREATED;
  const createdMs = Date.parse(created);
  if (!RFC3339.test(created) || !Number.isFinite(createdMs) || createdMs < 0) usage('created', `${JSON.stringify(created)} must be an RFC 3339 time not before 1970`);
  const mtime = Math.floor(createdMs / 1000);
  if (!Array.isArray(spec.layers)) usage('layers', 'must be an array');
  const annotations = spec.annotations === undefined ? {} : parseAnnotations(spec.annotations, 'image annotations');
  const base = spec.base === undefined || spec.base === 'scratch' ? undefined : loadBase(layout, spec.base);

  const diffIds = [...(base?.config.diffIds ?? [])];
  const history: Record<string, unknown>[] = [...(base?.config.history ?? [])];
  const layers: Descriptor[] = [...(base?.manifest.layers ?? [])];
  for (const [i, l] of spec.layers.entries()) {
    if (typeof l.dir !== 'string' || typeof l.prefix !== 'string') usage(`layers[${i}]`, 'needs dir and prefix strings');
    if (!existsSync(l.dir) || !statSync(l.dir).isDirectory()) throw new SsfError('FILE_NOT_FOUND', `image layer directory ${l.dir} does not exist`);
    const where = `/${prefixParts(l.prefix).join('/')}`;
    const tmp = join(layout.dir, '.ssf-tmp', `layer-${randomBytes(8).toString('hex')}.tar.gz`);
    try {
      const r = await deterministicTarGz(l.dir, tmp, { prefix: l.prefix, mtime });
      // The copy is re-hashed on the way in: what is stored is what was measured.
      layers.push(await layout.ingestFile(tmp, MEDIA_TYPE.layerTarGzip, { digest: r.digest, size: r.size }));
      diffIds.push(r.diffId);
    } finally {
      try {
        unlinkSync(tmp);
      } catch {
        // not created
      }
    }
    // Host paths are left out on purpose: they differ between machines and would change the digest.
    history.push({ created, created_by: `ssf image: add layer at ${where}` });
  }
  if (spec.layers.length === 0) history.push({ created, created_by: 'ssf image: config', empty_layer: true });

  const config = {
    created,
    architecture: base?.config.architecture ?? ociArchitecture(),
    os: base?.config.os ?? 'linux',
    ...(base?.config.variant !== undefined ? { variant: base.config.variant } : {}),
    config: containerConfig(base?.config.config ?? {}, spec.config ?? {}),
    rootfs: { type: 'layers', diff_ids: diffIds },
    history,
  };
  const configDesc = layout.putBlob(Buffer.from(canonicalize(config)), MEDIA_TYPE.imageConfig);
  const manifestAnnotations = { ...(base ? { [ANNOTATION.baseDigest]: base.digest } : {}), ...annotations };
  const manifest = {
    schemaVersion: 2,
    mediaType: MEDIA_TYPE.imageManifest,
    config: configDesc,
    layers,
    ...(Object.keys(manifestAnnotations).length > 0 ? { annotations: manifestAnnotations } : {}),
  };
  const desc = layout.putManifest(manifest, spec.refName !== undefined ? { refName: spec.refName } : {});
  return { manifest: desc, config: configDesc, layers };
}

/**
 * Copies one image (manifest, config, layers) from another OCI layout into this one, checking
 * every blob against its digest and size on the way. `ref` is a ref name or digest in the
 * source; without it the source must list exactly one manifest. An index is narrowed to the
 * linux manifest for this machine's architecture. The copy is listed in index.json without a
 * name; use the returned digest as `base`.
 */
export function importImageLayout(layout: OciLayout, srcLayoutDir: string, ref?: string): Descriptor {
  if (!existsSync(srcLayoutDir)) throw new SsfError('FILE_NOT_FOUND', `source layout ${srcLayoutDir} does not exist`);
  if (!existsSync(join(srcLayoutDir, 'oci-layout')) || !existsSync(join(srcLayoutDir, 'index.json'))) {
    throw new SsfError('OCI_INVALID', `${srcLayoutDir} is not an OCI image layout (oci-layout and index.json are required)`);
  }
  // Both files exist, so open() only validates and writes nothing into the source.
  const src = OciLayout.open(srcLayoutDir);
  let desc: Descriptor;
  if (ref !== undefined) {
    desc = src.resolve(ref);
  } else {
    const all = src.index();
    if (all.length !== 1 || !all[0]) throw new SsfError('OCI_INVALID', `${srcLayoutDir} lists ${all.length} manifests; name the one to import`);
    desc = all[0];
  }
  let m = src.manifest(desc);
  if (m.kind === 'index') {
    const arch = ociArchitecture();
    const pick = m.manifests.find((d) => d.mediaType === MEDIA_TYPE.imageManifest && d.platform?.os === 'linux' && d.platform.architecture === arch);
    if (!pick) throw new SsfError('ARTIFACT_NOT_FOUND', `index ${desc.digest} in ${srcLayoutDir} has no linux/${arch} image manifest`);
    desc = pick;
    m = src.manifest(desc);
  }
  if (m.kind !== 'manifest') throw new SsfError('OCI_INVALID', `${desc.digest} is not an image manifest`);
  if (m.config.mediaType !== MEDIA_TYPE.imageConfig) throw new SsfError('OCI_INVALID', `${desc.digest} is not an image (config media type ${m.config.mediaType})`);
  const configBytes = src.readBlob(m.config.digest);
  const config = parseImageConfig(configBytes, `config ${m.config.digest}`);
  if (config.diffIds.length !== m.layers.length) throw new SsfError('OCI_INVALID', `${desc.digest} has ${m.layers.length} layers but its config lists ${config.diffIds.length} diff_ids`);
  if (configBytes.length !== m.config.size) throw new SsfError('OCI_INVALID', `config ${m.config.digest} is ${configBytes.length} bytes, its descriptor says ${m.config.size}`);
  layout.putBlob(configBytes, m.config.mediaType);
  for (const l of m.layers) {
    if (layout.hasBlob(l.digest) && statSync(layout.blobPath(l.digest)).size === l.size) continue;
    if (!src.hasBlob(l.digest)) throw new SsfError('ARTIFACT_NOT_FOUND', `layer ${l.digest} of ${desc.digest} is missing from ${srcLayoutDir}`);
    layout.ingestFileSync(src.blobPath(l.digest), l.mediaType, { digest: l.digest, size: l.size });
  }
  // The manifest is copied byte for byte, so its digest is the same in both layouts.
  const bytes = src.readBlob(desc.digest);
  const stored = layout.putBlob(bytes, m.mediaType);
  const out: Descriptor = {
    mediaType: m.mediaType,
    digest: stored.digest,
    size: stored.size,
    platform: { architecture: config.architecture, os: config.os, ...(config.variant !== undefined ? { variant: config.variant } : {}) },
  };
  layout.addToIndex(out);
  return out;
}
