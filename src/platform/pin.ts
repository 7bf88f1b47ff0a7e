import { readFileSync, statSync } from 'node:fs';
import { isMap, isSeq, parseDocument } from 'yaml';
import { SsfError, sha256File, writeFileAtomic } from '../core/index.js';
import { hashTree } from '../observer/index.js';
import { loadPipeline } from '../pipeline/index.js';

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
  const doc = parseDocument(readFileSync(file, 'utf8'), { keepSourceTokens: false });
  const tools = doc.get('tools', true);
  if (!isSeq(tools)) return [];
  const changes: PinChange[] = [];
  for (const item of tools.items) {
    if (!isMap(item)) continue;
    const name = String(item.get('name'));
    const path = String(item.get('path'));
    const spec = loaded.def.tools.find((t) => t.name === name);
    if (!spec) continue;
    let digest: string;
    try {
      digest = statSync(path).isDirectory() ? (await hashTree(path)).digest : `sha256:${sha256File(path)}`;
    } catch {
      throw new SsfError('FILE_NOT_FOUND', `tool ${name}: ${path} does not exist on this host`);
    }
    const before = String(item.get('digest') ?? '');
    if (before !== digest) item.set('digest', digest);
    changes.push({ tool: name, path, before, after: digest });
  }
  writeFileAtomic(file, doc.toString());
  return changes;
}
