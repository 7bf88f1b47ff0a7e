import type { TaskDef } from './types.js';

/**
 * The `needs` graph. These helpers tolerate unknown names and cycles (they are used by the
 * linter on definitions that may have both); planRun refuses such definitions first.
 */

/** For each task, every task it needs directly or transitively (never itself unless in a cycle). */
export function ancestors(tasks: readonly TaskDef[]): Map<string, Set<string>> {
  const byName = new Map(tasks.map((t) => [t.name, t]));
  const out = new Map<string, Set<string>>();
  for (const t of tasks) {
    const seen = new Set<string>();
    const stack = [...t.needs];
    while (stack.length > 0) {
      const n = stack.pop() as string;
      if (seen.has(n) || !byName.has(n)) continue;
      seen.add(n);
      stack.push(...(byName.get(n)?.needs ?? []));
    }
    out.set(t.name, seen);
  }
  return out;
}

/** True when a and b are ordered: one needs the other, directly or transitively. */
export function ordered(anc: Map<string, Set<string>>, a: string, b: string): boolean {
  return (anc.get(a)?.has(b) ?? false) || (anc.get(b)?.has(a) ?? false);
}

/**
 * A dependency cycle as a list of task names (first repeated at the end), or undefined.
 * Deterministic: the search starts from tasks in declaration order.
 */
export function findCycle(tasks: readonly TaskDef[]): string[] | undefined {
  const byName = new Map(tasks.map((t) => [t.name, t]));
  const state = new Map<string, 1 | 2>(); // 1: on the current path, 2: finished
  for (const root of tasks) {
    if (state.has(root.name)) continue;
    // Iterative DFS: the path and, per node, the index of the next need to visit.
    const path: string[] = [root.name];
    const next: number[] = [0];
    state.set(root.name, 1);
    while (path.length > 0) {
      const top = path[path.length - 1] as string;
      const needs = byName.get(top)?.needs ?? [];
      const i = next[next.length - 1] as number;
      if (i >= needs.length) {
        state.set(top, 2);
        path.pop();
        next.pop();
        continue;
      }
      next[next.length - 1] = i + 1;
      const n = needs[i] as string;
      if (!byName.has(n)) continue;
      const s = state.get(n);
      if (s === 1) return [...path.slice(path.indexOf(n)), n];
      if (s === 2) continue;
      state.set(n, 1);
      path.push(n);
      next.push(0);
    }
  }
  return undefined;
}
