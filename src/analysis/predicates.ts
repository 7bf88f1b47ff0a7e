/**
 * Predicate types of the evidence ssf signs. Where a standard exists ssf uses it; the two
 * reports without one use ssf's own URIs under the reserved `.invalid` domain, as the build
 * type does, so that no URI claims a domain the project does not own.
 */
export const PREDICATE = {
  /** in-toto CycloneDX predicate: the predicate is the CycloneDX 1.6 JSON document. */
  cyclonedx: 'https://cyclonedx.org/bom/v1.6',
  /** in-toto SPDX predicate: the predicate is the SPDX 2.3 JSON document. */
  spdx: 'https://spdx.dev/Document/v2.3',
  /** in-toto vulnerability scan predicate. */
  vulns: 'https://in-toto.io/attestation/vulns/v0.2',
  /** OpenVEX: the predicate is the OpenVEX document. */
  openvex: 'https://openvex.dev/ns/v0.2.0',
  /** ssf's licence report (docs/evidence.md). */
  licenses: 'https://ssf.invalid/attestation/licenses/v1',
  /** ssf's secret-scan report (docs/evidence.md); it never contains a secret. */
  secrets: 'https://ssf.invalid/attestation/secrets/v1',
} as const;

export type EvidenceKind = keyof typeof PREDICATE;

/** ssf as the scanner named in its reports (in-toto vulns `scanner`, SARIF `tool.driver`). */
export const SCANNER = { name: 'ssf', version: '0.1.0', uri: 'pkg:npm/ssf@0.1.0' } as const;
