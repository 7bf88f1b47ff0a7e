/** VEX: OpenVEX and CycloneDX VEX documents, and applying their statements to findings (docs/vex.md). */
export {
  parseVex,
  MAX_VEX_BYTES,
  MAX_VEX_STATEMENTS,
  OPENVEX_CONTEXTS,
  VEX_STATUSES,
  VEX_JUSTIFICATIONS,
  CYCLONEDX_STATE,
  CYCLONEDX_JUSTIFICATION,
  CYCLONEDX_EXPIRES_PROPERTY,
  type VexDocument,
  type VexStatement,
} from './parse.js';
export { applyVex, vexSuppresses } from './apply.js';
