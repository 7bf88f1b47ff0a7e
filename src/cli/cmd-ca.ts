import { SsfError } from '../core/index.js';
import { Factory, resolveDataDir } from '../factory/index.js';
import { need, str, type Command } from './command.js';
import { rootPassphrase } from './passphrase.js';
import type { RevocationKind } from '../trust/index.js';

export const caRotateCommand: Command = {
  name: 'ca rotate',
  summary: 'rotate the online intermediate CA (needs the root key)',
  usage: `Usage: ssf ca rotate [--root-key FILE] [--dir D]

Issues a new intermediate CA with the root key, retires the current one (its
window in trusted_root.json ends now, so evidence it signed still verifies) and
deletes the retired intermediate's private key. Distribute the updated
trusted_root.json to verifiers.

Options:
  --root-key FILE   the root key, when it is kept outside the data directory
  --dir D           factory data directory
  -h, --help        show this help`,
  options: { 'root-key': { type: 'string' }, dir: { type: 'string' } },
  async run(a, io) {
    const f = Factory.open(resolveDataDir(str(a, 'dir'), io.env));
    try {
      const key = f.loadRootKey(await rootPassphrase(io, 'rotate intermediate'), str(a, 'root-key'));
      const { generation } = await f.rotateIntermediate(key);
      io.out(`intermediate CA rotated: generation ${generation} is active; trusted root updated at ${f.layout.trustedRoot}`);
    } finally {
      f.close();
    }
    return 0;
  },
};

export const revokeCommand: Command = {
  name: 'revoke',
  summary: 'add a certificate serial, key id or identity to the signed revocation list',
  usage: `Usage: ssf revoke (--serial HEX | --key-id HEX | --identity SPIFFE-ID) [--reason TEXT]
                  [--root-key FILE] [--dir D]

Adds one entry to revocations.json, bumps its version and re-signs it with the
root key. Verifiers given the list reject bundles whose certificate serial,
key id (SHA-256 of the public key) or identity it names.

Options:
  --serial HEX       certificate serial number (hex)
  --key-id HEX       SHA-256 of the signing key's SubjectPublicKeyInfo (hex)
  --identity URI     a SPIFFE ID: everything it signs is rejected
  --reason TEXT      why (recorded in the list)
  --root-key FILE    the root key, when kept outside the data directory
  --dir D            factory data directory
  -h, --help         show this help`,
  options: {
    serial: { type: 'string' },
    'key-id': { type: 'string' },
    identity: { type: 'string' },
    reason: { type: 'string' },
    'root-key': { type: 'string' },
    dir: { type: 'string' },
  },
  async run(a, io) {
    const given: [RevocationKind, string][] = [];
    const s = str(a, 'serial');
    const k = str(a, 'key-id');
    const i = str(a, 'identity');
    if (s !== undefined) given.push(['serial', s]);
    if (k !== undefined) given.push(['keyId', k]);
    if (i !== undefined) given.push(['identity', i]);
    if (given.length !== 1) throw new SsfError('USAGE', 'ssf revoke needs exactly one of --serial, --key-id, --identity');
    const [kind, value] = given[0] as [RevocationKind, string];
    if (kind !== 'identity' && !/^[0-9a-fA-F]+$/.test(value)) throw new SsfError('USAGE', `--${kind === 'serial' ? 'serial' : 'key-id'} must be hex, got ${JSON.stringify(value)}`);
    if (kind === 'identity' && !value.startsWith('spiffe://')) throw new SsfError('USAGE', `--identity must be a spiffe:// URI, got ${JSON.stringify(value)}`);
    const f = Factory.open(resolveDataDir(str(a, 'dir'), io.env));
    try {
      const key = f.loadRootKey(await rootPassphrase(io, 'sign revocation list'), str(a, 'root-key'));
      const list = f.revoke(key, { kind, value, reason: str(a, 'reason') ?? 'unspecified' });
      io.out(`revoked ${kind} ${value}; revocation list version ${list.version} written to ${f.layout.revocations}`);
    } finally {
      f.close();
    }
    return 0;
  },
};

