export * from './layout.js';
export * from './config.js';
export * from './init.js';
export * from './factory.js';
