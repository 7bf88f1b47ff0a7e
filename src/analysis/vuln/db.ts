import { createHash, randomUUID } from 'node:crypto';
import { mkdirSync, readFileSync } from 'node:fs';
import { dirname } from 'node:path';
import Database from 'better-sqlite3';
import { SsfError } from '../../core/index.js';
import type { VulnDbInfo } from '../model.js';
import { MemoryAdvisoryIndex, type AdvisoryIndex } from './match.js';
import { compareTimestamps, parseAdvisory, validateAdvisory, type OsvAdvisory, type OsvAffected } from './osv.js';
import {
  DEFAULT_LIMITS,
  download,
  looksLikeZip,
  readDirectory,
  readHead,
  readZip,
  redactUrl,
  statSource,
  type ImportLimits,
  type RecordSink,
} from './sources.js';

/** What one import changed. added + updated + unchanged = records read; skipped were malformed. */
export interface ImportStats {
  added: number;
  updated: number;
  unchanged: number;
  /** Records carrying `withdrawn` that were stored (added or updated) by this import. */
  withdrawn: number;
  skipped: number;
  /** One line each, at most MAX_WARNINGS of them plus a count of the rest. */
  warnings: string[];
  info: VulnDbInfo;
}

/** 2: records carry the number of the import that stored them (change_seq); 1 is upgraded in place. */
const SCHEMA_VERSION = '2';
const MAX_WARNINGS = 100;
/** Zip archives up to this size are read into memory (faster); larger ones from the file. */
const IN_MEMORY_ZIP = 256 * 1024 * 1024;

const SCHEMA = `
CREATE TABLE IF NOT EXISTS osv_advisory (
  id TEXT PRIMARY KEY,
  modified TEXT NOT NULL,
  withdrawn TEXT,
  json TEXT NOT NULL,
  core TEXT NOT NULL,
  change_seq INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS osv_package (
  ecosystem TEXT NOT NULL,
  name TEXT NOT NULL,
  id TEXT NOT NULL REFERENCES osv_advisory(id) ON DELETE CASCADE,
  PRIMARY KEY (ecosystem, name, id)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS osv_package_by_id ON osv_package(id);
CREATE TABLE IF NOT EXISTS osv_meta (
  key TEXT PRIMARY KEY,
  value TEXT NOT NULL
);
`;

function severityWord(ds: unknown): { severity: unknown } | undefined {
  if (typeof ds !== 'object' || ds === null) return undefined;
  const sev = (ds as { severity?: unknown }).severity;
  return typeof sev === 'string' ? { severity: sev } : undefined;
}

/**
 * The part of a record that matching reads (no details, references or credits, which are
 * most of a real record's bytes): load() parses only this, several times faster.
 */
function coreOf(a: OsvAdvisory): OsvAdvisory {
  const c: OsvAdvisory = { id: a.id, modified: a.modified };
  if (a.published !== undefined) c.published = a.published;
  if (a.withdrawn !== undefined) c.withdrawn = a.withdrawn;
  if (a.aliases !== undefined) c.aliases = a.aliases;
  if (a.summary !== undefined) c.summary = a.summary;
  if (a.severity !== undefined) c.severity = a.severity;
  const ds = severityWord(a.database_specific);
  if (ds) c.database_specific = ds;
  if (a.affected !== undefined) {
    c.affected = a.affected.map((e) => {
      const o: OsvAffected = {};
      if (e.package) o.package = e.package;
      if (e.ranges) o.ranges = e.ranges.map((r) => ({ type: r.type, events: r.events }));
      if (e.versions) o.versions = e.versions;
      if (e.severity) o.severity = e.severity;
      const eds = severityWord(e.database_specific);
      if (eds) o.database_specific = eds;
      return o;
    });
  }
  return c;
}

/** Collects one import's records into the open transaction and counts what happened. */
class ImportSink implements RecordSink {
  added = 0;
  updated = 0;
  unchanged = 0;
  withdrawn = 0;
  skipped = 0;
  private readonly warnings: string[] = [];
  private extraWarnings = 0;
  private readonly get: Database.Statement<[string], { modified: string }>;
  private readonly insert: Database.Statement<[string, string, string | null, string, string, number]>;
  private readonly update: Database.Statement<[string, string | null, string, string, number, string]>;
  private readonly dropPackages: Database.Statement<[string]>;
  private readonly addPackage: Database.Statement<[string, string, string]>;

  /** `seq`: this import's change number (VulnDb.changeSeq), stored on every record it adds or updates. */
  constructor(db: Database.Database, private readonly seq: number) {
    this.get = db.prepare('SELECT modified FROM osv_advisory WHERE id = ?');
    this.insert = db.prepare('INSERT INTO osv_advisory (id, modified, withdrawn, json, core, change_seq) VALUES (?, ?, ?, ?, ?, ?)');
    this.update = db.prepare('UPDATE osv_advisory SET modified = ?, withdrawn = ?, json = ?, core = ?, change_seq = ? WHERE id = ?');
    this.dropPackages = db.prepare('DELETE FROM osv_package WHERE id = ?');
    this.addPackage = db.prepare('INSERT OR IGNORE INTO osv_package (ecosystem, name, id) VALUES (?, ?, ?)');
  }

  put(a: OsvAdvisory): void {
    const row = this.get.get(a.id);
    const withdrawn = a.withdrawn ?? null;
    if (!row) {
      this.insert.run(a.id, a.modified, withdrawn, JSON.stringify(a), JSON.stringify(coreOf(a)), this.seq);
      this.added++;
    } else if (compareTimestamps(a.modified, row.modified) > 0) {
      // OSV: of two records with the same id, the later `modified` is authoritative.
      this.update.run(a.modified, withdrawn, JSON.stringify(a), JSON.stringify(coreOf(a)), this.seq, a.id);
      this.dropPackages.run(a.id);
      this.updated++;
    } else {
      this.unchanged++;
      return;
    }
    if (withdrawn !== null) {
      // Stored so that an older copy met later cannot bring it back, but never indexed.
      this.withdrawn++;
      return;
    }
    for (const aff of a.affected ?? []) if (aff.package) this.addPackage.run(aff.package.ecosystem, aff.package.name, a.id);
  }

  skip(where: string, reason: string): void {
    this.skipped++;
    this.warn(reason.startsWith('OSV advisory') ? reason : `${where}: ${reason}`);
  }

  warn(line: string): void {
    if (this.warnings.length < MAX_WARNINGS) this.warnings.push(line);
    else this.extraWarnings++;
  }

  warningLines(): string[] {
    return this.extraWarnings > 0 ? [...this.warnings, `… and ${this.extraWarnings} more warnings`] : [...this.warnings];
  }
}

/** A local OSV advisory database: one SQLite file (WAL), imported incrementally by `modified`. */
export class VulnDb {
  private importing = false;

  private constructor(
    private readonly db: Database.Database,
    /** The database file. */
    readonly path: string,
  ) {}

  /** Opens (creating directories and schema when needed) the advisory database at `path`. */
  static open(path: string): VulnDb {
    let db: Database.Database;
    try {
      mkdirSync(dirname(path), { recursive: true });
      db = new Database(path);
    } catch (e) {
      throw new SsfError('IO_FAILED', `cannot open advisory database ${path}: ${(e as Error).message}`, { cause: e });
    }
    try {
      db.pragma('journal_mode = WAL');
      db.pragma('synchronous = NORMAL');
      db.pragma('foreign_keys = ON');
      db.pragma('busy_timeout = 5000');
      db.exec(SCHEMA);
      const v = db.prepare<[], { value: string }>("SELECT value FROM osv_meta WHERE key = 'schema'").get();
      if (v !== undefined && v.value !== SCHEMA_VERSION && v.value !== '1') {
        throw new SsfError('VULNDB_INVALID', `advisory database ${path} has schema ${v.value}, this ssf reads ${SCHEMA_VERSION}; import into a new file`);
      }
      // Schema 1 (before import numbers) is upgraded in place: the column is added (its records
      // count as change 0) and the schema becomes 2, which an ssf that does not number its
      // imports refuses, so it cannot update records without a number.
      if (!db.prepare<[], { name: string }>('PRAGMA table_info(osv_advisory)').all().some((c) => c.name === 'change_seq')) {
        db.exec('ALTER TABLE osv_advisory ADD COLUMN change_seq INTEGER NOT NULL DEFAULT 0');
      }
      db.exec('CREATE INDEX IF NOT EXISTS osv_advisory_change ON osv_advisory(change_seq)');
      // Names this database file, so that a watermark of another one (a file replaced and
      // imported again, whose import numbers start over) is never compared with its numbers.
      if (db.prepare("SELECT 1 FROM osv_meta WHERE key = 'database-id'").get() === undefined) {
        db.prepare("INSERT OR IGNORE INTO osv_meta (key, value) VALUES ('database-id', ?)").run(randomUUID());
      }
      if (v?.value !== SCHEMA_VERSION) db.prepare("INSERT OR REPLACE INTO osv_meta (key, value) VALUES ('schema', ?)").run(SCHEMA_VERSION);
    } catch (e) {
      db.close();
      if (e instanceof SsfError) throw e;
      throw new SsfError('VULNDB_INVALID', `${path} is not an ssf advisory database (${(e as Error).message}); give a new or an ssf-made file`, { cause: e });
    }
    return new VulnDb(db, path);
  }

  /**
   * Imports OSV records from an OSV .json file, a directory of them (recursive), a .zip
   * archive (OSV's per-ecosystem all.zip) or an http(s) URL of a .zip or .json, in one
   * transaction: a failed import changes nothing.
   */
  async import(source: string, opts: { fetch?: typeof fetch; maxBytes?: number } = {}): Promise<ImportStats> {
    if (this.importing) throw new SsfError('VULNDB_INVALID', `an import into ${this.path} is already running; wait for it to finish`);
    const limits: ImportLimits = { ...DEFAULT_LIMITS };
    if (opts.maxBytes !== undefined) {
      if (!Number.isSafeInteger(opts.maxBytes) || opts.maxBytes <= 0) {
        throw new SsfError('USAGE', `maxBytes ${String(opts.maxBytes)} must be a positive whole number of bytes`);
      }
      limits.maxBytes = opts.maxBytes;
    }
    this.importing = true;
    this.db.exec('BEGIN IMMEDIATE');
    try {
      // Every import is one change number; what it adds or updates carries it, whatever the
      // records' own `modified` times (a second source's records may be older than the newest).
      const seq = this.changeSeq() + 1;
      this.db.prepare("INSERT OR REPLACE INTO osv_meta (key, value) VALUES ('change-seq', ?)").run(String(seq));
      const sink = new ImportSink(this.db, seq);
      const shown = await this.readSource(source, sink, limits, opts.fetch ?? globalThis.fetch);
      const count = this.db.prepare<[], { n: number }>('SELECT count(*) AS n FROM osv_advisory').get()?.n ?? 0;
      if (count === 0) throw new SsfError('VULNDB_INVALID', `no OSV advisories found in ${shown}; give a .json advisory, a directory or zip of them`);
      const info = this.computeInfo(shown);
      const put = this.db.prepare('INSERT OR REPLACE INTO osv_meta (key, value) VALUES (?, ?)');
      put.run('info', JSON.stringify(info));
      this.db.exec('COMMIT');
      return {
        added: sink.added,
        updated: sink.updated,
        unchanged: sink.unchanged,
        withdrawn: sink.withdrawn,
        skipped: sink.skipped,
        warnings: sink.warningLines(),
        info,
      };
    } catch (e) {
      if (this.db.inTransaction) this.db.exec('ROLLBACK');
      if (e instanceof SsfError) throw e;
      throw new SsfError('IO_FAILED', `importing ${source} failed: ${(e as Error).message}`, { cause: e });
    } finally {
      this.importing = false;
    }
  }

  /** Reads one source into the sink; returns the source as it may be shown and stored. */
  private async readSource(source: string, sink: ImportSink, limits: ImportLimits, fetchFn: typeof fetch): Promise<string> {
    if (/^[a-zA-Z][a-zA-Z0-9+.-]*:\/\//.test(source)) {
      let url: URL;
      try {
        url = new URL(source);
      } catch (e) {
        throw new SsfError('USAGE', `advisory source ${JSON.stringify(source.slice(0, 200))} is not a valid URL`, { cause: e });
      }
      if (url.protocol !== 'http:' && url.protocol !== 'https:') {
        throw new SsfError('USAGE', `advisory source URL scheme ${url.protocol} is not supported; give an http(s) URL or a local path`);
      }
      const shown = redactUrl(url);
      const bytes = await download(url, fetchFn, limits.maxBytes);
      if (looksLikeZip(bytes)) await readZip(bytes, shown, sink, limits);
      else this.readSingle(bytes, shown, sink, limits);
      return shown;
    }
    const st = statSource(source);
    if (st.isDirectory()) {
      readDirectory(source, sink, limits);
      return source;
    }
    if (!st.isFile()) throw new SsfError('USAGE', `advisory source ${source} is neither a file nor a directory`);
    // Checked before a single byte is read: a 2 GB file is refused at once.
    if (st.size > limits.maxBytes) {
      throw new SsfError('INPUT_TOO_LARGE', `advisory source ${source} is ${st.size} bytes, over the ${limits.maxBytes}-byte limit`);
    }
    if (looksLikeZip(readHead(source, 4))) {
      // Reading from memory avoids two thread-pool round trips per entry; very large
      // archives are read from the file instead, to bound memory.
      await readZip(st.size <= IN_MEMORY_ZIP ? readFileSync(source) : source, source, sink, limits);
    }
    else {
      if (st.size > limits.maxAdvisoryBytes) {
        throw new SsfError('INPUT_TOO_LARGE', `advisory ${source} is ${st.size} bytes, over the ${limits.maxAdvisoryBytes}-byte limit for one advisory`);
      }
      this.readSingle(readFileSync(source), source, sink, limits);
    }
    return source;
  }

  /** A single-record import: a malformed record fails the import. */
  private readSingle(bytes: Buffer, shown: string, sink: ImportSink, limits: ImportLimits): void {
    if (bytes.length > limits.maxAdvisoryBytes) {
      throw new SsfError('INPUT_TOO_LARGE', `advisory ${shown} is ${bytes.length} bytes, over the ${limits.maxAdvisoryBytes}-byte limit for one advisory`);
    }
    sink.put(parseAdvisory(bytes.toString('utf8'), shown));
  }

  /** sha256 over the sorted (id, modified) pairs, the newest modified, the count. */
  private computeInfo(source: string): VulnDbInfo {
    const h = createHash('sha256');
    let date = '';
    let n = 0;
    // ORDER BY uses SQLite's BINARY collation (bytes of UTF-8): the same order on every machine.
    for (const r of this.db.prepare<[], { id: string; modified: string }>('SELECT id, modified FROM osv_advisory ORDER BY id').iterate()) {
      h.update(`${r.id}\t${r.modified}\n`);
      n++;
      if (date === '' || compareTimestamps(r.modified, date) > 0) date = r.modified;
    }
    return { digest: `sha256:${h.digest('hex')}`, date, advisories: n, source };
  }

  /** Digest, date, count and last source of the database; VULNDB_MISSING if nothing was ever imported. */
  info(): VulnDbInfo {
    const row = this.db.prepare<[], { value: string }>("SELECT value FROM osv_meta WHERE key = 'info'").get();
    if (!row) throw new SsfError('VULNDB_MISSING', `advisory database ${this.path} is empty; run \`ssf vulndb import\` first`);
    return JSON.parse(row.value) as VulnDbInfo;
  }

  /**
   * Reads the advisories (all, or those naming a package of the given ecosystems; `npm`
   * also selects `npm:…`) into memory, pre-parsed and indexed for matching. Withdrawn
   * advisories are left out.
   */
  load(ecosystems?: string[]): AdvisoryIndex {
    const info = this.info();
    let rows: Iterable<{ id: string; json: string }>;
    if (ecosystems === undefined) {
      rows = this.db.prepare<[], { id: string; json: string }>('SELECT id, core AS json FROM osv_advisory WHERE withdrawn IS NULL ORDER BY id').iterate();
    } else {
      const list = JSON.stringify(ecosystems);
      rows = this.db
        .prepare<[string], { id: string; json: string }>(
          `SELECT a.id, a.core AS json FROM osv_advisory a WHERE a.withdrawn IS NULL AND a.id IN (
             SELECT p.id FROM osv_package p, json_each(?) e
             WHERE p.ecosystem = e.value OR substr(p.ecosystem, 1, length(e.value) + 1) = e.value || ':')
           ORDER BY a.id`,
        )
        .iterate(list);
    }
    const path = this.path;
    function* advisories(): Generator<OsvAdvisory> {
      for (const r of rows) {
        let v: unknown;
        try {
          v = JSON.parse(r.json);
        } catch (e) {
          throw new SsfError('VULNDB_INVALID', `advisory database ${path}: stored record ${r.id} is not JSON; re-import into a new file`, { cause: e });
        }
        yield validateAdvisory(v, `${path}#${r.id}`, true);
      }
    }
    return new MemoryAdvisoryIndex(advisories(), info);
  }

  /** This database file's id (made when the file was, or first opened by this version). */
  databaseId(): string {
    return (this.db.prepare<[], { value: string }>("SELECT value FROM osv_meta WHERE key = 'database-id'").get() as { value: string }).value;
  }

  /** The number of the last import (0 before any): an incremental rescan's watermark, with databaseId. */
  changeSeq(): number {
    const row = this.db.prepare<[], { value: string }>("SELECT value FROM osv_meta WHERE key = 'change-seq'").get();
    return row ? Number(row.value) : 0;
  }

  /**
   * The advisories an import added or updated after import number `since.seq` (changeSeq),
   * withdrawn ones included, with the packages they name: what an incremental rescan
   * re-evaluates. All of them when `since` is undefined.
   */
  changedSince(since: { seq: number } | undefined): { id: string; modified: string; packages: { ecosystem: string; name: string }[] }[] {
    const pkgs = this.db.prepare<[string], { ecosystem: string; name: string }>('SELECT ecosystem, name FROM osv_package WHERE id = ?');
    const rows = since === undefined
      ? this.db.prepare<[], { id: string; modified: string }>('SELECT id, modified FROM osv_advisory').all()
      : this.db.prepare<[number], { id: string; modified: string }>('SELECT id, modified FROM osv_advisory WHERE change_seq > ?').all(since.seq);
    return rows.map((r) => ({ ...r, packages: pkgs.all(r.id) }));
  }

  /** Closes the database file. */
  close(): void {
    this.db.close();
  }
}
