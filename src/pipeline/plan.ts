import { SsfError } from '../core/index.js';
import { ancestors, findCycle } from './graph.js';
import type { PipelineDefinition, TaskDef } from './types.js';

/** The execution plan of a (valid, substituted) definition. */
export interface Plan {
  /** A topological order; among ready tasks, the one declared first comes first. */
  order: TaskDef[];
  /** Level n holds the tasks whose needs all lie in levels before n (tasks that may run together). */
  levels: TaskDef[][];
  /**
   * task -> the tasks that read a workspace it wrote: for every workspace a task mounts, the
   * last writers of it among the task's transitive needs.
   */
  consumers: Map<string, string[]>;
}

/** Orders the tasks of def; PIPELINE_INVALID on unknown needs or a cycle. */
export function planRun(def: PipelineDefinition): Plan {
  const tasks = def.tasks;
  const index = new Map<string, number>();
  tasks.forEach((t, i) => {
    if (index.has(t.name)) throw new SsfError('PIPELINE_INVALID', `duplicate task name ${t.name}`);
    index.set(t.name, i);
  });
  for (const t of tasks) {
    for (const n of t.needs) {
      if (!index.has(n)) throw new SsfError('PIPELINE_INVALID', `task ${t.name} needs ${n}, which is not a task of this pipeline`);
    }
  }
  const cycle = findCycle(tasks);
  if (cycle) throw new SsfError('PIPELINE_INVALID', `dependency cycle: ${cycle.join(' needs ')}`);

  // Kahn's algorithm; ready tasks are taken in declaration order so that a definition
  // that is already in a valid order runs in exactly that order.
  const remaining = new Map(tasks.map((t) => [t.name, new Set(t.needs)]));
  const dependents = new Map<string, string[]>(tasks.map((t) => [t.name, []]));
  for (const t of tasks) for (const n of t.needs) dependents.get(n)?.push(t.name);
  const ready = tasks.filter((t) => t.needs.length === 0).map((t) => index.get(t.name) as number);
  const order: TaskDef[] = [];
  while (ready.length > 0) {
    ready.sort((a, b) => a - b);
    const i = ready.shift() as number;
    const t = tasks[i] as TaskDef;
    order.push(t);
    for (const d of dependents.get(t.name) ?? []) {
      const rest = remaining.get(d) as Set<string>;
      rest.delete(t.name);
      if (rest.size === 0) ready.push(index.get(d) as number);
    }
  }

  const level = new Map<string, number>();
  const levels: TaskDef[][] = [];
  for (const t of order) {
    const l = t.needs.reduce((m, n) => Math.max(m, (level.get(n) as number) + 1), 0);
    level.set(t.name, l);
    (levels[l] ??= []).push(t);
  }

  const anc = ancestors(tasks);
  const writes = (t: TaskDef, ws: string): boolean => t.workspaces.some((w) => w.name === ws && w.mode === 'rw');
  const consumers = new Map<string, string[]>(order.map((t) => [t.name, []]));
  for (const reader of order) {
    const mine = anc.get(reader.name) as Set<string>;
    for (const mount of reader.workspaces) {
      const writers = [...mine].map((n) => tasks[index.get(n) as number] as TaskDef).filter((w) => writes(w, mount.name));
      // The last writers: those no other writer (also before the reader) comes after.
      const last = writers.filter((w) => !writers.some((o) => o !== w && (anc.get(o.name) as Set<string>).has(w.name)));
      for (const w of last) {
        const list = consumers.get(w.name) as string[];
        if (!list.includes(reader.name)) list.push(reader.name);
      }
    }
  }
  return { order, levels, consumers };
}
