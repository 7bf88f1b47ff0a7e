/**
 * Gate D end to end: a real run builds and publishes an OCI image; AdmissionReview v1
 * requests for it go over real HTTPS to the webhook with the real deploy gate, which looks the
 * digest up in the factory's store and repository, verifies every bundle against the trust
 * root and revocation list, and decides by the deploy policies.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { request as httpsRequest } from 'node:https';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { sha256File, systemClock } from '../core/index.js';
import { Factory, initFactory } from '../factory/index.js';
import { Runner } from '../platform/index.js';
import { OciLayout } from '../repository/index.js';
import { SIGSTORE_BUNDLE_MEDIA_TYPE } from '../verify/index.js';
import { SLSA_PROVENANCE_V1, makeStatement } from '../attest/index.js';
import { AdmissionWebhook, DecisionStore, createDeployDecider, decideDeploy, loadFactoryPolicies, type WebhookServer } from './index.js';

const TD = 'deploy.test.internal';
const PASS = 'deploy test passphrase';
let tmp: string;
let f: Factory;
let server: WebhookServer;
let caPem: string;
let imageDigest: string;
let webhook: AdmissionWebhook;
let runId: string;
let provenancePath: string;

type Json = Record<string, unknown>;

function review(uid: string, image: string, opts: { dryRun?: boolean; kind?: string } = {}): Json {
  const kind = opts.kind ?? 'Deployment';
  const pod = { containers: [{ name: 'app', image }] };
  const object = kind === 'Pod'
    ? { apiVersion: 'v1', kind: 'Pod', metadata: { name: 'p', namespace: 'prod' }, spec: pod }
    : { apiVersion: 'apps/v1', kind, metadata: { name: 'd', namespace: 'prod' }, spec: { selector: { matchLabels: { app: 'd' } }, template: { metadata: { labels: { app: 'd' } }, spec: pod } } };
  return {
    apiVersion: 'admission.k8s.io/v1', kind: 'AdmissionReview',
    request: {
      uid, kind: { group: kind === 'Pod' ? '' : 'apps', version: 'v1', kind }, resource: { group: kind === 'Pod' ? '' : 'apps', version: 'v1', resource: `${kind.toLowerCase()}s` },
      requestKind: { group: kind === 'Pod' ? '' : 'apps', version: 'v1', kind }, requestResource: { group: kind === 'Pod' ? '' : 'apps', version: 'v1', resource: `${kind.toLowerCase()}s` },
      name: 'd', namespace: 'prod', operation: 'CREATE', userInfo: { username: 'alice', groups: ['system:authenticated'] },
      object, oldObject: null, dryRun: opts.dryRun ?? false, options: { apiVersion: 'meta.k8s.io/v1', kind: 'CreateOptions' },
    },
  };
}

function post(body: Json): Promise<{ status: number; json: { response: { uid: string; allowed: boolean; status?: { message?: string }; warnings?: string[] } } }> {
  const u = new URL('/validate', server.url.replace('0.0.0.0', '127.0.0.1'));
  return new Promise((resolve, reject) => {
    const req = httpsRequest(u, { method: 'POST', ca: caPem, servername: 'localhost', headers: { 'content-type': 'application/json' } }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, json: JSON.parse(Buffer.concat(chunks).toString('utf8')) }));
    });
    req.on('error', reject);
    req.end(JSON.stringify(body));
  });
}

before(async () => {
  tmp = mkdtempSync(join(tmpdir(), 'ssf-deploy-'));
  await initFactory({ dir: join(tmp, '.ssf'), trustDomain: TD, clock: systemClock, passphrase: PASS });
  f = Factory.open(join(tmp, '.ssf'));
  const dir = join(tmp, 'app');
  mkdirSync(join(dir, 'src'), { recursive: true });
  writeFileSync(join(dir, 'src', 'main.js'), 'console.log("hello")\n');
  writeFileSync(join(dir, 'ssf-pipeline.yaml'), `apiVersion: ssf/v1
kind: Pipeline
metadata: { name: deploy-app }
workspaces: [ { name: source }, { name: out } ]
tools:
  - { name: sh, path: /usr/bin/dash, digest: "sha256:${sha256File('/usr/bin/dash')}" }
tasks:
  - name: checkout
    kind: source
    source: { path: . }
    workspaces: [ { name: source, mode: rw } ]
  - name: build
    kind: run
    needs: [checkout]
    run: { tool: sh, args: [-euc, "cp src/main.js /workspace/out/main.js"], cwd: source }
    workspaces: [ { name: source, mode: ro }, { name: out, mode: rw } ]
  - name: image
    kind: image
    needs: [build]
    image: { base: scratch, from: out, target: /app, entrypoint: [node, /app/main.js] }
    workspaces: [ { name: out, mode: ro } ]
  - name: publish
    kind: publish
    needs: [image]
    publish:
      artifacts:
        - { type: image, task: image, name: deploy-app-image }
    workspaces: [ { name: out, mode: ro } ]
`);
  const out = await new Runner(f).run({ file: join(dir, 'ssf-pipeline.yaml') });
  assert.equal(out.status, 'succeeded', out.error?.message);
  runId = out.runId;
  provenancePath = out.provenancePath ?? '';
  imageDigest = out.artifacts.find((a) => a.type === 'image')?.digest ?? '';
  assert.match(imageDigest, /^sha256:[0-9a-f]{64}$/);
  const tls = await f.issueServingCertificate({ dnsNames: ['localhost'], ipAddresses: ['127.0.0.1'] });
  caPem = tls.caPem;
  webhook = new AdmissionWebhook(await createDeployDecider(f, { policies: [] }), {});
  server = await webhook.listen({ port: 0, host: '127.0.0.1', certPem: tls.certPem, keyPem: tls.keyPem });
});

after(async () => {
  await server.close();
  f.close();
  rmSync(tmp, { recursive: true, force: true });
});

test('an image this factory built and published is admitted; the decision is a signed VSA about its digest', async () => {
  const before = new DecisionStore(f.db).forSubject(imageDigest).filter((r) => r.gate === 'deploy').length;
  const r = await post(review('uid-ok', `registry.example/deploy-app@${imageDigest}`));
  assert.equal(r.status, 200);
  assert.equal(r.json.response.uid, 'uid-ok');
  assert.equal(r.json.response.allowed, true, r.json.response.status?.message);
  const rows = new DecisionStore(f.db).forSubject(imageDigest).filter((x) => x.gate === 'deploy');
  assert.equal(rows.length, before + 1);
  const v = f.verifier().verify(f.bundleOf(f.evidence.getByLogIndex(rows.at(-1)?.log_index ?? -1)), { identity: `spiffe://${TD}/factory/policy`, artifact: { algorithm: 'sha256', hex: imageDigest.slice(7) } });
  assert.equal((v.statement.predicate as { verificationResult: string }).verificationResult, 'PASSED');
  // the input saw the verified provenance and the publish gate's VSA
  // What runs where: the admitted Deployment is recorded as signed evidence, so the graph knows it.
  await webhook.settled();
  const { GraphQueries } = await import('../graph/index.js');
  assert.deepEqual(new GraphQueries(f.db).provenance(imageDigest).deployments.map((d) => d.deployment), ['kubernetes/prod/Deployment/d']);
  const input = JSON.parse(rows.at(-1)?.input ?? '{}') as { provenance: { runId: string } | null; evidence: { attestations: { kind: string; gate?: string; result?: string }[] } };
  assert.ok(input.provenance?.runId);
  assert.ok(input.evidence.attestations.some((a) => a.kind === 'vsa' && a.gate === 'publish' && a.result === 'PASSED'));
});

test('a DELETE of the workload is allowed and ends its deployment record with a signed removal record; a dryRun DELETE records nothing', async () => {
  const { GraphQueries } = await import('../graph/index.js');
  const deployments = (): string[] => new GraphQueries(f.db).provenance(imageDigest).deployments.map((d) => d.deployment);
  const image = `registry.example/deploy-app@${imageDigest}`;
  assert.equal((await post(review('uid-del-create', image))).json.response.allowed, true);
  await webhook.settled();
  assert.deepEqual(deployments(), ['kubernetes/prod/Deployment/d']);
  const del = (uid: string, dryRun: boolean): Json => {
    const r = review(uid, image, { dryRun });
    const req = r['request'] as Json;
    return { ...r, request: { ...req, operation: 'DELETE', oldObject: req['object'], object: null, options: { apiVersion: 'meta.k8s.io/v1', kind: 'DeleteOptions' } } };
  };
  const evidence = (): number => f.evidence.count();
  const n0 = evidence();
  assert.equal((await post(del('uid-del-dry', true))).json.response.allowed, true);
  await webhook.settled();
  assert.equal(evidence(), n0, 'a dryRun DELETE signs nothing');
  assert.deepEqual(deployments(), ['kubernetes/prod/Deployment/d']);
  assert.equal((await post(del('uid-del', false))).json.response.allowed, true);
  await webhook.settled();
  assert.equal(evidence(), n0 + 1, 'one removal record');
  assert.deepEqual(deployments(), []);
  const removal = f.db.prepare("SELECT e.log_index FROM g_edge e JOIN g_node d ON d.id = e.dst WHERE e.verb = 'removed-from' AND d.key = 'kubernetes/prod/Deployment/d' ORDER BY e.log_index DESC").get() as { log_index: number };
  const v = f.verifier().verify(f.bundleOf(f.evidence.getByLogIndex(Number(removal.log_index))), { identity: `spiffe://${TD}/factory/admission` });
  assert.equal((v.statement.predicate as { removed?: boolean }).removed, true);
  // deleting it again (nothing runs there now) records nothing; creating it again records it again
  assert.equal((await post(del('uid-del-again', false))).json.response.allowed, true);
  await webhook.settled();
  assert.equal(evidence(), n0 + 1);
  assert.equal((await post(review('uid-del-recreate', image))).json.response.allowed, true);
  await webhook.settled();
  assert.deepEqual(deployments(), ['kubernetes/prod/Deployment/d']);
});

test('each workload kind with the image is admitted; an unknown digest is denied naming the failing rules', async () => {
  for (const kind of ['Pod', 'ReplicaSet', 'StatefulSet', 'DaemonSet']) {
    const r = await post(review(`uid-${kind}`, `registry.example/deploy-app@${imageDigest}`, { kind }));
    assert.equal(r.json.response.allowed, true, `${kind}: ${r.json.response.status?.message}`);
  }
  const unknown = `sha256:${'7'.repeat(64)}`;
  const r = await post(review('uid-unknown', `registry.example/other@${unknown}`));
  assert.equal(r.json.response.allowed, false);
  assert.match(r.json.response.status?.message ?? '', /deploy-verified\/provenance-verified: no verified SLSA provenance/);
  assert.match(r.json.response.status?.message ?? '', /publish-gate-passed/);
});

test("gate D's own earlier decisions are not evidence for the next one (the input does not grow with each decision)", async () => {
  const policies = loadFactoryPolicies(f).filter((p) => p.doc.spec.gate === 'deploy');
  const sizes: number[] = [];
  for (let i = 0; i < 3; i++) {
    const out = await decideDeploy(f, policies, imageDigest, { ref: `registry.example/deploy-app@${imageDigest}` });
    assert.equal(out.decision.allowed, true);
    sizes.push((out.input['evidence'] as { attestations: unknown[] }).attestations.length);
  }
  assert.equal(new Set(sizes).size, 1, `attestations per decision: ${sizes.join(', ')}`);
});

test('dryRun decides without side effects: no decision is signed or stored', async () => {
  const unknown = `sha256:${'8'.repeat(64)}`;
  const size = f.log.size();
  const r = await post(review('uid-dry', `registry.example/other@${unknown}`, { dryRun: true }));
  assert.equal(r.json.response.allowed, false);
  assert.equal(f.log.size(), size, 'nothing was logged');
  assert.equal(new DecisionStore(f.db).forSubject(unknown).length, 0);
});

test('tampered or forged evidence does not count: a broken referrer is rejected, a provenance not signed by the builder is no provenance', async () => {
  const policies = loadFactoryPolicies(f).filter((p) => p.doc.spec.gate === 'deploy');
  const repo = OciLayout.open(f.layout.repository);
  const manifest = repo.resolve(`deploy-app/deploy-app-image:${runId}`);
  // A copy of the real provenance with one byte of its payload changed, attached as a referrer.
  const prov = JSON.parse(readFileSync(provenancePath, 'utf8')) as { dsseEnvelope: { payload: string } };
  const payload = Buffer.from(prov.dsseEnvelope.payload, 'base64');
  payload.writeUInt8((payload[payload.length - 2] ?? 0) ^ 1, payload.length - 2);
  prov.dsseEnvelope.payload = payload.toString('base64');
  repo.attach(manifest, Buffer.from(JSON.stringify(prov)), { artifactType: SIGSTORE_BUNDLE_MEDIA_TYPE, mediaType: SIGSTORE_BUNDLE_MEDIA_TYPE });
  const out = await decideDeploy(f, policies, imageDigest, { dryRun: true, repository: repo });
  assert.equal(out.decision.allowed, true, 'the genuine evidence still decides');
  assert.ok(out.rejected.some((r) => r.startsWith('referrer:')), out.rejected.join('\n'));
  // A statement in SLSA provenance form about a new digest, signed by a non-builder identity of the factory.
  const forgedDigest = `sha256:${'6'.repeat(64)}`;
  const st = makeStatement([{ name: 'x', digest: { sha256: forgedDigest.slice(7) } }], SLSA_PROVENANCE_V1, JSON.parse(Buffer.from(JSON.parse(readFileSync(provenancePath, 'utf8')).dsseEnvelope.payload, 'base64').toString()).predicate);
  f.attest([{ statement: st, identity: await f.issueIdentity(['ci', 'someone']) }]);
  const forged = await decideDeploy(f, policies, forgedDigest, { dryRun: true });
  assert.equal(forged.input['provenance'], null);
  assert.equal(forged.decision.allowed, false);
  assert.ok(forged.rejected.some((r) => /not by a factory builder identity/.test(r)), forged.rejected.join('\n'));
});

test('revoking the builder identity denies the image at once (the cache key changes with the revocation list)', async () => {
  const ok = await post(review('uid-before', `registry.example/deploy-app@${imageDigest}`));
  assert.equal(ok.json.response.allowed, true);
  const root = f.loadRootKey(PASS);
  f.revoke(root, { kind: 'identity', value: `spiffe://${TD}/factory/builder`, reason: 'keyCompromise' });
  const r = await post(review('uid-revoked', `registry.example/deploy-app@${imageDigest}`));
  assert.equal(r.json.response.allowed, false);
  assert.match(r.json.response.status?.message ?? '', /provenance-verified|not-revoked/);
  assert.match(r.json.response.status?.message ?? '', /not-revoked/);
});
