/**
 * Policy and admission benchmarks.
 *
 * - Policy: `evaluateGate(defaultPolicies(), gate, input)` with the documented example input of
 *   each gate (policies/testdata), input schema validation, input digest and every rule
 *   included; a large gate B input (1,000 packages, 200 vulnerabilities).
 * - CEL: the `expr` strings of the built-in library, evaluated by ssf's compiled rules and by
 *   the `cel-js` package (parsed once, evaluated many times), on the same bindings.
 * - Admission: a real factory, a real run that publishes an image, the real deploy decider
 *   behind the webhook; cold (evidence lookup, verification, policy, signed VSA), dryRun cold,
 *   warm (cache hit) decisions in process, and warm decisions over HTTPS with keep-alive.
 */
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import { parse as celJsParse, evaluate as celJsEvaluate } from 'cel-js';
import { sha256File, systemClock } from '../src/core/index.js';
import { Factory, initFactory } from '../src/factory/index.js';
import { Runner } from '../src/platform/index.js';
import {
  GATES, builtinPolicyNames, celToJs, compileCel, defaultPolicies, evaluateGate, evaluatePolicy, inputDigest, loadBuiltinPolicy,
  validateGateInput, type Gate, type LoadedPolicy,
} from '../src/policy/index.js';
import { AdmissionWebhook, createDeployDecider } from '../src/admission/index.js';
import type { ClientResult, ClientTask } from './policy-client.js';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const TESTDATA = join(ROOT, 'policies', 'testdata');

function now(): bigint {
  return process.hrtime.bigint();
}

/** How many calls of `fn` take about `batchMs`, after running it for at least `warmMs` (JIT warm-up). */
function batchSize(fn: () => void, batchMs: number, warmMs: number): number {
  let n = 1;
  let spent = 0;
  for (;;) {
    const t0 = now();
    for (let i = 0; i < n; i++) fn();
    const took = Number(now() - t0) / 1e6;
    spent += took;
    if (took >= batchMs / 4 && spent >= warmMs) return Math.max(1, Math.round((n * batchMs) / Math.max(took, 0.001)));
    if (took < batchMs / 4) n *= 4;
  }
}

function timeBatch(fn: () => void, n: number): number {
  const t0 = now();
  for (let i = 0; i < n; i++) fn();
  return n / (Number(now() - t0) / 1e9);
}

interface Timing { readonly batchMs: number; readonly reps: number; readonly warmMs: number }

/** Calls per second of `fn`: the median of `reps` timed batches of about `batchMs` each, after a warm-up. */
function rate(fn: () => void, t: Timing): number {
  const n = batchSize(fn, t.batchMs, t.warmMs);
  return median(Array.from({ length: t.reps }, () => timeBatch(fn, n)));
}

/** Calls per second of `a` and of `b`, their timed batches alternating so that load from elsewhere falls on both alike. */
function rates(a: () => void, b: () => void, t: Timing): [number, number] {
  const na = batchSize(a, t.batchMs, t.warmMs);
  const nb = batchSize(b, t.batchMs, t.warmMs);
  const ra: number[] = [];
  const rb: number[] = [];
  for (let r = 0; r < t.reps; r++) {
    ra.push(timeBatch(a, na));
    rb.push(timeBatch(b, nb));
  }
  return [median(ra), median(rb)];
}

function median(xs: readonly number[]): number {
  return quantile(xs, 0.5);
}

/** Nearest-rank quantile. */
function quantile(xs: readonly number[], q: number): number {
  const s = [...xs].sort((a, b) => a - b);
  if (s.length === 0) return NaN;
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil(q * s.length) - 1))] as number;
}

function n0(x: number): string {
  return Math.round(x).toLocaleString('en-US');
}

function us(x: number): string {
  return x >= 100 ? n0(x) : x >= 10 ? x.toFixed(1) : x.toFixed(2);
}

function ms(x: number): string {
  return x >= 100 ? n0(x) : x >= 10 ? x.toFixed(1) : x.toFixed(2);
}

function readInput(gate: Gate): Record<string, unknown> {
  return JSON.parse(readFileSync(join(TESTDATA, `${gate}.json`), 'utf8')) as Record<string, unknown>;
}

const SEVERITIES = ['none', 'low', 'medium', 'high', 'unknown'] as const;

/**
 * A gate B input with `packages` locked packages and `vulns` vulnerabilities, shaped like
 * policies/testdata/dependencies.json. Every package is pinned and from the allowed registry;
 * the vulnerabilities are below the default threshold (critical) or suppressed by VEX, so the
 * rules pass and iterate over every element. `deny` makes a few fail, so details are evaluated.
 */
export function largeDependenciesInput(packages: number, vulns: number, deny = false): Record<string, unknown> {
  const base = readInput('dependencies');
  const registry = String(base['registry']);
  const pkgs = Array.from({ length: packages }, (_, i) => {
    const name = i % 9 === 0 ? `@scope${i % 40}/pkg-${i}` : `pkg-${i}`;
    const version = `${1 + (i % 13)}.${i % 7}.${i % 11}`;
    const unpinned = deny && i % 200 === 7;
    return {
      name, version, purl: `pkg:npm/${name.replace('@', '%40')}@${version}`, path: `node_modules/${name}`,
      integrity: unpinned ? null : `sha512-${Buffer.alloc(64, i & 255).toString('base64')}`,
      pinned: !unpinned,
      resolved: `${registry}${name}/-/${name.split('/').pop() ?? name}-${version}.tgz`,
      registry,
      license: ['MIT', 'ISC', 'Apache-2.0', 'BSD-3-Clause'][i % 4] ?? 'MIT',
      scope: (['required', 'dev', 'optional'] as const)[i % 3],
    };
  });
  const vs = Array.from({ length: vulns }, (_, i) => {
    const p = pkgs[(i * 37) % pkgs.length] as (typeof pkgs)[number];
    // One in ten is critical; those are suppressed by a VEX statement unless the input is to deny.
    const critical = i % 10 === 3;
    const suppressed = critical && !(deny && i % 50 === 3);
    return {
      id: `GHSA-bnch-${(i >>> 8).toString(36).padStart(4, '0')}-${(i & 255).toString(36).padStart(4, '0')}`,
      aliases: i % 3 === 0 ? [] : [`CVE-2026-${10000 + i}`],
      purl: p.purl, package: p.name, version: p.version,
      severity: critical ? 'critical' : SEVERITIES[i % SEVERITIES.length],
      score: critical ? 9.8 : 5.3,
      suppressed,
      vex: suppressed ? { status: 'not_affected', justification: 'vulnerable_code_not_in_execute_path', signer: 'spiffe://example.internal/operator/vex' } : null,
    };
  });
  const licenses = pkgs.map((p) => ({ purl: p.purl, declared: p.license, expression: p.license, status: 'unlisted' }));
  return { ...base, packages: pkgs, vulnerabilities: vs, licenses };
}

/** The functions ssf adds to CEL, given to cel-js as plain JavaScript with the same meaning. */
const SEVERITY: Readonly<Record<string, number>> = { none: 0, low: 1, medium: 2, moderate: 2, high: 3, unknown: 3, critical: 4 };
const CEL_JS_FUNCTIONS = {
  severityRank: (s: unknown): number => SEVERITY[String(s).toLowerCase()] ?? 3,
  globMatch: (g: unknown, v: unknown): boolean => new RegExp(`^${String(g).split('*').map((x) => x.replace(/[.+?^${}()|[\]\\/]/g, '\\$&')).join('.*')}$`).test(String(v)),
};

interface ExprCase {
  readonly label: string;
  readonly text: string;
  readonly ssf: (b: Readonly<Record<string, unknown>>) => unknown;
  readonly celJs: unknown;
  readonly bindings: Readonly<Record<string, unknown>>;
}

/** Pairs every rule expression with its cel-js parse; the ones cel-js cannot run or answers differently are set aside, with why. */
function exprCases(policies: readonly LoadedPolicy[], inputFor: (p: LoadedPolicy) => unknown): { both: ExprCase[]; excluded: string[] } {
  const both: ExprCase[] = [];
  const excluded: string[] = [];
  for (const p of policies) {
    const bindings = { input: inputFor(p), params: { ...(p.doc.spec.params ?? {}) } };
    p.doc.spec.rules.forEach((r, i) => {
      const rule = p.rules[i];
      const label = `${p.doc.metadata.name}/${r.name}`;
      if (!rule) return;
      const ssfVal = ((): unknown => {
        const v = rule.expr(bindings);
        return v instanceof Error ? `error: ${v.message}` : celToJs(v as never);
      })();
      const parsed = celJsParse(r.expr);
      if (!parsed.isSuccess) {
        excluded.push(`${label} (cel-js cannot parse it)`);
        return;
      }
      let celVal: unknown;
      try {
        celVal = celJsEvaluate(parsed.cst, bindings, CEL_JS_FUNCTIONS);
      } catch (e) {
        excluded.push(`${label} (cel-js: ${(e as Error).message.split('\n')[0]})`);
        return;
      }
      if (JSON.stringify(celVal) !== JSON.stringify(ssfVal)) {
        excluded.push(`${label} (different answers: ssf ${JSON.stringify(ssfVal)}, cel-js ${JSON.stringify(celVal)})`);
        return;
      }
      both.push({ label, text: r.expr, ssf: rule.expr, celJs: parsed.cst, bindings });
    });
  }
  return { both, excluded };
}

export async function benchPolicy(opts: { quick: boolean }): Promise<string[]> {
  const out: string[] = [];
  const t: Timing = { batchMs: opts.quick ? 150 : 300, reps: opts.quick ? 5 : 9, warmMs: opts.quick ? 300 : 600 };
  const policies = defaultPolicies();

  // 1. Whole gate decisions with the documented example inputs.
  for (const gate of GATES) {
    const input = readInput(gate);
    const d = evaluateGate(policies, gate, input);
    const applied = d.policies.length;
    const rules = d.policies.reduce((a, p) => a + p.rules.length, 0);
    const r = rate(() => evaluateGate(policies, gate, input), t);
    out.push(`gate ${gate} (policies/testdata/${gate}.json, ${applied} default ${applied === 1 ? 'policy' : 'policies'}, ${rules} rules, ${d.allowed ? 'allowed' : 'denied'}): ${n0(r)} decisions/s, ${us(1e6 / r)} µs/decision (schema validation and input digest included; no peer for a whole gate)`);
  }

  // A large gate B input: the two dependency policies of the library.
  const depPolicies = [loadBuiltinPolicy('dependencies-pinned'), loadBuiltinPolicy('dependency-vulnerabilities')];
  for (const deny of [false, true]) {
    const big = largeDependenciesInput(1000, 200, deny);
    const d = evaluateGate(depPolicies, 'dependencies', big);
    const failing = d.policies.flatMap((p) => p.rules.filter((x) => x.outcome !== 'pass').map((x) => `${p.name}/${x.name}`));
    const whole = rate(() => evaluateGate(depPolicies, 'dependencies', big), t);
    const validate = rate(() => validateGateInput('dependencies', big), t);
    const digest = rate(() => inputDigest(big), t);
    const rulesOnly = rate(() => { for (const p of depPolicies) evaluatePolicy(p, big); }, t);
    const kb = Buffer.byteLength(JSON.stringify(big)) / 1024;
    out.push(`gate dependencies, 1,000 packages + 200 vulnerabilities (${n0(kb)} KB of JSON), dependencies-pinned + dependency-vulnerabilities, ${d.allowed ? 'allowed' : `denied by ${failing.join(', ')}; details evaluated`}: ${n0(whole)} decisions/s, ${us(1e6 / whole)} µs/decision = schema ${us(1e6 / validate)} + input digest ${us(1e6 / digest)} + rules ${us(1e6 / rulesOnly)} µs`);
  }

  // 2. CEL: the library's rule expressions, ssf's compiled rules against cel-js.
  const library = builtinPolicyNames().map((n) => loadBuiltinPolicy(n));
  const inputs = new Map<Gate, unknown>(GATES.map((g) => [g, readInput(g)]));
  const { both, excluded } = exprCases(library, (p) => inputs.get(p.doc.spec.gate));
  const total = library.reduce((a, p) => a + p.doc.spec.rules.length, 0);
  const ssfRound = (): void => { for (const c of both) c.ssf(c.bindings); };
  const celRound = (): void => { for (const c of both) celJsEvaluate(c.celJs as never, c.bindings as Record<string, unknown>, CEL_JS_FUNCTIONS); };
  const [ssfRounds, celRounds] = rates(ssfRound, celRound, t);
  const ssfRate = ssfRounds * both.length;
  const celRate = celRounds * both.length;
  out.push(`CEL rule expressions of the built-in library: ${both.length} of ${total} run by both with the same answers on policies/testdata inputs; left out: ${excluded.join('; ') || 'none'}. severityRank and globMatch are ssf's own functions; cel-js was given JavaScript versions of them`);
  out.push(`CEL evaluate, small inputs (${both.length} expressions, parsed once): ssf compiled ${n0(ssfRate)} evals/s (${us(1e6 / ssfRate)} µs each) | cel-js ${n0(celRate)} evals/s (${us(1e6 / celRate)} µs each) | ratio ${(ssfRate / celRate).toFixed(1)}x`);

  const bigInput = largeDependenciesInput(1000, 200);
  const big = exprCases(depPolicies, () => bigInput);
  const [bigSsf, bigCel] = rates(() => { for (const c of big.both) c.ssf(c.bindings); }, () => { for (const c of big.both) celJsEvaluate(c.celJs as never, c.bindings as Record<string, unknown>, CEL_JS_FUNCTIONS); }, t);
  out.push(`CEL evaluate, large gate B input (${big.both.length} expressions of dependencies-pinned + dependency-vulnerabilities over 1,000 packages and 200 vulnerabilities${big.excluded.length > 0 ? `; left out: ${big.excluded.join('; ')}` : ''}): ssf ${us(1e6 / bigSsf)} µs per set | cel-js ${us(1e6 / bigCel)} µs per set | ratio ${(bigSsf / bigCel).toFixed(1)}x`);

  const texts = both.map((c) => c.text);
  const [ssfCompiles, celParses] = rates(() => { for (const x of texts) compileCel(x); }, () => { for (const x of texts) celJsParse(x); }, t);
  const compileSsf = ssfCompiles * texts.length;
  const compileCelJs = celParses * texts.length;
  out.push(`CEL compile once (the same ${texts.length} expressions): ssf parse + name check + plan ${us(1e6 / compileSsf)} µs each | cel-js parse ${us(1e6 / compileCelJs)} µs each | ratio ${(compileSsf / compileCelJs).toFixed(2)}x`);
  return out;
}

type Json = Record<string, unknown>;

function admissionReview(uid: string, image: string, namespace: string, dryRun: boolean): Json {
  const pod = { containers: [{ name: 'app', image }] };
  return {
    apiVersion: 'admission.k8s.io/v1', kind: 'AdmissionReview',
    request: {
      uid, kind: { group: 'apps', version: 'v1', kind: 'Deployment' }, resource: { group: 'apps', version: 'v1', resource: 'deployments' },
      requestKind: { group: 'apps', version: 'v1', kind: 'Deployment' }, requestResource: { group: 'apps', version: 'v1', resource: 'deployments' },
      name: 'web', namespace, operation: 'CREATE', userInfo: { username: 'alice', groups: ['system:authenticated'] },
      object: { apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name: 'web', namespace }, spec: { selector: { matchLabels: { app: 'web' } }, template: { metadata: { labels: { app: 'web' } }, spec: pod } } },
      oldObject: null, dryRun, options: { apiVersion: 'meta.k8s.io/v1', kind: 'CreateOptions' },
    },
  };
}

/** The API server's default webhook timeout (admissionregistration.k8s.io/v1 timeoutSeconds). */
const K8S_WEBHOOK_TIMEOUT_MS = 10_000;
/** The Kubernetes scalability SLO for a mutating API call on one object, webhooks included: p99 ≤ 1 s. */
const K8S_MUTATING_P99_SLO_MS = 1_000;

/** A fresh factory in `base` and a real run of a tiny pipeline that builds and publishes an OCI image (as in src/admission/deploy.test.ts). */
export async function factoryWithImage(base: string): Promise<{ f: Factory; digest: string }> {
  await initFactory({ dir: join(base, '.ssf'), trustDomain: 'bench.ssf.internal', clock: systemClock, passphrase: 'bench-passphrase' });
  const f = Factory.open(join(base, '.ssf'));
  const app = join(base, 'app');
  mkdirSync(join(app, 'src'), { recursive: true });
  writeFileSync(join(app, 'src', 'main.js'), 'console.log("hello")\n');
  writeFileSync(join(app, 'ssf-pipeline.yaml'), `apiVersion: ssf/v1
kind: Pipeline
metadata: { name: bench-app }
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
        - { type: image, task: image, name: bench-app-image }
    workspaces: [ { name: out, mode: ro } ]
`);
  const run = await new Runner(f).run({ file: join(app, 'ssf-pipeline.yaml') });
  if (run.status !== 'succeeded') throw new Error(`the bench pipeline failed: ${run.error?.message ?? run.status}`);
  const digest = run.artifacts.find((a) => a.type === 'image')?.digest ?? '';
  if (!/^sha256:[0-9a-f]{64}$/.test(digest)) throw new Error('the bench pipeline published no image');
  return { f, digest };
}

export async function benchAdmission(opts: { quick: boolean }): Promise<string[]> {
  const out: string[] = [];
  const base = mkdtempSync(join(tmpdir(), 'ssf-bench-admission-'));
  let f: Factory | undefined;
  let server: Awaited<ReturnType<AdmissionWebhook['listen']>> | undefined;
  try {
    const built = await factoryWithImage(base);
    f = built.f;
    const digest = built.digest;
    const image = `registry.example/bench-app@${digest}`;
    const hex = digest.slice('sha256:'.length);
    const factory = f;
    const aboutImage = (): number => factory.evidence.findBySubject('sha256', hex).length;
    const webhook = new AdmissionWebhook(await createDeployDecider(f, { policies: [] }), {});
    let uid = 0;
    const timed = async (ns: string, dryRun: boolean): Promise<number> => {
      const body = admissionReview(`uid-${uid++}`, image, ns, dryRun);
      const t0 = now();
      const r = await webhook.review(body);
      const took = Number(now() - t0) / 1e6;
      if (r.response.allowed !== true) throw new Error(`the built image was denied in ${ns}: ${r.response.status?.message ?? ''}`);
      return took;
    };
    const atStart = aboutImage();
    out.push(`factory: a real run published ${digest.slice(0, 19)}…; ${atStart} signed statements about the image in the store; deploy policy builtin:deploy-verified`);

    // (b) dryRun cold first, so that it sees the same store as the first real cold decision.
    const coldN = 50;
    const dry: number[] = [];
    for (let i = 0; i < (opts.quick ? 20 : coldN); i++) dry.push(await timed(`dry-${i}`, true));
    // (a) cold: a namespace per request, so each is a cache miss; each signs and stores a VSA.
    const cold: number[] = [];
    for (let i = 0; i < coldN; i++) cold.push(await timed(`cold-${i}`, false));
    const afterCold = aboutImage();
    // the same dryRun decision once the store holds the cold decisions' VSAs
    const dryLater: number[] = [];
    for (let i = 0; i < (opts.quick ? 10 : 20); i++) dryLater.push(await timed(`dry-later-${i}`, true));
    const coldP50 = median(cold);
    const coldP99 = quantile(cold, 0.99);
    out.push(`cold decision (cache miss: evidence lookup, every bundle verified, provenance chain, policy, signed VSA), n=${cold.length}: p50 ${ms(coldP50)} ms, p99 ${ms(coldP99)} ms`);
    out.push(`dryRun cold decision (the same, no signing), n=${dry.length}: p50 ${ms(median(dry))} ms, p99 ${ms(quantile(dry, 0.99))} ms`);
    out.push(`cold decisions grow with the decisions already made about the digest (each signed VSA is evidence about it, read and verified by the next, and lists the earlier ones): decisions 1–10 p50 ${ms(median(cold.slice(0, 10)))} ms, ${coldN - 9}–${coldN} p50 ${ms(median(cold.slice(-10)))} ms; dryRun with ${atStart} statements about the image ${ms(median(dry))} ms, with ${afterCold} ${ms(median(dryLater))} ms`);
    if (!opts.quick) {
      // More signed decisions about the same digest, then the dryRun cold decision again.
      for (let i = coldN; i < 200; i++) await timed(`cold-${i}`, false);
      const later: number[] = [];
      for (let i = 0; i < 10; i++) later.push(await timed(`dry-200-${i}`, true));
      const last = await timed('cold-200', false);
      out.push(`after 200 signed decisions about the digest (${aboutImage()} statements about it): dryRun cold p50 ${ms(median(later))} ms, one more signed cold decision ${ms(last)} ms`);
    }

    // (c) warm: one namespace, decided once, then cache hits.
    await timed('prod', false);
    const warmN = 10_000;
    const warmBody = admissionReview('warm', image, 'prod', false);
    const req = warmBody['request'] as { uid: string };
    for (let i = 0; i < 500; i++) { req.uid = `w-${i}`; await webhook.review(warmBody); }
    const warm: number[] = [];
    const callsBefore = webhook.stats().deciderCalls;
    for (let i = 0; i < warmN; i++) {
      req.uid = `warm-${i}`;
      const t0 = now();
      const r = await webhook.review(warmBody);
      warm.push(Number(now() - t0) / 1e3);
      if (r.response.allowed !== true) throw new Error('a warm decision was denied');
    }
    const warmCalls = webhook.stats().deciderCalls - callsBefore;
    const warmP50 = median(warm);
    const warmP99 = quantile(warm, 0.99);
    out.push(`warm decision (cache hit, in process: parse + inspect + policy digest + cache), n=${warmN}: p50 ${us(warmP50)} µs, p99 ${us(warmP99)} µs${warmCalls > 0 ? ` (${warmCalls} cache misses: the TTL ran out)` : ''}`);
    out.push(`ratio warm vs cold (p50): ${n0((coldP50 * 1000) / warmP50)}x faster; ratio warm vs cold (p99): ${n0((coldP99 * 1000) / warmP99)}x`);
    out.push(`cold p99 vs the API server's default webhook timeout (10 s): ${ms(coldP99)} ms is ${n0(K8S_WEBHOOK_TIMEOUT_MS / coldP99)}x under it; vs the Kubernetes p99 ≤ 1 s SLO for a whole mutating API call: ${(K8S_MUTATING_P99_SLO_MS / coldP99).toFixed(1)}x under it (one cold decision per digest, policy and namespace per 60 s TTL)`);

    // (d) warm over HTTPS, 4 keep-alive clients in a worker thread (the server keeps the main thread).
    const tls = await f.issueServingCertificate({ dnsNames: ['localhost'], ipAddresses: ['127.0.0.1'] });
    server = await webhook.listen({ port: 0, host: '127.0.0.1', certPem: tls.certPem, keyPem: tls.keyPem });
    await timed('prod', false); // re-decides if the TTL ran out
    const clients = 4;
    const perClient = opts.quick ? 1000 : 5000;
    const calls0 = webhook.stats().deciderCalls;
    const task: ClientTask = {
      url: `https://127.0.0.1:${server.port}/validate`, caPem: tls.caPem, body: JSON.stringify(admissionReview('https-warm', image, 'prod', false)),
      clients, perClient, warmup: 200, maxMs: 60_000,
    };
    const res = await new Promise<ClientResult>((resolve, reject) => {
      const w = new Worker(new URL('./policy-client.js', import.meta.url), { workerData: task });
      w.once('message', (m: ClientResult) => resolve(m));
      w.once('error', reject);
      w.once('exit', (code) => { if (code !== 0) reject(new Error(`the HTTPS client worker exited with ${code}`)); });
    });
    const httpsCalls = webhook.stats().deciderCalls - calls0;
    if (res.failed > 0) out.push(`HTTPS: ${res.failed} requests failed or were not allowed: ${res.firstError ?? ''}`);
    out.push(`warm decisions over HTTPS (${res.protocol || 'TLS'}, keep-alive, ${clients} concurrent clients in a worker thread, ${n0(res.ok)} requests): ${n0(res.perSecond)} requests/s, client-side p50 ${ms(res.p50Ms)} ms, p99 ${ms(res.p99Ms)} ms${httpsCalls > 0 ? ` (${httpsCalls} cache misses)` : ''}; no peer measured: the API server sends one request per admission`);
  } finally {
    await server?.close();
    f?.close();
    rmSync(base, { recursive: true, force: true });
  }
  return out;
}
