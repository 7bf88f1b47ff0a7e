export * from './db.js';
export * from './evidence.js';
