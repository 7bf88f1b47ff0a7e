import { existsSync, readFileSync, statSync } from 'node:fs';
import { isMap, isScalar, isSeq, parseDocument } from 'yaml';
import { SsfError, sha256File, writeFileAtomic } from '../core/index.js';
import { hashTree } from '../observer/index.js';
import { loadPipeline, parsePipeline, type ToolSpec } from '../pipeline/index.js';

/**
 * The digest a pin records for a tool: a file's SHA-256, or a directory's tree digest. Tools
 * must live under /usr, the only host directory a sandbox sees.
 */
export async function toolDigest(t: ToolSpec): Promise<string> {
  if (!/^\/usr\/[^\0]+$/.test(t.path) || t.path.split('/').includes('..')) {
    throw new SsfError('PIPELINE_INVALID', `tool ${t.name}: ${t.path} is not under /usr, the only host directory a sandbox sees; install the tool there`);
  }
  if (!existsSync(t.path)) throw new SsfError('TOOL_DIGEST_MISMATCH', `tool ${t.name}: ${t.path} does not exist on this host`);
  return statSync(t.path).isDirectory() ? (await hashTree(t.path)).digest : `sha256:${sha256File(t.path)}`;
}

/** One tool whose pin was checked. */
export interface PinChange {
  readonly tool: string;
  readonly path: string;
  readonly before: string;
  readonly after: string;
}

/**
 * Pins every tool of a pipeline to the digest of the file (or directory tree) at its path on
 * this host, editing the YAML in place (comments and layout kept). The user reviews the diff:
 * pinning says "this binary is the one I trust", it does not make a binary trustworthy.
 */
export async function pinTools(file: string): Promise<PinChange[]> {
  const loaded = loadPipeline(file); // refuses invalid definitions before anything is written
  let text = readFileSync(file, 'utf8');
  const doc = parseDocument(text);
  const tools = doc.get('tools', true);
  if (!isSeq(tools)) return [];
  const changes: PinChange[] = [];
  // Edits are made on the text at the scalars' source ranges, last first, so everything else
  // (comments, flow style, spacing) stays byte for byte.
  const edits: { at: number; end: number; text: string }[] = [];
  for (const item of tools.items) {
    if (!isMap(item)) continue;
    const name = String(item.get('name'));
    const spec = loaded.def.tools.find((t) => t.name === name);
    if (!spec) continue;
    const digest = await toolDigest(spec);
    const before = String(item.get('digest') ?? '');
    changes.push({ tool: name, path: spec.path, before, after: digest });
    if (before === digest) continue;
    const node = item.get('digest', true);
    if (isScalar(node) && node.range) {
      edits.push({ at: node.range[0], end: node.range[1], text: `"${digest}"` });
    } else {
      const pathNode = item.get('path', true);
      if (!isScalar(pathNode) || !pathNode.range) throw new SsfError('PIPELINE_INVALID', `tool ${name}: cannot place a digest next to its path; add \`digest:\` by hand`);
      if (item.flow) edits.push({ at: pathNode.range[1], end: pathNode.range[1], text: `, digest: "${digest}"` });
      else {
        const lineStart = text.lastIndexOf('\n', pathNode.range[0]) + 1;
        const indent = (/^[ -]*/.exec(text.slice(lineStart))?.[0] ?? '').replace(/-/g, ' ');
        const lineEnd = text.indexOf('\n', pathNode.range[1]);
        const at = lineEnd === -1 ? text.length : lineEnd;
        edits.push({ at, end: at, text: `\n${indent}digest: "${digest}"` });
      }
    }
  }
  for (const e of edits.sort((a, b) => b.at - a.at)) text = text.slice(0, e.at) + e.text + text.slice(e.end);
  if (edits.length > 0) {
    parsePipeline(text, file); // the edited text must still be a valid definition before it replaces the file
    writeFileAtomic(file, text);
  }
  return changes;
}
