import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { SsfError, readTextFile } from '../core/index.js';
import { RevocationIndex, parseTrustedRoot, verifyRevocationList, type TrustMaterial } from '../trust/index.js';
import { layoutOf, resolveDataDir, rootKeysOf } from '../factory/index.js';
import { str, type Io, type ParsedArgs } from './command.js';

/**
 * The trust material a verifying command uses: --trusted-root (else the factory's), and the
 * signed revocation list from --revocations or beside the trusted root. A missing list is a
 * warning (revoked identities would go undetected); a bad one is an error.
 */
export function trustFromArgs(a: ParsedArgs, io: Io): { trust: TrustMaterial; revocations: RevocationIndex; trustPath: string } {
  const trustPath = str(a, 'trusted-root') ?? layoutOf(resolveDataDir(str(a, 'dir'), io.env)).trustedRoot;
  if (!existsSync(trustPath)) throw new SsfError('FILE_NOT_FOUND', `trusted root ${trustPath} does not exist; pass --trusted-root or --dir`);
  const trust = parseTrustedRoot(readTextFile(trustPath, 'trusted root'));
  const revPath = str(a, 'revocations') ?? join(dirname(trustPath), 'revocations.json');
  let revocations = new RevocationIndex();
  if (str(a, 'revocations') !== undefined || existsSync(revPath)) {
    revocations = new RevocationIndex(verifyRevocationList(readTextFile(revPath, 'revocation list'), rootKeysOf(trust)));
  } else {
    io.err(`ssf: warning: no revocation list (none beside ${trustPath}); revoked identities would not be detected; pass --revocations FILE`);
  }
  return { trust, revocations, trustPath };
}
