/**
 * The webhook's protocol layer over real HTTPS: AdmissionReview v1 requests as the API server
 * sends them, for every workload kind, to a server whose certificate a real factory issued.
 * The decider is a small real implementation (an allow-list of digests that counts its calls);
 * the deploy gate itself has its own tests.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { request as httpsRequest, createServer } from 'node:https';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { AddressInfo } from 'node:net';
import { parseAllDocuments } from 'yaml';
import { FixedClock, SsfError, systemClock } from '../core/index.js';
import { rejectsCode } from '../core/testing.js';
import { Factory, initFactory } from '../factory/index.js';
import { parseCommandArgs, type Io } from '../cli/command.js';
import { generateP256, randomSerial, toCryptoKeys, x509 } from '../trust/index.js';
import { admissionManifestsCommand } from '../cli/cmd-admission.js';
import {
  AdmissionWebhook, MAX_REVIEW_BYTES, type AdmissionContext, type AdmissionReviewResponse, type DeployDecider, type ImageDecision, type ImageRef,
  type WebhookServer,
} from './index.js';

type Json = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

const TD = 'admission.test.internal';
const hex = (c: string): string => c.repeat(64);
const DIGEST = {
  app: `sha256:${hex('a')}`,
  init: `sha256:${hex('b')}`,
  debug: `sha256:${hex('c')}`,
  denied: `sha256:${hex('d')}`,
  boom: `sha256:${hex('e')}`,
};
const img = (repo: string, digest: string): string => `registry.example/${repo}@${digest}`;

/** Allows a fixed set of digests, denies the rest, throws for chosen ones, and records each call. */
class AllowListDecider implements DeployDecider {
  readonly calls: { image: ImageRef & { digest: string }; ctx: AdmissionContext }[] = [];
  policy = 'sha256:policy-one';
  hang = false;
  constructor(private readonly allowed: ReadonlySet<string>, private readonly failing: ReadonlySet<string> = new Set()) {}
  policyDigest(): string {
    return this.policy;
  }
  async decide(image: ImageRef & { digest: string }, ctx: AdmissionContext): Promise<ImageDecision> {
    this.calls.push({ image, ctx });
    if (this.hang) return new Promise<ImageDecision>(() => undefined);
    if (this.failing.has(image.digest)) throw new SsfError('STORE_FAILED', `evidence store unavailable for ${image.digest}`);
    if (this.allowed.has(image.digest)) {
      return { allowed: true, reason: 'provenance verified', decisionLogIndex: 7, ...(image.digest === DIGEST.debug ? { warnings: ['audit: debug image'] } : {}) };
    }
    return { allowed: false, reason: 'rule "signed-provenance" failed: no provenance for this digest' };
  }
  /** What the webhook told it ran or stopped running (admitted / removed), in order. */
  readonly recorded: { what: 'admitted' | 'removed'; digests: string[]; operation: string }[] = [];
  async admitted(images: readonly (ImageRef & { digest: string })[], ctx: Omit<AdmissionContext, 'container'>): Promise<void> {
    this.recorded.push({ what: 'admitted', digests: images.map((i) => i.digest).sort(), operation: ctx.operation });
  }
  async removed(images: readonly (ImageRef & { digest: string })[], ctx: Omit<AdmissionContext, 'container'>): Promise<void> {
    this.recorded.push({ what: 'removed', digests: images.map((i) => i.digest).sort(), operation: ctx.operation });
  }
  callsFor(digest: string): number {
    return this.calls.filter((c) => c.image.digest === digest).length;
  }
}

interface PodImages {
  containers: string[];
  init?: string[];
  ephemeral?: string[];
}

function podSpec(p: PodImages): Json {
  const c = (prefix: string) => (image: string, i: number): Json => ({ name: `${prefix}${i}`, image, imagePullPolicy: 'IfNotPresent', resources: {} });
  return {
    containers: p.containers.map(c('app')),
    ...(p.init ? { initContainers: p.init.map(c('init')) } : {}),
    ...(p.ephemeral ? { ephemeralContainers: p.ephemeral.map((image, i) => ({ ...c('debug')(image, i), targetContainerName: 'app0' })) } : {}),
    restartPolicy: 'Always',
    terminationGracePeriodSeconds: 30,
  };
}

const KINDS: Record<string, { group: string; resource: string; wrap: (spec: Json) => Json; base: string }> = {
  Pod: { group: '', resource: 'pods', wrap: (spec) => ({ spec }), base: 'spec' },
  Deployment: { group: 'apps', resource: 'deployments', wrap: (spec) => ({ spec: { replicas: 2, selector: { matchLabels: { app: 'web' } }, template: { metadata: { labels: { app: 'web' } }, spec } } }), base: 'spec.template.spec' },
  ReplicaSet: { group: 'apps', resource: 'replicasets', wrap: (spec) => ({ spec: { replicas: 1, selector: { matchLabels: { app: 'web' } }, template: { metadata: { labels: { app: 'web' } }, spec } } }), base: 'spec.template.spec' },
  StatefulSet: { group: 'apps', resource: 'statefulsets', wrap: (spec) => ({ spec: { serviceName: 'db', selector: { matchLabels: { app: 'db' } }, template: { metadata: { labels: { app: 'db' } }, spec } } }), base: 'spec.template.spec' },
  DaemonSet: { group: 'apps', resource: 'daemonsets', wrap: (spec) => ({ spec: { selector: { matchLabels: { app: 'agent' } }, template: { metadata: { labels: { app: 'agent' } }, spec } } }), base: 'spec.template.spec' },
  Job: { group: 'batch', resource: 'jobs', wrap: (spec) => ({ spec: { backoffLimit: 1, template: { spec: { ...spec, restartPolicy: 'Never' } } } }), base: 'spec.template.spec' },
  CronJob: { group: 'batch', resource: 'cronjobs', wrap: (spec) => ({ spec: { schedule: '*/5 * * * *', jobTemplate: { spec: { template: { spec: { ...spec, restartPolicy: 'OnFailure' } } } } } }), base: 'spec.jobTemplate.spec.template.spec' },
};

let uidCounter = 0;

/** An AdmissionReview v1 request with the fields the API server sends. */
function admissionReview(opts: {
  kind?: string; group?: string; resource?: string; operation?: string; images?: PodImages; object?: Json | null; oldObject?: Json | null;
  dryRun?: boolean; subResource?: string; namespace?: string; name?: string; uid?: string;
}): Json {
  const kind = opts.kind ?? 'Pod';
  const k = KINDS[kind];
  const group = opts.group ?? k?.group ?? '';
  const version = 'v1';
  const resource = opts.resource ?? k?.resource ?? `${kind.toLowerCase()}s`;
  const name = opts.name ?? 'web';
  const namespace = opts.namespace ?? 'prod';
  const object = opts.object !== undefined ? opts.object : {
    apiVersion: group === '' ? version : `${group}/${version}`,
    kind,
    metadata: { name, namespace, uid: '5e1a7c1d-0000-4000-8000-000000000001', labels: { app: 'web' } },
    ...(k ? k.wrap(podSpec(opts.images ?? { containers: [img('app', DIGEST.app)] })) : {}),
  };
  const operation = opts.operation ?? 'CREATE';
  return {
    apiVersion: 'admission.k8s.io/v1',
    kind: 'AdmissionReview',
    request: {
      uid: opts.uid ?? `705ab4f5-6393-11e8-b7cc-${String(++uidCounter).padStart(12, '0')}`,
      kind: { group, version, kind },
      resource: { group, version, resource },
      ...(opts.subResource ? { subResource: opts.subResource } : {}),
      requestKind: { group, version, kind },
      requestResource: { group, version, resource },
      name,
      namespace,
      operation,
      userInfo: { username: 'system:serviceaccount:kube-system:replicaset-controller', uid: '3f1b0c6e', groups: ['system:serviceaccounts', 'system:authenticated'] },
      object: operation === 'DELETE' ? null : object,
      oldObject: opts.oldObject !== undefined ? opts.oldObject : operation === 'UPDATE' || operation === 'DELETE' ? object : null,
      dryRun: opts.dryRun ?? false,
      options: { apiVersion: 'meta.k8s.io/v1', kind: `${operation === 'CREATE' ? 'Create' : operation === 'UPDATE' ? 'Update' : 'Delete'}Options` },
    },
  };
}

let tmp: string;
let f: Factory;
let tls: { certPem: string; keyPem: string; caPem: string };
let clock: FixedClock;
let decider: AllowListDecider;
let webhook: AdmissionWebhook;
let server: WebhookServer;
const logLines: string[] = [];

interface HttpResult {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  text: string;
  json: Json;
}

function send(opts: { method?: string; path?: string; body?: string | Buffer; contentType?: string; trust?: string | null; chunked?: boolean; port?: number; servername?: string; client?: { cert: string; key: string } }): Promise<HttpResult> {
  return new Promise((resolve, reject) => {
    const req = httpsRequest({
      host: '127.0.0.1',
      port: opts.port ?? server.port,
      method: opts.method ?? 'POST',
      path: opts.path ?? '/validate?timeout=10s',
      agent: false,
      ...(opts.trust === null ? {} : { ca: opts.trust ?? tls.caPem }),
      ...(opts.servername ? { servername: opts.servername } : {}),
      ...(opts.client ? { cert: opts.client.cert, key: opts.client.key } : {}),
      headers: opts.body !== undefined ? { 'content-type': opts.contentType ?? 'application/json' } : {},
    }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        let json: Json = {};
        try {
          json = JSON.parse(text) as Json;
        } catch {
          // not JSON (healthz)
        }
        resolve({ status: res.statusCode ?? 0, headers: res.headers, text, json });
      });
    });
    req.on('error', reject);
    if (opts.body !== undefined && opts.chunked) {
      const b = Buffer.from(opts.body);
      const half = Math.floor(b.length / 2);
      req.write(b.subarray(0, half));
      req.end(b.subarray(half));
    } else {
      req.end(opts.body);
    }
  });
}

async function post(review: Json): Promise<Json> {
  const r = await send({ body: JSON.stringify(review) });
  assert.equal(r.status, 200, r.text);
  assert.equal(r.json.apiVersion, 'admission.k8s.io/v1');
  assert.equal(r.json.kind, 'AdmissionReview');
  assert.equal(r.json.response.uid, review.request.uid, 'the response echoes the request uid');
  return r.json.response as Json;
}

before(async () => {
  tmp = mkdtempSync(join(tmpdir(), 'ssf-admission-'));
  await initFactory({ dir: join(tmp, '.ssf'), trustDomain: TD, clock: systemClock, passphrase: 'admission test passphrase' });
  f = Factory.open(join(tmp, '.ssf'));
  tls = await f.issueServingCertificate({ dnsNames: ['localhost'], ipAddresses: ['127.0.0.1'], days: 1 });
  clock = new FixedClock('2026-03-01T12:00:00.000Z');
  decider = new AllowListDecider(new Set([DIGEST.app, DIGEST.init, DIGEST.debug]), new Set([DIGEST.boom]));
  webhook = new AdmissionWebhook(decider, { clock, cacheTtlMs: 60_000, log: (l) => logLines.push(l) });
  server = await webhook.listen({ port: 0, host: '127.0.0.1', certPem: tls.certPem, keyPem: tls.keyPem });
});

after(async () => {
  await server?.close();
  f?.close();
  rmSync(tmp, { recursive: true, force: true });
});

describe('TLS with the factory-issued serving certificate', () => {
  test('a client trusting only the factory root connects; /healthz answers', async () => {
    assert.equal(tls.caPem.trim(), readFileSync(join(tmp, '.ssf', 'ca', 'root.pem'), 'utf8').trim());
    const r = await send({ method: 'GET', path: '/healthz' });
    assert.equal(r.status, 200);
    assert.equal(r.text, 'ok\n');
  });

  test('a client trusting nothing (the system CAs only) is refused', async () => {
    await assert.rejects(send({ method: 'GET', path: '/healthz', trust: null }), (e: NodeJS.ErrnoException) => e.code === 'UNABLE_TO_GET_ISSUER_CERT_LOCALLY');
  });

  test('a client trusting another factory\'s root is refused', async () => {
    const other = mkdtempSync(join(tmpdir(), 'ssf-admission-other-'));
    try {
      await initFactory({ dir: join(other, '.ssf'), trustDomain: 'other.test.internal', clock: systemClock, passphrase: 'another passphrase' });
      const otherRoot = readFileSync(join(other, '.ssf', 'ca', 'root.pem'), 'utf8');
      await assert.rejects(send({ method: 'GET', path: '/healthz', trust: otherRoot }), (e: NodeJS.ErrnoException) => e.code === 'UNABLE_TO_GET_ISSUER_CERT_LOCALLY');
    } finally {
      rmSync(other, { recursive: true, force: true });
    }
  });
});

/** A CA of its own (as a cluster's) and a clientAuth leaf under it, as the API server would present. */
async function clientPki(name: string): Promise<{ caPem: string; cert: string; key: string }> {
  const caKeys = generateP256();
  const ca = await toCryptoKeys(caKeys);
  const leafKeys = generateP256();
  const leaf = await toCryptoKeys(leafKeys);
  const now = Date.now();
  const caCert = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: randomSerial(), name: `CN=${name} client CA`, notBefore: new Date(now - 60_000), notAfter: new Date(now + 86_400_000),
    keys: { publicKey: ca.publicKey, privateKey: ca.privateKey }, signingAlgorithm: { name: 'ECDSA', hash: 'SHA-256' },
    extensions: [new x509.BasicConstraintsExtension(true, 0, true), new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign, true)],
  });
  const leafCert = await x509.X509CertificateGenerator.create({
    serialNumber: randomSerial(), subject: 'CN=kube-apiserver', issuer: caCert.subjectName, notBefore: new Date(now - 60_000), notAfter: new Date(now + 86_400_000),
    publicKey: leaf.publicKey, signingKey: ca.privateKey, signingAlgorithm: { name: 'ECDSA', hash: 'SHA-256' },
    extensions: [new x509.BasicConstraintsExtension(false, undefined, true), new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true), new x509.ExtendedKeyUsageExtension(['1.3.6.1.5.5.7.3.2'], false)],
  });
  return { caPem: caCert.toString('pem') + '\n', cert: leafCert.toString('pem') + '\n', key: leafKeys.privateKey.export({ type: 'pkcs8', format: 'pem' }).toString() };
}

describe('client authentication (--client-ca)', () => {
  test('POST /validate answers only a client with a certificate from the client CA; /healthz stays open for probes; without a client CA anyone is answered', async () => {
    const apiServer = await clientPki('cluster');
    const stranger = await clientPki('stranger');
    const s = await webhook.listen({ port: 0, host: '127.0.0.1', certPem: tls.certPem, keyPem: tls.keyPem, clientCaPem: apiServer.caPem });
    try {
      const body = JSON.stringify(admissionReview({ kind: 'Pod', images: { containers: [img('app', DIGEST.app)] } }));
      const before = logLines.length;
      const none = await send({ port: s.port, body });
      assert.equal(none.status, 403);
      assert.equal(none.json.error.code, 'CLIENT_UNAUTHENTICATED');
      assert.match(logLines.slice(before).join('\n'), /refused POST \/validate from 127\.0\.0\.1: no client certificate/);
      const other = await send({ port: s.port, body, client: stranger });
      assert.equal(other.status, 403);
      assert.match(other.json.error.message, /the one given was not accepted/);
      const ok = await send({ port: s.port, body, client: apiServer });
      assert.equal(ok.status, 200, ok.text);
      assert.equal(ok.json.response.allowed, true);
      const health = await send({ port: s.port, method: 'GET', path: '/healthz' });
      assert.equal(health.status, 200);
      // A rotated serving certificate keeps the client CA.
      s.setCertificate(tls.certPem, tls.keyPem);
      assert.equal((await send({ port: s.port, body })).status, 403);
      assert.equal((await send({ port: s.port, body, client: apiServer })).status, 200);
    } finally {
      await s.close();
    }
    // The shared server has no client CA: a request without a certificate is answered.
    const open = await send({ body: JSON.stringify(admissionReview({ kind: 'Pod', images: { containers: [img('app', DIGEST.app)] } })) });
    assert.equal(open.status, 200);
  });
});

describe('what a workload stops running', () => {
  test('an admitted UPDATE to other images reports the old images it no longer runs as removed; a dryRun, denied or image-keeping UPDATE reports none', async () => {
    const old = admissionReview({ kind: 'Deployment', images: { containers: [img('app', DIGEST.app)], init: [img('init', DIGEST.init)] } }).request.object as Json;
    const update = (images: PodImages, dryRun = false): Json => admissionReview({ kind: 'Deployment', operation: 'UPDATE', images, oldObject: old, dryRun });
    decider.recorded.length = 0;
    assert.equal((await post(update({ containers: [img('app', DIGEST.app)], init: [img('debug', DIGEST.debug)] }))).allowed, true);
    await webhook.settled();
    assert.deepEqual(decider.recorded, [
      { what: 'admitted', digests: [DIGEST.app, DIGEST.debug].sort(), operation: 'UPDATE' },
      { what: 'removed', digests: [DIGEST.init], operation: 'UPDATE' },
    ]);
    decider.recorded.length = 0;
    assert.equal((await post(update({ containers: [img('app', DIGEST.app)], init: [img('debug', DIGEST.debug)] }, true))).allowed, true);
    assert.equal((await post(update({ containers: [img('app', DIGEST.denied)] }))).allowed, false);
    await webhook.settled();
    assert.deepEqual(decider.recorded, [], 'a dryRun or denied UPDATE changes no record');
    assert.equal((await post(update({ containers: [img('init', DIGEST.init), img('app', DIGEST.app)] }))).allowed, true);
    await webhook.settled();
    assert.deepEqual(decider.recorded, [{ what: 'admitted', digests: [DIGEST.app, DIGEST.init].sort(), operation: 'UPDATE' }], 'the same images moved between containers: nothing removed');
    decider.recorded.length = 0;
    assert.equal((await post(admissionReview({ kind: 'Deployment', operation: 'DELETE', oldObject: old }))).allowed, true);
    await webhook.settled();
    assert.deepEqual(decider.recorded, [{ what: 'removed', digests: [DIGEST.app, DIGEST.init].sort(), operation: 'DELETE' }]);
  });
});

describe('every workload kind, with init and ephemeral containers', () => {
  for (const kind of Object.keys(KINDS)) {
    test(`${kind}: every image is decided, with its container path; all allowed → allowed`, async () => {
      webhook.clearCache();
      const before = decider.calls.length;
      const review = admissionReview({ kind, images: { containers: [img('app', DIGEST.app)], init: [img('init', DIGEST.init)], ephemeral: [img('debug', DIGEST.debug)] } });
      const res = await post(review);
      assert.equal(res.allowed, true, JSON.stringify(res));
      assert.equal(res.status, undefined);
      const calls = decider.calls.slice(before);
      const base = KINDS[kind]?.base;
      assert.deepEqual(calls.map((c) => [c.ctx.container, c.image.digest]).sort(), [
        [`${base}.containers[0]`, DIGEST.app], [`${base}.ephemeralContainers[0]`, DIGEST.debug], [`${base}.initContainers[0]`, DIGEST.init],
      ]);
      for (const c of calls) {
        assert.deepEqual({ ...c.ctx, container: '' }, { uid: review.request.uid, kind, namespace: 'prod', name: 'web', operation: 'CREATE', container: '', dryRun: false });
      }
      assert.deepEqual(res.warnings, [`${base}.ephemeralContainers[0]: audit: debug image`]);
      assert.equal(res.auditAnnotations?.['decision-log-indices'], [`${base}.containers[0]=7`, `${base}.initContainers[0]=7`, `${base}.ephemeralContainers[0]=7`].join(','));
    });
  }

  test('the pods/ephemeralcontainers subresource update is inspected', async () => {
    const res = await post(admissionReview({ operation: 'UPDATE', subResource: 'ephemeralcontainers', images: { containers: [img('app', DIGEST.app)], ephemeral: ['busybox:latest'] } }));
    assert.equal(res.allowed, false);
    assert.match(res.status.message, /spec\.ephemeralContainers\[0\] image "busybox:latest" is not pinned by digest/);
  });
});

describe('denials: fail closed, each denied image named', () => {
  test('an image pinned only by tag is denied, naming the container path and image', async () => {
    const res = await post(admissionReview({ kind: 'Deployment', images: { containers: [img('app', DIGEST.app), 'registry.example/team/web:1.4.2'], init: ['alpine'] } }));
    assert.equal(res.allowed, false);
    assert.equal(res.status.code, 403);
    assert.match(res.status.message, /^ssf denied Deployment prod\/web: 2 of 3 images: /);
    assert.match(res.status.message, /spec\.template\.spec\.containers\[1\] image "registry\.example\/team\/web:1\.4\.2" is not pinned by digest; use "registry\.example\/team\/web@sha256:<digest>"/);
    assert.match(res.status.message, /spec\.template\.spec\.initContainers\[0\] image "alpine" is not pinned by digest/);
    assert.doesNotMatch(res.status.message, /containers\[0\]/);
  });

  test('a malformed digest is denied', async () => {
    for (const bad of [`app@sha256:${hex('a').slice(2)}`, `app@sha256:${hex('A')}`, `app@sha512:${'a'.repeat(128)}`, 'app@sha256:xyz']) {
      const res = await post(admissionReview({ images: { containers: [bad] } }));
      assert.equal(res.allowed, false, bad);
      assert.match(res.status.message, /spec\.containers\[0\] image ".*" has (a malformed digest|digest algorithm "sha512")/, bad);
    }
  });

  test('the decider denying is a denial with its reason, and that final decision is cached', async () => {
    const before = decider.callsFor(DIGEST.denied);
    for (let i = 0; i < 2; i++) {
      const res = await post(admissionReview({ images: { containers: [img('app', DIGEST.app), img('bad', DIGEST.denied)] } }));
      assert.equal(res.allowed, false);
      assert.match(res.status.message, /1 of 2 images: spec\.containers\[1\] image "registry\.example\/bad@sha256:d{64}" denied: rule "signed-provenance" failed/);
    }
    assert.equal(decider.callsFor(DIGEST.denied), before + 1);
  });

  test('the decider throwing is a denial (fail closed), and errors are never cached', async () => {
    const before = decider.callsFor(DIGEST.boom);
    for (let i = 0; i < 2; i++) {
      const res = await post(admissionReview({ images: { containers: [img('boom', DIGEST.boom)] } }));
      assert.equal(res.allowed, false);
      assert.match(res.status.message, /spec\.containers\[0\] image "registry\.example\/boom@sha256:e{64}": no decision \(fail closed\): error\[STORE_FAILED\]: evidence store unavailable/);
    }
    assert.equal(decider.callsFor(DIGEST.boom), before + 2);
    assert.ok(logLines.some((l) => l.includes('decider failed')));
  });

  test('policyDigest() throwing is a denial', async () => {
    const d = new AllowListDecider(new Set([DIGEST.app]));
    d.policyDigest = (): string => {
      throw new Error('policy file vanished');
    };
    const res = (await new AdmissionWebhook(d, { clock }).review(admissionReview({}))).response;
    assert.equal(res.allowed, false);
    assert.match(res.status?.message ?? '', /cannot read the deploy policy/);
  });

  test('a decider that does not answer in time → denied (fail closed)', async () => {
    const d = new AllowListDecider(new Set([DIGEST.app]));
    d.hang = true;
    const w = new AdmissionWebhook(d, { clock, timeoutMs: 20 });
    const res = (await w.review(admissionReview({}))).response;
    assert.equal(res.allowed, false);
    assert.match(res.status?.message ?? '', /no decision \(fail closed\): the deploy gate gave no decision within 20 ms/);
  });

  test('a malformed decision (not {allowed, reason}) is a denial', async () => {
    const d: DeployDecider = { policyDigest: () => 'p', decide: async () => ({ allowed: 'yes' }) as unknown as ImageDecision };
    const res = (await new AdmissionWebhook(d, { clock }).review(admissionReview({}))).response;
    assert.equal(res.allowed, false);
    assert.match(res.status?.message ?? '', /malformed decision/);
  });

  test('a review with a uid but a malformed workload is a denial answered with that uid', async () => {
    const review = admissionReview({ kind: 'Deployment', object: { apiVersion: 'apps/v1', kind: 'Deployment', spec: { template: {} } } });
    const res = await post(review);
    assert.equal(res.allowed, false);
    assert.match(res.status.message, /malformed AdmissionReview: Deployment object has no spec\.template\.spec object/);
    const bad = admissionReview({});
    bad.request.operation = 'PATCH';
    assert.equal((await post(bad)).allowed, false);
  });
});

describe('what is allowed without looking', () => {
  test('DELETE (no object, only oldObject) and CONNECT are allowed without calling the decider', async () => {
    const before = decider.calls.length;
    const del = admissionReview({ kind: 'Deployment', operation: 'DELETE', images: { containers: ['unpinned:latest'] } });
    assert.equal(del.request.object, null);
    assert.ok(del.request.oldObject);
    assert.equal((await post(del)).allowed, true);
    const exec = admissionReview({ operation: 'CONNECT', subResource: 'exec', object: { apiVersion: 'v1', kind: 'PodExecOptions', command: ['sh'] } });
    assert.equal((await post(exec)).allowed, true);
    assert.equal(decider.calls.length, before);
  });

  test('kinds that run no containers (ConfigMap) are allowed with nothing to check', async () => {
    const before = decider.calls.length;
    const cm = admissionReview({ kind: 'ConfigMap', resource: 'configmaps', object: { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'c' }, data: { image: 'x:latest' } } });
    assert.equal((await post(cm)).allowed, true);
    assert.equal(decider.calls.length, before);
  });
});

describe('dryRun and the decision cache', () => {
  test('dryRun is passed to the decider, and a dryRun decision is never cached', async () => {
    const d = new AllowListDecider(new Set([DIGEST.app]));
    const w = new AdmissionWebhook(d, { clock: new FixedClock(0) });
    const r1 = await w.review(admissionReview({ dryRun: true }));
    assert.equal(r1.response.allowed, true);
    assert.equal(d.calls[0]?.ctx.dryRun, true);
    await w.review(admissionReview({ dryRun: true }));
    assert.equal(d.calls.length, 2, 'a dryRun decision is not reused');
    await w.review(admissionReview({}));
    assert.equal(d.calls.length, 3, 'nor used for a real request');
    assert.equal(d.calls[2]?.ctx.dryRun, false);
    await w.review(admissionReview({ dryRun: true }));
    assert.equal(d.calls.length, 3, 'a dryRun request may read a real, cached decision');
  });

  test('a repeated digest is decided once, across containers and requests, until the TTL expires', async () => {
    const d = new AllowListDecider(new Set([DIGEST.app]));
    const c = new FixedClock('2026-03-01T12:00:00.000Z');
    const w = new AdmissionWebhook(d, { clock: c, cacheTtlMs: 60_000 });
    const images = { containers: [img('app', DIGEST.app), img('sidecar', DIGEST.app)], init: [img('app', DIGEST.app)] };
    for (let i = 0; i < 5; i++) assert.equal((await w.review(admissionReview({ kind: 'StatefulSet', images }))).response.allowed, true);
    assert.equal(d.calls.length, 1);
    c.advance(59_999);
    await w.review(admissionReview({ images }));
    assert.equal(d.calls.length, 1, 'still fresh just before the TTL');
    c.advance(1);
    await w.review(admissionReview({ images }));
    assert.equal(d.calls.length, 2, 'expired at the TTL');
    d.policy = 'sha256:policy-two';
    await w.review(admissionReview({ images }));
    assert.equal(d.calls.length, 3, 'a new policy digest is a new key');
    await w.review(admissionReview({ images, namespace: 'staging' }));
    assert.equal(d.calls.length, 4, 'another namespace is a new key');
    assert.equal(w.stats().cacheSize, 3);
  });

  test('concurrent requests for one digest share one decision', async () => {
    const d = new AllowListDecider(new Set([DIGEST.app]));
    const w = new AdmissionWebhook(d, { clock: new FixedClock(0) });
    const all = await Promise.all(Array.from({ length: 20 }, () => w.review(admissionReview({}))));
    assert.ok(all.every((r) => r.response.allowed));
    assert.equal(d.calls.length, 1);
  });

  test('cache size is bounded; TTL 0 turns caching off', async () => {
    const d = new AllowListDecider(new Set(['a', 'b', 'c'].map((x) => `sha256:${hex(x)}`)));
    const w = new AdmissionWebhook(d, { clock: new FixedClock(0), cacheMaxEntries: 2 });
    for (const x of ['a', 'b', 'c']) await w.review(admissionReview({ images: { containers: [img('x', `sha256:${hex(x)}`)] } }));
    assert.equal(w.stats().cacheSize, 2);
    await w.review(admissionReview({ images: { containers: [img('x', `sha256:${hex('a')}`)] } }));
    assert.equal(d.calls.length, 4, 'the least recently used entry was evicted');
    const off = new AdmissionWebhook(d, { clock: new FixedClock(0), cacheTtlMs: 0 });
    await off.review(admissionReview({ images: { containers: [img('x', `sha256:${hex('a')}`)] } }));
    await off.review(admissionReview({ images: { containers: [img('x', `sha256:${hex('a')}`)] } }));
    assert.equal(d.calls.length, 6);
  });

  test('a warm decision costs microseconds', async () => {
    const d = new AllowListDecider(new Set([DIGEST.app]));
    const w = new AdmissionWebhook(d, { clock: new FixedClock(0) });
    const review = admissionReview({ kind: 'Deployment' });
    await w.review(review);
    const n = 2000;
    const t0 = process.hrtime.bigint();
    for (let i = 0; i < n; i++) await w.review(review);
    const perReviewUs = Number(process.hrtime.bigint() - t0) / 1000 / n;
    assert.equal(d.calls.length, 1);
    assert.ok(perReviewUs < 1000, `a cached review took ${perReviewUs.toFixed(1)} µs`);
  });
});

describe('HTTP: what is not an AdmissionReview', () => {
  test('a body that is not an AdmissionReview → 400 with ADMISSION_INVALID', async () => {
    for (const body of ['{', '[]', '{"apiVersion":"v1","kind":"Pod"}', JSON.stringify({ ...admissionReview({}), apiVersion: 'admission.k8s.io/v1beta1' }), '{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview","request":{}}']) {
      const r = await send({ body });
      assert.equal(r.status, 400, body);
      assert.equal(r.json.error.code, 'ADMISSION_INVALID');
    }
    await rejectsCode(webhook.review({ apiVersion: 'v1', kind: 'Status' }), 'ADMISSION_INVALID');
  });

  test('an oversized body is refused with 413 (declared length or streamed)', async () => {
    const big = Buffer.alloc(MAX_REVIEW_BYTES + 1024, 0x20);
    const declared = await send({ body: big });
    assert.equal(declared.status, 413);
    assert.equal(declared.json.error.code, 'INPUT_TOO_LARGE');
    const streamed = await send({ body: big, chunked: true });
    assert.equal(streamed.status, 413);
  });

  test('wrong content type → 415, wrong method → 405, unknown path → 404', async () => {
    assert.equal((await send({ body: JSON.stringify(admissionReview({})), contentType: 'text/plain' })).status, 415);
    assert.equal((await send({ body: JSON.stringify(admissionReview({})), contentType: 'application/json; charset=utf-8' })).status, 200);
    const get = await send({ method: 'GET' });
    assert.equal(get.status, 405);
    assert.equal(get.headers.allow, 'POST');
    assert.equal((await send({ method: 'GET', path: '/mutate' })).status, 404);
  });
});

describe('ssf admission manifests', () => {
  function io(): Io & { lines: string[]; errs: string[] } {
    const lines: string[] = [];
    const errs: string[] = [];
    return { lines, errs, out: (l) => lines.push(l), err: (l) => errs.push(l), env: {}, isTty: false };
  }
  const IMAGE = `registry.example/ssf@sha256:${hex('f')}`;

  test('prints YAML with the expected kinds; caBundle is the factory root; the Secret serves the service name', async () => {
    const o = io();
    const args = parseCommandArgs(admissionManifestsCommand, ['--dir', join(tmp, '.ssf'), '--image', IMAGE]);
    assert.equal(await admissionManifestsCommand.run(args, o), 0);
    const docs = parseAllDocuments(o.lines.join('\n'));
    assert.ok(Array.isArray(docs));
    const objs = (docs as { errors: unknown[]; toJS(): Json }[]).map((d) => {
      assert.deepEqual(d.errors, []);
      return d.toJS();
    });
    assert.deepEqual(objs.map((x) => x.kind), ['Namespace', 'Secret', 'Service', 'Deployment', 'ValidatingWebhookConfiguration']);
    const [, secret, svc, dep, vwc] = objs as [Json, Json, Json, Json, Json];
    const rootPem = readFileSync(join(tmp, '.ssf', 'ca', 'root.pem'), 'utf8');
    const hook = vwc.webhooks[0];
    assert.equal(Buffer.from(hook.clientConfig.caBundle, 'base64').toString('utf8').trim(), rootPem.trim());
    assert.equal(vwc.apiVersion, 'admissionregistration.k8s.io/v1');
    assert.equal(hook.failurePolicy, 'Fail');
    assert.equal(hook.sideEffects, 'NoneOnDryRun');
    assert.deepEqual(hook.admissionReviewVersions, ['v1']);
    assert.equal(hook.timeoutSeconds, 10);
    assert.deepEqual(hook.clientConfig.service, { name: 'ssf-admission', namespace: 'ssf', path: '/validate', port: 443 });
    assert.deepEqual(hook.namespaceSelector.matchExpressions, [{ key: 'kubernetes.io/metadata.name', operator: 'NotIn', values: ['ssf'] }]);
    assert.deepEqual(hook.rules.flatMap((r: Json) => r.resources).sort(), ['cronjobs', 'daemonsets', 'deployments', 'jobs', 'pods', 'pods/ephemeralcontainers', 'replicasets', 'replicationcontrollers', 'statefulsets']);
    assert.ok(hook.rules.every((r: Json) => r.operations.join() === 'CREATE,UPDATE'));
    // A second webhook for deletes (removal records), which must never block one: Ignore.
    const removals = vwc.webhooks[1];
    assert.equal(vwc.webhooks.length, 2);
    assert.equal(removals.failurePolicy, 'Ignore');
    assert.equal(removals.clientConfig.caBundle, hook.clientConfig.caBundle);
    assert.deepEqual(removals.rules.flatMap((r: Json) => r.resources).sort(), ['cronjobs', 'daemonsets', 'deployments', 'jobs', 'pods', 'replicasets', 'replicationcontrollers', 'statefulsets']);
    assert.ok(removals.rules.every((r: Json) => r.operations.join() === 'DELETE'));
    assert.deepEqual(svc.spec.ports, [{ name: 'https', port: 443, targetPort: 'https', protocol: 'TCP' }]);
    const pod = dep.spec.template.spec;
    assert.equal(pod.securityContext.runAsNonRoot, true);
    assert.equal(pod.containers[0].image, IMAGE);
    assert.equal(pod.containers[0].securityContext.readOnlyRootFilesystem, true);
    assert.equal(pod.containers[0].ports[0].containerPort, 8443);
    assert.deepEqual(pod.volumes.find((v: Json) => v.name === 'tls').secret.secretName, secret.metadata.name);
    assert.equal(secret.type, 'kubernetes.io/tls');

    // The Secret's certificate, served as is, is trusted through the caBundle under the service's DNS name.
    const cert = Buffer.from(secret.data['tls.crt'], 'base64').toString('utf8');
    const key = Buffer.from(secret.data['tls.key'], 'base64').toString('utf8');
    const s = createServer({ cert, key }, (_q, r) => r.end('ok'));
    await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
    try {
      const p = (s.address() as AddressInfo).port;
      const ca = Buffer.from(hook.clientConfig.caBundle, 'base64').toString('utf8');
      const ok = await send({ method: 'GET', path: '/', port: p, trust: ca, servername: 'ssf-admission.ssf.svc' });
      assert.equal(ok.text, 'ok');
      await assert.rejects(send({ method: 'GET', path: '/', port: p, trust: ca, servername: 'evil.ssf.svc' }), (e: NodeJS.ErrnoException) => e.code === 'ERR_TLS_CERT_ALTNAME_INVALID');
    } finally {
      s.closeAllConnections();
      await new Promise<void>((r) => s.close(() => r()));
    }
  });

  test('--client-ca ships the CA in the Secret and makes the webhook require it; a file without a certificate is CERT_INVALID; without it a warning', async () => {
    const { writeFileSync } = await import('node:fs');
    const caFile = join(tmp, 'apiserver-client-ca.pem');
    const pki = await clientPki('cluster');
    writeFileSync(caFile, pki.caPem);
    const o = io();
    assert.equal(await admissionManifestsCommand.run(parseCommandArgs(admissionManifestsCommand, ['--dir', join(tmp, '.ssf'), '--image', IMAGE, '--client-ca', caFile]), o), 0);
    assert.deepEqual(o.errs, []);
    const objs = parseAllDocuments(o.lines.join('\n')) as unknown as { toJS(): Json }[];
    const secret = objs.map((d) => d.toJS()).find((x) => x.kind === 'Secret') as Json;
    const dep = objs.map((d) => d.toJS()).find((x) => x.kind === 'Deployment') as Json;
    assert.equal(Buffer.from(secret.data['client-ca.crt'], 'base64').toString('utf8'), pki.caPem);
    const args: string[] = dep.spec.template.spec.containers[0].args;
    assert.equal(args[args.indexOf('--client-ca') + 1], '/etc/ssf/tls/client-ca.crt');
    const without = io();
    assert.equal(await admissionManifestsCommand.run(parseCommandArgs(admissionManifestsCommand, ['--dir', join(tmp, '.ssf'), '--image', IMAGE]), without), 0);
    assert.match(without.errs.join('\n'), /no --client-ca: the webhook will answer any client/);
    writeFileSync(caFile, 'not a certificate\n');
    await rejectsCode(admissionManifestsCommand.run(parseCommandArgs(admissionManifestsCommand, ['--dir', join(tmp, '.ssf'), '--image', IMAGE, '--client-ca', caFile]), io()), 'CERT_INVALID');
  });

  test('an image not pinned by digest, or a bad failure policy, is a usage error before anything is issued', async () => {
    for (const argv of [['--image', 'registry.example/ssf:1.0'], ['--image', IMAGE, '--failure-policy', 'Maybe'], ['--image', IMAGE, '--namespace', 'Bad_NS']]) {
      await rejectsCode(admissionManifestsCommand.run(parseCommandArgs(admissionManifestsCommand, ['--dir', join(tmp, '.ssf'), ...argv]), io()), 'USAGE');
    }
  });
});
