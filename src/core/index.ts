export * from './errors.js';
export * from './encoding.js';
export * from './canonical.js';
export * from './digest.js';
export * from './clock.js';
export * from './json.js';
export * from './files.js';
export * from './sql.js';
