import { systemClock } from '../core/index.js';
import { checkStoreUrl, initFactory, resolveDataDir } from '../factory/index.js';
import { int, str, type Command } from './command.js';
import { rootPassphrase } from './passphrase.js';

export const initCommand: Command = {
  name: 'init',
  summary: 'create a factory: root and intermediate CAs, log key, trusted root, store',
  usage: `Usage: ssf init [--dir D] [--trust-domain NAME] [--store URL] [--root-key-out FILE] [--leaf-minutes N] [--force]

Creates a factory in the data directory (--dir, else $SSF_DIR, else ./.ssf):
an ECDSA P-256 root CA whose key is encrypted at rest with a passphrase
($SSF_ROOT_PASSPHRASE, or a prompt on a terminal), an online intermediate CA
that issues workload identities, a separate transparency-log key,
trusted_root.json in the Sigstore TrustedRoot format, a signed (empty)
revocation list and the store: SQLite in the data directory, or the
PostgreSQL database given with --store (docs/storage.md).

Options:
  --dir D               data directory
  --trust-domain NAME   SPIFFE trust domain (default: ssf.internal)
  --store URL           keep the log, evidence, runs and graph in PostgreSQL:
                        postgres://[user@]host[:port]/db or
                        postgresql:///db?host=/var/run/postgresql (default:
                        $SSF_STORE, else SQLite in the data directory). The URL is
                        recorded in factory.json, so it must hold no password:
                        libpq reads PGPASSWORD or ~/.pgpass, or uses peer
                        authentication. The database (or the schema named with
                        options=-csearch_path%3DNAME) must hold no factory yet.
                        Later commands use the recorded URL; $SSF_STORE
                        overrides it for one process.
  --root-key-out FILE   write the root key to FILE (encrypted if a passphrase is
                        given) and keep no copy in the data directory
  --leaf-minutes N      validity of workload certificates (default: 10)
  --force               replace an existing factory; the old one is moved aside
  -h, --help            show this help`,
  options: {
    dir: { type: 'string' },
    'trust-domain': { type: 'string' },
    store: { type: 'string' },
    'root-key-out': { type: 'string' },
    'leaf-minutes': { type: 'string' },
    force: { type: 'boolean' },
  },
  async run(a, io) {
    const dir = resolveDataDir(str(a, 'dir'), io.env);
    const rootKeyOut = str(a, 'root-key-out');
    const store = str(a, 'store') ?? (io.env.SSF_STORE || undefined);
    // Before the passphrase prompt: a URL that will be refused should not cost one.
    if (store !== undefined) checkStoreUrl(store, str(a, 'store') !== undefined ? '--store' : '$SSF_STORE');
    const passphrase = await rootPassphrase(io, 'new factory', true);
    const leafMinutes = int(a, 'leaf-minutes');
    const res = await initFactory({
      dir,
      trustDomain: str(a, 'trust-domain') ?? 'ssf.internal',
      clock: systemClock,
      force: a.values.force === true,
      ...(passphrase !== undefined ? { passphrase } : {}),
      ...(rootKeyOut !== undefined ? { rootKeyOut } : {}),
      ...(leafMinutes !== undefined ? { leafMinutes } : {}),
      ...(store !== undefined ? { store } : {}),
    });
    io.out(`factory created in ${dir}`);
    io.out(`  trusted root: ${res.layout.trustedRoot}`);
    io.out(`  store:        ${store ?? res.layout.db}`);
    io.out(`  root key:     ${res.rootKeyPath} (${res.rootKeyEncrypted ? 'encrypted' : 'NOT encrypted: keep it offline'})`);
    if (res.replacedTo) io.out(`  previous factory moved to ${res.replacedTo}`);
    return 0;
  },
};
