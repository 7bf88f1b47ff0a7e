/**
 * The query layer every part of ssf uses: the subset of better-sqlite3's synchronous API that
 * the project needs, so one set of queries runs on SQLite (better-sqlite3 itself, which already
 * has this shape) and on PostgreSQL (`PgDb` in src/store/pg.ts). docs/storage.md gives the rules
 * for SQL that runs on both.
 */

/** Which database a connection talks to; branch on it only where the SQL cannot be portable. */
export type SqlDialect = 'sqlite' | 'postgres';

/** What a write statement reports. */
export interface SqlRunResult {
  /** Rows inserted, updated or deleted. */
  readonly changes: number;
}

/**
 * A prepared statement. Parameters are positional (`?`); an array argument is spread, as
 * better-sqlite3 does. Values bind as: number, bigint, string, Buffer/Uint8Array, null
 * (undefined binds as null); booleans are refused on both backends (bind 1 or 0).
 */
export interface SqlStatement<P extends unknown[] = unknown[], R = unknown> {
  run(...params: P): SqlRunResult;
  get(...params: P): R | undefined;
  all(...params: P): R[];
  iterate(...params: P): IterableIterator<R>;
  /** Rows become their first column's value. Changes this statement object only. */
  pluck(toggle?: boolean): this;
  /**
   * Rows become arrays of their column values, in the statement's order: no object per row,
   * which counts when an answer is thousands of rows. Turns pluck off, as better-sqlite3 does.
   */
  raw(toggle?: boolean): this;
}

/**
 * A transaction function: runs `fn` between BEGIN and COMMIT, rolls back if it throws, and
 * becomes a savepoint when called inside another transaction. `immediate` takes the write lock
 * before the first statement (SQLite: BEGIN IMMEDIATE; PostgreSQL: an advisory lock).
 */
export interface SqlTransaction<F extends (...args: any[]) => unknown> { // eslint-disable-line @typescript-eslint/no-explicit-any
  (...args: SqlArgs<F>): ReturnType<F>;
  readonly immediate: (...args: SqlArgs<F>) => ReturnType<F>;
}

/** A function's parameters, spelled as better-sqlite3's typings spell them so its transactions fit. */
export type SqlArgs<F> = F extends (...args: infer A) => unknown ? A : never;

/** A synchronous database connection. */
export interface SqlDb {
  readonly dialect: SqlDialect;
  readonly inTransaction: boolean;
  readonly readonly: boolean;
  /** Prepares (and on PostgreSQL caches per SQL text) a statement. */
  prepare<P extends unknown[] = unknown[], R = unknown>(sql: string): SqlStatement<P, R>;
  /** Runs one or more statements without parameters (schema steps). */
  exec(sql: string): this;
  /** SQLite pragmas; a no-op returning undefined on PostgreSQL. */
  pragma(source: string, options?: { simple?: boolean }): unknown;
  transaction<F extends (...args: any[]) => unknown>(fn: F): SqlTransaction<F>; // eslint-disable-line @typescript-eslint/no-explicit-any
  close(): this;
}
