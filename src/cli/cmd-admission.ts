import { statSync } from 'node:fs';
import { X509Certificate } from 'node:crypto';
import { basename } from 'node:path';
import { stringify } from 'yaml';
import { SsfError, readTextFile, toSsfError } from '../core/index.js';
import { Factory, resolveDataDir } from '../factory/index.js';
import { AdmissionWebhook, admissionManifests, serviceDnsNames, WEBHOOK_PORT, type WebhookServer } from '../admission/index.js';
import { int, need, str, strs, type Command, type Io, type ParsedArgs } from './command.js';

const DEFAULT_NAMESPACE = 'ssf';
const DEFAULT_SERVICE = 'ssf-admission';
/** Validity of a certificate `serve` issues for itself; renewed when a third is left. */
const SELF_ISSUED_DAYS = 30;
const RELOAD_CHECK_MS = 30_000;

function seconds(a: ParsedArgs, name: string, max: number): number | undefined {
  const v = str(a, name);
  if (v === undefined) return undefined;
  if (!/^(0|[1-9][0-9]*)$/.test(v) || Number(v) > max) throw new SsfError('USAGE', `--${name} must be a whole number of seconds from 0 to ${max}, got ${JSON.stringify(v)}`);
  return Number(v);
}

function port(a: ParsedArgs): number {
  const v = str(a, 'port');
  if (v === undefined) return WEBHOOK_PORT;
  // 0 asks the system for a free port (the printed URL says which).
  if (!/^(0|[1-9][0-9]{0,4})$/.test(v) || Number(v) > 65535) throw new SsfError('USAGE', `--port must be a port number from 0 to 65535, got ${JSON.stringify(v)}`);
  return Number(v);
}

/** Waits for SIGINT or SIGTERM. */
function untilSignal(): Promise<string> {
  return new Promise((resolve) => {
    const stop = (sig: NodeJS.Signals): void => {
      process.off('SIGINT', stop);
      process.off('SIGTERM', stop);
      resolve(sig);
    };
    process.on('SIGINT', stop);
    process.on('SIGTERM', stop);
  });
}

interface Tls {
  certPem: string;
  keyPem: string;
  /** Called periodically: new material when it should be replaced. */
  refresh(): Promise<{ certPem: string; keyPem: string } | undefined>;
  describe: string;
}

/** TLS from mounted files (reloaded when the secret changes), or issued by the factory. */
async function servingTls(a: ParsedArgs, f: Factory): Promise<Tls> {
  const certFile = str(a, 'tls-cert');
  const keyFile = str(a, 'tls-key');
  if (certFile !== undefined && keyFile !== undefined) {
    const mtimes = (): string => `${statSync(certFile).mtimeMs}/${statSync(keyFile).mtimeMs}`;
    let seen = mtimes();
    return {
      certPem: readTextFile(certFile, 'TLS certificate', 1 << 20),
      keyPem: readTextFile(keyFile, 'TLS key', 1 << 20),
      describe: `certificate from ${certFile}`,
      async refresh() {
        const now = mtimes();
        if (now === seen) return undefined;
        seen = now;
        return { certPem: readTextFile(certFile, 'TLS certificate', 1 << 20), keyPem: readTextFile(keyFile, 'TLS key', 1 << 20) };
      },
    };
  }
  const given = strs(a, 'dns');
  const dnsNames = [...new Set([...(given.length > 0 ? given : serviceDnsNames(DEFAULT_SERVICE, DEFAULT_NAMESPACE)), 'localhost'])];
  const issue = (): Promise<{ certPem: string; keyPem: string; notAfter: Date }> => f.issueServingCertificate({ dnsNames, ipAddresses: ['127.0.0.1'], days: SELF_ISSUED_DAYS });
  let cur = await issue();
  let issuedAt = f.clock.now().getTime();
  return {
    certPem: cur.certPem,
    keyPem: cur.keyPem,
    describe: `certificate for ${dnsNames.join(', ')} issued by the factory`,
    async refresh() {
      const now = f.clock.now().getTime();
      if (now < issuedAt + ((cur.notAfter.getTime() - issuedAt) * 2) / 3) return undefined;
      cur = await issue();
      issuedAt = now;
      return cur;
    },
  };
}

export const admissionServeCommand: Command = {
  name: 'admission serve',
  summary: 'serve the Kubernetes admission webhook: every container image must pass the deploy gate',
  usage: `Usage: ssf admission serve [--dir D] [--port N] [--host ADDR] [--policy FILE]...
                           [--dns NAME]... [--tls-cert FILE --tls-key FILE]
                           [--client-ca FILE] [--cache-ttl SECONDS] [--cluster NAME]

Serves the AdmissionReview v1 protocol over HTTPS at POST /validate (and
GET /healthz). Every container, init container and ephemeral container image
of a Pod, Deployment, ReplicaSet, StatefulSet, DaemonSet, Job, CronJob or
ReplicationController must be pinned by a sha256 digest and be allowed by the
factory's deploy gate; anything else, including a gate error or a timeout, is
a denial. See docs/admission.md. Each admitted CREATE or UPDATE of a named
workload is recorded as a signed deployment statement (cluster, namespace,
kind, name, digest), so \`ssf query blast-radius\` and \`ssf query affected\`
reach what runs where.

Options:
  --dir D               factory data directory
  --port N              port to listen on (default: ${WEBHOOK_PORT})
  --host ADDR           address to listen on (default: 0.0.0.0)
  --policy FILE         a deploy policy file; repeatable
  --dns NAME            DNS name of the certificate the factory issues; repeatable
                        (default: ${serviceDnsNames(DEFAULT_SERVICE, DEFAULT_NAMESPACE).join(', ')}; localhost and
                        127.0.0.1 are always included)
  --tls-cert FILE       serve this certificate chain (PEM) instead; reloaded when
                        the file changes (a mounted Secret)
  --tls-key FILE        its private key (PEM)
  --client-ca FILE      answer POST /validate only for a client whose TLS
                        certificate chains to a CA in FILE (PEM): the API
                        server, given that client certificate in its admission
                        configuration. Without it any client that reaches the
                        port can have deployments recorded (a warning says so)
  --cache-ttl SECONDS   how long a decision is reused (default: 60; 0: never)
  --cluster NAME        the cluster name deployment records carry (default:
                        kubernetes)
  -h, --help            show this help

Prints one line with the URL, then serves until SIGINT or SIGTERM.`,
  options: {
    dir: { type: 'string' },
    port: { type: 'string' },
    host: { type: 'string' },
    policy: { type: 'string', multiple: true },
    dns: { type: 'string', multiple: true },
    'tls-cert': { type: 'string' },
    'tls-key': { type: 'string' },
    'client-ca': { type: 'string' },
    'cache-ttl': { type: 'string' },
    cluster: { type: 'string' },
  },
  async run(a, io) {
    const listenPort = port(a);
    const host = str(a, 'host') ?? '0.0.0.0';
    const ttl = seconds(a, 'cache-ttl', 86_400);
    const policies = strs(a, 'policy');
    if ((str(a, 'tls-cert') === undefined) !== (str(a, 'tls-key') === undefined)) throw new SsfError('USAGE', 'give both --tls-cert and --tls-key, or neither (the factory then issues the certificate)');
    const clientCa = clientCaPem(a);
    const f = Factory.open(resolveDataDir(str(a, 'dir'), io.env));
    let server: WebhookServer | undefined;
    let timer: NodeJS.Timeout | undefined;
    try {
      // Loaded here, not at the top: the deploy gate pulls in the policy engine.
      const { createDeployDecider } = await import('../admission/index.js');
      const cluster = str(a, 'cluster');
      const decider = await createDeployDecider(f, { policies, ...(cluster ? { cluster } : {}) });
      const tls = await servingTls(a, f);
      const webhook = new AdmissionWebhook(decider, { ...(ttl !== undefined ? { cacheTtlMs: ttl * 1000 } : {}), log: (l) => io.err(`ssf admission: ${l}`) });
      if (clientCa === undefined) io.err('ssf admission: warning: no --client-ca: any client that reaches this port can have workloads admitted and deployments recorded in the factory\'s name');
      const s = await webhook.listen({ port: listenPort, host, certPem: tls.certPem, keyPem: tls.keyPem, ...(clientCa !== undefined ? { clientCaPem: clientCa } : {}) });
      server = s;
      timer = setInterval(() => {
        tls.refresh().then((next) => {
          if (next) {
            s.setCertificate(next.certPem, next.keyPem);
            io.err('ssf admission: serving certificate replaced');
          }
        }).catch((e: unknown) => io.err(`ssf admission: cannot replace the serving certificate: ${toSsfError(e).message}`));
      }, RELOAD_CHECK_MS);
      timer.unref();
      io.out(`ssf admission: serving ${s.url}/validate (${tls.describe}; ${clientCa !== undefined ? `clients need a certificate from ${str(a, 'client-ca')}` : 'any client'}; policy ${decider.policyDigest()})`);
      await untilSignal();
      return 0;
    } finally {
      clearInterval(timer);
      await server?.close();
      f.close();
    }
  },
};

/** The --client-ca file's certificates (PEM), checked to hold at least one, every one parseable. */
function clientCaPem(a: ParsedArgs): string | undefined {
  const file = str(a, 'client-ca');
  if (file === undefined) return undefined;
  const pem = readTextFile(file, 'client CA certificate', 1 << 20);
  const blocks = pem.match(/-----BEGIN CERTIFICATE-----[^-]+-----END CERTIFICATE-----/g) ?? [];
  if (blocks.length === 0) throw new SsfError('CERT_INVALID', `--client-ca ${file} holds no PEM certificate`);
  for (const [i, b] of blocks.entries()) {
    try {
      new X509Certificate(b);
    } catch (e) {
      throw new SsfError('CERT_INVALID', `--client-ca ${file}: certificate ${i + 1} cannot be parsed: ${(e as Error).message.split('\n')[0]}`, { cause: e });
    }
  }
  // Only the certificates: anything else in the file (a key by mistake) is not served or shipped.
  return `${blocks.join('\n')}\n`;
}

function failurePolicy(a: ParsedArgs, io: Io): 'Fail' | 'Ignore' {
  const v = str(a, 'failure-policy') ?? 'Fail';
  if (v !== 'Fail' && v !== 'Ignore') throw new SsfError('USAGE', `--failure-policy must be Fail or Ignore, got ${JSON.stringify(v)}`);
  if (v === 'Ignore') io.err('ssf: warning: --failure-policy Ignore admits every workload whenever the webhook is unreachable');
  return v;
}

export const admissionManifestsCommand: Command = {
  name: 'admission manifests',
  summary: 'print the manifests that install the admission webhook, with a factory-issued TLS certificate',
  usage: `Usage: ssf admission manifests --image IMAGE@sha256:DIGEST [--namespace NS] [--service NAME]
                               [--failure-policy Fail|Ignore] [--timeout SECONDS]
                               [--policy FILE]... [--dns NAME]... [--days N]
                               [--factory-claim NAME] [--client-ca FILE]
                               [--no-namespace] [--dir D]

Prints multi-document YAML for \`kubectl apply -f -\`: the Namespace, a
kubernetes.io/tls Secret with a serving certificate issued now by the
factory's intermediate CA, a ConfigMap with the --policy files, the Service
(443 → ${WEBHOOK_PORT}), the Deployment (non-root, read-only root file system,
the factory data directory from a PersistentVolumeClaim) and the
ValidatingWebhookConfiguration (failurePolicy Fail, sideEffects NoneOnDryRun,
caBundle: the factory's root CA; the webhook's own namespace is exempt).
The Secret holds a private key: pipe the output, do not keep it.

Options:
  --image IMAGE          the ssf image, pinned by digest (required)
  --namespace NS         namespace of the webhook (default: ${DEFAULT_NAMESPACE})
  --service NAME         name of the service and deployment (default: ${DEFAULT_SERVICE})
  --failure-policy P     Fail (default) or Ignore (admits everything when the
                         webhook is down)
  --timeout SECONDS      how long the API server waits, 1 to 30 (default: 10)
  --policy FILE          a deploy policy file for the ConfigMap; repeatable
  --dns NAME             an extra DNS name for the certificate; repeatable
  --days N               validity of the serving certificate (default: 90)
  --factory-claim NAME   PersistentVolumeClaim with the factory data directory
                         (default: <service>-factory)
  --client-ca FILE       the CA (PEM) of the API server's client certificate:
                         shipped in the Secret, and the webhook answers only
                         clients with a certificate from it (docs/admission.md)
  --no-namespace         do not emit the Namespace object
  --dir D                factory data directory
  -h, --help             show this help`,
  options: {
    image: { type: 'string' },
    namespace: { type: 'string' },
    service: { type: 'string' },
    'failure-policy': { type: 'string' },
    timeout: { type: 'string' },
    policy: { type: 'string', multiple: true },
    dns: { type: 'string', multiple: true },
    days: { type: 'string' },
    'factory-claim': { type: 'string' },
    'client-ca': { type: 'string' },
    'no-namespace': { type: 'boolean' },
    dir: { type: 'string' },
  },
  async run(a, io) {
    const image = need(a, 'image', 'admission manifests');
    const namespace = str(a, 'namespace') ?? DEFAULT_NAMESPACE;
    const service = str(a, 'service') ?? DEFAULT_SERVICE;
    const policy = failurePolicy(a, io);
    const timeoutSeconds = int(a, 'timeout');
    const days = int(a, 'days') ?? 90;
    const claim = str(a, 'factory-claim');
    const policies = strs(a, 'policy').map((p) => ({ name: basename(p), text: readTextFile(p, 'policy file', 1 << 20) }));
    const clientCa = clientCaPem(a);
    if (clientCa === undefined) io.err('ssf: warning: no --client-ca: the webhook will answer any client that reaches its Service');
    const common = {
      namespace, service, image, failurePolicy: policy, policies, createNamespace: a.values['no-namespace'] !== true,
      ...(clientCa !== undefined ? { clientCaPem: clientCa } : {}),
      ...(timeoutSeconds !== undefined ? { timeoutSeconds } : {}),
      ...(claim !== undefined ? { factoryClaim: claim } : {}),
    };
    // Check every flag before the certificate is issued.
    admissionManifests({ ...common, caPem: '', certPem: '', keyPem: '' });
    const f = Factory.open(resolveDataDir(str(a, 'dir'), io.env));
    let docs;
    try {
      const tls = await f.issueServingCertificate({ dnsNames: [...new Set([...serviceDnsNames(service, namespace), ...strs(a, 'dns')])], days });
      docs = admissionManifests({ ...common, caPem: tls.caPem, certPem: tls.certPem, keyPem: tls.keyPem });
    } finally {
      f.close();
    }
    io.out(docs.map((d) => stringify(d, { lineWidth: 0 }).trimEnd()).join('\n---\n'));
    return 0;
  },
};
