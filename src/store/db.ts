import Database from 'better-sqlite3';
import { SsfError, type SqlDb } from '../core/index.js';
import { openPgDb } from './pg.js';

/** A connection to the factory's database, on SQLite or PostgreSQL (docs/storage.md). */
export type Db = SqlDb;

/** A versioned schema step; steps run once each, in order, inside one transaction. */
export interface Migration {
  readonly id: string;
  up(db: Db): void;
}

/** Does this store location name a PostgreSQL database (rather than an SQLite file)? */
export function isPostgresUrl(location: string): boolean {
  return /^postgres(?:ql)?:\/\//i.test(location);
}

/**
 * Opens the store at `location`: a `postgres://` or `postgresql://` URL opens PostgreSQL
 * (through the optional pg-native driver); anything else is an SQLite file, created if needed.
 */
export function openDb(location: string, opts: { readonly?: boolean } = {}): Db {
  return isPostgresUrl(location) ? openPgDb(location, opts) : openSqliteDb(location, opts);
}

/**
 * Opens (creating if needed) an SQLite database in WAL mode. synchronous=NORMAL keeps every
 * committed transaction across a process crash (SIGKILL); only an OS crash may lose the last ones.
 */
export function openSqliteDb(path: string, opts: { readonly?: boolean } = {}): Db {
  let db: Database.Database;
  try {
    db = new Database(path, { readonly: opts.readonly ?? false, fileMustExist: opts.readonly ?? false });
    if (!opts.readonly) db.pragma('journal_mode = WAL');
    db.pragma('synchronous = NORMAL');
    db.pragma('foreign_keys = ON');
    db.pragma('busy_timeout = 5000');
    // A page cache of up to 128 MiB (SQLite's default is 2 MiB): at fleet size the graph's
    // edge indexes are gigabytes, and every SBOM written or queried touches pages all over
    // them (docs/benchmarks.md). The memory is taken only as pages are read.
    db.pragma('cache_size = -131072');
  } catch (e) {
    throw new SsfError('STORE_FAILED', `cannot open database ${path}: ${(e as Error).message}`, { cause: e });
  }
  return sqliteDb(db);
}

/**
 * The query layer's face of a better-sqlite3 connection. better-sqlite3 already has that shape
 * (the compile-time check below keeps it so), so the connection itself is returned with only
 * `dialect` added: SQLite calls go straight to the driver, with no wrapper in between.
 */
export function sqliteDb(db: Database.Database): Db {
  if (!Object.hasOwn(db, 'dialect')) Object.defineProperty(db, 'dialect', { value: 'sqlite', enumerable: false });
  return db as Database.Database & Pick<Db, 'dialect'>;
}

/** Is there a table of this name where unqualified names resolve (PostgreSQL: the search path)? */
export function tableExists(db: Db, name: string): boolean {
  const sql = db.dialect === 'postgres'
    ? 'SELECT count(*) AS n FROM pg_catalog.pg_class WHERE oid = to_regclass(?)'
    : "SELECT count(*) AS n FROM sqlite_master WHERE type = 'table' AND name = ?";
  return (db.prepare<[string], { n: number }>(sql).get(name)?.n ?? 0) > 0;
}

/**
 * Applies migrations not yet recorded in `schema_migrations`, in one write-locked transaction
 * (a savepoint inside the caller's), so two processes opening a new store never apply a step
 * twice. When every step is recorded, nothing is written and no lock is taken.
 */
export function migrate(db: Db, migrations: readonly Migration[]): string[] {
  const recorded = (): Set<string> => new Set(db.prepare<[], string>('SELECT id FROM schema_migrations').pluck().all());
  try {
    if (tableExists(db, 'schema_migrations')) {
      const done = recorded();
      if (migrations.every((m) => done.has(m.id))) return [];
    }
    return db.transaction(() => {
      db.exec('CREATE TABLE IF NOT EXISTS schema_migrations (id TEXT PRIMARY KEY, applied_at TEXT NOT NULL)');
      const done = recorded();
      const applied: string[] = [];
      const ins = db.prepare('INSERT INTO schema_migrations (id, applied_at) VALUES (?, ?)');
      for (const m of migrations) {
        if (done.has(m.id)) continue;
        m.up(db);
        ins.run(m.id, new Date().toISOString());
        applied.push(m.id);
      }
      return applied;
    }).immediate();
  } catch (e) {
    throw new SsfError('STORE_FAILED', `database migration failed: ${(e as Error).message}`, { cause: e });
  }
}

/**
 * A PostgreSQL array literal of text values (`{"a","b"}`), to bind as one parameter where a
 * statement reads `unnest(CAST(? AS text[]))`: PostgreSQL's planner runs a join against such
 * a list as index lookups, where a long `IN (?, …)` list of parameters becomes, once it
 * switches to a generic plan, a sequential scan comparing each row with every parameter
 * (docs/storage.md).
 */
export function pgTextArray(values: readonly string[]): string {
  return `{${values.map((v) => `"${v.replace(/[\\"]/g, '\\$&')}"`).join(',')}}`;
}
