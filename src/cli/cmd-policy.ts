import { existsSync, readdirSync, statSync } from 'node:fs';
import { basename, join, resolve } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { SsfError, readTextFile } from '../core/index.js';
import type { Factory } from '../factory/index.js';
import {
  GATES, GATE_LETTERS, builtinPolicyNames, denialMessage, evaluateGate, gateInputSchema, loadPolicy, runTestFile, testFileFor, type Gate, type GateDecision,
  type LoadedPolicy, type ParamValue,
} from '../policy/index.js';
import { int, str, strs, type Command, type Io, type ParsedArgs } from './command.js';

/** `--param NAME=VALUE`: the value is JSON when it parses as JSON (numbers, lists), else a string. */
function policyParams(a: ParsedArgs): Record<string, ParamValue> {
  const out: Record<string, ParamValue> = {};
  for (const p of strs(a, 'param')) {
    const i = p.indexOf('=');
    if (i <= 0) throw new SsfError('USAGE', `--param must be NAME=VALUE, got ${JSON.stringify(p)}`);
    const k = p.slice(0, i);
    const raw = p.slice(i + 1);
    let v: ParamValue = raw;
    try {
      v = JSON.parse(raw) as ParamValue;
    } catch {
      v = raw;
    }
    Object.defineProperty(out, k, { value: v, enumerable: true, writable: true, configurable: true });
  }
  return out;
}

/** A --param the policy does not declare would be ignored by its rules: a typo must not pass silently. */
function checkDeclared(p: LoadedPolicy, params: Readonly<Record<string, ParamValue>>): void {
  const declared = Object.keys(p.doc.spec.params ?? {});
  for (const k of Object.keys(params)) {
    if (!declared.includes(k)) {
      throw new SsfError('USAGE', `policy ${p.doc.metadata.name} has no parameter ${JSON.stringify(k)}; ${declared.length > 0 ? `it declares ${declared.join(', ')}` : 'it declares none'}`);
    }
  }
}

function readInput(file: string): unknown {
  if (!existsSync(file)) throw new SsfError('FILE_NOT_FOUND', `input ${file} does not exist`);
  const text = readTextFile(file, 'policy input', 16 * 1024 * 1024);
  try {
    return parseYaml(text, { maxAliasCount: 16 }) as unknown;
  } catch (e) {
    throw new SsfError('INPUT_MALFORMED', `input ${file} is not JSON or YAML: ${(e as Error).message.split('\n')[0]}`);
  }
}

function printDecision(io: Io, d: GateDecision): void {
  io.out(`gate ${GATE_LETTERS[d.gate]} (${d.gate}): ${d.allowed ? 'ALLOW' : 'DENY'}   input ${d.inputDigest}   policies ${d.policySetDigest}`);
  for (const p of d.policies) {
    io.out(`  ${p.passed ? '✓' : p.mode === 'audit' ? '!' : '✗'} ${p.name}@${p.version}${p.mode === 'audit' ? ' (audit)' : ''}`);
    for (const r of p.rules) {
      if (r.outcome === 'pass') continue;
      io.out(`      ${r.outcome === 'error' ? 'error' : 'fail '} ${r.name}: ${r.message ?? ''}`);
      for (const x of r.details ?? []) io.out(`            - ${x}`);
    }
  }
  if (d.levels.length > 0) io.out(`  levels: ${d.levels.join(', ')}`);
}

/** Test files: the one beside a policy, every *.test.yaml in a directory, or a test file itself. */
function testFilesOf(target: string): { files: string[]; policy?: LoadedPolicy } {
  if (target.startsWith('builtin:')) {
    const p = loadPolicy(target);
    const f = testFileFor(p.uri.startsWith('file://') ? p.uri.slice(7) : join(new URL('../../../policies/', import.meta.url).pathname, `${target.slice(8)}.yaml`));
    return { files: f ? [f] : [], policy: p };
  }
  if (!existsSync(target)) throw new SsfError('FILE_NOT_FOUND', `${target} does not exist`);
  if (statSync(target).isDirectory()) return { files: readdirSync(target).filter((n) => n.endsWith('.test.yaml')).sort().map((n) => join(target, n)) };
  if (target.endsWith('.test.yaml')) return { files: [target] };
  const p = loadPolicy(target);
  const f = testFileFor(target);
  return { files: f ? [f] : [], policy: p };
}

export const policyTestCommand: Command = {
  name: 'policy test',
  summary: 'test a policy: against an input document, or run the test cases kept beside it',
  usage: `Usage: ssf policy test POLICY --input FILE [--param NAME=VALUE]... [--json]
       ssf policy test POLICY|DIR|FILE.test.yaml [--json]

POLICY is a policy file or builtin:NAME. With --input, evaluates the policy
against that input document (JSON or YAML; a recorded one comes from
\`ssf policy decisions --input LOG_INDEX\`) and prints each rule's outcome;
the input is checked against its gate's schema first.

Without --input, runs the test cases kept next to the policy in
<name>.test.yaml (or every *.test.yaml in DIR): each case names an input (inline
or inputFile, with optional "set" overrides), optional params, and the
expected decision (allow or deny, optionally the exact failing rules).

Options:
  --input FILE         an input document of the policy's gate
  --param NAME=VALUE   override a parameter (value is JSON if it parses)
  --json               machine-readable result
  -h, --help           show this help

Exit status: 0 allowed / all cases pass; 1 denied (error POLICY_DENIED) or a
case failed (POLICY_TEST_FAILED); 2 on usage errors.`,
  options: { input: { type: 'string' }, param: { type: 'string', multiple: true }, json: { type: 'boolean' } },
  positionals: { min: 1, max: 1 },
  async run(a, io) {
    const target = a.positionals[0] as string;
    const input = str(a, 'input');
    if (input !== undefined) {
      const p = loadPolicy(target);
      const params = policyParams(a);
      checkDeclared(p, params);
      const withParams: LoadedPolicy = Object.keys(params).length > 0 ? { ...p, overrides: params } : p;
      const d = evaluateGate([{ ...withParams, mode: 'enforce' }], p.doc.spec.gate, readInput(input));
      if (a.values.json) io.out(JSON.stringify(d));
      else printDecision(io, d);
      if (!d.allowed) throw new SsfError('POLICY_DENIED', `${p.doc.metadata.name} denies ${input}: ${denialMessage(d)}`);
      return 0;
    }
    if (strs(a, 'param').length > 0) throw new SsfError('USAGE', '--param needs --input (test cases set their own params)');
    const { files, policy } = testFilesOf(target);
    if (files.length === 0) {
      const where = policy ? `keep them in ${target.replace(/\.ya?ml$/, '')}.test.yaml, or pass --input` : 'the directory has no *.test.yaml file';
      throw new SsfError('FILE_NOT_FOUND', `no policy tests found for ${target}; ${where}`);
    }
    let failed = 0;
    let total = 0;
    const report: unknown[] = [];
    for (const file of files) {
      const r = runTestFile(file, policy);
      if (!a.values.json) io.out(`${r.policy.doc.metadata.name}@${r.policy.doc.metadata.version} (${basename(file)})`);
      for (const c of r.results) {
        total++;
        if (!c.ok) failed++;
        if (!a.values.json) io.out(`  ${c.ok ? '✓' : '✗'} ${c.name}${c.ok ? '' : `: ${c.problem}`}`);
      }
      report.push({ file, policy: r.policy.doc.metadata.name, digest: r.policy.digest, results: r.results });
    }
    if (a.values.json) io.out(JSON.stringify({ passed: total - failed, failed, files: report }));
    else io.out(`${total - failed} passed, ${failed} failed`);
    if (failed > 0) throw new SsfError('POLICY_TEST_FAILED', `${failed} of ${total} policy test case${total === 1 ? '' : 's'} failed`);
    return 0;
  },
};

export const policyLintCommand: Command = {
  name: 'policy lint',
  summary: 'check policy files: schema, CEL compile errors with file:line:column',
  usage: `Usage: ssf policy lint FILE...

Parses each policy, checks it against schema/policy/policy.schema.json and
compiles every CEL rule (unknown variables and functions are errors). Prints
one line per file; with one file, its error is the error message.

Exit status: 0 when every file is valid; 1 otherwise (POLICY_INVALID, with
file:line:column); 2 on usage errors.`,
  options: {},
  positionals: { min: 1, max: 100 },
  async run(a, io) {
    // One file: its error is the one error line. Several: a line per file on stdout, then the count.
    if (a.positionals.length === 1) {
      const file = a.positionals[0] as string;
      const p = loadPolicy(file);
      io.out(`${file}: ok (${p.doc.metadata.name}@${p.doc.metadata.version}, gate ${p.doc.spec.gate}, ${p.rules.length} rule${p.rules.length === 1 ? '' : 's'})`);
      return 0;
    }
    let bad = 0;
    for (const file of a.positionals) {
      try {
        const p = loadPolicy(file);
        io.out(`${file}: ok (${p.doc.metadata.name}@${p.doc.metadata.version}, gate ${p.doc.spec.gate}, ${p.rules.length} rule${p.rules.length === 1 ? '' : 's'})`);
      } catch (e) {
        if (!(e instanceof SsfError)) throw e;
        bad++;
        io.out(`${e.message.startsWith(`${file}:`) ? e.message : `${file}: ${e.message}`} [${e.code}]`);
      }
    }
    if (bad > 0) throw new SsfError('POLICY_INVALID', `${bad} of ${a.positionals.length} policy files invalid`);
    return 0;
  },
};

type Admission = typeof import('../admission/index.js');

/**
 * Opens the factory for one command and hands it the admission part (the factory's policies,
 * decisions, gate D). Both load here, not at the top: \`policy lint\`, \`test\` and \`schema\`
 * need neither, and they are most of a policy author's calls.
 */
async function withFactory<T>(a: ParsedArgs, io: Io, fn: (f: Factory, adm: Admission) => Promise<T>): Promise<T> {
  const [{ Factory, resolveDataDir }, adm] = await Promise.all([import('../factory/index.js'), import('../admission/index.js')]);
  const f = Factory.open(resolveDataDir(str(a, 'dir'), io.env));
  try {
    return await fn(f, adm);
  } finally {
    f.close();
  }
}

export const policyListCommand: Command = {
  name: 'policy list',
  summary: "list the factory's policies by gate, and the built-in library",
  usage: `Usage: ssf policy list [--json] [--dir D]

Shows the policies this factory applies at each gate (from policies.json in
the data dir; the built-in defaults when there is none), whether signed
policies are required, and the built-in library.

Options:
  --json      machine-readable
  --dir D     factory data directory
  -h, --help  show this help`,
  options: { json: { type: 'boolean' }, dir: { type: 'string' } },
  async run(a, io) {
    return withFactory(a, io, async (f, { loadFactoryPolicies, policyConfigPath, readPolicyConfig }) => {
    const cfg = readPolicyConfig(f);
    const policies = loadFactoryPolicies(f);
    if (a.values.json) {
      io.out(JSON.stringify({
        config: existsSync(policyConfigPath(f)) ? policyConfigPath(f) : null, requireSigned: cfg.requireSigned, signers: cfg.signers,
        policies: policies.map((p) => ({ name: p.doc.metadata.name, version: p.doc.metadata.version, gate: p.doc.spec.gate, mode: p.mode, source: p.source, digest: p.digest, params: { ...(p.doc.spec.params ?? {}), ...(p.overrides ?? {}) } })),
        library: builtinPolicyNames(),
      }));
      return 0;
    }
    io.out(`policies (${existsSync(policyConfigPath(f)) ? policyConfigPath(f) : 'built-in defaults'}; signed policies ${cfg.requireSigned ? `required from ${cfg.signers.join(', ')}` : 'not required'}):`);
    for (const g of GATES) {
      const ps = policies.filter((p) => p.doc.spec.gate === g);
      io.out(`  gate ${GATE_LETTERS[g]} ${g}${ps.length === 0 ? ': (none: allows everything)' : ''}`);
      for (const p of ps) io.out(`    ${p.doc.metadata.name}@${p.doc.metadata.version}${p.mode === 'audit' ? ' (audit)' : ''}  ${p.source}  ${p.digest.slice(0, 19)}…`);
    }
    io.out(`library: ${builtinPolicyNames().map((n) => `builtin:${n}`).join(' ')}`);
    return 0;
    });
  },
};

export const policyAddCommand: Command = {
  name: 'policy add',
  summary: "add a policy (a file or builtin:NAME) to the factory's policies, with parameters",
  usage: `Usage: ssf policy add FILE|builtin:NAME [--param NAME=VALUE]... [--dir D]

Validates the policy, copies a file into the data dir's policies/ (so later
edits to the original have no effect), and adds it to policies.json. A
policy of the same name is replaced. The first add starts from the built-in
defaults. When signed policies are required, a file must be signed first
(\`ssf policy sign\`).

Options:
  --param NAME=VALUE   parameter override (value is JSON if it parses)
  --dir D              factory data directory
  -h, --help           show this help`,
  options: { param: { type: 'string', multiple: true }, dir: { type: 'string' } },
  positionals: { min: 1, max: 1 },
  async run(a, io) {
    return withFactory(a, io, async (f, { addPolicy, policyConfigPath }) => {
    const params = policyParams(a);
    if (Object.keys(params).length > 0) checkDeclared(loadPolicy(a.positionals[0] as string), params);
    const r = addPolicy(f, a.positionals[0] as string, Object.keys(params).length > 0 ? params : undefined);
    io.out(`added ${r.name} (${r.ref}) to ${policyConfigPath(f)}`);
    return 0;
    });
  },
};

export const policyRemoveCommand: Command = {
  name: 'policy remove',
  summary: "remove a policy from the factory's policies by name",
  usage: `Usage: ssf policy remove NAME [--dir D]

Removes the policy named NAME (its metadata.name) from policies.json. A gate
left with no policy allows everything; \`ssf policy list\` shows what remains.

Options:
  --dir D     factory data directory
  -h, --help  show this help`,
  options: { dir: { type: 'string' } },
  positionals: { min: 1, max: 1 },
  async run(a, io) {
    return withFactory(a, io, async (f, { loadFactoryPolicies, readPolicyConfig, writePolicyConfig }) => {
    const name = a.positionals[0] as string;
    const cfg = readPolicyConfig(f);
    const policies = loadFactoryPolicies(f);
    const keep = cfg.policies.filter((_, i) => policies[i]?.doc.metadata.name !== name);
    if (keep.length === cfg.policies.length) throw new SsfError('NOT_FOUND', `the factory has no policy named ${JSON.stringify(name)}; see \`ssf policy list\``);
    // Its parameters go too: a later `ssf policy add` of the same name starts from the defaults.
    const params = Object.fromEntries(Object.entries(cfg.params).filter(([k]) => k !== name));
    writePolicyConfig(f, { ...cfg, policies: keep, params });
    io.out(`removed ${name}`);
    return 0;
    });
  },
};

export const policySignCommand: Command = {
  name: 'policy sign',
  summary: "sign a policy file's exact bytes with the factory's policy-signer identity",
  usage: `Usage: ssf policy sign FILE [--dir D]

Signs the policy (after validating it) with the identity
spiffe://<trust domain>/operator/policy-signer: an in-toto statement whose
subject is the file's sha256, logged and stored, written beside the file as
FILE.sigstore.json. Gates and \`ssf policy add\` check it when signed policies
are required (\`ssf policy require-signed\`).

Options:
  --dir D     factory data directory
  -h, --help  show this help`,
  options: { dir: { type: 'string' } },
  positionals: { min: 1, max: 1 },
  async run(a, io) {
    const file = resolve(a.positionals[0] as string);
    const p = loadPolicy(file);
    return withFactory(a, io, async (f, { signPolicy }) => {
    const r = await signPolicy(f, p, file);
    io.out(`signed ${p.doc.metadata.name}@${p.doc.metadata.version} (${p.digest}) as ${r.identity}, log index ${r.logIndex}; bundle ${r.bundlePath}`);
    return 0;
    });
  },
};

export const policyRequireSignedCommand: Command = {
  name: 'policy require-signed',
  summary: 'require (or stop requiring) policies to be signed by allowed identities',
  usage: `Usage: ssf policy require-signed [--signer ID]... [--off] [--dir D]

From now on every policy file the factory loads (at every gate, for
\`ssf policy add\` and \`ssf run --policy\`) must carry a verified signature by
one of the signers (default: the factory's policy signer). Built-in policies
ship with ssf and need none.

Options:
  --signer ID   an allowed signer identity (SPIFFE ID; * matches any run of
                characters); repeatable; replaces the list
  --off         stop requiring signatures
  --dir D       factory data directory
  -h, --help    show this help`,
  options: { signer: { type: 'string', multiple: true }, off: { type: 'boolean' }, dir: { type: 'string' } },
  async run(a, io) {
    return withFactory(a, io, async (f, { loadSignedPolicy, readPolicyConfig, writePolicyConfig }) => {
    const cfg = readPolicyConfig(f);
    const signers = strs(a, 'signer');
    const next = { ...cfg, requireSigned: !a.values.off, ...(signers.length > 0 ? { signers } : {}) };
    // An installed policy without a valid signature is refused now, not at the next run, and
    // before anything is written.
    for (const r of next.policies) loadSignedPolicy(f, r, next);
    writePolicyConfig(f, next);
    io.out(next.requireSigned ? `signed policies required, from ${next.signers.join(', ')}` : 'signed policies no longer required');
    return 0;
    });
  },
};

export const policyDecisionsCommand: Command = {
  name: 'policy decisions',
  summary: 'list recorded gate decisions, or print the input one was made on',
  usage: `Usage: ssf policy decisions [--run ID] [--subject sha256:HEX] [--limit N] [--json] [--dir D]
       ssf policy decisions --input LOG_INDEX [--dir D]

Every gate decision is a signed SLSA VSA in the transparency log with a row
naming its gate, subject, policy-set digest, input digest and outcome. With
--input, prints the input document the decision was made on, to replay it
with \`ssf policy test POLICY --input FILE\`.

Options:
  --run ID          decisions of one run
  --subject D       decisions about one digest
  --limit N         at most N (default 50), newest first
  --input N         print the input of the decision at log index N
  --json            machine-readable
  --dir D           factory data directory
  -h, --help        show this help`,
  options: { run: { type: 'string' }, subject: { type: 'string' }, limit: { type: 'string' }, input: { type: 'string' }, json: { type: 'boolean' }, dir: { type: 'string' } },
  async run(a, io) {
    return withFactory(a, io, async (f, { DecisionStore }) => {
    const store = new DecisionStore(f.db);
    const at = str(a, 'input');
    if (at !== undefined) {
      if (!/^\d+$/.test(at)) throw new SsfError('USAGE', `--input takes a log index, got ${JSON.stringify(at)}`);
      const row = store.byLogIndex(Number(at));
      if (!row) throw new SsfError('NOT_FOUND', `no gate decision at log index ${at}; see \`ssf policy decisions\``);
      io.out(JSON.stringify(JSON.parse(row.input), null, 2));
      return 0;
    }
    const run = str(a, 'run');
    const subject = str(a, 'subject');
    const limit = int(a, 'limit') ?? 50;
    const rows = (run ? store.forRun(run) : subject ? store.forSubject(subject) : store.recent(limit)).slice(0, limit);
    if (a.values.json) {
      io.out(JSON.stringify(rows.map(({ input: _input, ...r }) => ({ ...r, allowed: r.allowed === 1 }))));
      return 0;
    }
    if (rows.length === 0) io.out('no decisions');
    for (const r of rows) io.out(`#${r.log_index}  ${r.decided_at}  gate ${GATE_LETTERS[r.gate as Gate] ?? '?'} ${r.gate.padEnd(12)} ${r.allowed ? 'ALLOW' : 'DENY '}  ${r.subject.slice(0, 19)}…  ${r.run_id ?? ''}  ${r.summary}`);
    return 0;
    });
  },
};

export const policySchemaCommand: Command = {
  name: 'policy schema',
  summary: "print the JSON Schema of a gate's input document",
  usage: `Usage: ssf policy schema build|dependencies|publish|deploy

Prints the JSON Schema (draft 2020-12) of the input document the gate's
policies read as \`input\`. The same files ship in schema/policy/.`,
  options: {},
  positionals: { min: 1, max: 1 },
  async run(a, io) {
    const g = a.positionals[0] as Gate;
    if (!(GATES as readonly string[]).includes(g)) throw new SsfError('USAGE', `gate must be one of ${GATES.join(', ')}, got ${JSON.stringify(g)}`);
    io.out(JSON.stringify(gateInputSchema(g), null, 2));
    return 0;
  },
};

export const admissionCheckCommand: Command = {
  name: 'admission check',
  summary: 'decide the deploy gate for one image or artifact digest, as the webhook would',
  usage: `Usage: ssf admission check IMAGE@sha256:HEX|sha256:HEX [--policy REF]... [--dry-run] [--json] [--dir D]

Looks up every piece of evidence about the digest (the factory's store and
the OCI referrers in its repository), verifies each against the trusted root
and revocation list, builds the deploy input and decides by the factory's
deploy policies (plus any --policy). Unless --dry-run, the decision is signed
as an SLSA VSA and stored, as the webhook does.

Options:
  --policy REF   also apply this deploy policy (file or builtin:NAME)
  --dry-run      decide without signing or storing anything
  --json         the decision and its input, machine-readable
  --dir D        factory data directory
  -h, --help     show this help

Exit status: 0 allowed; 1 denied (POLICY_DENIED); 2 on usage errors.`,
  options: { policy: { type: 'string', multiple: true }, 'dry-run': { type: 'boolean' }, json: { type: 'boolean' }, dir: { type: 'string' } },
  positionals: { min: 1, max: 1 },
  async run(a, io) {
    const ref = a.positionals[0] as string;
    const m = /(?:^|@)(sha256:[0-9a-f]{64})$/.exec(ref);
    if (!m) throw new SsfError('USAGE', `${JSON.stringify(ref)} is not pinned by digest; give IMAGE@sha256:<64 hex> or sha256:<64 hex>`);
    return withFactory(a, io, async (f, { decideDeploy, loadFactoryPolicies }) => {
    const policies = loadFactoryPolicies(f, strs(a, 'policy')).filter((p) => p.doc.spec.gate === 'deploy');
    if (policies.length === 0) throw new SsfError('POLICY_INVALID', 'no deploy policy is configured; add one with `ssf policy add`');
    const { OciLayout } = await import('../repository/index.js');
    const repository = existsSync(f.layout.repository) ? OciLayout.open(f.layout.repository) : undefined;
    const out = await decideDeploy(f, policies, m[1] as string, { ...(ref !== m[1] ? { ref } : {}), dryRun: Boolean(a.values['dry-run']), ...(repository ? { repository } : {}) });
    if (a.values.json) io.out(JSON.stringify({ decision: out.decision, logIndex: out.logIndex ?? null, rejected: out.rejected, input: out.input }));
    else {
      printDecision(io, out.decision);
      for (const r of out.rejected) io.out(`  rejected evidence: ${r}`);
      io.out(out.logIndex !== undefined ? `  signed decision: log index ${out.logIndex}` : '  dry run: nothing signed or stored');
    }
    if (!out.decision.allowed) throw new SsfError('POLICY_DENIED', `deploy gate denies ${ref}: ${denialMessage(out.decision)}`);
    return 0;
    });
  },
};

