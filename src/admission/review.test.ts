/** The AdmissionReview v1 parser and image references, in process (no decider, no TLS). */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { throwsCode } from '../core/testing.js';
import {
  MAX_REVIEW_BYTES, admissionResponse, inspectRequest, parseAdmissionRequest, parseImageRef, parseReviewBody, reviewUid,
} from './review.js';

const D = 'a'.repeat(64);

test('image references: registry, port, repository, tag, digest', () => {
  assert.deepEqual(parseImageRef('nginx'), { ref: 'nginx', repository: 'nginx' });
  assert.deepEqual(parseImageRef('library/nginx:1.25'), { ref: 'library/nginx:1.25', repository: 'library/nginx', tag: '1.25' });
  assert.deepEqual(parseImageRef(`registry.example:5000/team/app:v1@sha256:${D}`), {
    ref: `registry.example:5000/team/app:v1@sha256:${D}`, registry: 'registry.example:5000', repository: 'team/app', tag: 'v1', digest: `sha256:${D}`,
  });
  assert.deepEqual(parseImageRef(`localhost/app@sha256:${D}`), { ref: `localhost/app@sha256:${D}`, registry: 'localhost', repository: 'app', digest: `sha256:${D}` });
  assert.equal(parseImageRef('[::1]:5000/app:x').registry, '[::1]:5000');
  assert.equal(parseImageRef('a__b/c-d.e_f').repository, 'a__b/c-d.e_f');
  assert.equal(parseImageRef('localhost:5000').tag, '5000', 'a bare host:port reads as repository:tag, as the reference grammar does');
});

test('malformed references and digests → INPUT_MALFORMED', () => {
  for (const bad of [
    '', ' nginx', 'nginx ', 'ng\ninx', 'Nginx', 'app:', 'app:-x', `app@sha256:${D.slice(1)}`, `app@sha256:${'A'.repeat(64)}`, `app@sha256:${D}0`,
    `app@sha512:${'a'.repeat(128)}`, 'app@sha256', `app@@sha256:${D}`, 'app@', '/app', 'app/', 'a//b', 'bad_host.example:x/app', 'a..b/c', 'app:tag:tag',
    `x/${'a'.repeat(300)}`,
  ]) {
    throwsCode(() => parseImageRef(bad), 'INPUT_MALFORMED');
  }
});

function review(request: Record<string, unknown>): unknown {
  return { apiVersion: 'admission.k8s.io/v1', kind: 'AdmissionReview', request: { uid: 'u-1', kind: { group: '', version: 'v1', kind: 'Pod' }, resource: { group: '', version: 'v1', resource: 'pods' }, operation: 'CREATE', namespace: 'default', name: 'p', ...request } };
}

test('not an AdmissionReview v1 → ADMISSION_INVALID', () => {
  for (const body of [null, [], 'x', { apiVersion: 'admission.k8s.io/v1beta1', kind: 'AdmissionReview', request: { uid: 'u' } }, { apiVersion: 'admission.k8s.io/v1', kind: 'Pod' },
    { apiVersion: 'admission.k8s.io/v1', kind: 'AdmissionReview' }, { apiVersion: 'admission.k8s.io/v1', kind: 'AdmissionReview', request: { uid: '' } },
    { apiVersion: 'admission.k8s.io/v1', kind: 'AdmissionReview', request: { uid: 'a b\n' } }]) {
    throwsCode(() => reviewUid(body), 'ADMISSION_INVALID');
  }
  throwsCode(() => parseAdmissionRequest(review({ operation: 'PATCH' })), 'ADMISSION_INVALID');
  throwsCode(() => parseAdmissionRequest(review({ object: undefined })), 'ADMISSION_INVALID');
  throwsCode(() => parseAdmissionRequest(review({ dryRun: 'yes', object: {} })), 'ADMISSION_INVALID');
  throwsCode(() => parseReviewBody('{'), 'ADMISSION_INVALID');
  throwsCode(() => parseReviewBody(Buffer.alloc(MAX_REVIEW_BYTES + 1, 0x20)), 'INPUT_TOO_LARGE');
});

test('what is inspected: workloads on CREATE/UPDATE; DELETE, CONNECT, other kinds and image-less subresources allowed', () => {
  const pod = { spec: { containers: [{ name: 'a', image: 'x:1' }], initContainers: [{ name: 'i', image: `y@sha256:${D}` }], ephemeralContainers: [{ name: 'e', image: 'z' }] } };
  const i = inspectRequest(parseAdmissionRequest(review({ object: pod })));
  assert.equal(i.action, 'inspect');
  assert.deepEqual(i.action === 'inspect' ? i.containers.map((c) => [c.path, c.name, c.image?.digest ?? null]) : [], [
    ['spec.containers[0]', 'a', null], ['spec.initContainers[0]', 'i', `sha256:${D}`], ['spec.ephemeralContainers[0]', 'e', null],
  ]);
  assert.equal(inspectRequest(parseAdmissionRequest(review({ operation: 'DELETE', oldObject: pod }))).action, 'allow');
  assert.equal(inspectRequest(parseAdmissionRequest(review({ operation: 'CONNECT', subResource: 'exec', object: { kind: 'PodExecOptions' } }))).action, 'allow');
  assert.equal(inspectRequest(parseAdmissionRequest(review({ kind: { group: '', version: 'v1', kind: 'ConfigMap' }, object: { data: {} } }))).action, 'allow');
  assert.equal(inspectRequest(parseAdmissionRequest(review({ operation: 'UPDATE', subResource: 'status', object: pod }))).action, 'allow');
  assert.equal(inspectRequest(parseAdmissionRequest(review({ operation: 'UPDATE', subResource: 'ephemeralcontainers', object: pod }))).action, 'inspect');
  // A Deployment named in the core group is not a Deployment.
  assert.equal(inspectRequest(parseAdmissionRequest(review({ kind: { group: '', version: 'v1', kind: 'Deployment' }, object: {} }))).action, 'allow');
  const cron = { spec: { jobTemplate: { spec: { template: { spec: { containers: [{ name: 'c', image: 'x' }] } } } } } };
  const c = inspectRequest(parseAdmissionRequest(review({ kind: { group: 'batch', version: 'v1', kind: 'CronJob' }, object: cron })));
  assert.deepEqual(c.action === 'inspect' ? c.containers.map((x) => x.path) : [], ['spec.jobTemplate.spec.template.spec.containers[0]']);
});

test('malformed workload objects → ADMISSION_INVALID; a container without an image is a problem, not a crash', () => {
  const dep = (spec: unknown): unknown => review({ kind: { group: 'apps', version: 'v1', kind: 'Deployment' }, object: { spec } });
  throwsCode(() => inspectRequest(parseAdmissionRequest(dep({}))), 'ADMISSION_INVALID');
  throwsCode(() => inspectRequest(parseAdmissionRequest(dep({ template: { spec: { containers: {} } } }))), 'ADMISSION_INVALID');
  throwsCode(() => inspectRequest(parseAdmissionRequest(dep({ template: { spec: { containers: [] } } }))), 'ADMISSION_INVALID');
  throwsCode(() => inspectRequest(parseAdmissionRequest(dep({ template: { spec: { containers: ['x'] } } }))), 'ADMISSION_INVALID');
  throwsCode(() => inspectRequest(parseAdmissionRequest(dep({ template: { spec: { containers: Array.from({ length: 600 }, () => ({ image: 'x' })) } } }))), 'ADMISSION_INVALID');
  const i = inspectRequest(parseAdmissionRequest(dep({ template: { spec: { containers: [{ name: 'a' }, { name: 'b', image: 42 }] } } })));
  assert.deepEqual(i.action === 'inspect' ? i.containers.map((c) => c.problem) : [], ['has no image', 'has no image']);
});

test('responses: uid, allowed, 403 status on denial, one-line message, bounded warnings', () => {
  assert.deepEqual(admissionResponse('u', { allowed: true }), { apiVersion: 'admission.k8s.io/v1', kind: 'AdmissionReview', response: { uid: 'u', allowed: true } });
  const d = admissionResponse('u', { allowed: false, message: 'no\nway', warnings: ['w', 'w', 'x'.repeat(1000)] });
  assert.deepEqual(d.response.status, { code: 403, message: 'no way' });
  assert.equal(d.response.warnings?.length, 2);
  assert.ok((d.response.warnings?.[1]?.length ?? 0) <= 256);
});
