import { closeSync, fstatSync, openSync, readSync } from 'node:fs';
import { resolve } from 'node:path';
import { isAlias, visit } from 'yaml';
import { SsfError, sha256Hex, toSsfError } from '../core/index.js';
import { schemaProblems } from './messages.js';
import { schemaErrors } from './schema.js';
import { semanticProblems } from './semantic.js';
import { Locator, MAX_ALIAS_COUNT, decodeUtf8, offsetPos, parseSource, type ParsedSource, type Problem } from './source.js';
import { MAX_PIPELINE_BYTES, type LoadedPipeline, type PipelineDefinition } from './types.js';

/** Everything known about one definition: its bytes, YAML, typed form and problems. */
export interface Analysis {
  file: string;
  bytes: Buffer;
  digest: string;
  src?: ParsedSource;
  loc?: Locator;
  /** Present when the schema accepted the document (semantic problems may remain). */
  def?: PipelineDefinition;
  /** Errors that make the definition invalid, sorted by position. */
  problems: Problem[];
}

function sortProblems(ps: Problem[]): Problem[] {
  return ps.sort((a, b) => a.line - b.line || a.column - b.column);
}

/** Parses and checks a definition without throwing for bad content. */
export function analyse(input: Buffer | string, file: string): Analysis {
  const bytes = typeof input === 'string' ? Buffer.from(input, 'utf8') : input;
  const a: Analysis = { file, bytes, digest: `sha256:${sha256Hex(bytes)}`, problems: [] };
  if (bytes.length > MAX_PIPELINE_BYTES) {
    a.problems.push({ line: 1, column: 1, rule: 'input-too-large', severity: 'error', message: `the definition is ${bytes.length} bytes; the limit is ${MAX_PIPELINE_BYTES}` });
    return a;
  }
  const decoded = decodeUtf8(bytes);
  if ('badOffset' in decoded) {
    const text = bytes.toString('utf8');
    a.problems.push({ ...offsetPos(text, decoded.badOffset), rule: 'encoding', severity: 'error', message: 'the definition is not valid UTF-8' });
    return a;
  }
  const src = parseSource(decoded.text);
  a.src = src;
  a.loc = new Locator(src);
  if (src.problems.length > 0) {
    a.problems = sortProblems(src.problems);
    return a;
  }
  let value: unknown;
  try {
    value = src.doc.toJS({ maxAliasCount: MAX_ALIAS_COUNT });
  } catch (e) {
    let offset = 0;
    visit(src.doc, {
      Alias(_, node) {
        if (isAlias(node)) offset = node.range?.[0] ?? 0;
        return visit.BREAK;
      },
    });
    a.problems.push({ ...a.loc.offsetToPos(offset), rule: 'yaml', severity: 'error', message: `YAML: ${(e as Error).message.split('\n')[0] ?? 'cannot convert the document'} (at most ${MAX_ALIAS_COUNT} alias expansions)` });
    return a;
  }
  const errors = schemaErrors(value);
  if (errors.length > 0) {
    a.problems = sortProblems(schemaProblems(errors, value, a.loc));
    return a;
  }
  a.def = normalise(value);
  a.problems = sortProblems(semanticProblems(a.def, a.loc));
  return a;
}

/** Fills in the lists the file may omit; the input already passed the schema. */
function normalise(value: unknown): PipelineDefinition {
  // structuredClone: aliases would otherwise share one object between two places.
  const def = structuredClone(value) as PipelineDefinition;
  def.params ??= [];
  def.workspaces ??= [];
  def.tools ??= [];
  for (const t of def.tasks) {
    t.needs ??= [];
    t.workspaces ??= [];
    if (t.run) t.run.args ??= [];
  }
  return def;
}

/** One-line summary of the problems, for the thrown error. */
function failure(a: Analysis): SsfError {
  const [first] = a.problems;
  if (!first) return new SsfError('INTERNAL', `${a.file}: invalid definition without a problem`);
  const more = a.problems.length - 1;
  const code = first.rule === 'input-too-large' ? 'INPUT_TOO_LARGE' : 'PIPELINE_INVALID';
  return new SsfError(code, `${a.file}:${first.line}:${first.column}: ${first.message}${more > 0 ? ` (and ${more} more problem${more === 1 ? '' : 's'}; run \`ssf lint ${a.file}\`)` : ''}`);
}

/** Parses a definition; PIPELINE_INVALID "file:line:col: message" on any YAML, schema or semantic error. */
export function parsePipeline(bytes: Buffer | string, file: string): LoadedPipeline {
  const a = analyse(bytes, file);
  if (a.problems.length > 0 || !a.def) throw failure(a);
  return { def: a.def, digest: a.digest, bytes: a.bytes, file };
}

/** Reads and parses the definition at path (recorded as an absolute path). */
export function loadPipeline(path: string): LoadedPipeline {
  const file = resolve(path);
  return parsePipeline(readLimited(file), file);
}

/** Reads a file, refusing before reading it whole when it is over the limit. */
function readLimited(file: string): Buffer {
  let fd: number;
  try {
    fd = openSync(file, 'r');
  } catch (e) {
    const err = toSsfError(e);
    throw new SsfError(err.code, `cannot read pipeline ${file}: ${err.message}`, { cause: e });
  }
  try {
    const st = fstatSync(fd);
    if (st.isDirectory()) throw new SsfError('USAGE', `pipeline ${file} is a directory, not a file`);
    if (st.size > MAX_PIPELINE_BYTES) throw new SsfError('INPUT_TOO_LARGE', `pipeline ${file} is ${st.size} bytes; the limit is ${MAX_PIPELINE_BYTES}`);
    // Read one byte past the limit: a file that grew after fstat is still caught.
    const buf = Buffer.alloc(MAX_PIPELINE_BYTES + 1);
    let n = 0;
    for (;;) {
      const r = readSync(fd, buf, n, buf.length - n, null);
      if (r === 0) break;
      n += r;
      if (n === buf.length) break;
    }
    if (n > MAX_PIPELINE_BYTES) throw new SsfError('INPUT_TOO_LARGE', `pipeline ${file} is larger than ${MAX_PIPELINE_BYTES} bytes`);
    return Buffer.from(buf.subarray(0, n));
  } catch (e) {
    throw toSsfError(e, 'IO_FAILED');
  } finally {
    closeSync(fd);
  }
}
