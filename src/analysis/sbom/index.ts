/**
 * SBOM documents: CycloneDX 1.6 and SPDX 2.3 JSON output, validation against the published
 * schemas, and import of third-party CycloneDX (1.4-1.6) and SPDX (2.2, 2.3) JSON documents
 * into the shared model. The CycloneDX library, packageurl-js and the schema validators load
 * on first use only.
 */
export type { DocOptions } from './options.js';
export { toCycloneDx } from './cyclonedx.js';
export { toSpdx } from './spdx.js';
export { validateCycloneDx, validateSpdx } from './validate.js';
export { importSbom, MAX_SBOM_BYTES } from './import.js';
export { ecosystemOf, makePurl, purlOfPackage, purlPackageName } from './util.js';
