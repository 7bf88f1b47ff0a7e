import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { openDb, type Db } from './db.js';
import { openPgDb } from './pg.js';

/**
 * Test helper: the backends a store-level suite runs on. SQLite always; PostgreSQL when
 * $SSF_TEST_POSTGRES holds a URL (e.g. `postgresql:///postgres?host=/var/run/postgresql`),
 * otherwise its suite is skipped with that reason. Every database a test gets on PostgreSQL is a
 * fresh schema of its own, dropped when the process exits, so test files can run in parallel
 * against one server.
 */
export interface TestBackend {
  readonly name: 'sqlite' | 'postgres';
  /** Why this backend's tests are skipped, or undefined when they run. */
  readonly skip: string | undefined;
  /** A fresh, empty database (SQLite: in memory). */
  open(): Db;
  /** A fresh, empty store location to open by name (SQLite: a file in a temporary directory; PostgreSQL: a URL with its own schema). */
  location(): string;
}

/** The PostgreSQL URL the tests use, or undefined. */
export function testPostgresUrl(env: NodeJS.ProcessEnv = process.env): string | undefined {
  const url = env.SSF_TEST_POSTGRES;
  return url === undefined || url === '' ? undefined : url;
}

/** The URL with its search path set to one schema (libpq's `options`, percent-encoded). */
export function urlWithSchema(url: string, schema: string): string {
  return `${url}${url.includes('?') ? '&' : '?'}options=${encodeURIComponent(`-c search_path=${schema}`)}`;
}

const schemas: string[] = [];
let tmp: string | undefined;
let admin: Db | undefined;
let exitHook = false;

function cleanupAtExit(): void {
  if (exitHook) return;
  exitHook = true;
  // pg-native is synchronous, so the schemas can be dropped from the exit handler itself.
  // Connections are not closed there: libpq's socket watcher must not be closed while the
  // event loop is being torn down (node aborts), and the process ending closes them anyway.
  process.on('exit', () => {
    if (admin !== undefined) {
      for (const s of schemas) {
        try {
          admin.exec(`DROP SCHEMA IF EXISTS ${s} CASCADE`);
        } catch {
          // a connection the test left open inside a transaction holds a lock; the schema stays
        }
      }
    }
    if (tmp !== undefined) rmSync(tmp, { recursive: true, force: true });
  });
}

function newSchema(url: string): string {
  cleanupAtExit();
  admin ??= openPgDb(url);
  const name = `ssf_test_${process.pid}_${schemas.length}_${randomBytes(3).toString('hex')}`;
  admin.exec(`CREATE SCHEMA ${name}`);
  schemas.push(name);
  return urlWithSchema(url, name);
}

function tmpFile(): string {
  cleanupAtExit();
  tmp ??= mkdtempSync(join(tmpdir(), 'ssf-store-test-'));
  return join(tmp, `${randomBytes(6).toString('hex')}.db`);
}

/** SQLite, and PostgreSQL (skipped with a reason unless $SSF_TEST_POSTGRES is set). */
export function testBackends(env: NodeJS.ProcessEnv = process.env): TestBackend[] {
  const url = testPostgresUrl(env);
  return [
    { name: 'sqlite', skip: undefined, open: () => openDb(':memory:'), location: tmpFile },
    {
      name: 'postgres',
      skip: url === undefined ? 'set SSF_TEST_POSTGRES to a PostgreSQL URL to run these tests on PostgreSQL' : undefined,
      open: () => openDb(newSchema(url as string)),
      location: () => newSchema(url as string),
    },
  ];
}
