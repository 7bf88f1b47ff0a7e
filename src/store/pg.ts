import { createRequire } from 'node:module';
import { SsfError, type SqlDb, type SqlRunResult, type SqlStatement, type SqlArgs, type SqlTransaction } from '../core/index.js';

/**
 * PostgreSQL behind the query layer, on pg-native's synchronous libpq calls, so every part
 * keeps its synchronous code and one set of queries for both backends. docs/storage.md
 * describes the translation rules and where the two backends still differ.
 */

/** The parts of a pg-native client used here (the package ships no types). */
interface NativeClient {
  readonly pq: {
    cmdStatus(): string;
    cmdTuples(): string;
    resultErrorFields(): { sqlState?: string; messagePrimary?: string } | undefined;
    serverVersion(): number;
    /** libpq's PQtransactionStatus: 0 idle, 1 active, 2 in a transaction, 3 in a failed transaction. */
    transactionStatus(): number;
  };
  arrayMode: boolean;
  connectSync(conninfo: string): void;
  querySync(text: string, values?: (string | null)[]): unknown[];
  prepareSync(name: string, text: string, nParams: number): void;
  executeSync(name: string, values: (string | null)[]): unknown[];
  end(): void;
}

type TypeParser = (text: string) => unknown;
type NativeClientClass = new (config: { types: { getTypeParser(oid: number): TypeParser } }) => NativeClient;

const PQTRANS_IDLE = 0;
const PQTRANS_INERROR = 3;
/** Writers wait this long for a lock, as SQLite's busy_timeout lets them. */
const LOCK_TIMEOUT = '5s';
/** Rows fetched per round trip when a statement is iterated inside a transaction. */
const CURSOR_BATCH = 256;

// ---------------------------------------------------------------- values

function safeNumber(text: string, what: string): number {
  const n = Number(text);
  // Counts, sizes, log indices and times are integers; past 2^53 a JS number would silently round.
  if (Math.abs(n) > Number.MAX_SAFE_INTEGER) {
    throw new SsfError('STORE_FAILED', `PostgreSQL returned ${what} ${text}, beyond the largest integer JavaScript holds exactly (2^53 - 1)`);
  }
  return n;
}

function parseBytea(text: string): Buffer {
  // bytea_output is set to hex for every connection (see connect).
  if (!text.startsWith('\\x')) throw new SsfError('STORE_FAILED', 'PostgreSQL returned bytea in escape format; expected hex');
  return Buffer.from(text.slice(2), 'hex');
}

/**
 * Result types as SQLite gives them: integers and numerics as numbers (refused past 2^53),
 * bytea as Buffer, booleans as 1 and 0; everything else as its text.
 */
const PARSERS: ReadonlyMap<number, TypeParser> = new Map<number, TypeParser>([
  [16, (t) => (t === 't' ? 1 : 0)], // bool
  [17, parseBytea],
  [20, (t) => safeNumber(t, 'integer')], // int8
  [21, Number], // int2
  [23, Number], // int4
  [26, Number], // oid
  [700, Number], // float4
  [701, Number], // float8
  [1700, (t) => safeNumber(t, 'numeric')],
]);
const asText: TypeParser = (t) => t;
const TYPES = { getTypeParser: (oid: number): TypeParser => PARSERS.get(oid) ?? asText };

/** One parameter in PostgreSQL's text format; the server types it from where it appears. */
function toParam(v: unknown): string | null {
  switch (typeof v) {
    case 'undefined':
      return null;
    case 'string':
      if (v.includes('\u0000')) throw new SsfError('STORE_FAILED', 'PostgreSQL text cannot hold a NUL character; store such data as bytes');
      return v;
    case 'number':
    case 'bigint':
      return String(v);
    case 'object':
      if (v === null) return null;
      if (v instanceof Uint8Array) return '\\x' + Buffer.from(v.buffer, v.byteOffset, v.byteLength).toString('hex');
      break;
    default:
      break;
  }
  throw new SsfError('USAGE', `cannot bind a ${typeof v === 'object' ? 'non-byte object' : typeof v} to an SQL parameter: bind numbers, bigints, strings, Buffers or null (booleans as 1 or 0)`);
}

/** The bound values of a call: array arguments are spread, as better-sqlite3 does; named parameters are not portable. */
function bindArgs(args: readonly unknown[]): (string | null)[] {
  const out: (string | null)[] = [];
  for (const a of args) {
    if (Array.isArray(a)) {
      for (const x of a) out.push(toParam(x));
    } else if (typeof a === 'object' && a !== null && [Object.prototype, null].includes(Object.getPrototypeOf(a))) {
      throw new SsfError('USAGE', 'named SQL parameters are SQLite-only; use positional ? parameters');
    } else {
      out.push(toParam(a));
    }
  }
  return out;
}

// ---------------------------------------------------------------- SQL text

type Segment = { readonly code: boolean; readonly text: string };

/** Splits SQL into code and the parts no rewrite may touch: '…' literals, "…" identifiers, comments. */
function segments(sql: string): Segment[] {
  const out: Segment[] = [];
  let start = 0;
  let i = 0;
  const push = (code: boolean, end: number): void => {
    if (end > start) out.push({ code, text: sql.slice(start, end) });
    start = end;
  };
  while (i < sql.length) {
    const c = sql[i];
    const next = sql[i + 1];
    let end = -1;
    if (c === "'" || c === '"') {
      // A doubled quote inside is an escaped quote, so the literal ends at the first lone one.
      end = i + 1;
      for (;;) {
        const q = sql.indexOf(c, end);
        if (q < 0) {
          end = sql.length;
          break;
        }
        if (sql[q + 1] === c) {
          end = q + 2;
          continue;
        }
        end = q + 1;
        break;
      }
    } else if (c === '-' && next === '-') {
      const nl = sql.indexOf('\n', i);
      end = nl < 0 ? sql.length : nl;
    } else if (c === '/' && next === '*') {
      const close = sql.indexOf('*/', i + 2);
      end = close < 0 ? sql.length : close + 2;
    }
    if (end < 0) {
      i++;
      continue;
    }
    push(true, i);
    push(false, end);
    i = end;
  }
  push(true, sql.length);
  return out;
}

/**
 * A bare word in mixed case (`logIndex`, both lower- and upper-case letters) is quoted, so
 * PostgreSQL keeps its case as SQLite does: `SELECT log_index AS logIndex` then returns a
 * `logIndex` column on both, where PostgreSQL alone would fold it to `logindex`. Keywords and
 * snake_case names (one case only) and function names (followed by `(`) are left alone.
 */
function quoteMixedCase(code: string): string {
  return code.replace(/(?<![\w$"])([A-Za-z_][A-Za-z0-9_]*)(?![\w$"]|\s*\()/g, (w: string) => (/[a-z]/.test(w) && /[A-Z]/.test(w) ? `"${w}"` : w));
}

/**
 * `?` placeholders (outside literals, quoted identifiers and comments) become `$1`, `$2`, …, and
 * mixed-case words are quoted (quoteMixedCase). SQLite-only forms are refused here, once per
 * SQL text, rather than failing obscurely later.
 */
export function translatePlaceholders(sql: string): { text: string; params: number } {
  let params = 0;
  const text = segments(sql).map((s) => {
    if (!s.code) return s.text;
    if (/\bINSERT\s+OR\s+(?:IGNORE|REPLACE|ABORT|FAIL|ROLLBACK)\b/i.test(s.text)) {
      throw new SsfError('STORE_FAILED', 'INSERT OR … is SQLite-only; write INSERT … ON CONFLICT … DO NOTHING (or DO UPDATE), which both backends run');
    }
    return quoteMixedCase(s.text).replace(/\?(\d*)/g, (_m, digits: string) => {
      if (digits !== '') throw new SsfError('STORE_FAILED', `numbered parameter ?${digits} is SQLite-only; use plain ? parameters`);
      return `$${++params}`;
    });
  }).join('');
  return { text, params };
}

/**
 * Schema SQL written for SQLite, rewritten to PostgreSQL's types (outside literals, quoted
 * identifiers and comments). The complete list of rules:
 *   INTEGER PRIMARY KEY [AUTOINCREMENT]  →  BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY
 *   INTEGER  →  BIGINT        BLOB  →  BYTEA        REAL  →  DOUBLE PRECISION
 *   WITHOUT ROWID  →  (dropped)
 * and mixed-case words are quoted, as in queries (quoteMixedCase).
 */
export function translateDdl(sql: string): string {
  return segments(sql).map((s) => (!s.code ? s.text : quoteMixedCase(s.text)
    .replace(/\bINTEGER\s+PRIMARY\s+KEY(?:\s+AUTOINCREMENT)?\b/gi, 'BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY')
    .replace(/\bINTEGER\b/gi, 'BIGINT')
    .replace(/\bBLOB\b/gi, 'BYTEA')
    .replace(/\bREAL\b/gi, 'DOUBLE PRECISION')
    .replace(/\s*\bWITHOUT\s+ROWID\b/gi, ''))).join('');
}

/** A store URL with any password blanked, for messages. */
export function redactUrl(url: string): string {
  return url.replace(/^([a-z]+:\/\/[^/?#@:]*):[^/?#@]*@/i, '$1:***@').replace(/([?&]password=)[^&#]*/gi, '$1***');
}

// ---------------------------------------------------------------- errors

function pgError(client: NativeClient | undefined, e: unknown, what: string): SsfError {
  if (e instanceof SsfError) return e;
  const fields = client?.pq.resultErrorFields();
  const msg = fields?.messagePrimary ?? (e instanceof Error ? e.message : String(e)).replace(/^(?:ERROR|FATAL):\s+/, '').split('\n')[0];
  const state = fields?.sqlState !== undefined ? ` [SQLSTATE ${fields.sqlState}]` : '';
  return new SsfError('STORE_FAILED', `${what}: PostgreSQL: ${msg}${state}`, { cause: e });
}

// ---------------------------------------------------------------- driver

let driver: NativeClientClass | undefined;

/** pg-native, loaded on first use so that machines without libpq still run SQLite. */
function loadDriver(): NativeClientClass {
  if (driver !== undefined) return driver;
  try {
    driver = createRequire(import.meta.url)('pg-native') as NativeClientClass;
    return driver;
  } catch (e) {
    throw new SsfError('STORE_FAILED',
      `a PostgreSQL store needs the optional pg-native package, which builds against libpq: install libpq-dev (apt-get install libpq-dev), then \`npm install pg-native\` (${(e as Error).message.split('\n')[0]})`,
      { cause: e });
  }
}

// The libpq addon frees its socket watcher together with the client object, while libuv may
// still be closing that watcher; a garbage collection in between crashes node when the loop
// reaches the close phase. A closed client is therefore kept reachable for one loop turn.
const closing = new Set<NativeClient>();

function endClient(client: NativeClient): void {
  client.end();
  closing.add(client);
  setImmediate(() => setImmediate(() => closing.delete(client)).unref()).unref();
}

/** Opens a PostgreSQL connection from a libpq URL (`postgresql://[user@]host/db?…`). */
export function openPgDb(url: string, opts: { readonly?: boolean } = {}): PgDb {
  const Client = loadDriver();
  const client = new Client({ types: TYPES });
  try {
    client.connectSync(url);
  } catch (e) {
    endClient(client);
    throw new SsfError('STORE_FAILED', `cannot connect to PostgreSQL at ${redactUrl(url)}: ${(e as Error).message.trim().split('\n').join(' ')}`, { cause: e });
  }
  try {
    if (client.pq.serverVersion() < 110000) throw new SsfError('STORE_FAILED', `PostgreSQL ${client.pq.serverVersion()} is too old; ssf needs 11 or later`);
    // Notices ("relation already exists, skipping") would otherwise be printed on stderr by libpq.
    client.querySync(`SET client_min_messages TO warning; SET bytea_output TO hex; SET lock_timeout TO '${LOCK_TIMEOUT}'`
      + (opts.readonly ? '; SET default_transaction_read_only TO on' : ''));
  } catch (e) {
    const err = pgError(client, e, `cannot set up the PostgreSQL session at ${redactUrl(url)}`);
    endClient(client);
    throw err;
  }
  return new PgDb(client, opts.readonly ?? false);
}

/** How a statement gives its rows: objects by column name, the first column's values, or arrays. */
type RowShape = 'object' | 'pluck' | 'raw';

/** A statement of a PgDb. Each prepare() gets its own object, so pluck() stays local to it. */
class PgStatement<P extends unknown[], R> implements SqlStatement<P, R> {
  private shape: RowShape = 'object';
  constructor(
    private readonly db: PgDb,
    private readonly name: string,
    private readonly text: string,
  ) {}

  run(...params: P): SqlRunResult {
    this.db.execute(this.name, params, 'object');
    return { changes: this.db.changes() };
  }

  get(...params: P): R | undefined {
    return this.db.execute(this.name, params, this.shape)[0] as R | undefined;
  }

  all(...params: P): R[] {
    return this.db.execute(this.name, params, this.shape) as R[];
  }

  iterate(...params: P): IterableIterator<R> {
    // Inside a transaction a cursor streams the rows; outside one the result is read whole.
    if (this.db.inTransaction && /^\s*(?:SELECT|WITH|VALUES)\b/i.test(this.text)) return this.db.cursor(this.text, params, this.shape) as IterableIterator<R>;
    return (this.db.execute(this.name, params, this.shape) as R[])[Symbol.iterator]();
  }

  pluck(toggle = true): this {
    this.shape = toggle ? 'pluck' : this.shape === 'pluck' ? 'object' : this.shape;
    return this;
  }

  raw(toggle = true): this {
    this.shape = toggle ? 'raw' : this.shape === 'raw' ? 'object' : this.shape;
    return this;
  }
}

/**
 * A PostgreSQL connection with better-sqlite3's synchronous shape.
 *
 * Transactions: a top-level `transaction(fn)` is BEGIN ISOLATION LEVEL REPEATABLE READ, one
 * snapshot for every read as an SQLite transaction has; `.immediate` is BEGIN (read committed)
 * followed by a transaction-scoped advisory lock on the current schema, so writers take turns
 * as SQLite's BEGIN IMMEDIATE makes them, and each statement after the lock sees what the
 * previous writer committed. A nested call is a savepoint. After any failed statement
 * PostgreSQL refuses the rest of the transaction, so a caller must not catch a store error
 * and carry on inside the same transaction (a nested transaction call may: it rolls back
 * to its savepoint).
 */
export class PgDb implements SqlDb {
  readonly dialect = 'postgres' as const;
  private readonly statements = new Map<string, { name: string; text: string }>();
  private depth = 0;
  private txSerial = 0;
  private cursors = 0;
  private closed = false;

  constructor(
    private readonly client: NativeClient,
    readonly readonly: boolean,
  ) {}

  get inTransaction(): boolean {
    return this.depth > 0;
  }

  prepare<P extends unknown[] = unknown[], R = unknown>(sql: string): SqlStatement<P, R> {
    this.assertOpen();
    let st = this.statements.get(sql);
    if (st === undefined) {
      const { text, params } = translatePlaceholders(sql);
      const name = `ssf_${this.statements.size + 1}`;
      try {
        this.client.prepareSync(name, text, params);
      } catch (e) {
        throw pgError(this.client, e, 'cannot prepare statement');
      }
      st = { name, text };
      this.statements.set(sql, st);
    }
    return new PgStatement<P, R>(this, st.name, st.text);
  }

  exec(sql: string): this {
    this.assertOpen();
    this.simple(translateDdl(sql), 'cannot run SQL');
    return this;
  }

  pragma(): undefined {
    return undefined;
  }

  transaction<F extends (...args: any[]) => unknown>(fn: F): SqlTransaction<F> { // eslint-disable-line @typescript-eslint/no-explicit-any
    const db = this;
    const tx = function (this: unknown, ...args: SqlArgs<F>): ReturnType<F> {
      return db.runTx(false, () => fn.apply(this, args) as ReturnType<F>);
    };
    const immediate = function (this: unknown, ...args: SqlArgs<F>): ReturnType<F> {
      return db.runTx(true, () => fn.apply(this, args) as ReturnType<F>);
    };
    return Object.assign(tx, { immediate });
  }

  close(): this {
    if (!this.closed) {
      this.closed = true;
      endClient(this.client);
    }
    return this;
  }

  /** @internal Runs a prepared statement and returns its rows, shaped as the statement asks. */
  execute(name: string, args: readonly unknown[], shape: RowShape): unknown[] {
    this.assertOpen();
    const values = bindArgs(args);
    this.client.arrayMode = shape !== 'object';
    try {
      const rows = this.client.executeSync(name, values);
      return shape === 'pluck' ? rows.map((r) => (r as unknown[])[0]) : rows;
    } catch (e) {
      throw pgError(this.client, e, 'query failed');
    } finally {
      this.client.arrayMode = false;
    }
  }

  /** @internal Rows changed by the last statement. */
  changes(): number {
    return Number(this.client.pq.cmdTuples()) || 0;
  }

  /** @internal Streams a query's rows through a cursor that lives until the transaction ends. */
  *cursor(text: string, args: readonly unknown[], shape: RowShape): Generator<unknown, void, undefined> {
    const name = `ssf_cursor_${++this.cursors}`;
    const serial = this.txSerial;
    try {
      this.client.querySync(`DECLARE ${name} NO SCROLL CURSOR FOR ${text}`, bindArgs(args));
    } catch (e) {
      throw pgError(this.client, e, 'query failed');
    }
    try {
      for (;;) {
        this.client.arrayMode = shape !== 'object';
        let rows: unknown[];
        try {
          rows = this.client.querySync(`FETCH ${CURSOR_BATCH} FROM ${name}`);
        } catch (e) {
          throw pgError(this.client, e, 'query failed');
        } finally {
          this.client.arrayMode = false;
        }
        for (const r of rows) yield shape === 'pluck' ? (r as unknown[])[0] : r;
        if (rows.length < CURSOR_BATCH) return;
      }
    } finally {
      // An iteration left early closes its cursor; the end of the transaction would too.
      if (!this.closed && this.txSerial === serial && this.depth > 0 && this.client.pq.transactionStatus() !== PQTRANS_INERROR) {
        this.simple(`CLOSE ${name}`, 'cannot close cursor');
      }
    }
  }

  private runTx<T>(immediate: boolean, body: () => T): T {
    this.assertOpen();
    if (this.depth > 0) return this.savepoint(body);
    try {
      this.simple(immediate
        ? "BEGIN; SELECT pg_advisory_xact_lock(hashtext('ssf'), hashtext(coalesce(current_schema(), '')))"
        : 'BEGIN ISOLATION LEVEL REPEATABLE READ', 'cannot begin transaction');
    } catch (e) {
      // The lock wait timed out (or the connection broke) after BEGIN: end that transaction.
      if (this.client.pq.transactionStatus() !== PQTRANS_IDLE) this.rollbackQuietly('ROLLBACK');
      throw e;
    }
    this.depth = 1;
    this.txSerial++;
    let result: T;
    try {
      result = notAPromise(body());
      // A statement that failed inside `body` and was caught there has aborted the transaction;
      // COMMIT would then silently roll back, so report it instead.
      if (this.client.pq.transactionStatus() === PQTRANS_INERROR) {
        throw new SsfError('STORE_FAILED', 'the transaction was aborted by a failed statement that the caller caught; nothing was committed');
      }
    } catch (e) {
      this.depth = 0;
      this.rollbackQuietly('ROLLBACK');
      throw e;
    }
    this.depth = 0;
    this.simple('COMMIT', 'cannot commit transaction');
    return result;
  }

  private savepoint<T>(body: () => T): T {
    const sp = `ssf_sp_${this.depth}`;
    this.simple(`SAVEPOINT ${sp}`, 'cannot open savepoint');
    this.depth++;
    try {
      const result = notAPromise(body());
      this.simple(`RELEASE SAVEPOINT ${sp}`, 'cannot release savepoint');
      return result;
    } catch (e) {
      this.rollbackQuietly(`ROLLBACK TO SAVEPOINT ${sp}; RELEASE SAVEPOINT ${sp}`);
      throw e;
    } finally {
      this.depth--;
    }
  }

  /** Rolls back while an error is already on its way up; that error is the one to report. */
  private rollbackQuietly(sql: string): void {
    if (this.closed) return;
    try {
      this.client.querySync(sql);
    } catch {
      // The connection is gone or the transaction already ended; the original error says why.
    }
  }

  private simple(sql: string, what: string): void {
    try {
      this.client.querySync(sql);
    } catch (e) {
      throw pgError(this.client, e, what);
    }
  }

  private assertOpen(): void {
    if (this.closed) throw new SsfError('STORE_FAILED', 'the PostgreSQL connection is closed');
  }
}

function notAPromise<T>(v: T): T {
  if (typeof (v as { then?: unknown } | null)?.then === 'function') {
    throw new SsfError('USAGE', 'a transaction function must be synchronous; it returned a promise');
  }
  return v;
}
