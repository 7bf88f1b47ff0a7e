import { existsSync, mkdirSync, readdirSync, renameSync, rmdirSync, rmSync, statSync } from 'node:fs';
import { dirname, basename, join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { SsfError, writeFileAtomic, type Clock } from '../core/index.js';
import {
  assertTrustDomain, buildTrustedRoot, createIntermediateCa, createRootCa, exportPrivateKeyPem, generateP256,
  logBaseUrl, signRevocationList, type IssuingCa,
} from '../trust/index.js';
import { openDb, tableExists } from '../store/index.js';
import { checkStoreUrl, type FactoryConfig } from './config.js';
import { layoutOf, type FactoryLayout } from './layout.js';
import { migrateFactoryDb } from './schema.js';

/** Options for `ssf init`. */
export interface InitOptions {
  readonly dir: string;
  readonly trustDomain: string;
  readonly clock: Clock;
  /** Encrypts the root key at rest in the data dir. */
  readonly passphrase?: string;
  /** Writes the root key here instead of keeping it in the data dir (the offline root). */
  readonly rootKeyOut?: string;
  /** Replace an existing factory (the old one is moved aside, never deleted). */
  readonly force?: boolean;
  readonly leafMinutes?: number;
  /**
   * A PostgreSQL URL (without a password) for the factory's database, recorded in factory.json;
   * the database or schema it names must hold no factory yet. Absent: SQLite in the data directory.
   */
  readonly store?: string;
}

/** What init created. */
export interface InitResult {
  readonly layout: FactoryLayout;
  readonly replacedTo?: string;
  readonly rootKeyPath: string;
  readonly rootKeyEncrypted: boolean;
}

/**
 * Creates a factory: root CA, first intermediate, log key, trusted root, an empty signed
 * revocation list and the database. Everything is built in a temporary sibling directory and
 * renamed into place, so an interrupted init leaves nothing half-made.
 */
export async function initFactory(opts: InitOptions): Promise<InitResult> {
  assertTrustDomain(opts.trustDomain);
  const final = layoutOf(opts.dir);
  if (existsSync(final.config) && !opts.force) {
    throw new SsfError('FACTORY_EXISTS', `a factory already exists in ${opts.dir}; pass --force to replace it (the old one is kept aside)`);
  }
  // Only a factory is ever moved aside: never a project directory or a file that happens to be there.
  if (existsSync(opts.dir) && !existsSync(final.config)) {
    if (!statSync(opts.dir).isDirectory()) throw new SsfError('USAGE', `${opts.dir} exists and is not a directory; choose a new or empty directory for the factory`);
    if (readdirSync(opts.dir).length > 0) throw new SsfError('USAGE', `${opts.dir} exists and is not a factory; choose a new or empty directory for the factory`);
  }
  if (opts.passphrase === undefined && opts.rootKeyOut === undefined) {
    throw new SsfError('PASSPHRASE_REQUIRED', 'the root key needs a passphrase (SSF_ROOT_PASSPHRASE or the prompt) or --root-key-out FILE to keep it offline');
  }
  if (opts.passphrase !== undefined && opts.passphrase.length < 8) {
    throw new SsfError('USAGE', 'the root key passphrase must be at least 8 characters');
  }
  if (opts.rootKeyOut !== undefined && existsSync(opts.rootKeyOut)) {
    throw new SsfError('FACTORY_EXISTS', `${opts.rootKeyOut} already exists; refusing to overwrite a root key`);
  }
  const leafMinutes = opts.leafMinutes ?? 10;
  if (!(leafMinutes > 0 && leafMinutes <= 24 * 60)) throw new SsfError('USAGE', `leaf validity must be between 1 and 1440 minutes, got ${leafMinutes}`);

  const store = opts.store === undefined ? undefined : checkStoreUrl(opts.store, '--store');
  // A database cannot be moved aside like a directory, so --force never reuses one.
  if (store !== undefined) assertEmptyStore(store);

  const tmpDir = join(dirname(opts.dir), `.${basename(opts.dir)}.init-${randomBytes(4).toString('hex')}`);
  try {
    mkdirSync(dirname(opts.dir), { recursive: true });
    // Not recursive: some pseudo file systems make a recursive mkdir loop forever.
    mkdirSync(tmpDir, { mode: 0o700 });
  } catch (e) {
    throw new SsfError('IO_FAILED', `cannot create the factory directory next to ${opts.dir}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`, { cause: e });
  }
  const L = layoutOf(tmpDir);
  try {
    const now = opts.clock.now();
    const root = await createRootCa({ trustDomain: opts.trustDomain, clock: opts.clock });
    const inter = await createIntermediateCa(root, { trustDomain: opts.trustDomain, clock: opts.clock, generation: 1 });
    const logKeys = generateP256();
    writeFileAtomic(L.rootCert, root.certPem);
    const rootKeyPem = exportPrivateKeyPem(root.keys.privateKey, opts.passphrase);
    if (opts.rootKeyOut === undefined) writeFileAtomic(L.rootKey, rootKeyPem, 0o600);
    writeFileAtomic(L.intermediateCert(1), inter.certPem);
    writeFileAtomic(L.intermediateKey(1), exportPrivateKeyPem(inter.keys.privateKey), 0o600);
    writeFileAtomic(L.logKey, exportPrivateKeyPem(logKeys.privateKey), 0o600);
    const config: FactoryConfig = {
      formatVersion: 1,
      trustDomain: opts.trustDomain,
      createdAt: now.toISOString(),
      leafMinutes,
      rootValidFrom: new Date(root.cert.validFrom).toISOString(),
      logValidFrom: new Date(now.getTime() - 60_000).toISOString(),
      intermediates: [{ generation: 1, validFrom: new Date(inter.cert.validFrom).toISOString() }],
      ...(store !== undefined ? { store } : {}),
    };
    writeFileAtomic(L.trustedRoot, JSON.stringify(trustedRootFor(config, root, [inter], logKeys.publicKey), null, 2) + '\n');
    const revocations = signRevocationList({ trustDomain: opts.trustDomain, version: 0, issuedAt: now.toISOString(), entries: [] }, root.keys.privateKey);
    writeFileAtomic(L.revocations, JSON.stringify(revocations, null, 2) + '\n');
    const db = openDb(store ?? L.db);
    try {
      migrateFactoryDb(db);
    } finally {
      db.close();
    }
    // factory.json last: its presence marks a complete factory.
    writeFileAtomic(L.config, JSON.stringify(config, null, 2) + '\n');
    let replacedTo: string | undefined;
    if (existsSync(final.config)) {
      replacedTo = `${opts.dir}.replaced-${now.toISOString().replace(/[:.]/g, '-')}`;
      renameSync(opts.dir, replacedTo);
    }
    if (existsSync(opts.dir)) rmdirSync(opts.dir); // an empty directory, checked above
    renameSync(tmpDir, opts.dir);
    if (opts.rootKeyOut !== undefined) writeFileAtomic(opts.rootKeyOut, rootKeyPem, 0o600);
    const res = {
      layout: final,
      rootKeyPath: opts.rootKeyOut ?? final.rootKey,
      rootKeyEncrypted: opts.passphrase !== undefined,
    };
    return replacedTo ? { ...res, replacedTo } : res;
  } catch (e) {
    rmSync(tmpDir, { recursive: true, force: true });
    throw e;
  }
}

/** Refuses a PostgreSQL store that already holds a factory's tables (another factory's log and keys would not match). */
function assertEmptyStore(url: string): void {
  const db = openDb(url);
  try {
    if (tableExists(db, 'schema_migrations') || tableExists(db, 'tlog_leaves')) {
      throw new SsfError('FACTORY_EXISTS', 'the PostgreSQL store already holds a factory\'s tables; give --store an empty database or schema (for example with options=-csearch_path%3DNAME in the URL)');
    }
  } finally {
    db.close();
  }
}

/** The trusted root for the current CA history: one entry per intermediate, each with its window. */
export function trustedRootFor(
  config: FactoryConfig,
  root: { certPem: string },
  intermediates: readonly { certPem: string }[],
  logPublicKey: import('node:crypto').KeyObject,
): Record<string, unknown> {
  return buildTrustedRoot({
    trustDomain: config.trustDomain,
    cas: config.intermediates.map((rec, i) => {
      const inter = intermediates[i];
      if (!inter) throw new SsfError('FACTORY_CORRUPT', `intermediate CA ${rec.generation} certificate is missing`);
      const ca = { chainPem: [inter.certPem, root.certPem], validFrom: new Date(rec.validFrom) };
      return rec.retiredAt ? { ...ca, validTo: new Date(rec.retiredAt) } : ca;
    }),
    tlogs: [{ baseUrl: logBaseUrl(config.trustDomain), publicKey: logPublicKey, validFrom: new Date(config.logValidFrom) }],
  });
}

export type { IssuingCa };
