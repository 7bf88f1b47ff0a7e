import { createRequire } from 'node:module';
import type { Verifier } from '@sigstore/verify';
import { SsfError } from '../core/index.js';

// Loaded on first use: the Sigstore libraries cost ~100-250 ms to load and only the demo,
// tests and benchmarks need them, not every `ssf` command.
const require = createRequire(import.meta.url);
type Libs = {
  bundle: typeof import('@sigstore/bundle');
  specs: typeof import('@sigstore/protobuf-specs');
  verify: typeof import('@sigstore/verify');
};
let libs: Libs | undefined;
function sigstore(): Libs {
  libs ??= {
    bundle: require('@sigstore/bundle') as Libs['bundle'],
    specs: require('@sigstore/protobuf-specs') as Libs['specs'],
    verify: require('@sigstore/verify') as Libs['verify'],
  };
  return libs;
}

/**
 * Verification by the independent Sigstore library, used to prove interoperability and as the
 * peer in benchmarks. It checks signatures, chain, log entry and checkpoint; ssf's own verifier
 * adds the checks it does not make (see BundleVerifier).
 */
export class SigstoreJsVerifier {
  private readonly verifier: Verifier;
  constructor(trustedRootJson: unknown) {
    const { specs, verify } = sigstore();
    const tm = verify.toTrustMaterial(specs.TrustedRoot.fromJSON(trustedRootJson));
    this.verifier = new verify.Verifier(tm, { tlogThreshold: 1, ctlogThreshold: 0, timestampThreshold: 1 });
  }

  /** Throws SsfError('DSSE_SIGNATURE'…) with the library's reason when verification fails. */
  verify(bundleJson: unknown, identity?: string): { identity?: string } {
    try {
      const { bundle, verify } = sigstore();
      const entity = verify.toSignedEntity(bundle.bundleFromJSON(bundleJson));
      const signer = this.verifier.verify(entity, identity ? { subjectAlternativeName: identity } : undefined);
      const san = signer.identity?.subjectAlternativeName;
      return san ? { identity: san } : {};
    } catch (e) {
      throw new SsfError('DSSE_SIGNATURE', `@sigstore/verify rejected the bundle: ${(e as Error).message}`, { cause: e });
    }
  }
}
