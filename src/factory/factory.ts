import { createPublicKey, sign as cryptoSign, X509Certificate, type KeyObject } from 'node:crypto';
import { existsSync, rmSync } from 'node:fs';
import {
  SsfError, readTextFile, sha256Hex, systemClock, writeFileAtomic, type Clock,
} from '../core/index.js';
import {
  BUNDLE_V03_MEDIA_TYPE, INTOTO_PAYLOAD_TYPE, KeyObjectSigner, bundleToJson, dsseEntryBody, parseBundle, parseStatement, setPayload,
  signEnvelope, type Bundle, type Statement,
} from '../attest/index.js';
import { TransparencyLog, ecdsaNoteSigner, ecdsaNoteVerifier } from '../log/index.js';
import { EvidenceStore, openDb, type CertificateRow, type Db, type StoredEvidence } from '../store/index.js';
import {
  RevocationIndex, addRevocation, createIntermediateCa, importPrivateKeyPem, issueWorkloadIdentity, keyIdOf, logBaseUrl,
  parseTrustedRoot, signRevocationList, verifyRevocationList, type IssuingCa, type RevocationEntry, type RevocationList,
  type TrustMaterial, type WorkloadIdentity,
} from '../trust/index.js';
import { BundleVerifier, noteNameForLog } from '../verify/index.js';
import { issueServingCert } from '../trust/index.js';
import { readConfig, storeLocation, type FactoryConfig } from './config.js';
import { trustedRootFor } from './init.js';
import { layoutOf, type FactoryLayout } from './layout.js';
import { migrateFactoryDb } from './schema.js';
import { GraphStore, projectStatement } from '../graph/index.js';

/** A statement to sign, and the identity that signs it. */
export interface AttestRequest {
  readonly statement: Statement;
  readonly identity: WorkloadIdentity;
}

/** A logged and stored attestation. */
export interface AttestResult {
  /** The Sigstore bundle v0.3, as JSON. */
  readonly bundle: Record<string, unknown>;
  readonly logIndex: number;
}

interface IdentityFacts {
  readonly signer: KeyObjectSigner;
  readonly verifierB64: string;
  readonly notBefore: number;
  readonly certRow: CertificateRow;
}

/**
 * An open factory: its online CA, its transparency log and its evidence store. The root key
 * is never loaded here; operations that need it take it as an argument.
 */
export class Factory {
  private constructor(
    readonly layout: FactoryLayout,
    private cfg: FactoryConfig,
    readonly db: Db,
    private ca: IssuingCa,
    private readonly logKey: KeyObject,
    readonly log: TransparencyLog,
    readonly evidence: EvidenceStore,
    readonly clock: Clock,
  ) {
    this.graph = new GraphStore(db, { trustDomain: cfg.trustDomain });
    this.logIdHex = keyIdOf(createPublicKey(logKey));
  }
  private readonly logIdHex: string;
  /** The knowledge graph, written with the evidence it comes from. */
  readonly graph: GraphStore;

  /**
   * Opens the factory in `dir`; FACTORY_MISSING when there is none. Its database is the one
   * factory.json names, unless `env.SSF_STORE` (default: this process's) points elsewhere.
   */
  static open(dir: string, opts: { clock?: Clock; env?: NodeJS.ProcessEnv } = {}): Factory {
    const L = layoutOf(dir);
    const config = readConfig(L.config);
    const ca = loadActiveCa(L, config);
    const logKey = importPrivateKeyPem(readTextFile(L.logKey, 'log key'), undefined, 'log key');
    const db = openDb(storeLocation(L, config, opts.env));
    try {
      migrateFactoryDb(db);
      const name = noteNameForLog(logBaseUrl(config.trustDomain));
      const log = new TransparencyLog({ db, origin: name, signer: ecdsaNoteSigner(name, logKey), verifier: ecdsaNoteVerifier(name, createPublicKey(logKey)), clock: opts.clock ?? systemClock });
      return new Factory(L, config, db, ca, logKey, log, new EvidenceStore(db), opts.clock ?? systemClock);
    } catch (e) {
      db.close();
      throw e;
    }
  }

  close(): void {
    this.db.close();
  }

  /** The factory's settings as of the last reload. */
  get config(): FactoryConfig {
    return this.cfg;
  }

  /**
   * Picks up a rotation made by another process: factory.json is re-read (it is small), and the
   * active intermediate reloaded when its generation changed, so no instance keeps issuing from
   * a retired CA.
   */
  private refresh(): void {
    const cfg = readConfig(this.layout.config);
    if (activeGeneration(cfg) !== activeGeneration(this.cfg)) this.ca = loadActiveCa(this.layout, cfg);
    this.cfg = cfg;
  }

  get trustDomain(): string {
    return this.config.trustDomain;
  }

  /**
   * SPIFFE path prefixes the factory issues for itself; a verifier trusts them to mean "the
   * factory's builder", "a task of a run", "a measured node", "the pipeline and policy
   * signers", "the evidence signers" (evidence/vex is what the deploy gate and the graph
   * accept VEX from). Only the factory's own commands issue them; `ssf attest` cannot.
   */
  static readonly RESERVED_PATHS = ['factory', 'run', 'node', 'operator', 'evidence'] as const;

  /** Issues a short-lived identity `spiffe://<td>/<path…>`; its key stays in this process. */
  issueIdentity(path: readonly string[], minutes?: number): Promise<WorkloadIdentity> {
    this.refresh();
    return issueWorkloadIdentity(this.ca, { trustDomain: this.config.trustDomain, path, minutes: minutes ?? this.config.leafMinutes, clock: this.clock });
  }

  /**
   * Signs each statement with its identity, appends all of them to the log under one signed
   * checkpoint, and stores the evidence, in one database transaction: either all are logged
   * and stored or none is. Returns the Sigstore bundles (as JSON objects).
   */
  attest(requests: readonly AttestRequest[], opts: { inTransaction?: (results: readonly AttestResult[]) => void } = {}): AttestResult[] {
    if (requests.length === 0) return [];
    const now = this.clock.now().getTime();
    const signed = requests.map((r) => {
      if (now > r.identity.notAfter.getTime()) throw new SsfError('CERT_EXPIRED', `identity ${r.identity.spiffeId} expired at ${r.identity.notAfter.toISOString()}`);
      const facts = this.identityFacts(r.identity);
      if (now < facts.notBefore) throw new SsfError('CERT_EXPIRED', `identity ${r.identity.spiffeId} is not valid before ${new Date(facts.notBefore).toISOString()} (clock skew?)`);
      const statement = parseStatement(r.statement);
      const payload = Buffer.from(JSON.stringify(statement));
      const envelope = signEnvelope(INTOTO_PAYLOAD_TYPE, payload, [facts.signer]);
      const body = dsseEntryBody(envelope, payload, r.identity.certPem, facts.verifierB64);
      return { r, facts, statement, payload, envelope, body };
    });
    const integratedTime = Math.floor(now / 1000);
    const run = this.db.transaction(() => {
      const { indices, checkpoint } = this.log.appendBatch(signed.map((s) => s.body));
      const proofs = this.log.inclusionProofs(indices, checkpoint.size);
      const certIds = new Map<IdentityFacts, number>();
      const results = signed.map((s, i) => {
        const logIndex = indices[i] as number;
        let certificateId = certIds.get(s.facts);
        if (certificateId === undefined) {
          certificateId = this.evidence.certificateId(s.facts.certRow);
          certIds.set(s.facts, certificateId);
        }
        const entryTimestamp = cryptoSign('sha256', setPayload({ canonicalizedBody: s.body, integratedTime, logIndex, logIdHex: this.logIdHex }), this.logKey);
        // The graph edges this statement proves commit with it, or not at all.
        this.graph.write(projectStatement(s.statement, { logIndex, signer: s.r.identity.spiffeId, integratedTime }), { logIndex, signer: s.r.identity.spiffeId, integratedTime });
        this.evidence.insert({
          logIndex,
          payloadSha256: sha256Hex(s.payload),
          payloadType: INTOTO_PAYLOAD_TYPE,
          payload: s.payload,
          signature: Buffer.from((s.envelope.signatures[0] as { sig: string }).sig, 'base64'),
          certificateId,
          predicateType: s.statement.predicateType,
          integratedTime,
          entryTimestamp,
          checkpointSize: checkpoint.size,
          subjects: s.statement.subject.flatMap((sub) =>
            Object.entries(sub.digest ?? {}).map(([algorithm, digest]) => (sub.name === undefined ? { algorithm, digest } : { algorithm, digest, name: sub.name })),
          ),
        });
        const bundle = this.assemble({
          certificateDer: s.facts.certRow.der,
          envelope: s.envelope,
          logIndex,
          integratedTime,
          entryTimestamp,
          body: s.body,
          checkpoint,
          hashes: proofs[i] as Buffer[],
        });
        return { bundle, logIndex };
      });
      // Rows that describe the evidence (a policy decision, a graph edge) commit with it or not at all.
      opts.inTransaction?.(results);
      return results;
    });
    try {
      // IMMEDIATE: take the write lock up front, so a concurrent run waits (busy_timeout)
      // instead of failing on a read-to-write lock upgrade.
      return run.immediate();
    } catch (e) {
      if (e instanceof SsfError) throw e;
      throw new SsfError('STORE_FAILED', `cannot log and store evidence: ${(e as Error).message}`, { cause: e });
    }
  }

  /**
   * Takes in evidence signed elsewhere (a supplier's SBOM, a package's provenance): the bundle
   * is verified with `verifier` (built from the trusted root the caller names), then its DSSE
   * envelope and signer certificate are logged in this factory's log and stored, and its graph
   * edges written, in one transaction, marked as third-party with the identity that signed it.
   * Nothing unverified is ever stored.
   */
  ingest(bundleJson: unknown, verifier: BundleVerifier, source: { file: string; trustedRootSha256: string }): { logIndex: number; signer: string; predicateType: string; subjects: number } {
    const v = verifier.verify(bundleJson);
    const b = parseBundle(bundleJson);
    if (!b.certificateDer) throw new SsfError('BUNDLE_MALFORMED', `${source.file}: only certificate-based bundles can be ingested (the signer's identity comes from its certificate)`);
    const sig = b.envelope.signatures[0];
    if (!sig || b.envelope.signatures.length !== 1) throw new SsfError('DSSE_INVALID', `${source.file}: the envelope must carry exactly one signature`);
    const payload = Buffer.from(b.envelope.payload, 'base64');
    const cert = new X509Certificate(b.certificateDer);
    const signer = v.signer.identity ?? `keyid:${v.signer.keyId}`;
    const certPem = cert.toString();
    // The store keeps payload, type and signature; a keyid hint (which the signature does not
    // cover) is dropped, so the logged envelope is the one the store can rebuild.
    const body = dsseEntryBody({ payload: b.envelope.payload, payloadType: b.envelope.payloadType, signatures: [{ sig: sig.sig }] }, payload, certPem);
    const now = this.clock.now().getTime();
    const integratedTime = Math.floor(now / 1000);
    const statement = v.statement;
    const run = this.db.transaction(() => {
      const { indices, checkpoint } = this.log.appendBatch([body]);
      const logIndex = indices[0] as number;
      const der = b.certificateDer as Buffer;
      const certificateId = this.evidence.certificateId({
        sha256: sha256Hex(der), der, identity: signer, serial: cert.serialNumber.toLowerCase(),
        notBefore: Math.floor(Date.parse(cert.validFrom) / 1000), notAfter: Math.floor(Date.parse(cert.validTo) / 1000),
      });
      const entryTimestamp = cryptoSign('sha256', setPayload({ canonicalizedBody: body, integratedTime, logIndex, logIdHex: this.logIdHex }), this.logKey);
      this.db.prepare('INSERT INTO g_ingested (log_index, source, trusted_root, verified_at) VALUES (?, ?, ?, ?)').run(logIndex, source.file, source.trustedRootSha256, integratedTime);
      this.graph.write(projectStatement(statement, { logIndex, signer, integratedTime, thirdParty: true }), { logIndex, signer, integratedTime });
      this.evidence.insert({
        logIndex, payloadSha256: sha256Hex(payload), payloadType: b.envelope.payloadType, payload, signature: Buffer.from(sig.sig, 'base64'),
        certificateId, predicateType: statement.predicateType, integratedTime, entryTimestamp, checkpointSize: checkpoint.size,
        subjects: statement.subject.flatMap((sub) => Object.entries(sub.digest ?? {}).map(([algorithm, digest]) => (sub.name === undefined ? { algorithm, digest } : { algorithm, digest, name: sub.name }))),
      });
      return logIndex;
    });
    try {
      const logIndex = run.immediate();
      return { logIndex, signer, predicateType: statement.predicateType, subjects: statement.subject.length };
    } catch (e) {
      if (e instanceof SsfError) throw e;
      throw new SsfError('STORE_FAILED', `cannot log and store ingested evidence: ${(e as Error).message}`, { cause: e });
    }
  }

  private assemble(p: {
    certificateDer: Buffer;
    envelope: Bundle['envelope'];
    logIndex: number;
    integratedTime: number;
    entryTimestamp: Buffer;
    body: Buffer;
    checkpoint: { size: number; rootHash: Buffer; note: string };
    hashes?: Buffer[];
  }): Record<string, unknown> {
    return bundleToJson({
      mediaType: BUNDLE_V03_MEDIA_TYPE,
      certificateDer: p.certificateDer,
      envelope: p.envelope,
      tlogEntries: [{
        logIndex: p.logIndex,
        logIdHex: this.logIdHex,
        kind: 'dsse',
        version: '0.0.1',
        integratedTime: p.integratedTime,
        signedEntryTimestamp: p.entryTimestamp,
        canonicalizedBody: p.body,
        inclusionProof: {
          logIndex: p.logIndex,
          treeSize: p.checkpoint.size,
          rootHash: p.checkpoint.rootHash,
          hashes: p.hashes ?? this.log.inclusionProof(p.logIndex, p.checkpoint.size),
          checkpoint: p.checkpoint.note,
        },
      }],
    });
  }

  /** Rebuilds the Sigstore bundle of a stored evidence record from its parts and the log. */
  bundleOf(rec: StoredEvidence): Record<string, unknown> {
    const checkpoint = this.log.checkpointAt(rec.checkpointSize);
    if (!checkpoint) throw new SsfError('FACTORY_CORRUPT', `checkpoint of size ${rec.checkpointSize} for log index ${rec.logIndex} is missing; run fsck`);
    return this.assemble({
      certificateDer: rec.certificateDer,
      envelope: { payload: rec.payload.toString('base64'), payloadType: rec.payloadType, signatures: [{ sig: rec.signature.toString('base64') }] },
      logIndex: rec.logIndex,
      integratedTime: rec.integratedTime,
      entryTimestamp: rec.entryTimestamp,
      body: this.log.leafData(rec.logIndex),
      checkpoint,
    });
  }

  /** Bundles of all stored evidence about an artifact digest, oldest first. */
  bundlesFor(algorithm: string, digest: string): Record<string, unknown>[] {
    return this.evidence.findBySubject(algorithm, digest).map((r) => this.bundleOf(r));
  }

  // Per-identity work (signer fingerprint, certificate encodings) is done once per identity.
  private readonly facts = new WeakMap<KeyObject, IdentityFacts>();
  private identityFacts(identity: WorkloadIdentity): IdentityFacts {
    let f = this.facts.get(identity.privateKey);
    if (!f) {
      const der = identity.cert.raw;
      f = {
        signer: new KeyObjectSigner(identity.privateKey, ''),
        verifierB64: Buffer.from(identity.certPem).toString('base64'),
        notBefore: Date.parse(identity.cert.validFrom),
        certRow: {
          sha256: sha256Hex(der),
          der,
          identity: identity.spiffeId,
          serial: identity.serial,
          notBefore: Math.floor(Date.parse(identity.cert.validFrom) / 1000),
          notAfter: Math.floor(identity.notAfter.getTime() / 1000),
        },
      };
      this.facts.set(identity.privateKey, f);
    }
    return f;
  }

  /** The factory's trust material as a downstream verifier sees it (from trusted_root.json). */
  trustMaterial(): TrustMaterial {
    return parseTrustedRoot(readTextFile(this.layout.trustedRoot, 'trusted root'));
  }

  /** The current signed revocation list, verified against the root. */
  revocationList(): RevocationList {
    const trust = this.trustMaterial();
    return verifyRevocationList(readTextFile(this.layout.revocations, 'revocation list'), rootKeysOf(trust));
  }

  /** A verifier bound to this factory's trusted root and revocation list. */
  verifier(): BundleVerifier {
    const trust = this.trustMaterial();
    return new BundleVerifier(trust, { revocations: new RevocationIndex(verifyRevocationList(readTextFile(this.layout.revocations, 'revocation list'), rootKeysOf(trust))) });
  }

  /** Loads the root key (needed for rotation and revocation only). */
  loadRootKey(passphrase: string | undefined, path?: string): KeyObject {
    const p = path ?? this.layout.rootKey;
    if (!existsSync(p)) throw new SsfError('FILE_NOT_FOUND', `root key ${p} not found; pass --root-key with the offline root key file`);
    const key = importPrivateKeyPem(readTextFile(p, 'root key'), passphrase, 'root key');
    this.assertRootKey(key, p);
    return key;
  }

  private assertRootKey(key: KeyObject, what = 'the given key'): void {
    const rootCert = new X509Certificate(readTextFile(this.layout.rootCert, 'root certificate'));
    if (!rootCert.checkPrivateKey(key)) throw new SsfError('KEY_INVALID', `${what} is not the private key of this factory's root CA`);
  }

  /**
   * Rotates the online intermediate: a new one is issued by the root; the old one is retired
   * (its window in the trusted root ends now, so what it signed earlier still verifies) and its
   * private key is deleted.
   */
  async rotateIntermediate(rootKey: KeyObject): Promise<{ generation: number }> {
    this.assertRootKey(rootKey);
    this.refresh();
    const rootCertPem = readTextFile(this.layout.rootCert, 'root certificate');
    const root: IssuingCa = { certPem: rootCertPem, cert: new X509Certificate(rootCertPem), keys: { privateKey: rootKey, publicKey: createPublicKey(rootKey) } };
    const now = this.clock.now().toISOString();
    const gen = Math.max(...this.config.intermediates.map((i) => i.generation)) + 1;
    const inter = await createIntermediateCa(root, { trustDomain: this.config.trustDomain, clock: this.clock, generation: gen });
    const config: FactoryConfig = {
      ...this.config,
      intermediates: [
        ...this.config.intermediates.map((i) => (i.retiredAt === undefined ? { ...i, retiredAt: now } : i)),
        { generation: gen, validFrom: new Date(inter.cert.validFrom).toISOString() },
      ],
    };
    writeFileAtomic(this.layout.intermediateCert(gen), inter.certPem);
    writeFileAtomic(this.layout.intermediateKey(gen), inter.keys.privateKey.export({ format: 'pem', type: 'pkcs8' }) as string, 0o600);
    const certs = config.intermediates.map((i) => ({ certPem: readTextFile(this.layout.intermediateCert(i.generation), 'intermediate certificate') }));
    writeFileAtomic(this.layout.trustedRoot, JSON.stringify(trustedRootFor(config, root, certs, createPublicKey(this.logKey)), null, 2) + '\n');
    writeFileAtomic(this.layout.config, JSON.stringify(config, null, 2) + '\n');
    const retired = this.cfg.intermediates;
    this.cfg = config;
    this.ca = loadActiveCa(this.layout, config);
    for (const i of retired) rmSync(this.layout.intermediateKey(i.generation), { force: true });
    return { generation: gen };
  }

  /** Adds an entry to the signed revocation list (version bumped, re-signed by the root). */
  revoke(rootKey: KeyObject, entry: Omit<RevocationEntry, 'revokedAt'>): RevocationList {
    this.assertRootKey(rootKey);
    const next = addRevocation(this.revocationList(), entry, this.clock);
    writeFileAtomic(this.layout.revocations, JSON.stringify(signRevocationList(next, rootKey), null, 2) + '\n');
    this.markRevokedInGraph(entry);
    return next;
  }

  /** Marks every graph edge whose evidence the revoked identity, serial or key signed; returns how many evidence rows. */
  markRevokedInGraph(entry: Pick<RevocationEntry, 'kind' | 'value'>): number {
    const value = entry.value.toLowerCase();
    const base = 'SELECT e.log_index AS logIndex, c.identity, c.serial, c.der FROM evidence e JOIN certificate c ON c.id = e.certificate_id';
    // Identities and serials are columns; a key id is computed from each certificate.
    const rows = (entry.kind === 'identity' ? this.db.prepare(`${base} WHERE c.identity = ?`).all(entry.value)
      : entry.kind === 'serial' ? this.db.prepare(`${base} WHERE lower(c.serial) = ?`).all(value)
        : this.db.prepare(base).all()) as { logIndex: number; identity: string | null; serial: string; der: Buffer }[];
    const hit = rows.filter((r) => {
      switch (entry.kind) {
        case 'identity':
          return r.identity === entry.value;
        case 'serial':
          return r.serial.toLowerCase() === value;
        case 'keyId':
          return keyIdOf(new X509Certificate(r.der).publicKey) === value;
      }
    });
    const at = Math.floor(this.clock.now().getTime() / 1000);
    // IMMEDIATE: the marks and the current state derived from them are written under the
    // writers' lock, as evidence is (on PostgreSQL a plain transaction is a snapshot that a
    // concurrent writer of the same artifact's current state would conflict with).
    this.db.transaction(() => this.graph.markRevoked(hit.map((r) => Number(r.logIndex)), at)).immediate();
    return hit.length;
  }

  /**
   * Issues a TLS serving certificate (serverAuth) from the active intermediate, e.g. for the
   * admission webhook: `certPem` is leaf + intermediate, `caPem` the root a client must trust.
   */
  async issueServingCertificate(opts: { dnsNames: readonly string[]; ipAddresses?: readonly string[]; days?: number }): Promise<{ certPem: string; keyPem: string; caPem: string; notAfter: Date }> {
    this.refresh();
    const leaf = await issueServingCert(this.ca, { dnsNames: opts.dnsNames, ipAddresses: opts.ipAddresses ?? [], days: opts.days ?? 90, clock: this.clock });
    const nl = (pem: string): string => (pem.endsWith('\n') ? pem : pem + '\n');
    return { certPem: leaf.certPem + nl(this.ca.certPem), keyPem: leaf.keyPem, caPem: nl(readTextFile(this.layout.rootCert, 'root certificate')), notAfter: leaf.notAfter };
  }
}

function activeGeneration(cfg: FactoryConfig): number {
  const active = cfg.intermediates.find((i) => i.retiredAt === undefined);
  if (!active) throw new SsfError('FACTORY_CORRUPT', 'factory.json has no active intermediate CA');
  return active.generation;
}

function loadActiveCa(L: FactoryLayout, cfg: FactoryConfig): IssuingCa {
  const gen = activeGeneration(cfg);
  const certPem = readTextFile(L.intermediateCert(gen), 'intermediate CA certificate');
  const key = importPrivateKeyPem(readTextFile(L.intermediateKey(gen), 'intermediate CA key'), undefined, 'intermediate CA key');
  let cert: X509Certificate;
  try {
    cert = new X509Certificate(certPem);
  } catch (e) {
    throw new SsfError('FACTORY_CORRUPT', 'the intermediate CA certificate is not valid PEM', { cause: e });
  }
  if (!cert.checkPrivateKey(key)) throw new SsfError('FACTORY_CORRUPT', `intermediate CA ${gen} key does not match its certificate`);
  return { certPem, cert, keys: { privateKey: key, publicKey: createPublicKey(key) } };
}

/** Public keys of the root CAs named in trust material (last certificate of each chain). */
export function rootKeysOf(trust: TrustMaterial): KeyObject[] {
  const seen = new Map<string, KeyObject>();
  for (const ca of trust.cas) {
    const root = ca.chain[ca.chain.length - 1];
    if (root) seen.set(root.fingerprint256, root.publicKey);
  }
  return [...seen.values()];
}
