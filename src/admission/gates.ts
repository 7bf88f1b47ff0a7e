import { copyFileSync, existsSync, mkdirSync, readFileSync } from 'node:fs';
import { basename, isAbsolute, join, resolve } from 'node:path';
import { SsfError, readTextFile, writeFileAtomic } from '../core/index.js';
import { makeStatement, type ResourceDescriptor } from '../attest/index.js';
import type { Factory } from '../factory/index.js';
import { migrate, type Db, type Migration } from '../store/index.js';
import {
  DEFAULT_POLICY_REFS, decisionVsa, denialMessage, evaluateGate, globMatch, loadPolicy, type Gate, type GateDecision, type GateSubject,
  type LoadedPolicy, type ParamValue,
} from '../policy/index.js';

/**
 * The factory side of policy: which policies a factory applies (policies.json in its data
 * directory), signed policies, and decisions recorded as signed SLSA VSAs with a row per
 * decision, committed in the same transaction as the VSA.
 */

/** Predicate type of a signed policy document (its subject is the file's exact bytes). */
export const SSF_POLICY_PREDICATE = 'https://ssf.invalid/attestations/policy/v1';

export interface PolicyConfig {
  /** Policy references: `builtin:<name>` or a file under `<data dir>/policies/`. */
  readonly policies: readonly string[];
  /** Refuse any policy file (not builtin) without a verified signature by an allowed signer. */
  readonly requireSigned: boolean;
  /** Allowed signer identities (globs with *). */
  readonly signers: readonly string[];
  /** Parameter overrides by policy name. */
  readonly params: Readonly<Record<string, Readonly<Record<string, ParamValue>>>>;
}

export function policySignerIdentity(f: Factory): string {
  return `spiffe://${f.trustDomain}/operator/policy-signer`;
}

/** The identity that signs gate decisions. */
export function policyDeciderIdentity(trustDomain: string): string {
  return `spiffe://${trustDomain}/factory/policy`;
}

export function policyConfigPath(f: Factory): string {
  return join(f.layout.dir, 'policies.json');
}

export function policyDir(f: Factory): string {
  return join(f.layout.dir, 'policies');
}

/** The factory's policy configuration; the built-in defaults when it has none. */
export function readPolicyConfig(f: Factory): PolicyConfig {
  const p = policyConfigPath(f);
  const defaults: PolicyConfig = { policies: DEFAULT_POLICY_REFS, requireSigned: false, signers: [policySignerIdentity(f)], params: {} };
  if (!existsSync(p)) return defaults;
  let raw: unknown;
  try {
    raw = JSON.parse(readTextFile(p, 'policy configuration', 1024 * 1024));
  } catch (e) {
    if (e instanceof SsfError && e.code !== 'INPUT_MALFORMED') throw e;
    throw new SsfError('POLICY_INVALID', `${p} is not JSON; fix it or remove it to return to the default policies`);
  }
  const o = raw as Record<string, unknown>;
  const strings = (v: unknown): v is string[] => Array.isArray(v) && v.every((x) => typeof x === 'string');
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw) || !strings(o['policies']) || (o['signers'] !== undefined && !strings(o['signers'])) || (o['requireSigned'] !== undefined && typeof o['requireSigned'] !== 'boolean') || (o['params'] !== undefined && (typeof o['params'] !== 'object' || o['params'] === null))) {
    throw new SsfError('POLICY_INVALID', `${p} must be {"policies": [...], "requireSigned": bool, "signers": [...], "params": {...}}`);
  }
  return {
    policies: o['policies'],
    requireSigned: (o['requireSigned'] as boolean | undefined) ?? false,
    signers: (o['signers'] as string[] | undefined) ?? defaults.signers,
    params: (o['params'] as PolicyConfig['params'] | undefined) ?? {},
  };
}

export function writePolicyConfig(f: Factory, c: PolicyConfig): void {
  writeFileAtomic(policyConfigPath(f), JSON.stringify(c, null, 2) + '\n');
}

/**
 * The newest verified signature of exactly these policy bytes by an allowed signer: from the
 * factory's store, else from `<file>.sigstore.json` beside it. A signature that exists but
 * does not verify is an error, never "unsigned".
 */
export function findPolicySignature(f: Factory, p: LoadedPolicy, signers: readonly string[], file?: string): { identity: string; logIndex: number } | undefined {
  const hex = p.digest.replace(/^sha256:/, '');
  const allowed = (id: string | null | undefined): boolean => id !== null && id !== undefined && signers.some((g) => globMatch(g, id));
  const stored = f.evidence.findBySubject('sha256', hex).filter((e) => e.predicateType === SSF_POLICY_PREDICATE && allowed(e.signer)).at(-1);
  if (stored) {
    const v = f.verifier().verify(f.bundleOf(stored), { artifact: { algorithm: 'sha256', hex } });
    return { identity: v.signer.identity ?? '', logIndex: v.logIndex };
  }
  const beside = file ? `${file}.sigstore.json` : undefined;
  if (beside && existsSync(beside)) {
    let v;
    try {
      v = f.verifier().verify(JSON.parse(readTextFile(beside, 'policy signature', 16 * 1024 * 1024)), { artifact: { algorithm: 'sha256', hex } });
    } catch (e) {
      const why = e instanceof SsfError && e.code === 'SUBJECT_MISMATCH' ? 'the policy was changed after it was signed' : (e as Error).message;
      throw new SsfError('POLICY_SIGNATURE', `policy ${p.source}: its signature ${beside} does not verify (${why}); sign it again with \`ssf policy sign\``, { cause: e });
    }
    if (v.statement.predicateType !== SSF_POLICY_PREDICATE) throw new SsfError('POLICY_SIGNATURE', `${beside} is a ${v.statement.predicateType} statement, not a policy signature`);
    if (!allowed(v.signer.identity)) throw new SsfError('POLICY_SIGNATURE', `policy ${p.source} is signed by ${v.signer.identity ?? 'a key'}, which is not an allowed policy signer (${signers.join(', ')})`);
    return { identity: v.signer.identity ?? '', logIndex: v.logIndex };
  }
  return undefined;
}

/** Signs a policy file's exact bytes as the factory's policy signer; writes `<file>.sigstore.json`. */
export async function signPolicy(f: Factory, p: LoadedPolicy, file: string): Promise<{ bundlePath: string; logIndex: number; identity: string }> {
  const identity = await f.issueIdentity(['operator', 'policy-signer']);
  const st = makeStatement([{ name: basename(file), digest: { sha256: p.digest.replace(/^sha256:/, '') } }], SSF_POLICY_PREDICATE, {
    name: p.doc.metadata.name, version: p.doc.metadata.version, gate: p.doc.spec.gate, rules: p.doc.spec.rules.map((r) => r.name),
  });
  const [res] = f.attest([{ statement: st, identity }]);
  if (!res) throw new SsfError('INTERNAL', 'no bundle produced');
  const bundlePath = `${file}.sigstore.json`;
  writeFileAtomic(bundlePath, JSON.stringify(res.bundle, null, 2) + '\n');
  return { bundlePath, logIndex: res.logIndex, identity: identity.spiffeId };
}

function resolveRef(f: Factory, ref: string): string {
  if (ref.startsWith('builtin:')) return ref;
  return isAbsolute(ref) ? ref : join(policyDir(f), ref);
}

/** Loads one policy for this factory, checking its signature when signed policies are required. */
export function loadSignedPolicy(f: Factory, ref: string, config: PolicyConfig): LoadedPolicy {
  const file = resolveRef(f, ref);
  const p = loadPolicy(file);
  const overrides = config.params[p.doc.metadata.name];
  const withParams: LoadedPolicy = overrides ? { ...p, overrides } : p;
  if (ref.startsWith('builtin:') || !config.requireSigned) return withParams;
  // Built-in policies ship inside ssf's own code; everything else must be signed.
  if (!findPolicySignature(f, p, config.signers, file)) {
    throw new SsfError('POLICY_SIGNATURE', `policy ${ref} (${p.digest}) has no verified signature by an allowed signer (${config.signers.join(', ')}); sign it with \`ssf policy sign ${file}\``);
  }
  return withParams;
}

/** The factory's policies plus any given for this one use (e.g. `ssf run --policy`). */
export function loadFactoryPolicies(f: Factory, extra: readonly string[] = []): LoadedPolicy[] {
  const config = readPolicyConfig(f);
  const out = config.policies.map((r) => loadSignedPolicy(f, r, config));
  for (const e of extra) out.push(loadSignedPolicy(f, e.startsWith('builtin:') ? e : resolve(e), config));
  return out;
}

/** Copies a policy file into the factory's policy directory and adds it to the configuration. */
export function addPolicy(f: Factory, ref: string, params?: Readonly<Record<string, ParamValue>>): { name: string; ref: string } {
  const config = readPolicyConfig(f);
  let stored = ref;
  const p = loadPolicy(ref);
  if (!ref.startsWith('builtin:')) {
    if (config.requireSigned && !findPolicySignature(f, p, config.signers, resolve(ref))) {
      throw new SsfError('POLICY_SIGNATURE', `policy ${ref} has no verified signature by an allowed signer; sign it first with \`ssf policy sign ${ref}\``);
    }
    mkdirSync(policyDir(f), { recursive: true });
    stored = `${p.doc.metadata.name}.yaml`;
    const dest = join(policyDir(f), stored);
    copyFileSync(resolve(ref), dest);
    if (existsSync(`${resolve(ref)}.sigstore.json`)) copyFileSync(`${resolve(ref)}.sigstore.json`, `${dest}.sigstore.json`);
    if (readFileSync(dest).length !== p.bytes.length) throw new SsfError('IO_FAILED', `copying ${ref} into ${dest} failed`);
  }
  const name = p.doc.metadata.name;
  const kept = config.policies.filter((r) => {
    try {
      return loadPolicy(resolveRef(f, r)).doc.metadata.name !== name;
    } catch {
      return true;
    }
  });
  writePolicyConfig(f, { ...config, policies: [...kept, stored], params: params ? { ...config.params, [name]: params } : config.params });
  return { name, ref: stored };
}

// ---------------------------------------------------------------- decisions

export const decisionMigrations: readonly Migration[] = [
  {
    id: '0201_policy_decisions',
    up(db) {
      db.exec(`
        CREATE TABLE policy_decision (
          id INTEGER PRIMARY KEY,
          gate TEXT NOT NULL,
          run_id TEXT,
          subject TEXT NOT NULL,
          resource_uri TEXT NOT NULL,
          allowed INTEGER NOT NULL,
          policy_set_digest TEXT NOT NULL,
          input_digest TEXT NOT NULL,
          input TEXT NOT NULL,
          summary TEXT NOT NULL,
          log_index INTEGER NOT NULL UNIQUE,
          decided_at TEXT NOT NULL
        );
        CREATE INDEX policy_decision_run ON policy_decision(run_id);
        CREATE INDEX policy_decision_subject ON policy_decision(subject);
      `);
    },
  },
];

export interface DecisionRow {
  readonly id: number;
  readonly gate: Gate;
  readonly run_id: string | null;
  readonly subject: string;
  readonly resource_uri: string;
  readonly allowed: number;
  readonly policy_set_digest: string;
  readonly input_digest: string;
  readonly input: string;
  readonly summary: string;
  readonly log_index: number;
  readonly decided_at: string;
}

/** Decision rows: listed per run or subject, written only with their VSA. */
export class DecisionStore {
  constructor(private readonly db: Db) {
    migrate(db, decisionMigrations);
  }
  insert(r: Omit<DecisionRow, 'id'>): void {
    this.db.prepare(`INSERT INTO policy_decision (gate, run_id, subject, resource_uri, allowed, policy_set_digest, input_digest, input, summary, log_index, decided_at)
      VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`).run(r.gate, r.run_id, r.subject, r.resource_uri, r.allowed, r.policy_set_digest, r.input_digest, r.input, r.summary,
      r.log_index, r.decided_at);
  }
  forRun(runId: string): DecisionRow[] {
    return this.db.prepare('SELECT * FROM policy_decision WHERE run_id = ? ORDER BY id').all(runId) as DecisionRow[];
  }
  forSubject(subject: string): DecisionRow[] {
    return this.db.prepare('SELECT * FROM policy_decision WHERE subject = ? ORDER BY id').all(subject) as DecisionRow[];
  }
  byLogIndex(i: number): DecisionRow | undefined {
    return this.db.prepare('SELECT * FROM policy_decision WHERE log_index = ?').get(i) as DecisionRow | undefined;
  }
  recent(limit: number): DecisionRow[] {
    return this.db.prepare('SELECT * FROM policy_decision ORDER BY id DESC LIMIT ?').all(limit) as DecisionRow[];
  }
}

export interface RecordedDecision {
  readonly decision: GateDecision;
  readonly logIndex: number;
  readonly bundle: Record<string, unknown>;
}

/**
 * Evaluates a gate and records the decision: a VSA signed by the factory's policy identity
 * about the subjects, logged and stored, and its row, in one transaction. Allowed or denied,
 * the decision is kept; the caller decides what a denial stops.
 */
export async function decideGate(f: Factory, policies: readonly LoadedPolicy[], gate: Gate, input: unknown, opts: {
  subjects: readonly ResourceDescriptor[];
  resourceUri: string;
  subject?: GateSubject;
  runId?: string;
  inputAttestations?: readonly ResourceDescriptor[];
}): Promise<RecordedDecision> {
  const decision = evaluateGate(policies, gate, input, opts.subject ?? {});
  return recordDecision(f, decision, input, opts);
}

/** Signs and stores an evaluated decision (see decideGate). */
export async function recordDecision(f: Factory, decision: GateDecision, input: unknown, opts: {
  subjects: readonly ResourceDescriptor[];
  resourceUri: string;
  runId?: string;
  inputAttestations?: readonly ResourceDescriptor[];
}): Promise<RecordedDecision> {
  if (opts.subjects.length === 0) throw new SsfError('INTERNAL', `gate ${decision.gate}: a decision needs a subject`);
  const now = f.clock.now();
  const vsa = decisionVsa(decision, {
    verifierId: policyDeciderIdentity(f.trustDomain), resourceUri: opts.resourceUri, time: now, verifierVersion: { ssf: '0.1.0' },
    ...(opts.inputAttestations ? { inputAttestations: opts.inputAttestations } : {}),
  });
  const identity = await f.issueIdentity(['factory', 'policy']);
  const store = new DecisionStore(f.db);
  const summary = decision.allowed ? (decision.warnings.length > 0 ? `allowed with warnings: ${decision.warnings.join('; ')}` : 'allowed') : denialMessage(decision);
  const [res] = f.attest([{ statement: makeStatement([...opts.subjects], 'https://slsa.dev/verification_summary/v1', vsa), identity }], {
    inTransaction: (results) => {
      const r = results[0];
      if (!r) return;
      const subject = opts.subjects[0]?.digest?.sha256;
      store.insert({
        gate: decision.gate, run_id: opts.runId ?? null, subject: subject ? `sha256:${subject}` : '', resource_uri: opts.resourceUri,
        allowed: decision.allowed ? 1 : 0, policy_set_digest: decision.policySetDigest, input_digest: decision.inputDigest,
        input: JSON.stringify(input), summary, log_index: r.logIndex, decided_at: now.toISOString(),
      });
    },
  });
  if (!res) throw new SsfError('INTERNAL', 'the decision produced no bundle');
  return { decision, logIndex: res.logIndex, bundle: res.bundle };
}
