import Database from 'better-sqlite3';
import { SsfError } from '../core/index.js';

export type Db = Database.Database;

/** A versioned schema step; steps run once each, in order, inside one transaction. */
export interface Migration {
  readonly id: string;
  up(db: Db): void;
}

/**
 * Opens (creating if needed) an SQLite database in WAL mode. synchronous=NORMAL keeps every
 * committed transaction across a process crash (SIGKILL); only an OS crash may lose the last ones.
 */
export function openDb(path: string, opts: { readonly?: boolean } = {}): Db {
  let db: Db;
  try {
    db = new Database(path, { readonly: opts.readonly ?? false, fileMustExist: opts.readonly ?? false });
    if (!opts.readonly) db.pragma('journal_mode = WAL');
    db.pragma('synchronous = NORMAL');
    db.pragma('foreign_keys = ON');
    db.pragma('busy_timeout = 5000');
  } catch (e) {
    throw new SsfError('STORE_FAILED', `cannot open database ${path}: ${(e as Error).message}`, { cause: e });
  }
  return db;
}

/** Applies migrations not yet recorded in `schema_migrations`. */
export function migrate(db: Db, migrations: readonly Migration[]): string[] {
  db.exec('CREATE TABLE IF NOT EXISTS schema_migrations (id TEXT PRIMARY KEY, applied_at TEXT NOT NULL)');
  const done = new Set((db.prepare('SELECT id FROM schema_migrations').all() as { id: string }[]).map((r) => r.id));
  const applied: string[] = [];
  const run = db.transaction(() => {
    for (const m of migrations) {
      if (done.has(m.id)) continue;
      m.up(db);
      db.prepare('INSERT INTO schema_migrations (id, applied_at) VALUES (?, ?)').run(m.id, new Date().toISOString());
      applied.push(m.id);
    }
  });
  try {
    run();
  } catch (e) {
    throw new SsfError('STORE_FAILED', `database migration failed: ${(e as Error).message}`, { cause: e });
  }
  return applied;
}
