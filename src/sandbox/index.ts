export type { IsolationReport, Mount, SandboxBackend, SandboxDetection, SandboxNetwork, SandboxResult, SandboxSpec } from './types.js';
export { detectSandbox } from './detect.js';
export { runSandboxed } from './run.js';
export { prepareWorkspaceDir } from './workspace.js';
export { SANDBOX_GID, SANDBOX_UID, MOUNT_ROOTS } from './spec.js';
