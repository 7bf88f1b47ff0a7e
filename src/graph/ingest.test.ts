/**
 * Third-party evidence: a supplier's factory (its own PKI and log) signs an SBOM; this factory
 * ingests the bundle, verified against the supplier's trusted root only.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { systemClock } from '../core/index.js';
import { testBackends } from '../store/testing.js';
import { Factory, initFactory } from '../factory/index.js';
import { makeStatement } from '../attest/index.js';
import { PREDICATE, readLockfile, toCycloneDx } from '../analysis/index.js';
import { BundleVerifier } from '../verify/index.js';
import { RevocationIndex, parseTrustedRoot } from '../trust/index.js';
import { fsck } from '../operate/index.js';
import { GraphQueries } from './index.js';

const root = fileURLToPath(new URL('../../../', import.meta.url));
let tmp: string;
let ours: Factory;
let supplier: Factory;
let bundle: Record<string, unknown>;
const S = `sha256:${'5e'.repeat(32)}`;
const supplierId = 'spiffe://supplier.example/release/sbom';

for (const backend of testBackends()) describe(backend.name, { skip: backend.skip }, () => {
  before(async () => {
    tmp = mkdtempSync(join(tmpdir(), 'ssf-ingest-'));
    await initFactory({ dir: join(tmp, 'ours'), trustDomain: 'ours.example', clock: systemClock, passphrase: 'ingest test passphrase', ...(backend.name === 'postgres' ? { store: backend.location() } : {}) });
    await initFactory({ dir: join(tmp, 'supplier'), trustDomain: 'supplier.example', clock: systemClock, passphrase: 'ingest test passphrase' });
    ours = Factory.open(join(tmp, 'ours'));
    supplier = Factory.open(join(tmp, 'supplier'));
    const sbom = toCycloneDx(readLockfile(join(root, 'src/analysis/lockfile/testdata/npm-small/package-lock-v3.json')));
    const [r] = supplier.attest([{ statement: makeStatement([{ name: 'supplier-lib.tgz', digest: { sha256: S.slice(7) } }], PREDICATE.cyclonedx, sbom), identity: await supplier.issueIdentity(['release', 'sbom']) }]);
    bundle = r?.bundle ?? {};
  });

  after(() => {
    ours.close();
    supplier.close();
    rmSync(tmp, { recursive: true, force: true });
  });

  function supplierVerifier(): BundleVerifier {
    return new BundleVerifier(parseTrustedRoot(readFileSync(supplier.layout.trustedRoot, 'utf8')), { revocations: new RevocationIndex() });
  }

  test("a supplier's signed SBOM is verified against its trusted root, logged here, and in the graph as third-party", () => {
    const before = ours.log.size();
    // This factory's own trust root does not know the supplier's CA: refused, nothing stored.
    assert.throws(() => ours.ingest(bundle, ours.verifier(), { file: 'b.json', trustedRootSha256: 'x' }), (e: { code?: string }) => e.code === 'TLOG_UNKNOWN' || e.code === 'CERT_CHAIN_INVALID');
    assert.equal(ours.log.size(), before);
    // A tampered bundle: refused, nothing stored.
    const env = bundle['dsseEnvelope'] as { payload: string };
    const bad = { ...bundle, dsseEnvelope: { ...env, payload: Buffer.from(Buffer.from(env.payload, 'base64').toString().replace('chalk', 'chalK')).toString('base64') } };
    assert.throws(() => ours.ingest(bad, supplierVerifier(), { file: 'b.json', trustedRootSha256: 'x' }));
    assert.equal(ours.log.size(), before);
    const r = ours.ingest(bundle, supplierVerifier(), { file: 'b.json', trustedRootSha256: 'sha256:abc' });
    assert.equal(r.signer, supplierId);
    assert.equal(ours.log.size(), before + 1);
    const q = new GraphQueries(ours.db);
    assert.ok(q.blastRadius('pkg:npm/chalk').artifacts.some((a) => a.digest === S));
    const signed = q.signedBy(supplierId, new Date(0), new Date(Date.now() + 60_000));
    assert.deepEqual(signed.attestations.map((a) => a.subjects), [[S]]);
    const edge = ours.db.prepare("SELECT e.props FROM g_edge e JOIN g_node i ON i.id = e.dst WHERE e.verb = 'signed-by' AND i.key = ?").get(supplierId) as { props: string };
    assert.deepEqual(JSON.parse(edge.props), { thirdParty: true });
    // The ingested row passes fsck: its logged body, signature and the entry timestamp agree.
    const report = fsck(ours);
    assert.equal(report.ok, true, report.problems.map((p) => p.problem).join('; '));
  });
});
