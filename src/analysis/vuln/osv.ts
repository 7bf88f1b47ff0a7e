import { SsfError } from '../../core/index.js';

/** One OSV record (ossf/osv-schema 1.x); fields ssf does not use are kept as they came. */
export interface OsvAdvisory {
  id: string;
  modified: string;
  published?: string;
  withdrawn?: string;
  aliases?: string[];
  related?: string[];
  summary?: string;
  details?: string;
  severity?: { type: string; score: string }[];
  affected?: OsvAffected[];
  database_specific?: unknown;
  schema_version?: string;
}

/** One `affected[]` entry of an OSV record. */
export interface OsvAffected {
  package?: { ecosystem: string; name: string; purl?: string };
  ranges?: { type: string; repo?: string; events: Record<string, string>[]; database_specific?: unknown }[];
  versions?: string[];
  severity?: { type: string; score: string }[];
  ecosystem_specific?: unknown;
  database_specific?: unknown;
}

// RFC 3339 date-time (OSV requires UTC with `Z`; offsets are accepted and compared correctly).
const RFC3339 = /^(\d{4})-(\d{2})-(\d{2})[Tt](\d{2}):(\d{2}):(\d{2})(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$/;

/** Limits on one record; real advisories are a few kilobytes. */
const MAX_ID = 256;

function fail(file: string | undefined, field: string, problem: string): never {
  const where = file === undefined ? 'OSV advisory' : `OSV advisory ${file}`;
  throw new SsfError('VULNDB_INVALID', `${where}: ${field} ${problem}; fix or remove the record`);
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function optString(o: Record<string, unknown>, key: string, file: string | undefined, path: string): void {
  if (o[key] !== undefined && typeof o[key] !== 'string') fail(file, `${path}${key}`, 'must be a string');
}

function optTime(o: Record<string, unknown>, key: string, file: string | undefined, path: string, trusted: boolean): void {
  const v = o[key];
  if (v === undefined) return;
  if (typeof v !== 'string' || (!trusted && !isTimestamp(v))) fail(file, `${path}${key}`, 'must be an RFC 3339 timestamp');
}

function optStringArray(o: Record<string, unknown>, key: string, file: string | undefined, path: string): void {
  const v = o[key];
  if (v === undefined) return;
  if (!Array.isArray(v) || v.some((x) => typeof x !== 'string')) fail(file, `${path}${key}`, 'must be an array of strings');
}

function checkSeverity(o: Record<string, unknown>, file: string | undefined, path: string): void {
  const v = o.severity;
  if (v === undefined) return;
  if (!Array.isArray(v)) fail(file, `${path}severity`, 'must be an array');
  v.forEach((s, i) => {
    if (!isObject(s) || typeof s.type !== 'string' || typeof s.score !== 'string') {
      fail(file, `${path}severity[${i}]`, 'must be an object with string type and score');
    }
  });
}

/** Is this an RFC 3339 date-time with a valid calendar date? */
export function isTimestamp(s: string): boolean {
  const m = RFC3339.exec(s);
  return m !== null && Number.isFinite(Date.parse(s.replace(/\.\d+/, ''))) && Number(m[2]) >= 1 && Number(m[2]) <= 12;
}

/**
 * Orders two RFC 3339 timestamps by the instant they name (fractions of a second included),
 * whatever their offsets. Both must pass isTimestamp.
 */
export function compareTimestamps(a: string, b: string): number {
  const fa = /\.(\d+)/.exec(a)?.[1] ?? '';
  const fb = /\.(\d+)/.exec(b)?.[1] ?? '';
  const sa = Date.parse(a.replace(/\.\d+/, ''));
  const sb = Date.parse(b.replace(/\.\d+/, ''));
  if (sa !== sb) return sa < sb ? -1 : 1;
  const n = Math.max(fa.length, fb.length);
  const pa = fa.padEnd(n, '0');
  const pb = fb.padEnd(n, '0');
  return pa < pb ? -1 : pa > pb ? 1 : 0;
}

/**
 * Validates an already-parsed JSON value as an OSV record's shape (types of every field ssf
 * reads). Semantic problems inside ranges (unknown types, bad versions, odd events) are not
 * errors here: the matcher skips them with a warning, as the OSV schema asks of consumers.
 * `trusted` (records ssf stored itself after validating them) skips the timestamp syntax checks.
 */
export function validateAdvisory(v: unknown, file?: string, trusted = false): OsvAdvisory {
  if (!isObject(v)) fail(file, 'the document', 'must be a JSON object');
  if (typeof v.id !== 'string' || v.id.length === 0 || v.id.length > MAX_ID || /[\s/\\]/.test(v.id)) {
    fail(file, 'id', `must be a non-empty string of at most ${MAX_ID} characters without spaces or slashes`);
  }
  if (typeof v.modified !== 'string' || (!trusted && !isTimestamp(v.modified))) fail(file, 'modified', 'must be an RFC 3339 timestamp');
  optTime(v, 'published', file, '', trusted);
  optTime(v, 'withdrawn', file, '', trusted);
  optStringArray(v, 'aliases', file, '');
  optStringArray(v, 'related', file, '');
  optString(v, 'summary', file, '');
  optString(v, 'details', file, '');
  optString(v, 'schema_version', file, '');
  checkSeverity(v, file, '');
  if (v.affected !== undefined) {
    if (!Array.isArray(v.affected)) fail(file, 'affected', 'must be an array');
    v.affected.forEach((a, i) => {
      const p = `affected[${i}].`;
      if (!isObject(a)) fail(file, `affected[${i}]`, 'must be an object');
      if (a.package !== undefined) {
        const pkg = a.package;
        if (!isObject(pkg) || typeof pkg.ecosystem !== 'string' || typeof pkg.name !== 'string') {
          fail(file, `${p}package`, 'must be an object with string ecosystem and name');
        }
        optString(pkg, 'purl', file, `${p}package.`);
      }
      optStringArray(a, 'versions', file, p);
      checkSeverity(a, file, p);
      if (a.ranges !== undefined) {
        if (!Array.isArray(a.ranges)) fail(file, `${p}ranges`, 'must be an array');
        a.ranges.forEach((r, j) => {
          const rp = `${p}ranges[${j}]`;
          if (!isObject(r)) fail(file, rp, 'must be an object');
          if (typeof r.type !== 'string') fail(file, `${rp}.type`, 'must be a string');
          optString(r, 'repo', file, `${rp}.`);
          if (!Array.isArray(r.events)) fail(file, `${rp}.events`, 'must be an array');
          r.events.forEach((e, k) => {
            if (!isObject(e) || Object.values(e).some((x) => typeof x !== 'string')) {
              fail(file, `${rp}.events[${k}]`, 'must be an object of strings');
            }
          });
        });
      }
    });
  }
  return v as unknown as OsvAdvisory;
}

/** Parses one OSV record from JSON text and validates its shape; VULNDB_INVALID naming the file and field. */
export function parseAdvisory(text: string, file?: string): OsvAdvisory {
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch (e) {
    const where = file === undefined ? 'OSV advisory' : `OSV advisory ${file}`;
    throw new SsfError('VULNDB_INVALID', `${where} is not valid JSON: ${(e as Error).message}`, { cause: e });
  }
  return validateAdvisory(v, file);
}
