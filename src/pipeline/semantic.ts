import { ancestors, findCycle } from './graph.js';
import { compilePattern, paramValueProblem } from './params.js';
import type { JsonPath, Locator, Problem } from './source.js';
import { PARAM_REF, type PipelineDefinition, type TaskDef } from './types.js';

/** Rule ids of problems that make a definition invalid (parse errors; lint reports them as errors). */
export const PARSE_RULES = [
  'input-too-large',
  'encoding',
  'yaml',
  'schema',
  'duplicate-name',
  'duplicate-mount',
  'unknown-need',
  'dependency-cycle',
  'undeclared-workspace',
  'undeclared-tool',
  'undeclared-param',
  'param-reference-outside-run',
  'workspace-not-mounted',
  'task-workspaces',
  'missing-runtime',
  'unknown-image-task',
  'invalid-param',
] as const;

export type ParseRule = (typeof PARSE_RULES)[number];

/**
 * Cross-reference checks on a definition the schema accepted. Each problem is an error that
 * makes parsePipeline refuse the definition; rule ids are documented in docs/pipeline.md.
 */
export function semanticProblems(def: PipelineDefinition, loc: Locator): Problem[] {
  const out: Problem[] = [];
  const add = (rule: ParseRule, path: JsonPath, message: string, key = false): void => {
    out.push({ ...loc.pos(path, { key }), rule, severity: 'error', message });
  };
  const lineOf = (path: JsonPath): number => loc.pos(path).line;

  // Names are unique within their list.
  const unique = (list: readonly { name: string }[], coll: string, what: string): void => {
    const first = new Map<string, number>();
    list.forEach((item, i) => {
      const prev = first.get(item.name);
      if (prev === undefined) first.set(item.name, i);
      else add('duplicate-name', [coll, i, 'name'], `duplicate ${what} name ${item.name} (first declared on line ${lineOf([coll, prev, 'name'])})`);
    });
  };
  unique(def.params, 'params', 'param');
  unique(def.workspaces, 'workspaces', 'workspace');
  unique(def.tools, 'tools', 'tool');
  unique(def.tasks, 'tasks', 'task');

  const params = new Map(def.params.map((p) => [p.name, p]));
  const workspaces = new Set(def.workspaces.map((w) => w.name));
  const tools = new Set(def.tools.map((t) => t.name));
  const tasks = new Map(def.tasks.map((t) => [t.name, t]));
  const anc = ancestors(def.tasks);

  def.params.forEach((p, i) => {
    if (p.pattern !== undefined) {
      try {
        compilePattern(p.pattern);
      } catch (e) {
        add('invalid-param', ['params', i, 'pattern'], `param ${p.name}: pattern is not a valid regular expression (${(e as Error).message})`);
        return; // the default cannot be checked against it
      }
    }
    if (p.default !== undefined) {
      const why = paramValueProblem(p, p.default);
      if (why) add('invalid-param', ['params', i, 'default'], `param ${p.name}: the default ${JSON.stringify(p.default)} ${why}`);
    }
  });

  def.tasks.forEach((task, ti) => {
    const at = (...rest: (string | number)[]): JsonPath => ['tasks', ti, ...rest];
    const mounted = new Map<string, number>();
    task.needs.forEach((n, j) => {
      if (n === task.name) add('dependency-cycle', at('needs', j), `task ${task.name} needs itself`);
      else if (!tasks.has(n)) add('unknown-need', at('needs', j), `task ${task.name} needs ${n}, which is not a task of this pipeline (tasks: ${[...tasks.keys()].join(', ')})`);
    });
    task.workspaces.forEach((w, j) => {
      if (!workspaces.has(w.name)) {
        add('undeclared-workspace', at('workspaces', j, 'name'), `task ${task.name} mounts workspace ${w.name}, which the pipeline does not declare under workspaces`);
      }
      const prev = mounted.get(w.name);
      if (prev !== undefined) add('duplicate-mount', at('workspaces', j, 'name'), `task ${task.name} mounts workspace ${w.name} twice`);
      else mounted.set(w.name, j);
    });
    const rw = task.workspaces.filter((w) => w.mode === 'rw');
    const needsMount = (path: JsonPath, ws: string, field: string): void => {
      if (!mounted.has(ws)) {
        add('workspace-not-mounted', path, `task ${task.name}: ${field} ${ws} is not a workspace this task mounts; add { name: ${ws}, mode: ro } to its workspaces`);
      }
    };
    const needsTool = (path: JsonPath, tool: string): void => {
      if (!tools.has(tool)) add('undeclared-tool', path, `task ${task.name} uses tool ${tool}, which the pipeline does not declare under tools`);
    };

    switch (task.kind) {
      case 'source':
      case 'dependencies':
        // The checkout (or the installed dependencies) land in exactly one writable workspace.
        if (rw.length !== 1) {
          add('task-workspaces', at(task.workspaces.length > 0 ? 'workspaces' : 'name'),
            `a ${task.kind} task writes into exactly one workspace mounted rw; task ${task.name} mounts ${rw.length}`);
        }
        if (task.dependencies) {
          needsTool(at('dependencies', 'tool'), task.dependencies.tool);
          // npm is a JavaScript program: it runs on the declared node tool.
          if (task.dependencies.manager === 'npm' && !tools.has('node')) {
            add('missing-runtime', at('dependencies', 'manager'), `task ${task.name}: the npm manager runs on a tool named node, which the pipeline does not declare`);
          }
        }
        break;
      case 'run': {
        const run = task.run;
        if (!run) break;
        needsTool(at('run', 'tool'), run.tool);
        if (run.cwd !== undefined && ![...run.cwd.matchAll(PARAM_REF)].length) needsMount(at('run', 'cwd'), run.cwd, 'run.cwd');
        break;
      }
      case 'image':
        if (task.image) needsMount(at('image', 'from'), task.image.from, 'image.from');
        break;
      case 'sbom':
      case 'scan':
      case 'licenses':
      case 'secrets': {
        const ev = task[task.kind];
        if (!ev) break;
        needsMount(at(task.kind, 'from'), ev.from, `${task.kind}.from`);
        ev.subjects.forEach((sub, j) => {
          if ('image' in sub) {
            const img = tasks.get(sub.image);
            if (!img || img.kind !== 'image') {
              add('unknown-image-task', at(task.kind, 'subjects', j, 'image'), `task ${task.name}: subject image ${sub.image} is not an image task of this pipeline`);
            } else if (!(anc.get(task.name)?.has(sub.image) ?? false)) {
              add('unknown-image-task', at(task.kind, 'subjects', j, 'image'), `task ${task.name} attests the image of task ${sub.image} but does not need it; add ${sub.image} to its needs`);
            }
          } else {
            needsMount(at(task.kind, 'subjects', j, 'from'), sub.from, 'subject from');
          }
        });
        // Evidence tasks only read: ssf's own code runs them, and nothing they read may change.
        if (rw.length > 0) {
          add('task-workspaces', at('workspaces'), `a ${task.kind} task only reads its workspaces; mount ${rw.map((w) => w.name).join(', ')} ro`);
        }
        break;
      }
      case 'publish': {
        const names = new Map<string, number>();
        task.publish?.artifacts.forEach((a, j) => {
          if (a.type === 'image') {
            const img = tasks.get(a.task);
            if (!img || img.kind !== 'image') {
              add('unknown-image-task', at('publish', 'artifacts', j, 'task'), `task ${task.name}: artifact task ${a.task} is not an image task of this pipeline`);
            } else if (!(anc.get(task.name)?.has(a.task) ?? false)) {
              add('unknown-image-task', at('publish', 'artifacts', j, 'task'), `task ${task.name} publishes the image of task ${a.task} but does not need it; add ${a.task} to its needs`);
            }
          } else {
            needsMount(at('publish', 'artifacts', j, 'from'), a.from, 'artifact from');
          }
          const name = a.type === 'image' ? (a.name ?? `${def.metadata.name}-image`) : a.name;
          if (name === undefined) return;
          const prev = names.get(name);
          if (prev !== undefined) add('duplicate-name', at('publish', 'artifacts', j), `task ${task.name} publishes two artifacts named ${name}`);
          else names.set(name, j);
        });
        break;
      }
    }
  });

  // Parameter references: declared names only, and only where they are substituted.
  walkStrings(def, [], (s, path) => {
    for (const m of s.matchAll(PARAM_REF)) {
      const name = m[1] ?? '';
      if (!substitutable(path)) {
        add('param-reference-outside-run', path, `$(params.${name}) is only substituted in run.args, run.env and run.cwd; it would stay literal here`);
      } else if (!params.has(name)) {
        add('undeclared-param', path, `$(params.${name}) refers to a param the pipeline does not declare (params: ${[...params.keys()].join(', ') || 'none'})`);
      }
    }
  });

  // Self-needs are reported above; without them every cycle found has two or more tasks.
  const cycle = findCycle(def.tasks.map((t) => ({ ...t, needs: t.needs.filter((n) => n !== t.name) })));
  if (cycle) {
    const [first, second] = cycle as [string, string];
    const ti = def.tasks.findIndex((t) => t.name === first);
    const j = (def.tasks[ti] as TaskDef).needs.indexOf(second);
    add('dependency-cycle', ['tasks', ti, 'needs', j], `dependency cycle: ${cycle.join(' needs ')}`);
  }
  return out;
}

/** Is this JSON path one where `$(params.x)` is substituted? */
export function substitutable(path: JsonPath): boolean {
  if (path[0] !== 'tasks' || path[2] !== 'run') return false;
  return (path[3] === 'args' && path.length === 5) || (path[3] === 'env' && path.length === 5) || (path[3] === 'cwd' && path.length === 4);
}

/** Calls fn for every string value (not keys) in v, with its JSON path. */
export function walkStrings(v: unknown, path: (string | number)[], fn: (s: string, path: JsonPath) => void): void {
  if (typeof v === 'string') fn(v, path);
  else if (Array.isArray(v)) v.forEach((x, i) => walkStrings(x, [...path, i], fn));
  else if (v !== null && typeof v === 'object') for (const [k, x] of Object.entries(v)) walkStrings(x, [...path, k], fn);
}
