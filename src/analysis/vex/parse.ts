import { SsfError, sha256Hex } from '../../core/index.js';
import type { VexStatus } from '../model.js';
import { purlKey } from './purl.js';

/** One VEX statement, flattened to what matching needs. */
export interface VexStatement {
  /** The vulnerability's main id as written (`CVE-…`, `GHSA-…`). */
  vulnerability: string;
  /** Other ids the document names for it. */
  aliases: string[];
  /** Purls or `sha256:` digests, as written (OpenVEX `@id`, `identifiers.purl`, `hashes`; CycloneDX `affects[].ref` resolved to a purl). */
  products: string[];
  /** Purls of the components the vulnerability sits in (pooled over the statement's products). */
  subcomponents: string[];
  status: VexStatus;
  /** One of the five OpenVEX justification labels (CycloneDX codes are mapped, see `originalJustification`). */
  justification?: string;
  impactStatement?: string;
  actionStatement?: string;
  /** When the statement was known to be true: its own timestamp, else the document's. */
  timestamp?: string;
  /** ssf extension: when the statement stops applying (its own, else the document's). */
  expires?: string;
  /** CycloneDX only: the analysis.state and analysis.justification as written, e.g. `not_affected/code_not_reachable`. */
  originalJustification?: string;
}

/** A parsed VEX document (OpenVEX or CycloneDX VEX). */
export interface VexDocument {
  format: 'openvex' | 'cyclonedx';
  /** OpenVEX `@id`; CycloneDX `serialNumber` (or the digest when it has none). */
  id: string;
  author: string;
  timestamp: string;
  version?: number;
  expires?: string;
  statements: VexStatement[];
  /** `sha256:<hex>` of the document's bytes (UTF-8). */
  digest: string;
}

/** Larger documents are refused before parsing. */
export const MAX_VEX_BYTES = 16 * 1024 * 1024;
/** More statements than this are refused. */
export const MAX_VEX_STATEMENTS = 100_000;

/** The @context values ssf reads: the v0.2.0 namespace and the older unversioned one. */
export const OPENVEX_CONTEXTS: readonly string[] = ['https://openvex.dev/ns/v0.2.0', 'https://openvex.dev/ns'];

export const VEX_STATUSES: readonly VexStatus[] = ['not_affected', 'affected', 'fixed', 'under_investigation'];

/** The five status justification labels of the OpenVEX specification. */
export const VEX_JUSTIFICATIONS: readonly string[] = [
  'component_not_present',
  'vulnerable_code_not_present',
  'vulnerable_code_not_in_execute_path',
  'vulnerable_code_cannot_be_controlled_by_adversary',
  'inline_mitigations_already_exist',
];

/** CycloneDX analysis.state → VEX status. */
export const CYCLONEDX_STATE: Readonly<Record<string, VexStatus>> = {
  resolved: 'fixed',
  resolved_with_pedigree: 'fixed',
  exploitable: 'affected',
  in_triage: 'under_investigation',
  false_positive: 'not_affected',
  not_affected: 'not_affected',
};

/** CycloneDX analysis.justification → the nearest OpenVEX label. */
export const CYCLONEDX_JUSTIFICATION: Readonly<Record<string, string>> = {
  code_not_present: 'vulnerable_code_not_present',
  code_not_reachable: 'vulnerable_code_not_in_execute_path',
  requires_configuration: 'vulnerable_code_cannot_be_controlled_by_adversary',
  requires_dependency: 'component_not_present',
  requires_environment: 'vulnerable_code_cannot_be_controlled_by_adversary',
  protected_by_compiler: 'inline_mitigations_already_exist',
  protected_at_runtime: 'inline_mitigations_already_exist',
  protected_at_perimeter: 'inline_mitigations_already_exist',
  protected_by_mitigating_control: 'inline_mitigations_already_exist',
};

/** The CycloneDX property names ssf reads its expiry extension from (metadata and each vulnerability). */
export const CYCLONEDX_EXPIRES_PROPERTY = 'ssf:vex:expires';

// RFC 3339 date-time (what ISO 8601 means in these formats), fractional seconds of any length.
const DATE_TIME = /^\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$/;

/** Parses an OpenVEX or CycloneDX VEX document; VEX_INVALID names the file and the field at fault. */
export function parseVex(text: string, opts: { file?: string } = {}): VexDocument {
  const where = opts.file ?? 'VEX document';
  const bad = (field: string, what: string): SsfError => new SsfError('VEX_INVALID', `${where}: ${field} ${what}`);
  const size = Buffer.byteLength(text, 'utf8');
  if (size > MAX_VEX_BYTES) throw new SsfError('VEX_INVALID', `${where} is ${size} bytes; VEX documents are limited to ${MAX_VEX_BYTES} bytes`);
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (e) {
    throw new SsfError('VEX_INVALID', `${where} is not valid JSON: ${(e as Error).message}`, { cause: e });
  }
  if (!isObject(raw)) throw bad('the document', 'must be a JSON object');
  const digest = `sha256:${sha256Hex(text)}`;
  const ctx = new Ctx(bad);
  if ('@context' in raw) return parseOpenVex(raw, digest, ctx);
  if (raw['bomFormat'] === 'CycloneDX') return parseCycloneDx(raw, digest, ctx);
  throw bad('the document', 'is neither OpenVEX (no @context) nor CycloneDX (no bomFormat "CycloneDX")');
}

class Ctx {
  constructor(readonly bad: (field: string, what: string) => SsfError) {}

  str(o: Record<string, unknown>, key: string, path: string): string {
    const v = o[key];
    if (typeof v !== 'string' || v.trim() === '') throw this.bad(path, 'must be a non-empty string');
    return v;
  }

  optStr(o: Record<string, unknown>, key: string, path: string): string | undefined {
    const v = o[key];
    if (v === undefined) return undefined;
    if (typeof v !== 'string') throw this.bad(path, 'must be a string');
    return v === '' ? undefined : v;
  }

  time(v: unknown, path: string): string {
    if (typeof v !== 'string' || !DATE_TIME.test(v) || Number.isNaN(Date.parse(v))) {
      throw this.bad(path, `must be an RFC 3339 date-time such as 2026-01-31T12:00:00Z (got ${describe(v)})`);
    }
    return v;
  }

  optTime(o: Record<string, unknown>, key: string, path: string): string | undefined {
    return o[key] === undefined ? undefined : this.time(o[key], path);
  }

  strings(v: unknown, path: string): string[] {
    if (v === undefined) return [];
    if (!Array.isArray(v)) throw this.bad(path, 'must be an array of strings');
    return v.map((s, i) => {
      if (typeof s !== 'string' || s === '') throw this.bad(`${path}[${i}]`, 'must be a non-empty string');
      return s;
    });
  }

  array(v: unknown, path: string): unknown[] {
    if (!Array.isArray(v)) throw this.bad(path, 'must be an array');
    return v;
  }

  object(v: unknown, path: string): Record<string, unknown> {
    if (!isObject(v)) throw this.bad(path, 'must be an object');
    return v;
  }
}

function parseOpenVex(raw: Record<string, unknown>, digest: string, ctx: Ctx): VexDocument {
  const context = raw['@context'];
  if (typeof context !== 'string' || !OPENVEX_CONTEXTS.includes(context)) {
    throw ctx.bad('@context', `must be one of ${OPENVEX_CONTEXTS.join(', ')} (got ${describe(context)})`);
  }
  const id = ctx.str(raw, '@id', '@id');
  const author = ctx.str(raw, 'author', 'author');
  const timestamp = ctx.time(raw['timestamp'], 'timestamp');
  const version = openVexVersion(raw['version'], ctx);
  const expires = ctx.optTime(raw, 'expires', 'expires');
  const list = ctx.array(raw['statements'], 'statements');
  if (list.length === 0) throw ctx.bad('statements', 'must hold at least one statement');
  if (list.length > MAX_VEX_STATEMENTS) throw ctx.bad('statements', `holds ${list.length} statements; at most ${MAX_VEX_STATEMENTS} are read`);
  const statements = list.map((s, i) => openVexStatement(ctx.object(s, `statements[${i}]`), `statements[${i}]`, timestamp, expires, ctx));
  const doc: VexDocument = { format: 'openvex', id, author, timestamp, statements, digest };
  if (version !== undefined) doc.version = version;
  if (expires !== undefined) doc.expires = expires;
  return doc;
}

// v0.2.0 makes version an integer ≥ 1; documents of the older namespace wrote it as a string.
function openVexVersion(v: unknown, ctx: Ctx): number {
  if (typeof v === 'number' && Number.isInteger(v) && v >= 1) return v;
  if (typeof v === 'string' && /^[1-9]\d{0,8}$/.test(v)) return Number(v);
  throw ctx.bad('version', `must be an integer of at least 1 (got ${describe(v)})`);
}

function openVexStatement(s: Record<string, unknown>, path: string, docTime: string, docExpires: string | undefined, ctx: Ctx): VexStatement {
  // The vulnerability is a struct in v0.2.0 and a plain id string in the older form.
  let vulnerability: string;
  let aliases: string[] = [];
  const v = s['vulnerability'];
  if (typeof v === 'string') {
    if (v.trim() === '') throw ctx.bad(`${path}.vulnerability`, 'must not be empty');
    vulnerability = v;
  } else if (isObject(v)) {
    vulnerability = ctx.str(v, 'name', `${path}.vulnerability.name`);
    aliases = ctx.strings(v['aliases'], `${path}.vulnerability.aliases`).filter((a) => a !== vulnerability);
  } else {
    throw ctx.bad(`${path}.vulnerability`, 'is missing (an object with a name, or an id string)');
  }
  const status = s['status'];
  if (status === undefined) throw ctx.bad(`${path}.status`, `is missing; it must be one of ${VEX_STATUSES.join(', ')}`);
  if (typeof status !== 'string' || !(VEX_STATUSES as readonly string[]).includes(status)) {
    throw ctx.bad(`${path}.status`, `must be one of ${VEX_STATUSES.join(', ')} (got ${describe(status)})`);
  }
  const justification = ctx.optStr(s, 'justification', `${path}.justification`);
  if (justification !== undefined && !VEX_JUSTIFICATIONS.includes(justification)) {
    throw ctx.bad(`${path}.justification`, `must be one of ${VEX_JUSTIFICATIONS.join(', ')} (got ${describe(justification)})`);
  }
  const impactStatement = ctx.optStr(s, 'impact_statement', `${path}.impact_statement`);
  if (status === 'not_affected' && justification === undefined && impactStatement === undefined) {
    throw ctx.bad(path, 'has status not_affected without a justification or impact_statement; the OpenVEX specification requires one');
  }
  const actionStatement = ctx.optStr(s, 'action_statement', `${path}.action_statement`);

  const products: string[] = [];
  const subcomponents: string[] = [];
  const plist = s['products'] === undefined ? [] : ctx.array(s['products'], `${path}.products`);
  plist.forEach((p, i) => {
    const pp = `${path}.products[${i}]`;
    if (typeof p === 'string') {
      if (p === '') throw ctx.bad(pp, 'must not be empty');
      products.push(p);
      return;
    }
    const po = ctx.object(p, pp);
    const ids = componentIds(po, pp, ctx);
    if (ids.length === 0) throw ctx.bad(pp, 'names no product: give an @id, identifiers.purl or a sha-256 hash');
    products.push(...ids);
    const subs = po['subcomponents'] === undefined ? [] : ctx.array(po['subcomponents'], `${pp}.subcomponents`);
    subs.forEach((c, j) => {
      const cp = `${pp}.subcomponents[${j}]`;
      if (typeof c === 'string') subcomponents.push(c);
      else subcomponents.push(...componentIds(ctx.object(c, cp), cp, ctx));
    });
  });
  // The older form lists subcomponents beside products, as strings.
  if (s['subcomponents'] !== undefined) {
    ctx.array(s['subcomponents'], `${path}.subcomponents`).forEach((c, j) => {
      const cp = `${path}.subcomponents[${j}]`;
      if (typeof c === 'string' && c !== '') subcomponents.push(c);
      else subcomponents.push(...componentIds(ctx.object(c, cp), cp, ctx));
    });
  }

  const st: VexStatement = { vulnerability, aliases, products: unique(products), subcomponents: unique(subcomponents), status: status as VexStatus };
  if (justification !== undefined) st.justification = justification;
  if (impactStatement !== undefined) st.impactStatement = impactStatement;
  if (actionStatement !== undefined) st.actionStatement = actionStatement;
  st.timestamp = ctx.optTime(s, 'timestamp', `${path}.timestamp`) ?? docTime;
  const expires = ctx.optTime(s, 'expires', `${path}.expires`) ?? docExpires;
  if (expires !== undefined) st.expires = expires;
  return st;
}

// A component's identifiers as ssf matches them: @id, identifiers.purl, and its SHA-256 hash as `sha256:<hex>`.
function componentIds(c: Record<string, unknown>, path: string, ctx: Ctx): string[] {
  const out: string[] = [];
  const id = ctx.optStr(c, '@id', `${path}.@id`);
  if (id !== undefined) out.push(id);
  if (c['identifiers'] !== undefined) {
    const purl = ctx.optStr(ctx.object(c['identifiers'], `${path}.identifiers`), 'purl', `${path}.identifiers.purl`);
    if (purl !== undefined) out.push(purl);
  }
  if (c['hashes'] !== undefined) {
    const h = ctx.optStr(ctx.object(c['hashes'], `${path}.hashes`), 'sha-256', `${path}.hashes.sha-256`);
    if (h !== undefined) {
      if (!/^[0-9a-fA-F]{64}$/.test(h)) throw ctx.bad(`${path}.hashes.sha-256`, 'must be 64 hex digits');
      out.push(`sha256:${h.toLowerCase()}`);
    }
  }
  return out;
}

function parseCycloneDx(raw: Record<string, unknown>, digest: string, ctx: Ctx): VexDocument {
  const spec = raw['specVersion'];
  if (typeof spec !== 'string' || !/^1\.[4-6]$/.test(spec)) throw ctx.bad('specVersion', `must be 1.4, 1.5 or 1.6 (got ${describe(spec)})`);
  const meta = raw['metadata'] === undefined ? {} : ctx.object(raw['metadata'], 'metadata');
  const timestamp = ctx.time(meta['timestamp'], 'metadata.timestamp');
  const author = cdxAuthor(meta, ctx);
  if (author === undefined) throw ctx.bad('metadata.authors', 'must name the author (metadata.authors[].name, or metadata.supplier or manufacturer name)');
  const serial = ctx.optStr(raw, 'serialNumber', 'serialNumber');
  const version = raw['version'];
  if (version !== undefined && !(typeof version === 'number' && Number.isInteger(version) && version >= 1)) {
    throw ctx.bad('version', `must be an integer of at least 1 (got ${describe(version)})`);
  }
  const expires = cdxExpires(meta, 'metadata.properties', ctx);

  // bom-ref → purl, so that affects[].ref can name a component of this BOM (or of its metadata).
  const refs = new Map<string, string>();
  const collect = (c: unknown): void => {
    if (!isObject(c)) return;
    const ref = c['bom-ref'];
    const purl = c['purl'];
    if (typeof ref === 'string' && typeof purl === 'string') refs.set(ref, purl);
    if (Array.isArray(c['components'])) c['components'].forEach(collect);
  };
  collect(meta['component']);
  if (Array.isArray(raw['components'])) raw['components'].forEach(collect);

  const vulns = ctx.array(raw['vulnerabilities'], 'vulnerabilities');
  if (vulns.length === 0) throw ctx.bad('vulnerabilities', 'must hold at least one vulnerability (a CycloneDX VEX without any says nothing)');
  if (vulns.length > MAX_VEX_STATEMENTS) throw ctx.bad('vulnerabilities', `holds ${vulns.length} entries; at most ${MAX_VEX_STATEMENTS} are read`);
  const statements = vulns.map((v, i) => {
    const path = `vulnerabilities[${i}]`;
    const vo = ctx.object(v, path);
    const vulnerability = ctx.str(vo, 'id', `${path}.id`);
    const aliases: string[] = [];
    if (vo['references'] !== undefined) {
      ctx.array(vo['references'], `${path}.references`).forEach((r, j) => {
        const rid = ctx.optStr(ctx.object(r, `${path}.references[${j}]`), 'id', `${path}.references[${j}].id`);
        if (rid !== undefined && rid !== vulnerability) aliases.push(rid);
      });
    }
    const analysis = vo['analysis'] === undefined ? undefined : ctx.object(vo['analysis'], `${path}.analysis`);
    if (analysis === undefined) throw ctx.bad(`${path}.analysis`, 'is missing; a VEX entry needs analysis.state');
    const state = analysis['state'];
    if (typeof state !== 'string' || !(state in CYCLONEDX_STATE)) {
      throw ctx.bad(`${path}.analysis.state`, `must be one of ${Object.keys(CYCLONEDX_STATE).join(', ')} (got ${describe(state)})`);
    }
    const status = CYCLONEDX_STATE[state] as VexStatus;
    const cdxJust = ctx.optStr(analysis, 'justification', `${path}.analysis.justification`);
    if (cdxJust !== undefined && !(cdxJust in CYCLONEDX_JUSTIFICATION)) {
      throw ctx.bad(`${path}.analysis.justification`, `must be one of ${Object.keys(CYCLONEDX_JUSTIFICATION).join(', ')} (got ${describe(cdxJust)})`);
    }
    const detail = ctx.optStr(analysis, 'detail', `${path}.analysis.detail`);
    const responses = ctx.strings(analysis['response'], `${path}.analysis.response`);
    const recommendation = ctx.optStr(vo, 'recommendation', `${path}.recommendation`);
    const workaround = ctx.optStr(vo, 'workaround', `${path}.workaround`);

    const products: string[] = [];
    const affects = vo['affects'] === undefined ? [] : ctx.array(vo['affects'], `${path}.affects`);
    if (affects.length === 0) throw ctx.bad(`${path}.affects`, 'must name at least one affected component (ref)');
    affects.forEach((a, j) => {
      const ref = ctx.str(ctx.object(a, `${path}.affects[${j}]`), 'ref', `${path}.affects[${j}].ref`);
      // A BOM-Link (urn:cdx:serial/version#bom-ref) points into a BOM; ssf resolves only its bom-ref part here.
      const local = ref.startsWith('urn:cdx:') && ref.includes('#') ? decodeURIComponent(ref.slice(ref.indexOf('#') + 1)) : ref;
      products.push(refs.get(local) ?? local);
    });

    const st: VexStatement = { vulnerability, aliases: unique(aliases), products: unique(products), subcomponents: [], status };
    if (cdxJust !== undefined) st.justification = CYCLONEDX_JUSTIFICATION[cdxJust] as string;
    st.originalJustification = cdxJust === undefined ? state : `${state}/${cdxJust}`;
    if (detail !== undefined) st.impactStatement = detail;
    else if (state === 'false_positive') st.impactStatement = 'CycloneDX analysis state false_positive';
    const action = [recommendation, workaround, responses.length > 0 ? `response: ${responses.join(', ')}` : undefined].filter((x) => x !== undefined);
    if (action.length > 0) st.actionStatement = action.join('; ');
    st.timestamp =
      ctx.optTime(analysis, 'lastUpdated', `${path}.analysis.lastUpdated`) ??
      ctx.optTime(analysis, 'firstIssued', `${path}.analysis.firstIssued`) ??
      ctx.optTime(vo, 'updated', `${path}.updated`) ??
      timestamp;
    const exp = cdxExpires(vo, `${path}.properties`, ctx) ?? expires;
    if (exp !== undefined) st.expires = exp;
    return st;
  });
  const doc: VexDocument = { format: 'cyclonedx', id: serial ?? digest, author, timestamp, statements, digest };
  if (typeof version === 'number') doc.version = version;
  if (expires !== undefined) doc.expires = expires;
  return doc;
}

function cdxAuthor(meta: Record<string, unknown>, ctx: Ctx): string | undefined {
  const names: string[] = [];
  if (meta['authors'] !== undefined) {
    ctx.array(meta['authors'], 'metadata.authors').forEach((a, i) => {
      const n = ctx.optStr(ctx.object(a, `metadata.authors[${i}]`), 'name', `metadata.authors[${i}].name`);
      const e = isObject(a) && typeof a['email'] === 'string' ? a['email'] : undefined;
      if (n !== undefined) names.push(e ? `${n} <${e}>` : n);
      else if (e) names.push(e);
    });
  }
  if (names.length > 0) return names.join(', ');
  for (const key of ['supplier', 'manufacturer', 'manufacture']) {
    const o = meta[key];
    if (isObject(o) && typeof o['name'] === 'string' && o['name'] !== '') return o['name'];
  }
  return undefined;
}

function cdxExpires(o: Record<string, unknown>, path: string, ctx: Ctx): string | undefined {
  if (o['properties'] === undefined) return undefined;
  let found: string | undefined;
  ctx.array(o['properties'], path).forEach((p, i) => {
    const po = ctx.object(p, `${path}[${i}]`);
    if (po['name'] === CYCLONEDX_EXPIRES_PROPERTY) found = ctx.time(po['value'], `${path}[${i}].value`);
  });
  return found;
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function unique(xs: string[]): string[] {
  return [...new Set(xs)];
}

function describe(v: unknown): string {
  if (v === undefined) return 'nothing';
  const s = typeof v === 'string' ? JSON.stringify(v) : JSON.stringify(v) ?? String(v);
  return s.length > 80 ? `${s.slice(0, 80)}…` : s;
}

/** Is this product identifier a purl ssf can compare? */
export function isPurl(s: string): boolean {
  return purlKey(s) !== undefined;
}
