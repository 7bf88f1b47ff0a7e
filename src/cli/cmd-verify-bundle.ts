import { SsfError, parseDigestRef, readTextFile, sha256File, type DigestRef } from '../core/index.js';
import { importPublicKey } from '../trust/index.js';
import { BundleVerifier } from '../verify/index.js';
import { need, str, type Command } from './command.js';
import { trustFromArgs } from './trust-args.js';

export const verifyBundleCommand: Command = {
  name: 'verify-bundle',
  summary: 'verify a Sigstore bundle offline against a trusted root (sigstore-conformance CLI protocol)',
  usage: `Usage: ssf verify-bundle --bundle FILE [--certificate-identity URI] [--certificate-oidc-issuer URI]
                         [--trusted-root FILE] [--revocations FILE] [--key PEM] [--json] ARTIFACT

ARTIFACT is a file path or a digest written sha256:<hex>. Checks, offline: the
certificate chains to a CA in the trusted root and was valid when the log
integrated the entry; the leaf is CA=false with the code-signing EKU; it is not
on the signed revocation list; the log entry's signed timestamp, its inclusion
proof, and that the proof's root and size are those of the signed checkpoint;
the entry matches the envelope; the DSSE signature; the in-toto statement; and
that one of its subjects has the artifact's digest.

Options:
  --bundle FILE                   the bundle to verify
  --certificate-identity URI      required signer identity (SPIFFE ID in the URI SAN)
  --certificate-oidc-issuer URI   accepted for protocol compatibility; must be
                                  spiffe://<trust-domain> of the signing CA if given
  --trusted-root FILE             trusted_root.json (default: the factory's in --dir)
  --revocations FILE              signed revocation list (default: revocations.json
                                  beside the trusted root, when present)
  --key PEM                       verify a key-based bundle with this public key
  --dir D                         factory data directory (for the defaults above)
  --json                          print the result as JSON
  -h, --help                      show this help`,
  options: {
    bundle: { type: 'string' },
    'certificate-identity': { type: 'string' },
    'certificate-oidc-issuer': { type: 'string' },
    'trusted-root': { type: 'string' },
    revocations: { type: 'string' },
    key: { type: 'string' },
    dir: { type: 'string' },
    json: { type: 'boolean' },
  },
  positionals: { min: 1, max: 1 },
  async run(a, io) {
    const bundleText = readTextFile(need(a, 'bundle', 'verify-bundle'), 'bundle', 16 * 1024 * 1024);
    const { trust, revocations } = trustFromArgs(a, io);
    const keyPath = str(a, 'key');
    const verifier = new BundleVerifier(trust, { revocations, ...(keyPath ? { publicKey: importPublicKey(readTextFile(keyPath, 'public key'), keyPath) } : {}) });
    const target = a.positionals[0] as string;
    const artifact: DigestRef = parseDigestRef(target) ?? { algorithm: 'sha256', hex: sha256File(target) };
    const identity = str(a, 'certificate-identity');
    const res = verifier.verify(bundleText, identity !== undefined ? { identity, artifact } : { artifact });
    const issuer = str(a, 'certificate-oidc-issuer');
    if (issuer !== undefined && !(res.signer.identity ?? '').startsWith(issuer.replace(/\/+$/, '') + '/')) {
      throw new SsfError('IDENTITY_MISMATCH', `signer ${res.signer.identity ?? '(key)'} is not under issuer ${issuer}`);
    }
    if (a.values.json) {
      io.out(JSON.stringify({
        verified: true,
        signer: res.signer,
        predicateType: res.statement.predicateType,
        subjects: res.statement.subject,
        logIndex: res.logIndex,
        integratedTime: res.integratedTime.toISOString(),
        checkpoint: { origin: res.checkpoint.origin, size: res.checkpoint.size, rootHash: res.checkpoint.rootHash.toString('base64') },
      }));
    } else {
      io.out(`OK: ${target} verified`);
      io.out(`  signer:    ${res.signer.identity ?? `key ${res.signer.keyId}`}`);
      io.out(`  predicate: ${res.statement.predicateType}`);
      io.out(`  logged:    index ${res.logIndex} at ${res.integratedTime.toISOString()} (checkpoint size ${res.checkpoint.size})`);
    }
    return 0;
  },
};
