/**
 * Worker thread of bench/graph.ts: builds the fleet's CycloneDX documents (ssf's toCycloneDx on
 * the synthetic SBOM model) while the main thread ingests, so that generating ~10,000
 * documents does not add to the ingest's wall time. Not timed as ingest.
 */
import { parentPort } from 'node:worker_threads';
import { cyclonedxOf, makePool } from './graph-fleet.js';

const pool = makePool();
parentPort?.on('message', (m: { from: number; to: number }) => {
  for (let i = m.from; i < m.to; i++) {
    const t0 = performance.now();
    const d = cyclonedxOf(pool, i);
    parentPort?.postMessage({ i, ...d, genMs: performance.now() - t0 });
  }
});
