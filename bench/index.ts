/**
 * `npm run bench`: ssf's figures as ratios against the tools a user would otherwise run.
 * Each section prints what it measured, the peer, and the ratio. Timing lives here, never in tests.
 */
import { mkdtempSync, rmSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { sign, verify } from 'node:crypto';
import { systemClock } from '../src/core/index.js';
import { INTOTO_PAYLOAD_TYPE, makeProvenance, makeStatement, pae } from '../src/attest/index.js';
import { Factory, initFactory } from '../src/factory/index.js';
import { SigstoreJsVerifier } from '../src/verify/index.js';
import { generateP256 } from '../src/trust/index.js';
import { benchHashTree } from './hashtree.js';
import { benchRunOverhead } from './run.js';
import { benchMatch, benchSbom } from './evidence.js';
import { benchAdmission, benchPolicy } from './policy.js';
import { benchGraph } from './graph.js';

interface Row { what: string; ssf: string; peer: string; ratio: string }
const rows: Row[] = [];
function report(what: string, ssf: number, unit: string, peerName: string, peer: number, higherIsBetter = true): void {
  const ratio = higherIsBetter ? ssf / peer : peer / ssf;
  rows.push({ what, ssf: `${fmt(ssf)} ${unit}`, peer: `${peerName}: ${fmt(peer)} ${unit}`, ratio: `${ratio.toFixed(2)}x` });
  console.log(`  ${what}: ${fmt(ssf)} ${unit} | ${peerName}: ${fmt(peer)} ${unit} | ratio ${ratio.toFixed(2)}x`);
}
function fmt(n: number): string {
  return n >= 100 ? Math.round(n).toLocaleString('en-US') : n.toFixed(2);
}
function statementFor(i: number): ReturnType<typeof makeStatement> {
  const provenance = makeProvenance({
    buildType: 'https://ssf.invalid/buildtypes/bench/v1',
    externalParameters: { source: 'bench', index: i, padding: 'x'.repeat(2000) },
    builderId: 'spiffe://bench.ssf.internal/factory',
    invocationId: `bench-${i}`,
  });
  const hex = (i.toString(16).padStart(8, '0')).repeat(8);
  return makeStatement([{ name: `artifact-${i}`, digest: { sha256: hex } }], 'https://slsa.dev/provenance/v1', provenance);
}

async function main(): Promise<void> {
  const base = mkdtempSync(join(tmpdir(), 'ssf-bench-'));
  const quick = process.argv.includes('--quick');
  try {
    await initFactory({ dir: join(base, '.ssf'), trustDomain: 'bench.ssf.internal', clock: systemClock, passphrase: 'bench-passphrase' });
    const f = Factory.open(join(base, '.ssf'));
    const identities = await Promise.all([0, 1, 2, 3].map((i) => f.issueIdentity(['bench', `task-${i}`], 60)));

    console.log('Trust core: sign + log + store (statements of ~2.5 KB, one signed checkpoint per batch)');
    const total = quick ? 4000 : 20000;
    for (const batch of [1, 64, 512]) {
      const n = batch === 1 ? Math.min(2000, total) : total;
      const stmts = Array.from({ length: n }, (_, i) => statementFor(i));
      const t0 = process.hrtime.bigint();
      for (let i = 0; i < n; i += batch) {
        f.attest(stmts.slice(i, i + batch).map((statement, j) => ({ statement, identity: identities[(i + j) % identities.length]! })));
      }
      const s = Number(process.hrtime.bigint() - t0) / 1e9;
      report(`attest, batch ${batch}`, n / s, 'statements/s', 'Tessera on a small VM (published, upper figure)', 3000);
    }

    console.log('Verification of the same bundles (trust material built once)');
    const size = f.log.size();
    const take = quick ? 500 : 3000;
    const bundles = Array.from({ length: take }, (_, i) => JSON.stringify(f.bundleOf(f.evidence.getByLogIndex(size - 1 - i))));
    const parsed = bundles.map((b) => JSON.parse(b));
    const ssfVerifier = f.verifier();
    const sig = new SigstoreJsVerifier(JSON.parse(readFileSync(f.layout.trustedRoot, 'utf8')));
    // warm up both
    for (let i = 0; i < 50; i++) { ssfVerifier.verify(bundles[i]!); sig.verify(parsed[i]); }
    let t0 = process.hrtime.bigint();
    for (const b of bundles) ssfVerifier.verify(b);
    const ssfRate = bundles.length / (Number(process.hrtime.bigint() - t0) / 1e9);
    const sigN = Math.min(bundles.length, quick ? 200 : 1000);
    t0 = process.hrtime.bigint();
    for (let i = 0; i < sigN; i++) sig.verify(parsed[i]);
    const sigRate = sigN / (Number(process.hrtime.bigint() - t0) / 1e9);
    report('verify (ssf, from JSON text)', ssfRate, 'bundles/s', '@sigstore/verify', sigRate);

    // Raw ECDSA P-256 verify of one DSSE signature over a same-sized statement: the floor.
    const k = generateP256();
    const payload = Buffer.from(JSON.stringify(statementFor(1)));
    const msg = pae(INTOTO_PAYLOAD_TYPE, payload);
    const s1 = sign('sha256', msg, k.privateKey);
    const rawN = quick ? 2000 : 10000;
    t0 = process.hrtime.bigint();
    for (let i = 0; i < rawN; i++) verify('sha256', msg, k.publicKey, s1);
    const rawRate = rawN / (Number(process.hrtime.bigint() - t0) / 1e9);
    report('verify (ssf) vs one raw ECDSA P-256 verify', ssfRate, 'per s', 'raw node:crypto verify', rawRate);
    // A bundle needs two signature checks that cannot be cached (envelope, entry timestamp).
    report('verify (ssf) vs its floor of two raw verifies', ssfRate, 'per s', 'raw verify rate / 2', rawRate / 2);
    f.close();
  } finally {
    rmSync(base, { recursive: true, force: true });
  }
  console.log('\nObserver: tree digests of a ~50k-file node_modules');
  for (const l of await benchHashTree({ quick })) console.log(`  ${l}`);
  console.log('\nEvidence: SBOM from a real ~1,200-entry lockfile against `npm sbom --package-lock-only`');
  for (const l of await benchSbom({ quick })) console.log(`  ${l}`);
  console.log('\nEvidence: OSV matching, 1,000 components against 20,000 synthetic advisories');
  for (const l of await benchMatch({ quick })) console.log(`  ${l}`);
  console.log('\nPolicy: gate decisions (evaluateGate) and the CEL rules against cel-js');
  for (const l of await benchPolicy({ quick })) console.log(`  ${l}`);
  console.log('\nAdmission: the deploy gate behind the webhook, for an image a real run published');
  for (const l of await benchAdmission({ quick })) console.log(`  ${l}`);
  console.log('\nFactory runs: `ssf run` against the same commands run directly');
  for (const l of await benchRunOverhead({ quick })) console.log(`  ${l}`);
  console.log(`\nKnowledge graph: a fleet of ${quick ? '300' : '10,000'} signed SBOMs of ~1,000 components, 20,000 advisories, rescans and incident queries (SQLite, then PostgreSQL${quick ? ' at 100' : ''})`);
  for (const l of await benchGraph({ quick })) console.log(`  ${l}`);
  console.log('\nSummary');
  console.table(rows);
}

main().catch((e) => {
  console.error(e);
  process.exitCode = 1;
});
