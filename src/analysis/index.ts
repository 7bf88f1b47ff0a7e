/**
 * The evidence part: SBOMs from lockfiles and third-party documents, CycloneDX and SPDX
 * output, OSV vulnerability matching with VEX, licence policy and secret scanning.
 * A leaf part: it imports only core. Heavy libraries (the CycloneDX library) load lazily so
 * that commands which do not need them start fast.
 */
export * from './model.js';
export * from './predicates.js';
export * from './lockfile/index.js';
export * from './sbom/index.js';
export * from './vuln/index.js';
export * from './vex/index.js';
export * from './report/index.js';
export * from './license/index.js';
export * from './secrets/index.js';
export * from './input.js';
export * from './gate.js';
