export * from './runstore.js';
export * from './node.js';
export * from './runner.js';
export * from './pipeline-sign.js';
export * from './pin.js';
export { insideWorkspace, matchFiles } from './paths.js';
export * from './evidence.js';
