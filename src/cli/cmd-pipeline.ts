import { existsSync, readFileSync, statSync } from 'node:fs';
import { relative, resolve } from 'node:path';
import { SsfError } from '../core/index.js';
import { Factory, resolveDataDir } from '../factory/index.js';
import { MAX_PIPELINE_BYTES, lintPipeline, loadPipeline } from '../pipeline/index.js';
import { pinTools, signPipeline } from '../platform/index.js';
import { str, type Command } from './command.js';

function pipelineArg(p: string | undefined): string {
  const file = resolve(p ?? 'ssf-pipeline.yaml');
  if (!existsSync(file)) throw new SsfError('FILE_NOT_FOUND', `pipeline ${file} does not exist`);
  return file;
}

export const lintCommand: Command = {
  name: 'lint',
  summary: 'check pipeline definitions: schema, pinned tools, credentials, workspace conflicts',
  usage: `Usage: ssf lint [PIPELINE.yaml]... [--json]

Checks each definition (default: ./ssf-pipeline.yaml) and prints one line per
finding as FILE:LINE:COLUMN: SEVERITY RULE: MESSAGE. Rules (docs/pipeline.md):
schema and YAML errors, hard-coded credentials, unpinned tools or images, a
workspace written by two tasks that may run at once, unused workspaces.

Options:
  --json      findings as a JSON array
  -h, --help  show this help

Exit status: 0 when no errors (warnings allowed), 1 when any error was found.`,
  options: { json: { type: 'boolean' } },
  positionals: { min: 0, max: 64 },
  async run(a, io) {
    const files = a.positionals.length > 0 ? a.positionals : ['ssf-pipeline.yaml'];
    const all = files.flatMap((p) => {
      const file = pipelineArg(p);
      if (statSync(file).size > MAX_PIPELINE_BYTES) throw new SsfError('INPUT_TOO_LARGE', `pipeline ${file} is larger than ${MAX_PIPELINE_BYTES} bytes`);
      return lintPipeline(readFileSync(file), relative(process.cwd(), file) || file);
    });
    if (a.values.json) io.out(JSON.stringify(all));
    else for (const x of all) io.out(`${x.file}:${x.line}:${x.column}: ${x.severity} ${x.rule}: ${x.message}`);
    const errors = all.filter((x) => x.severity === 'error').length;
    if (!a.values.json) io.out(errors + all.length === 0 ? `${files.length} pipeline${files.length === 1 ? '' : 's'}: no problems` : `${errors} error(s), ${all.length - errors} warning(s)`);
    if (errors > 0) throw new SsfError('PIPELINE_LINT', `${errors} lint error(s) in ${files.join(', ')}`);
    return 0;
  },
};

export const pipelineSignCommand: Command = {
  name: 'pipeline sign',
  summary: 'sign a pipeline definition (exact bytes) with the factory\'s pipeline-signer identity',
  usage: `Usage: ssf pipeline sign [PIPELINE.yaml] [--dir D]

Validates the definition, then signs an in-toto statement about its exact
bytes (sha256) with a short-lived spiffe://<trust domain>/operator/pipeline-signer
identity, logs and stores it, and writes the bundle beside the file as
PIPELINE.yaml.sigstore.json. \`ssf run\` records the signature;
\`ssf run --require-signed\` refuses definitions without one.

Options:
  --dir D     factory data directory
  -h, --help  show this help`,
  options: { dir: { type: 'string' } },
  positionals: { min: 0, max: 1 },
  async run(a, io) {
    const loaded = loadPipeline(pipelineArg(a.positionals[0]));
    const f = Factory.open(resolveDataDir(str(a, 'dir'), io.env));
    try {
      const r = await signPipeline(f, loaded);
      io.out(`signed ${loaded.file} (${loaded.digest}) as ${r.identity}, log #${r.logIndex}`);
      io.out(`  bundle: ${r.bundlePath}`);
      return 0;
    } finally {
      f.close();
    }
  },
};

export const pipelinePinCommand: Command = {
  name: 'pipeline pin',
  summary: 'pin every tool of a pipeline to the digest of the binary on this host',
  usage: `Usage: ssf pipeline pin [PIPELINE.yaml]

Computes the digest of each declared tool at its path (a file's SHA-256, or a
directory's tree digest, docs/hashtree.md) and writes it into the definition,
keeping comments and layout. Review the change before committing it: a pin
records which binary you trust; it does not make a binary trustworthy.

Options:
  -h, --help  show this help`,
  options: {},
  positionals: { min: 0, max: 1 },
  async run(a, io) {
    const file = pipelineArg(a.positionals[0]);
    const changes = await pinTools(file);
    for (const c of changes) io.out(`${c.before === c.after ? '  unchanged' : '  pinned   '} ${c.tool.padEnd(10)} ${c.path}  ${c.after}`);
    io.out(`${changes.filter((c) => c.before !== c.after).length} of ${changes.length} tool pins changed in ${file}`);
    return 0;
  },
};
