import { ERROR_CODES, isSsfError, toSsfError } from '../core/index.js';
import { parseCommandArgs, type Command, type Io } from './command.js';
import { promptSecretTty } from './passphrase.js';

/**
 * Every command, by the words that name it, with its one-line summary. The implementation
 * loads only when the command runs, so `ssf sbom` does not pay for the PKI, the runner or the
 * sandbox code (about 0.3 s of module loading). A test checks each summary against its command.
 */
export interface CommandEntry {
  readonly name: string;
  readonly summary: string;
  load(): Promise<Command>;
}

function entry(name: string, summary: string, load: () => Promise<Command>): CommandEntry {
  return { name, summary, load };
}

export const COMMAND_INDEX: readonly CommandEntry[] = [
  entry('demo', "the factory's main job on its embedded default: build examples/hello-service and verify it", async () => (await import('./cmd-demo.js')).demoCommand),
  entry('init', 'create a factory: root and intermediate CAs, log key, trusted root, store', async () => (await import('./cmd-init.js')).initCommand),
  entry('run', 'run a pipeline: each task sandboxed, observed and signed; SLSA provenance at the end', async () => (await import('./cmd-run.js')).runCommand),
  entry('runs', 'list recent runs', async () => (await import('./cmd-run.js')).runsCommand),
  entry('show', 'show one run: tasks, evidence, artifacts; --export the evidence for offline verification', async () => (await import('./cmd-run.js')).showCommand),
  entry('verify', 'verify an artifact offline against its SLSA provenance and the signed task chain', async () => (await import('./cmd-verify.js')).verifyCommand),
  entry('lint', 'check pipeline definitions: schema, pinned tools, credentials, workspace conflicts', async () => (await import('./cmd-pipeline.js')).lintCommand),
  entry('pipeline sign', "sign a pipeline definition (exact bytes) with the factory's pipeline-signer identity", async () => (await import('./cmd-pipeline.js')).pipelineSignCommand),
  entry('pipeline pin', 'pin every tool of a pipeline to the digest of the binary on this host', async () => (await import('./cmd-pipeline.js')).pipelinePinCommand),
  entry('sbom', 'write a CycloneDX 1.6 or SPDX 2.3 SBOM of a project, lockfile or imported SBOM', async () => (await import('./cmd-evidence.js')).sbomCommand),
  entry('scan', 'match a project, lockfile or SBOM against the OSV advisory database, with VEX', async () => (await import('./cmd-evidence.js')).scanCommand),
  entry('licenses', 'normalise declared licences to SPDX and evaluate them against a policy', async () => (await import('./cmd-evidence.js')).licensesCommand),
  entry('secrets', 'scan a source tree or a pipeline definition for credentials', async () => (await import('./cmd-evidence.js')).secretsCommand),
  entry('vulndb import', 'import OSV advisories (a JSON file, a directory, an OSV zip archive or its URL)', async () => (await import('./cmd-evidence.js')).vulndbImportCommand),
  entry('vulndb info', 'show the advisory database: digest, date, size', async () => (await import('./cmd-evidence.js')).vulndbInfoCommand),
  entry('vex sign', 'sign an OpenVEX document as evidence, with an expiry', async () => (await import('./cmd-evidence.js')).vexSignCommand),
  entry('query provenance', 'where a digest came from: source commit, pipeline, run, tasks, identities, materials (tree, --dot, --mermaid)', async () => (await import('./cmd-graph.js')).queryProvenanceCommand),
  entry('query blast-radius', 'every artifact and deployment that contains a package (any version, or a semver range), transitively', async () => (await import('./cmd-graph.js')).queryBlastRadiusCommand),
  entry('query affected', 'which artifacts and deployments are affected by a vulnerability (aliases followed, VEX respected)', async () => (await import('./cmd-graph.js')).queryAffectedCommand),
  entry('query signed-by', 'everything an identity signed between two times (incident response for a leaked key)', async () => (await import('./cmd-graph.js')).querySignedByCommand),
  entry('query diff', "compare two artifacts' SBOMs: added, removed and changed components, new findings", async () => (await import('./cmd-graph.js')).queryDiffCommand),
  entry('deployments record', 'record (as signed evidence) that a digest runs in a cluster, namespace and workload', async () => (await import('./cmd-graph.js')).deploymentsRecordCommand),
  entry('deployments remove', 'record (as signed evidence) that a digest no longer runs in a workload', async () => (await import('./cmd-graph.js')).deploymentsRemoveCommand),
  entry('rescan', 'match every released SBOM against the current advisory database; record new and resolved findings', async () => (await import('./cmd-graph.js')).rescanCommand),
  entry('fsck', 'check the store: recompute the log, every evidence row against its entry, every graph edge against its evidence', async () => (await import('./cmd-graph.js')).fsckCommand),
  entry('ingest', "take in third-party evidence (a supplier's SBOM, a package's provenance): verified, logged, in the graph", async () => (await import('./cmd-graph.js')).ingestCommand),
  entry('graph rebuild', 'derive the knowledge graph again from every stored piece of evidence', async () => (await import('./cmd-graph.js')).graphRebuildCommand),
  entry('attest', 'sign an in-toto statement about files with a short-lived identity, log it, write a bundle', async () => (await import('./cmd-attest.js')).attestCommand),
  entry('verify-bundle', 'verify a Sigstore bundle offline against a trusted root (sigstore-conformance CLI protocol)', async () => (await import('./cmd-verify-bundle.js')).verifyBundleCommand),
  entry('log', "show the transparency log's latest signed checkpoint", async () => (await import('./cmd-log.js')).logCommand),
  entry('log witness', "check the log's checkpoint against the last one this witness saw (rollback, split view)", async () => (await import('./cmd-witness.js')).witnessCommand),
  entry('ca rotate', 'rotate the online intermediate CA (needs the root key)', async () => (await import('./cmd-ca.js')).caRotateCommand),
  entry('revoke', 'add a certificate serial, key id or identity to the signed revocation list', async () => (await import('./cmd-ca.js')).revokeCommand),
  entry('policy test', 'test a policy: against an input document, or run the test cases kept beside it', async () => (await import('./cmd-policy.js')).policyTestCommand),
  entry('policy lint', 'check policy files: schema, CEL compile errors with file:line:column', async () => (await import('./cmd-policy.js')).policyLintCommand),
  entry('policy list', "list the factory's policies by gate, and the built-in library", async () => (await import('./cmd-policy.js')).policyListCommand),
  entry('policy add', "add a policy (a file or builtin:NAME) to the factory's policies, with parameters", async () => (await import('./cmd-policy.js')).policyAddCommand),
  entry('policy remove', "remove a policy from the factory's policies by name", async () => (await import('./cmd-policy.js')).policyRemoveCommand),
  entry('policy sign', "sign a policy file's exact bytes with the factory's policy-signer identity", async () => (await import('./cmd-policy.js')).policySignCommand),
  entry('policy require-signed', 'require (or stop requiring) policies to be signed by allowed identities', async () => (await import('./cmd-policy.js')).policyRequireSignedCommand),
  entry('policy decisions', 'list recorded gate decisions, or print the input one was made on', async () => (await import('./cmd-policy.js')).policyDecisionsCommand),
  entry('policy schema', "print the JSON Schema of a gate's input document", async () => (await import('./cmd-policy.js')).policySchemaCommand),
  entry('admission check', 'decide the deploy gate for one image or artifact digest, as the webhook would', async () => (await import('./cmd-policy.js')).admissionCheckCommand),
  entry('admission serve', 'serve the Kubernetes admission webhook: every container image must pass the deploy gate', async () => (await import('./cmd-admission.js')).admissionServeCommand),
  entry('admission manifests', 'print the manifests that install the admission webhook, with a factory-issued TLS certificate', async () => (await import('./cmd-admission.js')).admissionManifestsCommand),
];

/** Every command's implementation (for help tests and documentation checks). */
export async function loadCommands(): Promise<Command[]> {
  return Promise.all(COMMAND_INDEX.map((e) => e.load()));
}

const VERSION = '0.1.0';

function overview(): string {
  const width = Math.max(...COMMAND_INDEX.map((c) => c.name.length));
  return [
    'ssf: a Secure Software Factory. Builds are isolated, observed and signed; anyone can verify the evidence.',
    '',
    'Usage: ssf <command> [options]        ssf <command> --help for details',
    '',
    'Commands:',
    ...COMMAND_INDEX.map((c) => `  ${c.name.padEnd(width)}  ${c.summary}`),
    '',
    'Data directory: --dir, else $SSF_DIR, else ./.ssf. Error codes: docs/errors.md.',
  ].join('\n');
}

/** The default terminal-bound I/O. */
export function processIo(): Io {
  return {
    out: (l) => process.stdout.write(l + '\n'),
    err: (l) => process.stderr.write(l + '\n'),
    env: process.env,
    isTty: Boolean(process.stdin.isTTY),
    outIsTty: Boolean(process.stdout.isTTY),
    write: (t) => process.stdout.write(t),
    promptSecret: promptSecretTty,
  };
}

/** Runs the CLI; returns the exit code (0 ok, 1 failure, 2 usage). Never throws. */
export async function main(argv: string[], io: Io = processIo()): Promise<number> {
  const [first, second] = argv;
  if (first === undefined || first === 'help' || first === '--help' || first === '-h') {
    io.out(overview());
    return first === undefined ? 2 : 0;
  }
  if (first === '--version' || first === 'version') {
    io.out(VERSION);
    return 0;
  }
  const two = second !== undefined ? `${first} ${second}` : '';
  const found = COMMAND_INDEX.find((c) => c.name === two) ?? COMMAND_INDEX.find((c) => c.name === first);
  if (!found) {
    const subs = COMMAND_INDEX.filter((c) => c.name.startsWith(`${first} `)).map((c) => `ssf ${c.name}`);
    if (subs.length > 0) {
      io.err(`ssf: error[USAGE]: ${JSON.stringify(first)} needs a subcommand: ${subs.join(', ')}`);
      return 2;
    }
    io.err(`ssf: error[USAGE]: unknown command ${JSON.stringify(first)}; run \`ssf --help\` for the list`);
    return 2;
  }
  const rest = argv.slice(found.name.split(' ').length);
  try {
    const cmd = await found.load();
    const args = parseCommandArgs(cmd, rest);
    if (args.values.help) {
      io.out(cmd.usage);
      return 0;
    }
    return await cmd.run(args, io);
  } catch (e) {
    const err = toSsfError(e);
    // One line, printable: a message may quote bytes from hostile input.
    const line = (err.message.split('\n')[0] ?? '').replace(/[\u0000-\u001f\u007f-\u009f\ufffd]/g, (c) => (c === '\ufffd' ? '?' : `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}`)).slice(0, 2000);
    io.err(`ssf: error[${err.code}]: ${line}`);
    if (io.env.SSF_DEBUG && err.cause) io.err(String((err.cause as Error).stack ?? err.cause));
    if (!isSsfError(e) && !io.env.SSF_DEBUG) io.err('  (unexpected failure; rerun with SSF_DEBUG=1 for details)');
    return err.code === 'USAGE' ? 2 : 1;
  }
}

export { ERROR_CODES };
