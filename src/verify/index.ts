export * from './verifier.js';
export * from './sigstore.js';
export * from './provenance.js';
