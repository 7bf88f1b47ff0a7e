import { Document, LineCounter, Scalar, isAlias, isMap, isPair, isScalar, isSeq, parseDocument, visit, type Node } from 'yaml';

/**
 * The YAML layer: bytes to a Document with positions, and JSON paths back to 1-based
 * line:column, so that every problem names the place in the file a user must edit.
 */

export type JsonPath = readonly (string | number)[];

/** A problem found in a definition, already placed in the file. */
export interface Problem {
  line: number;
  column: number;
  rule: string;
  message: string;
  severity: 'error' | 'warning';
}

// Aliases expand on conversion; a handful is plenty for sharing an env map, and a small
// limit stops "billion laughs" documents before they allocate anything large.
export const MAX_ALIAS_COUNT = 16;

export interface ParsedSource {
  text: string;
  doc: Document.Parsed;
  lines: LineCounter;
  /** YAML-level problems: syntax, duplicate keys, unknown tags, non-string keys, top level. */
  problems: Problem[];
}

/** Decodes UTF-8 strictly; the position of the first bad byte otherwise. */
export function decodeUtf8(bytes: Buffer): { text: string } | { badOffset: number } {
  const text = bytes.toString('utf8');
  if (Buffer.from(text, 'utf8').equals(bytes)) return { text };
  // The replacement character marks the first undecodable sequence (or a literal U+FFFD,
  // which is close enough for a position).
  const at = text.indexOf('\uFFFD');
  return { badOffset: at < 0 ? 0 : at };
}

/** Line and column (1-based) of a character offset in text, without a LineCounter. */
export function offsetPos(text: string, offset: number): { line: number; column: number } {
  let line = 1;
  let start = 0;
  for (let i = 0; i < offset && i < text.length; i++) {
    if (text.charCodeAt(i) === 10) {
      line++;
      start = i + 1;
    }
  }
  return { line, column: offset - start + 1 };
}

/** Parses one YAML 1.2 document (core schema) and collects its YAML-level problems. */
export function parseSource(text: string): ParsedSource {
  const lines = new LineCounter();
  const doc = parseDocument(text, {
    lineCounter: lines,
    version: '1.2',
    schema: 'core',
    uniqueKeys: true,
    merge: false,
    prettyErrors: false,
    strict: true,
    keepSourceTokens: false,
  });
  const problems: Problem[] = [];
  const at = (offset: number): { line: number; column: number } => {
    const p = lines.linePos(Math.max(0, offset));
    return p.line === 0 ? { line: 1, column: Math.max(1, p.col + 1) } : { line: p.line, column: p.col };
  };
  // Warnings (unresolved tags, for instance) are treated as errors: fail closed.
  for (const e of [...doc.errors, ...doc.warnings]) {
    const message = e.code === 'MULTIPLE_DOCS' ? 'a pipeline file holds exactly one YAML document; remove the second one (from this ---)' : firstLine(e.message);
    problems.push({ ...at(e.pos[0]), rule: 'yaml', severity: 'error', message: `YAML: ${message}` });
  }
  if (doc.errors.length === 0) {
    if (!isMap(doc.contents)) {
      const off = doc.contents?.range?.[0] ?? 0;
      problems.push({ ...at(off), rule: 'yaml', severity: 'error', message: 'the pipeline must be a YAML mapping (apiVersion, kind, metadata, tasks, …)' });
    }
    // Keys become object property names: only plain strings, so that no key is silently
    // stringified (numbers, booleans, null, collections).
    visit(doc, {
      Pair(_, pair) {
        const k = pair.key;
        if (isScalar(k) && typeof k.value === 'string') return;
        const off = isScalar(k) || isMap(k) || isSeq(k) ? (k.range?.[0] ?? 0) : 0;
        const shown = isScalar(k) ? JSON.stringify(k.value) : 'a collection';
        problems.push({ ...at(off), rule: 'yaml', severity: 'error', message: `YAML: mapping keys must be strings, found ${shown}; quote the key` });
      },
    });
  }
  return { text, doc, lines, problems };
}

function firstLine(s: string): string {
  return (s.split('\n')[0] ?? s).trim();
}

/** Maps JSON paths of the converted document back to positions in the YAML text. */
export class Locator {
  constructor(
    private readonly src: ParsedSource,
  ) {}

  /** 1-based position of `path`; `key` prefers the mapping key over its value. */
  pos(path: JsonPath, opts: { key?: boolean } = {}): { line: number; column: number } {
    const { node, keyNode } = this.find(path);
    const useKey = keyNode && (opts.key || !node || isEmptyScalar(node));
    const target = useKey ? keyNode : node;
    return this.offsetToPos(target?.range?.[0] ?? 0);
  }

  /** The node at path (following aliases), with its key when it is a mapping value. */
  find(path: JsonPath): { node: Node | undefined; keyNode: Node | undefined; complete: boolean } {
    let node: Node | undefined = (this.src.doc.contents ?? undefined) as Node | undefined;
    let keyNode: Node | undefined;
    let last: { node: Node | undefined; keyNode: Node | undefined } = { node, keyNode };
    for (const seg of path) {
      node = this.deref(node);
      let next: Node | undefined;
      let nextKey: Node | undefined;
      if (isMap(node)) {
        const pair = node.items.find((p) => isPair(p) && isScalar(p.key) && String(p.key.value) === String(seg));
        if (pair) {
          nextKey = pair.key as Node;
          next = (pair.value ?? undefined) as Node | undefined;
        }
      } else if (isSeq(node)) {
        const i = typeof seg === 'number' ? seg : /^\d+$/.test(seg) ? Number(seg) : -1;
        next = i >= 0 ? ((node.items[i] ?? undefined) as Node | undefined) : undefined;
      }
      if (!next && !nextKey) return { ...last, complete: false };
      node = next;
      keyNode = nextKey;
      last = { node: next ?? nextKey, keyNode: nextKey };
    }
    return { node: last.node, keyNode: last.keyNode, complete: true };
  }

  offsetToPos(offset: number): { line: number; column: number } {
    const p = this.src.lines.linePos(Math.max(0, offset));
    return p.line === 0 ? { line: 1, column: Math.max(1, p.col + 1) } : { line: p.line, column: p.col };
  }

  /** The source line (1-based), without its newline. */
  sourceLine(line: number): string {
    const starts = this.src.lines.lineStarts;
    const from = starts[line - 1] ?? 0;
    const to = starts[line] ?? this.src.text.length + 1;
    return this.src.text.slice(from, to - 1);
  }

  private deref(node: Node | undefined): Node | undefined {
    // One level is enough: an alias never points at another alias.
    if (node && isAlias(node)) return (node.resolve(this.src.doc) ?? undefined) as Node | undefined;
    return node;
  }
}

function isEmptyScalar(n: Node): boolean {
  return isScalar(n) && (n as Scalar).value === null && (n.range?.[0] ?? 0) === (n.range?.[1] ?? 0);
}
