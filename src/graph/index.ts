/**
 * The knowledge graph: every piece of evidence becomes nodes (artifacts, components, sources,
 * identities, pipelines, runs, tasks, vulnerabilities, licences, policies, deployments) and
 * edges named as verbs, each edge naming the evidence that proves it. Written in the same
 * transaction as the evidence (Factory.attest); queried by `ssf query`. Reference:
 * docs/graph.md.
 */
export * from './project.js';
export * from './store.js';
export { graphMigrations } from './schema.js';
export * from './queries.js';
export * from './rebuild.js';
export { checkCurrent, signerPatterns, type SignerPatterns } from './current.js';
