import { migrateLogSchema } from '../log/index.js';
import { evidenceMigrations, migrate, type Db } from '../store/index.js';

/** All schema steps of a factory database, in order. */
export function migrateFactoryDb(db: Db): string[] {
  return migrate(db, [{ id: '0001_tlog', up: (d) => migrateLogSchema(d) }, ...evidenceMigrations]);
}
