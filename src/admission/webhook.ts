/**
 * The Kubernetes ValidatingAdmissionWebhook: the AdmissionReview protocol (review.ts) over
 * HTTPS, with every image sent to a DeployDecider and final decisions cached. It fails closed:
 * whatever is not a clear "allowed" from the decider for every image is a denial.
 */
import { createServer, type Server } from 'node:https';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { TLSSocket } from 'node:tls';
import { SsfError, systemClock, toSsfError, type Clock } from '../core/index.js';
import { DecisionCache } from './cache.js';
import type { AdmissionContext, DeployDecider, ImageDecision, ImageRef } from './decider.js';
import {
  MAX_REVIEW_BYTES, admissionResponse, deletedImages, inspectRequest, replacedImages, oneLine, parseAdmissionRequest, parseReviewBody, reviewUid,
  type AdmissionRequest, type AdmissionReviewResponse, type ContainerImage, type Inspection,
} from './review.js';

/** Options of an AdmissionWebhook. */
export interface AdmissionWebhookOptions {
  /** Clock for the decision cache (default: the system clock). */
  readonly clock?: Clock;
  /** How long a final decision is reused, in milliseconds (default 60 000; 0 turns caching off). */
  readonly cacheTtlMs?: number;
  /** Most decisions kept (default 10 000). */
  readonly cacheMaxEntries?: number;
  /** Time the decider gets per review before the request is denied (default 8 000 ms). */
  readonly timeoutMs?: number;
  /** One line per denial and per decider failure (an operator's log). */
  readonly log?: (line: string) => void;
}

/** Where and with which certificate the HTTPS server listens. */
export interface WebhookServerOptions {
  readonly port: number;
  readonly host?: string;
  /** Leaf certificate followed by its intermediate(s), PEM. */
  readonly certPem: string;
  readonly keyPem: string;
  /**
   * CA certificate(s), PEM: POST /validate then answers only a client whose TLS certificate
   * chains to one of them (the API server, given a client certificate in its admission
   * configuration). /healthz stays open to the kubelet's probes, which present none.
   */
  readonly clientCaPem?: string;
}

/** A listening webhook server. */
export interface WebhookServer {
  readonly url: string;
  readonly port: number;
  /** Replaces the serving certificate for new connections (rotation without a restart). */
  setCertificate(certPem: string, keyPem: string): void;
  close(): Promise<void>;
}

/** Counters for tests and operators. */
export interface WebhookStats {
  readonly reviews: number;
  readonly deciderCalls: number;
  readonly cacheHits: number;
  readonly cacheMisses: number;
  readonly cacheSize: number;
}

export const DEFAULT_CACHE_TTL_MS = 60_000;
export const DEFAULT_CACHE_MAX_ENTRIES = 10_000;
export const DEFAULT_TIMEOUT_MS = 8_000;

type Outcome = { readonly ok: true; readonly decision: ImageDecision } | { readonly ok: false; readonly error: string };

class ReviewTimeout extends Error {}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** A decider's answer is still input: anything but a well-formed decision is an error. */
function checkDecision(d: unknown): ImageDecision {
  if (!isObject(d) || typeof d.allowed !== 'boolean' || typeof d.reason !== 'string') {
    throw new SsfError('INTERNAL', 'the deploy decider returned a malformed decision (want {allowed: boolean, reason: string})');
  }
  const warnings = Array.isArray(d.warnings) ? d.warnings.filter((w): w is string => typeof w === 'string') : undefined;
  const idx = d.decisionLogIndex;
  return {
    allowed: d.allowed,
    reason: d.reason,
    ...(warnings && warnings.length > 0 ? { warnings } : {}),
    ...(typeof idx === 'number' && Number.isSafeInteger(idx) && idx >= 0 ? { decisionLogIndex: idx } : {}),
  };
}

function errorLine(e: unknown): string {
  const err = toSsfError(e);
  return oneLine(`error[${err.code}]: ${err.message}`, 300);
}

function q(s: string): string {
  return JSON.stringify(oneLine(s, 200));
}

function objectName(req: AdmissionRequest): string {
  if (req.name !== '') return req.name;
  const meta = isObject(req.object) ? req.object.metadata : undefined;
  const gen = isObject(meta) ? meta.generateName : undefined;
  return typeof gen === 'string' && gen !== '' ? `${gen}*` : '';
}

/** `Deployment prod/web`, for messages. */
function describe(req: AdmissionRequest): string {
  const name = objectName(req) || '(unnamed)';
  return oneLine(`${req.kind.kind} ${req.namespace !== '' ? `${req.namespace}/` : ''}${name}`, 200);
}

/** The reference with its tag swapped for a digest placeholder: what to write instead. */
function pinnedForm(c: ContainerImage & { image: object }): string {
  const i = c.image;
  return `${i.registry !== undefined ? `${i.registry}/` : ''}${i.repository}@sha256:<digest>`;
}

/**
 * Validates AdmissionReview requests against a DeployDecider. `review` is the protocol in
 * process; `listen` serves it over HTTPS at POST /validate (and GET /healthz).
 */
export class AdmissionWebhook {
  private readonly cache: DecisionCache;
  private readonly inflight = new Map<string, Promise<ImageDecision>>();
  private readonly timeoutMs: number;
  private readonly log: (line: string) => void;
  private reviews = 0;
  private deciderCalls = 0;

  constructor(
    private readonly decider: DeployDecider,
    opts: AdmissionWebhookOptions = {},
  ) {
    const timeoutMs = opts.timeoutMs ?? DEFAULT_TIMEOUT_MS;
    if (!Number.isFinite(timeoutMs) || timeoutMs <= 0) throw new SsfError('USAGE', `webhook timeout must be a positive number of milliseconds, got ${timeoutMs}`);
    this.timeoutMs = timeoutMs;
    this.cache = new DecisionCache({ ttlMs: opts.cacheTtlMs ?? DEFAULT_CACHE_TTL_MS, maxEntries: opts.cacheMaxEntries ?? DEFAULT_CACHE_MAX_ENTRIES, clock: opts.clock ?? systemClock });
    this.log = opts.log ?? ((): void => undefined);
  }

  stats(): WebhookStats {
    return { reviews: this.reviews, deciderCalls: this.deciderCalls, cacheHits: this.cache.hits, cacheMisses: this.cache.misses, cacheSize: this.cache.size };
  }

  /** Forgets every cached decision (e.g. after new evidence or a revocation). */
  clearCache(): void {
    this.cache.clear();
  }

  /**
   * Answers one AdmissionReview (the parsed JSON body). A body that is not an AdmissionReview
   * at all → ADMISSION_INVALID (there is no uid to answer); everything else is an answer,
   * and any doubt is a denial.
   */
  async review(body: unknown): Promise<AdmissionReviewResponse> {
    const uid = reviewUid(body);
    this.reviews++;
    let req: AdmissionRequest;
    let inspection: Inspection;
    try {
      req = parseAdmissionRequest(body);
      inspection = inspectRequest(req);
    } catch (e) {
      const message = `ssf denied the request: malformed AdmissionReview: ${toSsfError(e).message}`;
      this.log(`deny uid=${uid}: ${oneLine(message, 500)}`);
      return admissionResponse(uid, { allowed: false, message });
    }
    if (inspection.action === 'allow') {
      const gone = req.dryRun || !this.decider.removed ? undefined : deletedImages(req);
      if (gone && gone.length > 0 && this.decider.removed) {
        const ctx = { uid: req.uid, kind: req.kind.kind, namespace: req.namespace, name: objectName(req), operation: req.operation, dryRun: false };
        this.track(this.decider.removed(gone, ctx).catch((e: unknown) => this.log(`recording the removal of uid=${req.uid} failed: ${errorLine(e)}`)));
      }
      return admissionResponse(uid, { allowed: true });
    }
    return this.decideAll(req, inspection.containers);
  }

  private async decideAll(req: AdmissionRequest, containers: readonly ContainerImage[]): Promise<AdmissionReviewResponse> {
    const what = describe(req);
    const denials: string[] = [];
    const deny = (): AdmissionReviewResponse => {
      const message = `ssf denied ${what}: ${denials.length} of ${containers.length} image${containers.length === 1 ? '' : 's'}: ${denials.join('; ')}`;
      this.log(`deny uid=${req.uid}: ${oneLine(message, 2000)}`);
      return admissionResponse(req.uid, { allowed: false, message });
    };
    let policy: string;
    try {
      policy = this.decider.policyDigest();
    } catch (e) {
      denials.push(`no decision (fail closed): cannot read the deploy policy: ${errorLine(e)}`);
      return deny();
    }
    // Containers sharing a digest share one decision.
    const byDigest = new Map<string, ContainerImage[]>();
    for (const c of containers) {
      if (!c.image) {
        denials.push(c.ref === '' ? `${c.path} has no image` : `${c.path} image ${q(c.ref)} ${c.problem}`);
      } else if (c.image.digest === undefined) {
        denials.push(`${c.path} image ${q(c.ref)} is not pinned by digest; use ${q(pinnedForm(c))}`);
      } else {
        const list = byDigest.get(c.image.digest);
        if (list) list.push(c);
        else byDigest.set(c.image.digest, [c]);
      }
    }
    const groups = [...byDigest.entries()];
    if (groups.length === 0) return deny();
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new ReviewTimeout()), this.timeoutMs);
      timer.unref();
    });
    let outcomes: Outcome[];
    try {
      outcomes = await Promise.all(groups.map(async ([digest, cs]): Promise<Outcome> => {
        const first = cs[0] as ContainerImage & { image: object };
        const ctx: AdmissionContext = {
          uid: req.uid, kind: req.kind.kind, namespace: req.namespace, name: objectName(req), operation: req.operation, container: first.path, dryRun: req.dryRun,
        };
        try {
          const decision = await Promise.race([this.decideCached({ ref: first.ref, digest }, ctx, policy), timeout]);
          return { ok: true, decision };
        } catch (e) {
          if (e instanceof ReviewTimeout) return { ok: false, error: `the deploy gate gave no decision within ${this.timeoutMs} ms` };
          this.log(`decider failed uid=${req.uid} ${first.path} ${digest}: ${errorLine(e)}`);
          return { ok: false, error: errorLine(e) };
        }
      }));
    } finally {
      clearTimeout(timer);
    }
    const warnings: string[] = [];
    const logged: string[] = [];
    groups.forEach(([, cs], i) => {
      const o = outcomes[i] as Outcome;
      for (const c of cs) {
        if (!o.ok) denials.push(`${c.path} image ${q(c.ref)}: no decision (fail closed): ${o.error}`);
        else if (o.decision.allowed !== true) denials.push(`${c.path} image ${q(c.ref)} denied: ${oneLine(o.decision.reason, 500)}`);
        else if (o.decision.decisionLogIndex !== undefined) logged.push(`${c.path}=${o.decision.decisionLogIndex}`);
      }
      const first = cs[0];
      if (o.ok && first) for (const w of o.decision.warnings ?? []) warnings.push(`${first.path}: ${w}`);
    });
    if (denials.length > 0) return deny();
    if (!req.dryRun && (req.operation === 'CREATE' || req.operation === 'UPDATE') && this.decider.admitted) {
      const images = groups.map(([digest, cs]) => ({ ref: cs[0]?.ref ?? digest, digest }));
      const ctx = { uid: req.uid, kind: req.kind.kind, namespace: req.namespace, name: objectName(req), operation: req.operation, dryRun: false };
      this.track(this.decider.admitted(images, ctx).catch((e: unknown) => this.log(`recording the deployment of uid=${req.uid} failed: ${errorLine(e)}`)));
      // An UPDATE to other images ends the records of the images it no longer runs.
      const replaced = this.decider.removed ? replacedImages(req, new Set(groups.map(([digest]) => digest))) : undefined;
      if (replaced && replaced.length > 0 && this.decider.removed) {
        this.track(this.decider.removed(replaced, ctx).catch((e: unknown) => this.log(`recording the removal of uid=${req.uid} failed: ${errorLine(e)}`)));
      }
    }
    return admissionResponse(req.uid, {
      allowed: true,
      warnings,
      // Which signed decisions (transparency-log indices) admitted the object, for the audit log.
      ...(logged.length > 0 ? { auditAnnotations: { 'decision-log-indices': logged.join(',') } } : {}),
    });
  }

  /**
   * A decision from the cache, from an identical decision already in flight, or from the
   * decider. Only final decisions of real (not dryRun) requests are cached or shared: a dryRun
   * request may read them, but its own decision, made without side effects, is never reused.
   */
  private decideCached(image: ImageRef & { digest: string }, ctx: AdmissionContext, policy: string): Promise<ImageDecision> {
    // The namespace is part of the key so that a deploy policy may differ per namespace.
    const key = `${image.digest}\u0000${policy}\u0000${ctx.namespace}`;
    const hit = this.cache.get(key);
    if (hit) return Promise.resolve(hit);
    const shared = this.inflight.get(key);
    if (shared) return shared;
    this.deciderCalls++;
    const p = Promise.resolve().then(() => this.decider.decide(image, ctx)).then(checkDecision);
    if (!ctx.dryRun) {
      this.inflight.set(key, p);
      p.then((d) => this.cache.set(key, d), () => undefined).finally(() => this.inflight.delete(key));
    }
    return p;
  }

  private readonly recording = new Set<Promise<void>>();

  private track(p: Promise<void>): void {
    this.recording.add(p);
    void p.finally(() => this.recording.delete(p));
  }

  /** Resolves when every deployment record started so far is written (for tests and shutdown). */
  async settled(): Promise<void> {
    await Promise.all([...this.recording]);
  }

  /** The HTTP handler (POST /validate, GET /healthz), usable with any node:http(s) server. */
  readonly handler = (req: IncomingMessage, res: ServerResponse): void => this.handle(req, res, false);

  private handle(req: IncomingMessage, res: ServerResponse, clientAuth: boolean): void {
    this.serveHttp(req, res, clientAuth).catch((e: unknown) => {
      if (!res.headersSent) sendJson(res, 500, { error: { code: 'INTERNAL', message: errorLine(e) } });
      else res.destroy();
    });
  }

  private async serveHttp(req: IncomingMessage, res: ServerResponse, clientAuth: boolean): Promise<void> {
    const path = (req.url ?? '/').split('?')[0];
    if (path === '/healthz') {
      if (req.method !== 'GET' && req.method !== 'HEAD') return methodNotAllowed(req, res, 'GET, HEAD');
      res.writeHead(200, { 'content-type': 'text/plain; charset=utf-8', 'cache-control': 'no-store' });
      res.end(req.method === 'HEAD' ? undefined : 'ok\n');
      return;
    }
    if (path !== '/validate') {
      drain(req);
      return sendJson(res, 404, { error: { code: 'NOT_FOUND', message: `no such path ${q(path ?? '')}; the webhook serves POST /validate` } });
    }
    if (req.method !== 'POST') return methodNotAllowed(req, res, 'POST');
    // With a client CA, only a client that proved a certificate from it may have workloads
    // decided and deployments recorded in the factory's name.
    const sock = req.socket as TLSSocket;
    if (clientAuth && !sock.authorized) {
      // Without a certificate OpenSSL still reports a verification error; say what happened.
      const presented = Object.keys(sock.getPeerCertificate() ?? {}).length > 0;
      const why = presented ? sock.authorizationError ?? 'unverified' : undefined;
      this.log(`refused POST /validate from ${req.socket.remoteAddress ?? 'an unknown address'}: ${why ? `client certificate not accepted (${String(why)})` : 'no client certificate'}`);
      drain(req);
      return sendJson(res, 403, { error: { code: 'CLIENT_UNAUTHENTICATED', message: `POST /validate needs a client certificate from the webhook's client CA (--client-ca)${why ? `; the one given was not accepted: ${String(why)}` : ''}` } });
    }
    const type = (req.headers['content-type'] ?? '').split(';')[0]?.trim().toLowerCase();
    if (type !== 'application/json') {
      drain(req);
      return sendJson(res, 415, { error: { code: 'ADMISSION_INVALID', message: `content-type must be application/json, got ${q(req.headers['content-type'] ?? '')}` } });
    }
    const declared = Number(req.headers['content-length'] ?? '0');
    if (declared > MAX_REVIEW_BYTES) return tooLarge(req, res, declared);
    const body = await readBody(req, MAX_REVIEW_BYTES);
    if (body === undefined) return tooLarge(req, res);
    let review: AdmissionReviewResponse;
    try {
      review = await this.review(parseReviewBody(body));
    } catch (e) {
      const err = toSsfError(e);
      const status = err.code === 'ADMISSION_INVALID' ? 400 : err.code === 'INPUT_TOO_LARGE' ? 413 : 500;
      return sendJson(res, status, { error: { code: err.code, message: oneLine(err.message, 500) } });
    }
    sendJson(res, 200, review);
  }

  /** Serves the webhook over HTTPS (TLS 1.2 or later). */
  async listen(opts: WebhookServerOptions): Promise<WebhookServer> {
    let server: Server;
    try {
      // A client certificate is asked for, not required at the handshake: /healthz answers
      // without one, and /validate refuses by HTTP status (a reason the client can read).
      const clientAuth = opts.clientCaPem !== undefined ? { ca: opts.clientCaPem, requestCert: true, rejectUnauthorized: false } : {};
      server = createServer({ cert: opts.certPem, key: opts.keyPem, minVersion: 'TLSv1.2', ...clientAuth }, (req, res) => this.handle(req, res, opts.clientCaPem !== undefined));
    } catch (e) {
      throw new SsfError('CERT_INVALID', `the serving certificate or key is unusable: ${oneLine((e as Error).message)}`, { cause: e });
    }
    // Slow clients must not hold connections open: the API server sends small, quick requests.
    server.headersTimeout = 10_000;
    server.requestTimeout = 30_000;
    const host = opts.host ?? '0.0.0.0';
    await new Promise<void>((resolve, reject) => {
      const onError = (e: NodeJS.ErrnoException): void => reject(new SsfError('IO_FAILED', `cannot listen on ${host}:${opts.port}: ${e.code ?? e.message}`, { cause: e }));
      server.once('error', onError);
      server.listen(opts.port, host, () => {
        server.off('error', onError);
        resolve();
      });
    });
    const port = (server.address() as AddressInfo).port;
    const urlHost = host.includes(':') ? `[${host}]` : host;
    return {
      url: `https://${urlHost}:${port}`,
      port,
      setCertificate(certPem: string, keyPem: string): void {
        try {
          server.setSecureContext({ cert: certPem, key: keyPem, minVersion: 'TLSv1.2', ...(opts.clientCaPem !== undefined ? { ca: opts.clientCaPem } : {}) });
        } catch (e) {
          throw new SsfError('CERT_INVALID', `the new serving certificate or key is unusable: ${oneLine((e as Error).message)}`, { cause: e });
        }
      },
      close(): Promise<void> {
        return new Promise((resolve) => {
          server.close(() => resolve());
          server.closeAllConnections();
        });
      },
    };
  }
}

function sendJson(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text), 'cache-control': 'no-store' });
  res.end(text);
}

function methodNotAllowed(req: IncomingMessage, res: ServerResponse, allow: string): void {
  drain(req);
  res.setHeader('allow', allow);
  sendJson(res, 405, { error: { code: 'USAGE', message: `method ${q(req.method ?? '')} is not allowed here; use ${allow}` } });
}

/**
 * Refuses an oversized body. The rest is read and discarded (up to a bound) before the
 * connection closes, so the client sees the 413 rather than a reset mid-upload.
 */
function tooLarge(req: IncomingMessage, res: ServerResponse, declared?: number): void {
  drain(req, 8 * MAX_REVIEW_BYTES);
  res.setHeader('connection', 'close');
  sendJson(res, 413, { error: { code: 'INPUT_TOO_LARGE', message: `AdmissionReview body${declared !== undefined ? ` of ${declared} bytes` : ''} exceeds the limit of ${MAX_REVIEW_BYTES} bytes` } });
}

function drain(req: IncomingMessage, limit = MAX_REVIEW_BYTES): void {
  let seen = 0;
  req.removeAllListeners('data');
  req.on('data', (chunk: Buffer) => {
    seen += chunk.length;
    if (seen > limit) req.destroy();
  });
  req.on('error', () => undefined);
  req.resume();
}

/** The request body, or undefined when it grows past `limit` (the rest is left unread). */
function readBody(req: IncomingMessage, limit: number): Promise<Buffer | undefined> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const onData = (chunk: Buffer): void => {
      size += chunk.length;
      if (size > limit) {
        req.off('data', onData);
        req.off('end', onEnd);
        req.pause();
        resolve(undefined);
        return;
      }
      chunks.push(chunk);
    };
    const onEnd = (): void => resolve(Buffer.concat(chunks, size));
    req.on('data', onData);
    req.once('end', onEnd);
    req.once('error', (e) => reject(new SsfError('IO_FAILED', `reading the request failed: ${oneLine(e.message)}`, { cause: e })));
  });
}
