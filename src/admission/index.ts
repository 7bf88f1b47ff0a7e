export * from './decider.js';
export * from './review.js';
export * from './cache.js';
export * from './webhook.js';
export * from './manifests.js';
export * from './gates.js';
export * from './deploy.js';
export * from './deployments.js';
