export { checkoutSource, parseGitLocation, type CheckoutOptions, type SourceResult, type SourceSpec } from './source.js';
export { isPackageName, MAX_LOCKFILE_BYTES, npmRegistry, parseNpmLockfile, tarballPath, type LockedPackage, type LockfilePolicy, type ParsedLockfile } from './lockfile.js';
export { MAX_TARBALL_BYTES, NPM_SANDBOX_CACHE, NpmMirror, npmCiArgs, type MirrorStats, type RunCacheStats } from './mirror.js';
export { parseIntegrity, type Integrity, type SriHash } from './sri.js';
