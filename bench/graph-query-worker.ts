/**
 * Child process of bench/graph.ts that asks the incident queries: it opens the fleet's factory
 * itself (its own connection, its own JavaScript heap), as `ssf serve` or `ssf query` would,
 * so that the timings do not include garbage collection of the bench process's ingest and
 * generator state, which no process answering queries holds. (A process, not a worker thread:
 * pg-native's addon does not load in a worker thread.)
 */
import { Factory } from '../src/factory/index.js';
import { GraphQueries } from '../src/graph/index.js';
import { quantile } from './graph-fleet.js';

/** One query, as data (closures do not cross threads). */
export type QueryCall =
  | { readonly q: 'blast'; readonly purl: string; readonly range?: string }
  | { readonly q: 'affected'; readonly id: string }
  | { readonly q: 'signedBy'; readonly identity: string; readonly fromMs: number; readonly toMs: number }
  | { readonly q: 'provenance'; readonly digest: string };

export interface QueryJob {
  readonly dir: string;
  readonly calls: readonly QueryCall[];
  readonly runs: number;
  readonly budgetMs: number;
}

export interface QueryTiming { readonly p50: number; readonly p99: number; readonly n: number; readonly size: number }

function run(q: GraphQueries, c: QueryCall): number {
  switch (c.q) {
    case 'blast':
      return q.blastRadius(c.purl, c.range).artifacts.length;
    case 'affected':
      return q.affected(c.id).artifacts.length;
    case 'signedBy':
      return q.signedBy(c.identity, new Date(c.fromMs), new Date(c.toMs)).attestations.length;
    case 'provenance': {
      const t = q.provenance(c.digest);
      return t.attestations.length + t.deployments.length;
    }
  }
}

/** p50/p99 of `runs` calls of each query (after 3 warm-up calls), each stopping early after `budgetMs`. */
function time(job: QueryJob): QueryTiming[] {
  const f = Factory.open(job.dir, { env: {} });
  try {
    const q = new GraphQueries(f.db);
    return job.calls.map((c) => {
      let size = 0;
      for (let k = 0; k < 3; k++) size = run(q, c);
      const xs: number[] = [];
      const start = performance.now();
      while (xs.length < job.runs && (xs.length < 5 || performance.now() - start < job.budgetMs)) {
        const t0 = performance.now();
        size = run(q, c);
        xs.push(performance.now() - t0);
      }
      return { p50: quantile(xs, 0.5), p99: quantile(xs, 0.99), n: xs.length, size };
    });
  } finally {
    f.close();
  }
}

process.once('message', (job: QueryJob) => {
  let answer: { ok: QueryTiming[] } | { error: string };
  try {
    answer = { ok: time(job) };
  } catch (e) {
    answer = { error: (e as Error).message };
  }
  process.send?.(answer, () => process.exit(0));
});
