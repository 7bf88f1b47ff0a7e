export * from './verifier.js';
export * from './sigstore.js';
