/**
 * The AdmissionReview v1 protocol (k8s.io/api/admission/v1): parsing the request the API
 * server sends, finding every container image of the workload in it, and building the
 * response. Everything here is pure; the webhook (webhook.ts) adds the decider, cache and TLS.
 */
import { SsfError } from '../core/index.js';

export const ADMISSION_API_VERSION = 'admission.k8s.io/v1';
export const ADMISSION_KIND = 'AdmissionReview';
/** The API server caps request bodies at 3 MiB; a review cannot legitimately be larger. */
export const MAX_REVIEW_BYTES = 3 * 1024 * 1024;
/** More containers than any real pod has; bounds the work one review can ask for. */
export const MAX_CONTAINERS = 512;

export type Operation = 'CREATE' | 'UPDATE' | 'DELETE' | 'CONNECT';
const OPERATIONS: readonly Operation[] = ['CREATE', 'UPDATE', 'DELETE', 'CONNECT'];

export interface GroupVersionKind {
  readonly group: string;
  readonly version: string;
  readonly kind: string;
}

export interface GroupVersionResource {
  readonly group: string;
  readonly version: string;
  readonly resource: string;
}

/** The fields of AdmissionReview.request that ssf uses. */
export interface AdmissionRequest {
  readonly uid: string;
  readonly kind: GroupVersionKind;
  readonly resource: GroupVersionResource;
  /** '' when the request is for the resource itself. */
  readonly subResource: string;
  readonly namespace: string;
  /** '' on CREATE with metadata.generateName. */
  readonly name: string;
  readonly operation: Operation;
  readonly dryRun: boolean;
  /** The new object (CREATE, UPDATE, CONNECT options); absent on DELETE. */
  readonly object?: unknown;
  readonly oldObject?: unknown;
}

/** A parsed image reference: `[registry/]repository[:tag][@sha256:<64 hex>]`. */
export interface ImageReference {
  readonly ref: string;
  /** `host[:port]` when the reference names one; undefined means the runtime's default registry. */
  readonly registry?: string;
  readonly repository: string;
  readonly tag?: string;
  /** `sha256:<64 lower-case hex>` when pinned by digest. */
  readonly digest?: string;
}

interface ContainerBase {
  /** e.g. `spec.template.spec.initContainers[0]`. */
  readonly path: string;
  /** The container's name, '' when it has none. */
  readonly name: string;
  /** The image string as written ('' when absent). */
  readonly ref: string;
}

/** One container of the workload: its parsed image, or why the image is unusable. */
export type ContainerImage =
  | (ContainerBase & { readonly image: ImageReference; readonly problem?: undefined })
  | (ContainerBase & { readonly image?: undefined; readonly problem: string });

/** What the webhook must do with a request. */
export type Inspection =
  | { readonly action: 'allow'; readonly reason: string }
  | { readonly action: 'inspect'; readonly containers: readonly ContainerImage[] };

/** AdmissionReview.response as ssf writes it. */
export interface AdmissionResponse {
  readonly uid: string;
  readonly allowed: boolean;
  readonly status?: { readonly code: number; readonly message: string };
  readonly warnings?: readonly string[];
  readonly auditAnnotations?: Readonly<Record<string, string>>;
}

export interface AdmissionReviewResponse {
  readonly apiVersion: typeof ADMISSION_API_VERSION;
  readonly kind: typeof ADMISSION_KIND;
  readonly response: AdmissionResponse;
}

function invalid(message: string): SsfError {
  return new SsfError('ADMISSION_INVALID', message);
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** One printable line of at most `max` characters (values quoted from the request are hostile). */
export function oneLine(s: string, max = 200): string {
  const clean = s.replace(/[\u0000-\u001f\u007f-\u009f\u2028\u2029]/g, ' ');
  return clean.length > max ? `${clean.slice(0, max - 1)}…` : clean;
}

function quote(s: string, max = 200): string {
  return JSON.stringify(oneLine(s, max));
}

/** Parses a request body (bytes from the socket) as JSON; too large → INPUT_TOO_LARGE, not JSON → ADMISSION_INVALID. */
export function parseReviewBody(body: Buffer | string): unknown {
  const size = typeof body === 'string' ? Buffer.byteLength(body) : body.length;
  if (size > MAX_REVIEW_BYTES) throw new SsfError('INPUT_TOO_LARGE', `AdmissionReview body of ${size} bytes exceeds the limit of ${MAX_REVIEW_BYTES} bytes`);
  try {
    return JSON.parse(typeof body === 'string' ? body : body.toString('utf8'));
  } catch (e) {
    throw new SsfError('ADMISSION_INVALID', `request body is not JSON: ${oneLine((e as Error).message)}`, { cause: e });
  }
}

/**
 * The request uid of an AdmissionReview v1, checking only what is needed to answer at all;
 * anything that is not an AdmissionReview → ADMISSION_INVALID (the webhook answers HTTP 400).
 */
export function reviewUid(body: unknown): string {
  if (!isObject(body)) throw invalid('the request body must be a JSON object (an AdmissionReview)');
  if (body.apiVersion !== ADMISSION_API_VERSION || body.kind !== ADMISSION_KIND) {
    const got = `${typeof body.apiVersion === 'string' ? body.apiVersion : '?'}/${typeof body.kind === 'string' ? body.kind : '?'}`;
    throw invalid(`expected apiVersion ${ADMISSION_API_VERSION} kind ${ADMISSION_KIND}, got ${quote(got, 100)}; set admissionReviewVersions: [v1] in the webhook configuration`);
  }
  const req = body.request;
  if (!isObject(req)) throw invalid('the AdmissionReview has no request object');
  const uid = req.uid;
  // The uid is echoed into the response; keep it to what the API server generates.
  if (typeof uid !== 'string' || !/^[A-Za-z0-9._:-]{1,128}$/.test(uid)) throw invalid('the AdmissionReview request has no valid uid');
  return uid;
}

function str(o: Record<string, unknown>, key: string, what: string, optional = true): string {
  const v = o[key];
  if (v === undefined || v === null) {
    if (optional) return '';
    throw invalid(`${what}.${key} is missing`);
  }
  if (typeof v !== 'string') throw invalid(`${what}.${key} must be a string`);
  return v;
}

/** Parses an AdmissionReview v1 request into the fields ssf uses; malformed → ADMISSION_INVALID. */
export function parseAdmissionRequest(body: unknown): AdmissionRequest {
  const uid = reviewUid(body);
  const req = (body as { request: Record<string, unknown> }).request;
  const op = req.operation;
  if (typeof op !== 'string' || !(OPERATIONS as readonly string[]).includes(op)) {
    throw invalid(`request.operation must be one of ${OPERATIONS.join(', ')}, got ${quote(String(op), 40)}`);
  }
  const kind = req.kind;
  if (!isObject(kind)) throw invalid('request.kind is missing');
  const resource = req.resource;
  if (!isObject(resource)) throw invalid('request.resource is missing');
  if (req.dryRun !== undefined && req.dryRun !== null && typeof req.dryRun !== 'boolean') throw invalid('request.dryRun must be a boolean');
  const operation = op as Operation;
  if ((operation === 'CREATE' || operation === 'UPDATE') && !isObject(req.object)) throw invalid(`request.object is missing for ${operation}`);
  return {
    uid,
    kind: { group: str(kind, 'group', 'request.kind'), version: str(kind, 'version', 'request.kind'), kind: str(kind, 'kind', 'request.kind', false) },
    resource: { group: str(resource, 'group', 'request.resource'), version: str(resource, 'version', 'request.resource'), resource: str(resource, 'resource', 'request.resource', false) },
    subResource: str(req, 'subResource', 'request'),
    namespace: str(req, 'namespace', 'request'),
    name: str(req, 'name', 'request'),
    operation,
    dryRun: req.dryRun === true,
    ...(req.object !== undefined && req.object !== null ? { object: req.object } : {}),
    ...(req.oldObject !== undefined && req.oldObject !== null ? { oldObject: req.oldObject } : {}),
  };
}

/** Where the pod spec is in each workload kind that runs containers, by `group/Kind`. */
const POD_SPEC_PATHS: Readonly<Record<string, readonly string[]>> = {
  '/Pod': ['spec'],
  '/ReplicationController': ['spec', 'template', 'spec'],
  'apps/Deployment': ['spec', 'template', 'spec'],
  'apps/ReplicaSet': ['spec', 'template', 'spec'],
  'apps/StatefulSet': ['spec', 'template', 'spec'],
  'apps/DaemonSet': ['spec', 'template', 'spec'],
  'batch/Job': ['spec', 'template', 'spec'],
  'batch/CronJob': ['spec', 'jobTemplate', 'spec', 'template', 'spec'],
};

/** The workload kinds whose images are checked, as `group/Kind` ('' group: core). */
export const WORKLOAD_KINDS: readonly string[] = Object.keys(POD_SPEC_PATHS);

const CONTAINER_LISTS = ['containers', 'initContainers', 'ephemeralContainers'] as const;

/**
 * Decides what a request needs: DELETE and CONNECT, kinds that run no containers and
 * subresources that cannot change images (status, scale, binding, eviction) are allowed as
 * they are; CREATE and UPDATE of a workload (and the pods/ephemeralcontainers subresource)
 * get every container image. A malformed workload object → ADMISSION_INVALID.
 */
export function inspectRequest(req: AdmissionRequest): Inspection {
  switch (req.operation) {
    case 'DELETE':
    case 'CONNECT':
      return { action: 'allow', reason: `${req.operation} runs no new image` };
    case 'CREATE':
    case 'UPDATE':
      break;
  }
  const key = `${req.kind.group}/${req.kind.kind}`;
  const path = POD_SPEC_PATHS[key];
  if (!path) return { action: 'allow', reason: `${key} runs no containers` };
  // Only the ephemeralcontainers subresource of a pod takes a whole Pod whose images change;
  // the API server ignores spec changes sent to status, and scale/binding/eviction carry none.
  if (req.subResource !== '' && !(key === '/Pod' && req.subResource === 'ephemeralcontainers')) {
    return { action: 'allow', reason: `the ${req.subResource} subresource cannot change images` };
  }
  return { action: 'inspect', containers: workloadContainers(req.object, req.kind.kind, path) };
}

/**
 * The images a workload ran, from the old object of a DELETE (its containers pinned by digest;
 * an unpinned or unreadable one names nothing that was recorded). Undefined when the request
 * is not a DELETE of the workload itself, or the old object has no readable pod spec.
 */
export function deletedImages(req: AdmissionRequest): { ref: string; digest: string }[] | undefined {
  if (req.operation !== 'DELETE' || req.subResource !== '') return undefined;
  return oldImages(req);
}

/**
 * The images an UPDATE of a workload stops running: pinned in its old object and in none of
 * the new object's containers (`running`: the new object's digests). Undefined when the
 * request is not an UPDATE of the workload itself, or the old object has no readable pod spec.
 */
export function replacedImages(req: AdmissionRequest, running: ReadonlySet<string>): { ref: string; digest: string }[] | undefined {
  if (req.operation !== 'UPDATE' || req.subResource !== '') return undefined;
  return oldImages(req)?.filter((i) => !running.has(i.digest));
}

function oldImages(req: AdmissionRequest): { ref: string; digest: string }[] | undefined {
  const path = POD_SPEC_PATHS[`${req.kind.group}/${req.kind.kind}`];
  if (!path || req.oldObject === undefined) return undefined;
  let containers: ContainerImage[];
  try {
    containers = workloadContainers(req.oldObject, req.kind.kind, path);
  } catch {
    return undefined;
  }
  const out = new Map<string, { ref: string; digest: string }>();
  for (const c of containers) if (c.image?.digest !== undefined && !out.has(c.image.digest)) out.set(c.image.digest, { ref: c.ref, digest: c.image.digest });
  return [...out.values()];
}

/** Every container of a workload object, given where its pod spec is. */
export function workloadContainers(object: unknown, kind: string, specPath: readonly string[]): ContainerImage[] {
  let spec: unknown = object;
  const walked: string[] = [];
  for (const seg of specPath) {
    walked.push(seg);
    spec = isObject(spec) ? spec[seg] : undefined;
    if (!isObject(spec)) throw invalid(`${kind} object has no ${walked.join('.')} object`);
  }
  const podSpec = spec as Record<string, unknown>;
  const base = specPath.join('.');
  const out: ContainerImage[] = [];
  for (const list of CONTAINER_LISTS) {
    const items = podSpec[list];
    if (items === undefined || items === null) continue;
    if (!Array.isArray(items)) throw invalid(`${kind} ${base}.${list} must be an array`);
    if (out.length + items.length > MAX_CONTAINERS) throw invalid(`${kind} has more than ${MAX_CONTAINERS} containers`);
    items.forEach((c: unknown, i) => {
      const p = `${base}.${list}[${i}]`;
      if (!isObject(c)) throw invalid(`${kind} ${p} must be an object`);
      const name = typeof c.name === 'string' ? c.name : '';
      if (typeof c.image !== 'string' || c.image === '') {
        out.push({ path: p, name, ref: '', problem: 'has no image' });
        return;
      }
      try {
        out.push({ path: p, name, ref: c.image, image: parseImageRef(c.image) });
      } catch (e) {
        out.push({ path: p, name, ref: c.image, problem: (e as Error).message });
      }
    });
  }
  if (!out.some((c) => c.path.startsWith(`${base}.containers[`))) throw invalid(`${kind} ${base}.containers is empty`);
  return out;
}

const DOMAIN_COMPONENT = '(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])';
const REGISTRY = new RegExp(`^(?:${DOMAIN_COMPONENT}(?:\\.${DOMAIN_COMPONENT})*|\\[[0-9a-fA-F:.]+\\])(?::[0-9]{1,5})?$`);
const PATH_COMPONENT = /^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*$/;
const TAG = /^[\w][\w.-]{0,127}$/;
const DIGEST = /^[a-z0-9]+(?:[.+_-][a-z0-9]+)*:[a-zA-Z0-9=_-]+$/;
const SHA256 = /^sha256:[a-f0-9]{64}$/;

/**
 * Parses an image reference the way the distribution reference grammar does; anything else
 * (including a digest that is not `sha256:<64 lower-case hex>`) → INPUT_MALFORMED.
 */
export function parseImageRef(ref: string): ImageReference {
  const bad = (why: string): SsfError => new SsfError('INPUT_MALFORMED', why);
  if (ref.length === 0) throw bad('is empty');
  if (ref.length > 512) throw bad(`is ${ref.length} characters long (at most 512)`);
  if (/[\s\u0000-\u001f\u007f]/.test(ref)) throw bad('contains whitespace or control characters');
  let rest = ref;
  let digest: string | undefined;
  const at = rest.indexOf('@');
  if (at >= 0) {
    const d = rest.slice(at + 1);
    rest = rest.slice(0, at);
    if (!DIGEST.test(d)) throw bad(`has a malformed digest ${quote(d, 80)}`);
    if (!d.startsWith('sha256:')) throw bad(`has digest algorithm ${quote(d.split(':')[0] ?? '', 20)}; only sha256 digests are accepted`);
    if (!SHA256.test(d)) throw bad(`has a malformed digest ${quote(d, 80)}: sha256 needs exactly 64 lower-case hex digits`);
    digest = d;
  }
  let tag: string | undefined;
  const colon = rest.lastIndexOf(':');
  if (colon > rest.lastIndexOf('/')) {
    tag = rest.slice(colon + 1);
    rest = rest.slice(0, colon);
    if (!TAG.test(tag)) throw bad(`has a malformed tag ${quote(tag, 80)}`);
  }
  if (rest.length === 0) throw bad('has no repository name');
  if (rest.length > 255) throw bad('has a name longer than 255 characters');
  let registry: string | undefined;
  const slash = rest.indexOf('/');
  if (slash >= 0) {
    const first = rest.slice(0, slash);
    // The reference grammar's rule: the first component is a registry when it has a dot or a
    // port, is localhost, or has upper case (which a repository path may not).
    if (first.includes('.') || first.includes(':') || first === 'localhost' || first !== first.toLowerCase()) {
      if (!REGISTRY.test(first)) throw bad(`has a malformed registry ${quote(first, 80)}`);
      registry = first;
      rest = rest.slice(slash + 1);
    }
  }
  for (const c of rest.split('/')) {
    if (!PATH_COMPONENT.test(c)) throw bad(`has a malformed repository component ${quote(c, 80)}`);
  }
  return {
    ref,
    ...(registry !== undefined ? { registry } : {}),
    repository: rest,
    ...(tag !== undefined ? { tag } : {}),
    ...(digest !== undefined ? { digest } : {}),
  };
}

const MAX_MESSAGE = 4096;
const MAX_WARNINGS = 16;
const MAX_WARNING = 256;

/** Builds the AdmissionReview v1 response; a denial carries status 403 with the message. */
export function admissionResponse(
  uid: string,
  opts: { allowed: boolean; message?: string; warnings?: readonly string[]; auditAnnotations?: Readonly<Record<string, string>> },
): AdmissionReviewResponse {
  const warnings = [...new Set((opts.warnings ?? []).map((w) => oneLine(w, MAX_WARNING)))].slice(0, MAX_WARNINGS);
  const response: AdmissionResponse = {
    uid,
    allowed: opts.allowed,
    ...(!opts.allowed ? { status: { code: 403, message: oneLine(opts.message ?? 'denied', MAX_MESSAGE) } } : {}),
    ...(warnings.length > 0 ? { warnings } : {}),
    ...(opts.auditAnnotations && Object.keys(opts.auditAnnotations).length > 0 ? { auditAnnotations: opts.auditAnnotations } : {}),
  };
  return { apiVersion: ADMISSION_API_VERSION, kind: ADMISSION_KIND, response };
}
