/**
 * SBOMs from lockfiles without running the package manager (npm package-lock v1–v3, yarn v1
 * and berry, pnpm 5/6/9), and package URLs. See docs/lockfiles.md.
 */
export { npmPurl, parsePurl, formatPurl, type Purl } from './purl.js';
export { sbomFromNpmLockfile, MAX_LOCKFILE_BYTES, type NpmLockOptions } from './npm.js';
export { sbomFromYarnLock, type YarnLockOptions } from './yarn.js';
export { sbomFromPnpmLock, type PnpmLockOptions } from './pnpm.js';
export { findLockfile, readLockfile } from './read.js';
