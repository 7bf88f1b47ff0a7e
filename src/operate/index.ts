/**
 * The operate phase: keep re-checking what the factory released (rescans against new
 * advisories). Imports analysis, graph and factory; used by the CLI. Reference: docs/graph.md.
 */
export * from './rescan.js';
export * from './fsck.js';
