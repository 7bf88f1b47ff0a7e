/**
 * The contract between the Kubernetes webhook (protocol, TLS, cache) and the deploy gate
 * (evidence lookup, signature verification, deploy policy). The webhook never decides by
 * itself: every image goes through a DeployDecider, and any error it throws is a denial.
 */

/** One container image of a workload, as written in the pod spec. */
export interface ImageRef {
  /** The image string exactly as in the spec, e.g. `registry.example/app@sha256:…`. */
  readonly ref: string;
  /** `sha256:<64 hex>` when the reference is pinned by digest; undefined otherwise. */
  readonly digest?: string;
}

/** Where the image was found in the request (for messages and the decision record). */
export interface AdmissionContext {
  readonly uid: string;
  readonly kind: string;
  readonly namespace: string;
  readonly name: string;
  readonly operation: string;
  /** Container path, e.g. `spec.template.spec.initContainers[0]`. */
  readonly container: string;
  /** dryRun requests must have no side effects: no signed decision, nothing stored. */
  readonly dryRun: boolean;
}

/** The gate's answer for one image digest. */
export interface ImageDecision {
  readonly allowed: boolean;
  /** One line: why it was allowed or denied (failing rules named). */
  readonly reason: string;
  /** Audit-mode warnings to return to the client (AdmissionResponse.warnings). */
  readonly warnings?: readonly string[];
  /** Transparency-log index of the signed decision (VSA), when one was signed. */
  readonly decisionLogIndex?: number;
}

/** Decides whether an image digest may be deployed. */
export interface DeployDecider {
  /** Digest of the deploy policy set the decisions depend on; part of the cache key. */
  policyDigest(): string;
  decide(image: ImageRef & { digest: string }, ctx: AdmissionContext): Promise<ImageDecision>;
  /**
   * Told after a real (not dryRun) CREATE or UPDATE was admitted, with every image of it, so
   * that what runs where is recorded; cached decisions included. Its failure never changes
   * the answer already given.
   */
  admitted?(images: readonly (ImageRef & { digest: string })[], ctx: Omit<AdmissionContext, 'container'>): Promise<void>;
  /**
   * Told after a real DELETE of a workload was allowed (deletes always are), with the images its
   * old object ran, so that removal records end their deployment records. Its failure never
   * changes the answer.
   */
  removed?(images: readonly (ImageRef & { digest: string })[], ctx: Omit<AdmissionContext, 'container'>): Promise<void>;
}
