export * from './keys.js';
export * from './ca.js';
export * from './trustroot.js';
export * from './revocation.js';
export * from './workload.js';
export { x509 } from './x509.js';
export * from './serving.js';
