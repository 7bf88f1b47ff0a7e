export * from './dsse.js';
export * from './statement.js';
export * from './predicates.js';
export * from './bundle.js';
