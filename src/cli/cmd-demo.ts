import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createHash, randomBytes } from 'node:crypto';
import { SsfError, isSsfError, readTextFile, systemClock } from '../core/index.js';
import { Factory, initFactory, layoutOf } from '../factory/index.js';
import { Runner, pinTools, signPipeline } from '../platform/index.js';
import { loadPipeline } from '../pipeline/index.js';
import { SigstoreJsVerifier, verifyProvenanceChain } from '../verify/index.js';
import { parseCommandArgs, str, type Command } from './command.js';
import { runCommand } from './cmd-run.js';
import { vexSignCommand } from './cmd-evidence.js';
import { VulnDb } from '../analysis/index.js';

/** The example project shipped with ssf: <package root>/examples/hello-service. */
export function exampleProjectDir(): string {
  return resolve(dirname(fileURLToPath(import.meta.url)), '..', '..', '..', 'examples', 'hello-service');
}

export const demoCommand: Command = {
  name: 'demo',
  summary: 'the factory\'s main job on its embedded default: build examples/hello-service and verify it',
  usage: `Usage: ssf demo [--dir D] [--keep] [--insecure-no-sandbox]

On a fresh machine, end to end:
  1. creates a factory (root CA kept offline, intermediate, log key, store);
  2. copies the example project (examples/hello-service: a small TypeScript
     HTTP service with a lockfile and tests) and pins its pipeline's tools to
     this host's binaries, then signs the pipeline definition;
  3. runs the pipeline: source -> dependencies (through the factory's verified
     npm mirror; the first run fetches from the registry) -> build -> test ->
     package -> image -> publish, each task in its own sandbox with no
     network, each signed by its own identity;
  4. verifies every published artifact offline against its provenance and the
     task chain, checks the provenance with @sigstore/verify too, and shows
     that a tampered artifact is rejected.

Options:
  --dir D                where to work (default: a new temporary directory)
  --keep                 keep the temporary directory
  --insecure-no-sandbox  run even where no sandbox works (recorded as such)
  -h, --help             show this help`,
  options: { dir: { type: 'string' }, keep: { type: 'boolean' }, 'insecure-no-sandbox': { type: 'boolean' } },
  async run(a, io) {
    const base = str(a, 'dir') ? resolve(str(a, 'dir') as string) : mkdtempSync(join(tmpdir(), 'ssf-demo-'));
    const dataDir = join(base, '.ssf');
    const step = (s: string): void => io.out(`• ${s}`);
    let ok = false;
    try {
      const passphrase = io.env.SSF_ROOT_PASSPHRASE || randomBytes(18).toString('base64url');
      const init = await initFactory({ dir: dataDir, trustDomain: 'demo.ssf.internal', clock: systemClock, passphrase, rootKeyOut: join(base, 'root.key.pem') });
      step(`factory created in ${dataDir} (root key kept offline at ${init.rootKeyPath})`);

      const project = join(base, 'hello-service');
      const example = exampleProjectDir();
      if (!existsSync(join(example, 'ssf-pipeline.yaml'))) throw new SsfError('FILE_NOT_FOUND', `the example project is missing at ${example}`);
      cpSync(example, project, { recursive: true, filter: (p) => !/\/(node_modules|dist)(\/|$)/.test(p.slice(example.length)) });
      const pipelineFile = join(project, 'ssf-pipeline.yaml');
      const pins = await pinTools(pipelineFile);
      step(`example project copied to ${project}; ${pins.length} tools pinned to this host (${pins.map((p) => p.tool).join(', ')})`);
      // Evidence inputs: the example's advisories (one demonstration record that affects a
      // dependency) and its VEX statement, signed by the factory with an expiry.
      const db = VulnDb.open(layoutOf(dataDir).vulnDb);
      try {
        const st = await db.import(join(project, 'advisories'));
        step(`advisory database: ${st.added} OSV records imported (${st.info.digest.slice(0, 19)}…)`);
      } finally {
        db.close();
      }
      const quiet = { ...io, out: (): void => undefined };
      await vexSignCommand.run(parseCommandArgs(vexSignCommand, [join(project, 'vex', 'undici-types.openvex.json'), '--expires', '30d', '--bundle', join(project, 'vex', 'undici-types.vex.sigstore.json'), '--dir', dataDir]), quiet);
      step('VEX statement for undici-types signed by the factory (expires in 30 days)');
      const f = Factory.open(dataDir);
      try {
        const s = await signPipeline(f, loadPipeline(pipelineFile));
        step(`pipeline definition signed by ${s.identity} (log #${s.logIndex})`);
      } finally {
        f.close();
      }

      step('running the pipeline (ssf run --require-signed):');
      const runArgs = [pipelineFile, '--dir', dataDir, '--require-signed', ...(a.values['insecure-no-sandbox'] ? ['--insecure-no-sandbox'] : [])];
      await runCommand.run(parseCommandArgs(runCommand, runArgs), io);

      const f2 = Factory.open(dataDir);
      try {
        const trustedRoot = JSON.parse(readTextFile(f2.layout.trustedRoot, 'trusted root')) as unknown;
        const runsDir = f2.layout.runs;
        const runner = new Runner(f2);
        const run = runner.runs.list(1)[0];
        if (!run || run.status !== 'succeeded' || run.provenance_log_index === null) throw new SsfError('RUN_FAILED', 'the demo run did not succeed');
        const bundle = f2.bundleOf(f2.evidence.getByLogIndex(run.provenance_log_index));
        const artifacts = JSON.parse(run.artifacts) as { name: string; digest: string }[];
        for (const art of artifacts) {
          const rep = verifyProvenanceChain(f2.verifier(), bundle, { algorithm: 'sha256', hex: art.digest.replace(/^sha256:/, '') });
          step(`verified ${art.name} (${art.digest.slice(0, 19)}…): provenance by ${rep.builderId}, chain ${rep.tasks.map((t) => t.name).join(' → ')}`);
          const about = rep.evidence.filter((e) => e.aboutArtifact);
          if (about.length > 0) step(`  evidence about it, each signed by its task's identity: ${about.map((e) => e.task).join(', ')}`);
        }
        new SigstoreJsVerifier(trustedRoot).verify(bundle, `spiffe://${f2.trustDomain}/factory/builder`);
        step('@sigstore/verify accepts the provenance bundle with only trusted_root.json');
        // A consumer's copy of the package tarball, altered by one byte, must be refused.
        const tgz = join(runsDir, run.id, 'evidence', 'tampered.tgz');
        const first = artifacts[0];
        if (first) {
          const blob = Buffer.from(runner.repository.readBlob(first.digest));
          blob[blob.length - 1] = (blob[blob.length - 1] ?? 0) ^ 1;
          writeFileSync(tgz, blob);
          try {
            verifyProvenanceChain(f2.verifier(), bundle, { algorithm: 'sha256', hex: createHash('sha256').update(blob).digest('hex') });
            throw new SsfError('INTERNAL', 'a tampered artifact was accepted');
          } catch (e) {
            if (!isSsfError(e) || e.code === 'INTERNAL') throw e;
            step(`a tampered copy of ${first.name} is rejected: ${e.code}`);
          }
        }
        const image = artifacts.find((x) => x.name.endsWith('-image'));
        if (image) await demoAdmission(f2, image.digest, first ? `sha256:${createHash('sha256').update(readFileSync(tgz)).digest('hex')}` : image.digest, step);
        if (image) await demoGraph(f2, image.digest, step);
        if (a.values.keep || str(a, 'dir')) step(`try: ssf runs --dir ${dataDir}; ssf show ${run.id} --dir ${dataDir}; ssf verify ${first?.digest ?? ''} --dir ${dataDir}`);
      } finally {
        f2.close();
      }
      ok = true;
      io.out(`demo passed; files in ${base}${a.values.keep || str(a, 'dir') ? '' : ' (removed)'}`);
      return 0;
    } finally {
      if (!a.values.keep && !str(a, 'dir') && ok) rmSync(base, { recursive: true, force: true });
      else if (!ok) io.err(`ssf: the demo's files are kept in ${base}`);
    }
  },
};

/**
 * The deploy side of the demo: the admission webhook, with a serving certificate from the
 * factory's PKI, receives AdmissionReview v1 requests over HTTPS as a Kubernetes API server
 * would send them; the built image is admitted, an unbuilt digest denied.
 */
async function demoAdmission(f: Factory, imageDigest: string, unknownDigest: string, step: (s: string) => void): Promise<void> {
  const { AdmissionWebhook, createDeployDecider } = await import('../admission/index.js');
  const { request } = await import('node:https');
  const tls = await f.issueServingCertificate({ dnsNames: ['localhost'], ipAddresses: ['127.0.0.1'], days: 1 });
  const webhook = new AdmissionWebhook(await createDeployDecider(f, { policies: [] }), {});
  const server = await webhook.listen({ port: 0, host: '127.0.0.1', certPem: tls.certPem, keyPem: tls.keyPem });
  const review = (uid: string, image: string): string => JSON.stringify({
    apiVersion: 'admission.k8s.io/v1', kind: 'AdmissionReview',
    request: {
      uid, kind: { group: 'apps', version: 'v1', kind: 'Deployment' }, resource: { group: 'apps', version: 'v1', resource: 'deployments' },
      namespace: 'prod', name: 'hello', operation: 'CREATE', userInfo: { username: 'demo' }, dryRun: false,
      object: { apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name: 'hello', namespace: 'prod' }, spec: { template: { spec: { containers: [{ name: 'app', image }] } } } },
    },
  });
  const post = (body: string): Promise<{ allowed: boolean; message?: string }> => new Promise((resolve, reject) => {
    const req = request(`${server.url}/validate`, { method: 'POST', ca: tls.caPem, headers: { 'content-type': 'application/json' } }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        try {
          const r = (JSON.parse(Buffer.concat(chunks).toString('utf8')) as { response: { allowed: boolean; status?: { message?: string } } }).response;
          resolve({ allowed: r.allowed, ...(r.status?.message ? { message: r.status.message } : {}) });
        } catch (e) {
          reject(e);
        }
      });
    });
    req.on('error', reject);
    req.end(body);
  });
  try {
    const ok = await post(review('demo-1', `registry.local/hello-service@${imageDigest}`));
    if (!ok.allowed) throw new SsfError('POLICY_DENIED', `the admission webhook denied the image the demo built: ${ok.message ?? ''}`);
    step(`admission webhook (HTTPS, certificate from the factory PKI): a Deployment of hello-service-image is admitted by the deploy gate (verified provenance, passed publish gate; decision signed as a VSA)`);
    const no = await post(review('demo-2', `registry.local/hello-service@${unknownDigest}`));
    if (no.allowed) throw new SsfError('INTERNAL', 'the admission webhook admitted a digest the factory never built');
    step(`a Deployment of a digest the factory never built is denied: ${(no.message ?? '').replace(/^.*denied: /, '').slice(0, 160)}…`);
  } finally {
    await webhook.settled();
    await server.close();
  }
}

/** The knowledge graph the run filled, asked the questions of an incident. */
async function demoGraph(f: Factory, imageDigest: string, step: (s: string) => void): Promise<void> {
  const { GraphQueries } = await import('../graph/index.js');
  const q = new GraphQueries(f.db);
  const p = q.provenance(imageDigest);
  const run = p.runs[0];
  step(`graph: hello-service-image was built by run ${run?.id ?? '?'} of pipeline ${run?.pipeline?.name ?? '?'} (${run?.tasks.length ?? 0} tasks, each signed by its own identity) from ${p.sources[0]?.uri ?? 'its source'}; ${p.attestations.length} attestations, ${p.decisions.length} gate decisions`);
  const blast = q.blastRadius('pkg:npm/undici-types');
  step(`graph: blast radius of pkg:npm/undici-types (any version): ${blast.artifacts.length} artifact${blast.artifacts.length === 1 ? '' : 's'}, deployed as ${blast.deployments.map((d) => d.deployment).join(', ') || 'nothing'}`);
}

