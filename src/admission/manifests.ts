/**
 * The Kubernetes objects that install the webhook: Namespace, Service, Deployment, TLS
 * Secret, optional policy ConfigMap and the ValidatingWebhookConfiguration. Pure: the caller
 * issues the serving certificate and turns the objects into YAML.
 */
import { SsfError } from '../core/index.js';
import { parseImageRef } from './review.js';

/** What the manifests need. */
export interface ManifestOptions {
  readonly namespace: string;
  readonly service: string;
  /** The ssf image, pinned by digest. */
  readonly image: string;
  readonly failurePolicy: 'Fail' | 'Ignore';
  /** The factory root CA (PEM): the webhook configuration's caBundle. */
  readonly caPem: string;
  /** Serving certificate chain and key (PEM), for the TLS secret. */
  readonly certPem: string;
  readonly keyPem: string;
  /** Seconds the API server waits for an answer (1 to 30; default 10). */
  readonly timeoutSeconds?: number;
  /** Emit the Namespace object (default true). */
  readonly createNamespace?: boolean;
  /** Deploy policy files to ship in a ConfigMap: file name and text. */
  readonly policies?: readonly { readonly name: string; readonly text: string }[];
  /** PersistentVolumeClaim holding the factory data directory (default `<service>-factory`). */
  readonly factoryClaim?: string;
  /** CA certificate(s), PEM, whose client certificates the webhook answers (`--client-ca`); shipped in the TLS Secret. */
  readonly clientCaPem?: string;
}

export type Manifest = Record<string, unknown>;

export const WEBHOOK_PORT = 8443;
const TLS_DIR = '/etc/ssf/tls';
const POLICY_DIR = '/etc/ssf/policy';
const DATA_DIR = '/var/lib/ssf';
const NONROOT_UID = 65532;
const DNS_LABEL = /^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/;
const CONFIGMAP_KEY = /^[-._a-zA-Z0-9]{1,253}$/;

/** The DNS names the API server uses for the service: `<svc>.<ns>.svc` and its cluster.local form. */
export function serviceDnsNames(service: string, namespace: string): string[] {
  return [`${service}.${namespace}.svc`, `${service}.${namespace}.svc.cluster.local`];
}

function b64(s: string): string {
  return Buffer.from(s, 'utf8').toString('base64');
}

/** Every object needed to run the webhook, in the order `kubectl apply` should create them. */
export function admissionManifests(o: ManifestOptions): Manifest[] {
  for (const [flag, v] of [['namespace', o.namespace], ['service', o.service]] as const) {
    if (!DNS_LABEL.test(v)) throw new SsfError('USAGE', `--${flag} ${JSON.stringify(v)} is not a valid name: use at most 63 lower-case letters, digits and '-'`);
  }
  let pinned: boolean;
  try {
    pinned = parseImageRef(o.image).digest !== undefined;
  } catch (e) {
    throw new SsfError('USAGE', `--image ${JSON.stringify(o.image)} ${(e as Error).message}`, { cause: e });
  }
  // The webhook's own namespace is exempt from the check, so its image must be pinned here.
  if (!pinned) throw new SsfError('USAGE', `--image ${JSON.stringify(o.image)} is not pinned by digest; give it as IMAGE@sha256:<64 hex>`);
  const timeoutSeconds = o.timeoutSeconds ?? 10;
  if (!Number.isInteger(timeoutSeconds) || timeoutSeconds < 1 || timeoutSeconds > 30) throw new SsfError('USAGE', `--timeout must be 1 to 30 seconds, got ${timeoutSeconds}`);
  const policies = o.policies ?? [];
  const seen = new Set<string>();
  for (const p of policies) {
    if (!CONFIGMAP_KEY.test(p.name)) throw new SsfError('USAGE', `policy file name ${JSON.stringify(p.name)} cannot be a ConfigMap key: use letters, digits, '-', '_' and '.'`);
    if (seen.has(p.name)) throw new SsfError('USAGE', `two policy files are named ${JSON.stringify(p.name)}; rename one`);
    seen.add(p.name);
  }
  const ns = o.namespace;
  const name = o.service;
  const labels = { 'app.kubernetes.io/name': name, 'app.kubernetes.io/part-of': 'ssf', 'app.kubernetes.io/component': 'admission-webhook' };
  const selector = { 'app.kubernetes.io/name': name };
  const tlsSecret = `${name}-tls`;
  const policyMap = `${name}-policy`;
  const claim = o.factoryClaim ?? `${name}-factory`;
  if (!/^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$/.test(claim)) throw new SsfError('USAGE', `--factory-claim ${JSON.stringify(claim)} is not a valid name`);

  const out: Manifest[] = [];
  if (o.createNamespace ?? true) {
    out.push({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: ns, labels: { 'app.kubernetes.io/part-of': 'ssf' } } });
  }
  out.push({
    apiVersion: 'v1',
    kind: 'Secret',
    type: 'kubernetes.io/tls',
    metadata: { name: tlsSecret, namespace: ns, labels },
    data: { 'tls.crt': b64(o.certPem), 'tls.key': b64(o.keyPem), 'ca.crt': b64(o.caPem), ...(o.clientCaPem !== undefined ? { 'client-ca.crt': b64(o.clientCaPem) } : {}) },
  });
  if (policies.length > 0) {
    out.push({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: policyMap, namespace: ns, labels }, data: Object.fromEntries(policies.map((p) => [p.name, p.text])) });
  }
  out.push({
    apiVersion: 'v1',
    kind: 'Service',
    metadata: { name, namespace: ns, labels },
    spec: { selector, ports: [{ name: 'https', port: 443, targetPort: 'https', protocol: 'TCP' }] },
  });
  const args = [
    'admission', 'serve', '--dir', DATA_DIR, '--port', String(WEBHOOK_PORT),
    '--tls-cert', `${TLS_DIR}/tls.crt`, '--tls-key', `${TLS_DIR}/tls.key`,
    ...(o.clientCaPem !== undefined ? ['--client-ca', `${TLS_DIR}/client-ca.crt`] : []),
    ...policies.flatMap((p) => ['--policy', `${POLICY_DIR}/${p.name}`]),
  ];
  const probe = { httpGet: { path: '/healthz', port: 'https', scheme: 'HTTPS' } };
  out.push({
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { name, namespace: ns, labels },
    spec: {
      // One writer: the factory's SQLite store lives on the claim.
      replicas: 1,
      selector: { matchLabels: selector },
      template: {
        metadata: { labels },
        spec: {
          automountServiceAccountToken: false,
          securityContext: { runAsNonRoot: true, runAsUser: NONROOT_UID, runAsGroup: NONROOT_UID, fsGroup: NONROOT_UID, seccompProfile: { type: 'RuntimeDefault' } },
          containers: [{
            name: 'webhook',
            image: o.image,
            args,
            ports: [{ name: 'https', containerPort: WEBHOOK_PORT, protocol: 'TCP' }],
            readinessProbe: { ...probe, periodSeconds: 5 },
            livenessProbe: { ...probe, periodSeconds: 20, failureThreshold: 3 },
            resources: { requests: { cpu: '100m', memory: '128Mi' }, limits: { memory: '512Mi' } },
            securityContext: { runAsNonRoot: true, allowPrivilegeEscalation: false, readOnlyRootFilesystem: true, capabilities: { drop: ['ALL'] } },
            volumeMounts: [
              { name: 'tls', mountPath: TLS_DIR, readOnly: true },
              { name: 'factory', mountPath: DATA_DIR },
              ...(policies.length > 0 ? [{ name: 'policy', mountPath: POLICY_DIR, readOnly: true }] : []),
              { name: 'tmp', mountPath: '/tmp' },
            ],
          }],
          volumes: [
            { name: 'tls', secret: { secretName: tlsSecret, defaultMode: 0o440 } },
            { name: 'factory', persistentVolumeClaim: { claimName: claim } },
            ...(policies.length > 0 ? [{ name: 'policy', configMap: { name: policyMap } }] : []),
            { name: 'tmp', emptyDir: { medium: 'Memory', sizeLimit: '16Mi' } },
          ],
        },
      },
    },
  });
  const rule = (apiGroups: string[], resources: string[]): Manifest => ({ apiGroups, apiVersions: ['*'], operations: ['CREATE', 'UPDATE'], resources, scope: 'Namespaced' });
  out.push({
    apiVersion: 'admissionregistration.k8s.io/v1',
    kind: 'ValidatingWebhookConfiguration',
    metadata: { name: `${name}.${ns}`, labels },
    webhooks: [{
      name: `images.${name}.${ns}.svc`,
      admissionReviewVersions: ['v1'],
      // Decisions are signed and logged, except for dryRun requests.
      sideEffects: 'NoneOnDryRun',
      failurePolicy: o.failurePolicy,
      matchPolicy: 'Equivalent',
      timeoutSeconds,
      clientConfig: { service: { name, namespace: ns, path: '/validate', port: 443 }, caBundle: b64(o.caPem) },
      // Its own namespace is exempt, or the webhook could never start again after an outage.
      namespaceSelector: { matchExpressions: [{ key: 'kubernetes.io/metadata.name', operator: 'NotIn', values: [ns] }] },
      rules: [
        rule([''], ['pods', 'pods/ephemeralcontainers', 'replicationcontrollers']),
        rule(['apps'], ['deployments', 'replicasets', 'statefulsets', 'daemonsets']),
        rule(['batch'], ['jobs', 'cronjobs']),
      ],
    }, {
      // Deletes of workloads, so that their deployment records are ended by removal
      // records. Always allowed, and Ignore: a webhook that is down must never block a delete.
      name: `removals.${name}.${ns}.svc`,
      admissionReviewVersions: ['v1'],
      sideEffects: 'NoneOnDryRun',
      failurePolicy: 'Ignore',
      matchPolicy: 'Equivalent',
      timeoutSeconds,
      clientConfig: { service: { name, namespace: ns, path: '/validate', port: 443 }, caBundle: b64(o.caPem) },
      namespaceSelector: { matchExpressions: [{ key: 'kubernetes.io/metadata.name', operator: 'NotIn', values: [ns] }] },
      rules: [
        { apiGroups: [''], apiVersions: ['*'], operations: ['DELETE'], resources: ['pods', 'replicationcontrollers'], scope: 'Namespaced' },
        { apiGroups: ['apps'], apiVersions: ['*'], operations: ['DELETE'], resources: ['deployments', 'replicasets', 'statefulsets', 'daemonsets'], scope: 'Namespaced' },
        { apiGroups: ['batch'], apiVersions: ['*'], operations: ['DELETE'], resources: ['jobs', 'cronjobs'], scope: 'Namespaced' },
      ],
    }],
  });
  return out;
}
