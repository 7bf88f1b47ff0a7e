import { bundleFromJSON } from '@sigstore/bundle';
import { TrustedRoot } from '@sigstore/protobuf-specs';
import { Verifier, toSignedEntity, toTrustMaterial } from '@sigstore/verify';
import { SsfError } from '../core/index.js';

/**
 * Verification by the independent Sigstore library, used to prove interoperability and as the
 * peer in benchmarks. It checks signatures, chain, log entry and checkpoint; ssf's own verifier
 * adds the checks it does not make (see BundleVerifier).
 */
export class SigstoreJsVerifier {
  private readonly verifier: Verifier;
  constructor(trustedRootJson: unknown) {
    const tm = toTrustMaterial(TrustedRoot.fromJSON(trustedRootJson));
    this.verifier = new Verifier(tm, { tlogThreshold: 1, ctlogThreshold: 0, timestampThreshold: 1 });
  }

  /** Throws SsfError('DSSE_SIGNATURE'…) with the library's reason when verification fails. */
  verify(bundleJson: unknown, identity?: string): { identity?: string } {
    try {
      const entity = toSignedEntity(bundleFromJSON(bundleJson));
      const signer = this.verifier.verify(entity, identity ? { subjectAlternativeName: identity } : undefined);
      const san = signer.identity?.subjectAlternativeName;
      return san ? { identity: san } : {};
    } catch (e) {
      throw new SsfError('DSSE_SIGNATURE', `@sigstore/verify rejected the bundle: ${(e as Error).message}`, { cause: e });
    }
  }
}
