/**
 * The error model. Every failure a user can meet is an SsfError with a stable code from
 * this catalogue; the CLI prints `error[CODE]: message` and exits non-zero, never a stack.
 * docs/errors.md documents every code; a test keeps the two in sync.
 */
export const ERROR_CODES = {
  // usage and input
  USAGE: 'The command line is wrong: unknown flag, missing argument or bad value.',
  INPUT_MALFORMED: 'An input document (JSON, PEM, YAML) could not be parsed.',
  INPUT_TOO_LARGE: 'An input is larger than the limit ssf accepts for it.',
  FILE_NOT_FOUND: 'A file or directory named on the command line does not exist.',
  PATH_ESCAPE: 'A path tries to leave the directory it must stay inside.',
  IO_FAILED: 'Reading or writing a file failed (permissions, disk full).',
  // factory
  FACTORY_EXISTS: 'ssf init found an existing factory and was not told to replace it.',
  FACTORY_MISSING: 'No factory was found in the data directory; run `ssf init` first.',
  FACTORY_CORRUPT: 'The factory data directory is incomplete or inconsistent.',
  PASSPHRASE_REQUIRED: 'The root key passphrase is needed but none was given.',
  PASSPHRASE_WRONG: 'The root key could not be decrypted with the given passphrase.',
  // keys, certificates, trust root
  KEY_INVALID: 'A key could not be parsed or is not of a supported type.',
  CERT_INVALID: 'A certificate could not be parsed or violates the profile ssf requires.',
  CERT_CHAIN_INVALID: 'The certificate does not chain to a CA in the trusted root.',
  CERT_EXPIRED: 'The certificate was not valid at the verified signing time.',
  CERT_EKU: 'The certificate lacks the code-signing extended key usage.',
  CERT_IS_CA: 'A CA certificate was used where a leaf (CA=false) is required.',
  CERT_REVOKED: 'The certificate serial, key or identity is on the revocation list.',
  IDENTITY_MISMATCH: 'The signer identity does not match the expected identity.',
  TRUST_ROOT_INVALID: 'The trusted root document is malformed or has no usable keys.',
  REVOCATION_INVALID: 'The revocation list is malformed or its signature does not verify.',
  // signatures and statements
  DSSE_INVALID: 'A DSSE envelope is malformed.',
  DSSE_SIGNATURE: 'A DSSE signature does not verify.',
  DSSE_THRESHOLD: 'Fewer distinct keys signed the envelope than the threshold requires.',
  PAYLOAD_TYPE: 'The DSSE payload type is not the in-toto type.',
  STATEMENT_INVALID: 'An in-toto statement or resource descriptor violates the specification.',
  PREDICATE_INVALID: 'A predicate violates its type\'s specification.',
  SUBJECT_MISMATCH: 'No subject of the statement matches the artifact digest.',
  // bundles
  BUNDLE_MALFORMED: 'The Sigstore bundle is not valid JSON or lacks required fields.',
  BUNDLE_VERSION: 'The bundle media type names a version ssf does not support.',
  // transparency log
  TLOG_ENTRY_MISMATCH: 'The transparency-log entry body does not match the signed envelope.',
  TLOG_INCLUSION: 'The inclusion proof does not lead to the stated root hash.',
  TLOG_CHECKPOINT: 'The checkpoint is malformed, its signature does not verify, or it disagrees with the proof.',
  TLOG_SET: 'The signed entry timestamp does not verify.',
  TLOG_UNKNOWN: 'The entry names a transparency log that is not in the trusted root.',
  TLOG_CONSISTENCY: 'Two checkpoints of the log are not consistent (a fork or a rewrite).',
  TLOG_ROLLBACK: 'A checkpoint is older than one already seen (rollback).',
  NOTE_INVALID: 'A signed note is malformed or carries no valid signature from a known key.',
  // pipelines
  PIPELINE_INVALID: 'The pipeline definition is not valid YAML or violates the pipeline schema.',
  PIPELINE_LINT: '`ssf lint` found problems in a pipeline definition (unpinned tools, credentials, workspace conflicts).',
  PARAM_INVALID: 'A run parameter is not declared by the pipeline, has the wrong type, or is not an allowed value.',
  PIPELINE_SIGNATURE: "The pipeline definition's signature is missing, does not verify, or does not match its digest.",
  // sandbox and runs
  SANDBOX_UNAVAILABLE: 'No sandbox backend (bubblewrap, or unshare with setpriv) works here; pass --insecure-no-sandbox to run anyway.',
  SANDBOX_FAILED: 'The sandbox could not be set up for a task.',
  TASK_FAILED: 'A task exited non-zero, timed out or exceeded its memory limit.',
  TOOL_DIGEST_MISMATCH: "A tool's file on this host does not match the digest the pipeline pins.",
  WORKSPACE_TAMPERED: "A workspace's contents differ from what the last task that wrote it signed.",
  RUN_NOT_FOUND: 'No run with that id exists in this factory.',
  RUN_FAILED: 'The run did not complete: a task failed or evidence could not be verified.',
  // materials
  SOURCE_INVALID: 'The source location, commit or checkout is invalid or could not be read.',
  SOURCE_SIGNATURE: 'The source commit is unsigned or not signed by an allowed signer.',
  LOCKFILE_INVALID: 'The lockfile is malformed, not a supported version, or inconsistent.',
  DEPENDENCY_UNPINNED: 'A locked dependency has no integrity hash or is not pinned to an exact version.',
  DEPENDENCY_REGISTRY: 'A locked dependency resolves from a location that is not an allowed registry.',
  INTEGRITY_MISMATCH: 'Downloaded or mirrored content does not match its integrity hash.',
  FETCH_FAILED: 'A package could not be fetched from the registry.',
  // artifacts
  OCI_INVALID: 'An OCI image layout, manifest, index or blob is malformed or does not match its digest.',
  ARTIFACT_NOT_FOUND: 'No artifact or attestation with that digest or name is known.',
  DEPLOYMENT_NOT_FOUND: 'The graph holds no current deployment of that digest in that workload (nothing to remove).',
  PROVENANCE_INVALID: "The artifact's provenance or task chain does not verify or does not match the artifact.",
  // evidence: SBOMs, vulnerabilities, VEX, licences, secrets
  SBOM_INVALID: 'An SBOM document (CycloneDX or SPDX) is malformed, fails its schema or uses an unsupported version.',
  VULNDB_INVALID: 'An OSV advisory, directory or zip archive could not be imported (malformed entry, unsafe or oversized archive).',
  VULNDB_MISSING: 'No advisory database has been imported; run `ssf vulndb import` first.',
  VEX_INVALID: 'A VEX document (OpenVEX or CycloneDX VEX) is malformed, unsigned where a signature is required, or expired.',
  LICENSE_POLICY_INVALID: 'A licence policy file is malformed or names an unknown SPDX identifier.',
  FINDINGS_FAILED: 'A scan found findings at or above the --fail-on threshold (vulnerabilities, denied licences or secrets).',
  // policy and admission
  POLICY_INVALID: 'A policy document is malformed, fails its schema, or a CEL rule does not compile (the message gives file:line:column).',
  POLICY_SIGNATURE: 'A policy is unsigned where signed policies are required, or its signature does not verify or is not by an allowed identity.',
  POLICY_INPUT_INVALID: 'A policy input document does not match the JSON Schema of its gate.',
  POLICY_DENIED: 'A policy gate denied the request; the message names the failing rules and the signed decision.',
  POLICY_TEST_FAILED: 'A policy test case did not give the expected decision.',
  ADMISSION_INVALID: 'An AdmissionReview request is malformed or is not admission.k8s.io/v1.',
  CLIENT_UNAUTHENTICATED: 'A client of the admission webhook presented no certificate from the CA it requires (--client-ca).',
  // store
  STORE_FAILED: 'The evidence store could not be opened or written.',
  NOT_FOUND: 'The requested record does not exist.',
  INTERNAL: 'An unexpected internal failure; please report it with the command you ran.',
} as const;

export type ErrorCode = keyof typeof ERROR_CODES;

/** The one error type users see: a stable code, a one-line message, and the cause kept for debugging. */
export class SsfError extends Error {
  readonly code: ErrorCode;
  constructor(code: ErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'SsfError';
    this.code = code;
  }
}

/** Is this value an SsfError, optionally with the given code? */
export function isSsfError(e: unknown, code?: ErrorCode): e is SsfError {
  return e instanceof SsfError && (code === undefined || e.code === code);
}

/** Wraps any thrown value as an SsfError, keeping SsfErrors as they are. */
export function toSsfError(e: unknown, fallback: ErrorCode = 'INTERNAL'): SsfError {
  if (e instanceof SsfError) return e;
  const errno = (e as { code?: unknown } | null)?.code;
  if (typeof errno === 'string' && /^E[A-Z]+$/.test(errno)) {
    const path = (e as { path?: unknown }).path;
    const where = typeof path === 'string' ? ` (${path.length > 200 ? path.slice(0, 200) + '…' : path})` : '';
    return new SsfError(errno === 'ENOENT' ? 'FILE_NOT_FOUND' : 'IO_FAILED', `file system error ${errno}${where}`, { cause: e });
  }
  const msg = e instanceof Error ? e.message : String(e);
  return new SsfError(fallback, msg.split('\n')[0] ?? msg, { cause: e });
}
