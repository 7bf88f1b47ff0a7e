/** Options shared by the document writers. */
export interface DocOptions {
  /** Document creation time. CycloneDX omits metadata.timestamp without it; SPDX (where it is required) uses 1970-01-01T00:00:00Z. */
  timestamp?: Date;
  /** The generating tool; default ssf and its package version. */
  tool?: { name: string; version: string };
  /** CycloneDX serialNumber (`urn:uuid:…`); default derived from `sbom.source.digest`. */
  serialNumber?: string;
  /** SPDX documentNamespace; default `urn:uuid:…` derived from `sbom.source.digest`. */
  namespace?: string;
}
