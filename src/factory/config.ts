import { readFileSync } from 'node:fs';
import { SsfError, asArray, asObject, asString, parseJson, type ErrorCode } from '../core/index.js';
import { isPostgresUrl } from '../store/index.js';
import type { FactoryLayout } from './layout.js';

/** One intermediate CA generation; retired ones keep their window so old bundles still verify. */
export interface IntermediateRecord {
  readonly generation: number;
  readonly validFrom: string;
  readonly retiredAt?: string;
}

/** factory.json: the factory's own settings and CA history. */
export interface FactoryConfig {
  readonly formatVersion: 1;
  readonly trustDomain: string;
  readonly createdAt: string;
  readonly leafMinutes: number;
  readonly rootValidFrom: string;
  readonly logValidFrom: string;
  readonly intermediates: readonly IntermediateRecord[];
  /** The PostgreSQL URL of the factory's database; absent: SQLite in `ssf.db` of the data directory. */
  readonly store?: string;
}

/** Reads and checks factory.json. */
export function readConfig(path: string): FactoryConfig {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') throw new SsfError('FACTORY_MISSING', `no factory at ${path.replace(/\/factory\.json$/, '')}; run \`ssf init\` first`);
    throw new SsfError('IO_FAILED', `cannot read ${path}: ${(e as Error).message}`, { cause: e });
  }
  const o = asObject(parseJson(text, 'factory.json', 'FACTORY_CORRUPT'), 'factory.json', 'FACTORY_CORRUPT');
  if (o.formatVersion !== 1) throw new SsfError('FACTORY_CORRUPT', `factory.json has format version ${JSON.stringify(o.formatVersion)}; this ssf reads 1`);
  const leafMinutes = o.leafMinutes;
  if (typeof leafMinutes !== 'number' || !(leafMinutes > 0)) throw new SsfError('FACTORY_CORRUPT', 'factory.json leafMinutes must be a positive number');
  const intermediates = asArray(o.intermediates, 'factory.json intermediates', 'FACTORY_CORRUPT').map((r) => {
    const x = asObject(r, 'intermediate record', 'FACTORY_CORRUPT');
    if (typeof x.generation !== 'number') throw new SsfError('FACTORY_CORRUPT', 'intermediate generation must be a number');
    const rec: IntermediateRecord = { generation: x.generation, validFrom: asString(x.validFrom, 'intermediate validFrom', 'FACTORY_CORRUPT') };
    return x.retiredAt === undefined ? rec : { ...rec, retiredAt: asString(x.retiredAt, 'intermediate retiredAt', 'FACTORY_CORRUPT') };
  });
  if (!intermediates.some((i) => i.retiredAt === undefined)) throw new SsfError('FACTORY_CORRUPT', 'factory.json has no active intermediate CA');
  const store = o.store === undefined ? undefined : checkStoreUrl(asString(o.store, 'factory.json store', 'FACTORY_CORRUPT'), 'factory.json store', 'FACTORY_CORRUPT');
  const config: FactoryConfig = {
    formatVersion: 1,
    trustDomain: asString(o.trustDomain, 'factory.json trustDomain', 'FACTORY_CORRUPT'),
    createdAt: asString(o.createdAt, 'factory.json createdAt', 'FACTORY_CORRUPT'),
    leafMinutes,
    rootValidFrom: asString(o.rootValidFrom, 'factory.json rootValidFrom', 'FACTORY_CORRUPT'),
    logValidFrom: asString(o.logValidFrom, 'factory.json logValidFrom', 'FACTORY_CORRUPT'),
    intermediates,
  };
  return store === undefined ? config : { ...config, store };
}

/**
 * Checks a PostgreSQL store URL that will be written down or used: `postgres://` or
 * `postgresql://`, and no password in it (factory.json is not a secret; libpq reads
 * PGPASSWORD, ~/.pgpass or uses peer authentication instead).
 */
export function checkStoreUrl(url: string, what: string, code: ErrorCode = 'USAGE'): string {
  if (!isPostgresUrl(url)) throw new SsfError(code, `${what} ${JSON.stringify(url)} is not a postgres:// or postgresql:// URL`);
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new SsfError(code, `${what} is not a valid URL`);
  }
  if (parsed.password !== '' || [...parsed.searchParams.keys()].some((k) => k.toLowerCase() === 'password')) {
    throw new SsfError(code, `${what} contains a password; remove it from the URL and give it to libpq in PGPASSWORD or ~/.pgpass (or use peer authentication)`);
  }
  return url;
}

/**
 * Where a factory's database is: $SSF_STORE for this process (a PostgreSQL URL or an SQLite
 * file), else the URL in factory.json, else `ssf.db` in the data directory.
 */
export function storeLocation(layout: FactoryLayout, config: FactoryConfig, env: NodeJS.ProcessEnv = process.env): string {
  const override = env.SSF_STORE;
  if (override !== undefined && override !== '') return isPostgresUrl(override) ? checkStoreUrl(override, '$SSF_STORE') : override;
  return config.store ?? layout.db;
}
