import { basename } from 'node:path';
import { ancestors, ordered } from './graph.js';
import { analyse } from './parse.js';
import { credentialProblems } from './secrets.js';
import { substitutable, walkStrings } from './semantic.js';
import type { JsonPath, Locator, Problem } from './source.js';
import { DIGEST_PATTERN, PARAM_REF, type LintFinding, type PipelineDefinition, type TaskDef } from './types.js';

/**
 * `ssf lint`: every parse problem as an error finding, plus the rules below. Rule ids are
 * stable; docs/pipeline.md describes each one. The rules read the typed definition, so they
 * run only when the schema accepted it (the credential rule reads the YAML and always runs).
 */

/** The lint rules beyond parse problems, with their severity. */
export const LINT_RULES = {
  'hardcoded-credential': 'error',
  'unpinned-tool': 'error',
  'workspace-write-conflict': 'error',
  'workspace-read-race': 'error',
  'empty-workspace-read': 'warning',
  'unused-workspace': 'warning',
  'unused-tool': 'warning',
  'unused-param': 'warning',
  'missing-source': 'warning',
  'task-not-before-publish': 'warning',
  'image-user-root': 'warning',
  'unrestricted-param-in-script': 'warning',
} as const satisfies Record<string, 'error' | 'warning'>;

export type LintRule = keyof typeof LINT_RULES;

const DIGEST = new RegExp(DIGEST_PATTERN);
const ZERO_DIGEST = `sha256:${'0'.repeat(64)}`;
/** Interpreters, and the option that makes the next argument program text (sh -c, node -e, …). */
const SHELL_CODE = /^-[A-Za-z]*c[A-Za-z]*$/;
const CODE_FLAGS: Record<string, RegExp> = {
  sh: SHELL_CODE, bash: SHELL_CODE, dash: SHELL_CODE, zsh: SHELL_CODE, ksh: SHELL_CODE, ash: SHELL_CODE, busybox: SHELL_CODE,
  node: /^(?:-e|--eval|-p|--print)$/,
  python: /^-c$/,
  perl: /^-[A-Za-z]*[eE]$/,
  ruby: /^-e$/,
  pwsh: /^-(?:c|Command)$/i,
};

/** The index of the argument that is inline program text for this interpreter, or -1. */
function codeArgument(toolPath: string, args: readonly string[]): number {
  const name = basename(toolPath).replace(/[0-9.]+$/, '');
  const flag = CODE_FLAGS[name];
  if (!flag) return -1;
  // Only options before the first operand belong to the interpreter (node script.js -p …
  // passes -p to the script).
  for (let j = 0; j < args.length; j++) {
    const a = args[j] as string;
    if (!a.startsWith('-')) return -1;
    if (flag.test(a)) return j + 1 < args.length ? j + 1 : -1;
  }
  return -1;
}

/** Lints a definition: never throws for bad content. */
export function lintPipeline(bytes: Buffer | string, file: string): LintFinding[] {
  const a = analyse(bytes, file);
  const problems: Problem[] = [...a.problems];
  if (a.src && a.loc && a.src.problems.length === 0) problems.push(...credentialProblems(a.src, a.loc));
  if (a.def && a.loc) problems.push(...ruleProblems(a.def, a.loc));
  problems.sort((x, y) => x.line - y.line || x.column - y.column || x.rule.localeCompare(y.rule));
  return problems.map((p) => ({ file, line: p.line, column: p.column, severity: p.severity, rule: p.rule, message: p.message }));
}

function ruleProblems(def: PipelineDefinition, loc: Locator): Problem[] {
  const out: Problem[] = [];
  const add = (rule: LintRule, path: JsonPath, message: string, key = false): void => {
    out.push({ ...loc.pos(path, { key }), rule, severity: LINT_RULES[rule], message });
  };
  const anc = ancestors(def.tasks);
  const taskIndex = new Map(def.tasks.map((t, i) => [t.name, i]));
  const mountIndex = (t: TaskDef, ws: string): number => t.workspaces.findIndex((w) => w.name === ws);

  // unpinned-tool: every tool and base image pinned by an exact digest.
  def.tools.forEach((t, i) => {
    if (t.digest === undefined) add('unpinned-tool', ['tools', i], `tool ${t.name} has no digest; run \`ssf pipeline pin\` and review the result`);
    else if (t.digest === ZERO_DIGEST) add('unpinned-tool', ['tools', i, 'digest'], `tool ${t.name} has a placeholder digest (all zeros); run \`ssf pipeline pin\``);
    else if (!DIGEST.test(t.digest)) add('unpinned-tool', ['tools', i, 'digest'], `tool ${t.name}: digest ${JSON.stringify(t.digest.slice(0, 80))} is not sha256:<64 lower-case hex digits>`);
  });
  def.tasks.forEach((t, i) => {
    const base = t.image?.base;
    if (base !== undefined && base !== 'scratch' && !DIGEST.test(base)) {
      add('unpinned-tool', ['tasks', i, 'image', 'base'], `task ${t.name}: base image ${JSON.stringify(base.slice(0, 80))} is not pinned; use scratch or the manifest digest sha256:<64 hex>`);
    }
  });

  // Workspaces: who writes, who reads, in which order.
  for (const ws of def.workspaces) {
    const users = def.tasks.filter((t) => t.workspaces.some((w) => w.name === ws.name));
    const writers = users.filter((t) => t.workspaces.some((w) => w.name === ws.name && w.mode === 'rw'));
    const readers = users.filter((t) => !writers.includes(t));
    writers.forEach((b, j) => {
      for (const a of writers.slice(0, j)) {
        if (ordered(anc, a.name, b.name)) continue;
        add('workspace-write-conflict', ['tasks', taskIndex.get(b.name) as number, 'workspaces', mountIndex(b, ws.name)],
          `tasks ${a.name} and ${b.name} both mount workspace ${ws.name} rw and neither needs the other, so they may run at once; make one need the other`);
      }
    });
    for (const r of readers) {
      const racing = writers.filter((w) => !ordered(anc, w.name, r.name));
      const path: JsonPath = ['tasks', taskIndex.get(r.name) as number, 'workspaces', mountIndex(r, ws.name)];
      if (racing.length > 0) {
        add('workspace-read-race', path, `task ${r.name} reads workspace ${ws.name}, which ${racing.map((w) => w.name).join(' and ')} write${racing.length === 1 ? 's' : ''} without an order between them; add ${racing.map((w) => w.name).join(', ')} to the needs of ${r.name}`);
      } else if (!writers.some((w) => anc.get(r.name)?.has(w.name))) {
        add('empty-workspace-read', path, `task ${r.name} mounts workspace ${ws.name} read-only, but no task it needs writes it: it will be empty`);
      }
    }
  }
  def.workspaces.forEach((ws, i) => {
    if (!def.tasks.some((t) => t.workspaces.some((w) => w.name === ws.name))) {
      add('unused-workspace', ['workspaces', i, 'name'], `workspace ${ws.name} is declared but no task mounts it`);
    }
  });

  // unused-tool / unused-param.
  const usedTools = new Set<string>();
  for (const t of def.tasks) {
    if (t.run) usedTools.add(t.run.tool);
    if (t.dependencies) {
      usedTools.add(t.dependencies.tool);
      if (t.dependencies.manager === 'npm') usedTools.add('node');
    }
  }
  def.tools.forEach((tool, i) => {
    if (!usedTools.has(tool.name)) add('unused-tool', ['tools', i, 'name'], `tool ${tool.name} is declared (and trusted) but no task uses it; remove it`);
  });
  const usedParams = new Set<string>();
  walkStrings(def, [], (s, path) => {
    if (substitutable(path)) for (const m of s.matchAll(PARAM_REF)) usedParams.add(m[1] ?? '');
  });
  def.params.forEach((p, i) => {
    if (!usedParams.has(p.name)) add('unused-param', ['params', i, 'name'], `param ${p.name} is declared but never referenced as $(params.${p.name})`);
  });

  // missing-source.
  if (!def.tasks.some((t) => t.kind === 'source')) {
    add('missing-source', ['tasks'], 'no task of kind source: the provenance will name no source for what this pipeline builds', true);
  }

  // task-not-before-publish: publishing must wait for (and depend on the success of) every other task.
  const publishers = def.tasks.filter((t) => t.kind === 'publish');
  if (publishers.length > 0) {
    def.tasks.forEach((t, i) => {
      if (t.kind === 'publish') return;
      if (!publishers.some((p) => anc.get(p.name)?.has(t.name))) {
        add('task-not-before-publish', ['tasks', i, 'name'], `task ${t.name} is not needed (directly or transitively) by any publish task, so artifacts may be published before it runs or when it fails`);
      }
    });
  }

  // image-user-root.
  def.tasks.forEach((t, i) => {
    const user = t.image?.user;
    if (user !== undefined && /^(?:0|root)(?::|$)/.test(user)) {
      add('image-user-root', ['tasks', i, 'image', 'user'], `task ${t.name}: the image runs as root; use an unprivileged user such as "65534"`);
    }
  });

  // unrestricted-param-in-script: a free-form string spliced into program text is an injection.
  const params = new Map(def.params.map((p) => [p.name, p]));
  const toolPaths = new Map(def.tools.map((t) => [t.name, t.path]));
  def.tasks.forEach((t, i) => {
    const run = t.run;
    if (!run) return;
    // The tool's name counts as well as its path's: a tool named sh may point at /usr/bin/dash.
    let j = codeArgument(toolPaths.get(run.tool) ?? run.tool, run.args);
    if (j < 0) j = codeArgument(run.tool, run.args);
    if (j < 0) return;
    for (const m of (run.args[j] as string).matchAll(PARAM_REF)) {
      const p = params.get(m[1] ?? '');
      if (!p || p.type !== 'string' || p.enum || p.pattern !== undefined) continue;
      add('unrestricted-param-in-script', ['tasks', i, 'run', 'args', j],
        `task ${t.name}: param ${p.name} is spliced into program text run by ${run.tool}; give it an enum or a pattern, or pass it through run.env instead`);
    }
  });
  return out;
}
