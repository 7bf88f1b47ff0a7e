import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import type { Ajv as AjvClass, ErrorObject, Options, ValidateFunction } from 'ajv';
import type { Ajv2019 as Ajv2019Class } from 'ajv/dist/2019.js';
import { SsfError, canonicalize } from '../../core/index.js';

// ajv costs ~60 ms to load: it is required on first validation, not when the part is imported.
const require = createRequire(import.meta.url);

/** The schemas ship with the package in schema/ (package.json "files"). */
const SCHEMA_DIR = new URL('../../../../schema/', import.meta.url);

function loadSchema(rel: string): Record<string, unknown> {
  try {
    return JSON.parse(readFileSync(new URL(rel, SCHEMA_DIR), 'utf8')) as Record<string, unknown>;
  } catch (e) {
    throw new SsfError('FILE_NOT_FOUND', `the bundled schema ${rel} could not be read from ${SCHEMA_DIR.pathname}: ${(e as Error).message}; reinstall ssf`, { cause: e });
  }
}

// ---- formats. ajv-formats is not a dependency; these are the four formats the schemas use,
// checked for real (RFC 3339, RFC 3986, RFC 3987, RFC 6531) rather than accepted blindly.

const DAYS = [31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];

/** RFC 3339 date-time: full date, time with seconds, and an offset (Z or ±hh:mm). */
export function isDateTime(s: string): boolean {
  const m = /^(\d{4})-(\d{2})-(\d{2})[Tt ](\d{2}):(\d{2}):(\d{2})(?:\.\d+)?(?:[Zz]|([+-])(\d{2}):(\d{2}))$/.exec(s);
  if (!m) return false;
  const [y, mo, d, h, mi, sec] = [m[1], m[2], m[3], m[4], m[5], m[6]].map(Number) as [number, number, number, number, number, number];
  const leap = y % 4 === 0 && (y % 100 !== 0 || y % 400 === 0);
  if (mo < 1 || mo > 12 || d < 1 || d > (mo === 2 && !leap ? 28 : DAYS[mo - 1]!)) return false;
  if (h > 23 || mi > 59 || sec > 60) return false;
  if (m[7] !== undefined && (Number(m[8]) > 23 || Number(m[9]) > 59)) return false;
  return true;
}

const PCT_OK = /%(?![0-9A-Fa-f]{2})/;
// RFC 3986 unreserved / reserved / '%'.
const URI_CHARS = /^[A-Za-z0-9\-._~:/?#[\]@!$&'()*+,;=%]*$/;
// RFC 3987 adds ucschar and iprivate: every non-ASCII code point except controls and specials.
const IRI_CHARS = /^(?:[A-Za-z0-9\-._~:/?#[\]@!$&'()*+,;=%]|[^\x00-\x7f\p{Cc}\uFFF0-\uFFFF])*$/u;

/** RFC 3986 URI (absolute: a scheme is required). */
export function isUri(s: string): boolean {
  return /^[A-Za-z][A-Za-z0-9+.-]*:/.test(s) && URI_CHARS.test(s) && !PCT_OK.test(s) && fragmentsOk(s);
}

/** RFC 3987 IRI reference: absolute or relative; non-ASCII allowed, spaces and `<>"{}|\^` not. */
export function isIriReference(s: string): boolean {
  if (!IRI_CHARS.test(s) || PCT_OK.test(s) || !fragmentsOk(s)) return false;
  // A relative reference's first segment must not look like a scheme (RFC 3986 4.2).
  const colon = s.indexOf(':');
  const first = s.search(/[/?#]/);
  if (colon !== -1 && (first === -1 || colon < first)) return /^[A-Za-z][A-Za-z0-9+.-]*:/.test(s);
  return true;
}

function fragmentsOk(s: string): boolean {
  // At most one '#'; brackets only around an IP literal host.
  const hash = s.indexOf('#');
  if (hash !== -1 && s.indexOf('#', hash + 1) !== -1) return false;
  const beforeFrag = hash === -1 ? s : s.slice(0, hash);
  if (/[[\]]/.test(beforeFrag)) return /^[A-Za-z][A-Za-z0-9+.-]*:\/\/(?:[^@/]*@)?\[[0-9A-Fa-f:.vV]+\](?::\d*)?(?:[/?]|$)/.test(beforeFrag) && (beforeFrag.match(/[[\]]/g) ?? []).length === 2;
  return true;
}

/** RFC 6531 internationalised address: dot-atom local part (UTF-8 allowed) @ a domain of labels. */
export function isIdnEmail(s: string): boolean {
  const at = s.lastIndexOf('@');
  if (at <= 0 || at > 64 * 4) return false;
  const local = s.slice(0, at);
  const domain = s.slice(at + 1);
  const atext = "[\\p{L}\\p{N}\\p{M}!#$%&'*+/=?^_`{|}~-]+";
  if (!new RegExp(`^${atext}(?:\\.${atext})*$`, 'u').test(local)) return false;
  if (domain.length > 253) return false;
  const label = /^[\p{L}\p{N}\p{M}](?:[\p{L}\p{N}\p{M}-]{0,61}[\p{L}\p{N}\p{M}])?$/u;
  const labels = domain.split('.');
  return labels.length >= 2 && labels.every((l) => label.test(l));
}

const FORMATS: Record<string, (s: string) => boolean> = {
  'date-time': isDateTime,
  uri: isUri,
  'iri-reference': isIriReference,
  'idn-email': isIdnEmail,
};

function addFormats(ajv: { addFormat(name: string, f: { type: 'string'; validate: (s: string) => boolean }): unknown }): void {
  for (const [name, validate] of Object.entries(FORMATS)) ajv.addFormat(name, { type: 'string', validate });
}

/**
 * uniqueItems in linear time. ajv compares every pair of items with a deep equality (O(n²)):
 * CycloneDX marks components, dependencies and hashes uniqueItems, so a 1,200-component BOM
 * cost ~250 ms in that check alone. Two JSON values are equal exactly when their canonical
 * JSON (sorted keys) is the same string, so a set of those finds the same duplicates.
 */
interface UniqueValidate {
  (schema: boolean, data: unknown[]): boolean;
  errors?: Partial<ErrorObject>[];
}
const uniqueItems: UniqueValidate = (schema, data) => {
  uniqueItems.errors = [];
  if (!schema) return true;
  const seen = new Map<string, number>();
  for (let j = 0; j < data.length; j++) {
    const key = canonicalize(data[j]);
    const i = seen.get(key);
    if (i !== undefined) {
      uniqueItems.errors = [{ keyword: 'uniqueItems', message: `must NOT have duplicate items (items ## ${j} and ${i} are identical)`, params: { i: j, j: i } }];
      return false;
    }
    seen.set(key, j);
  }
  return true;
};

function linearUniqueItems(ajv: AjvClass | Ajv2019Class): void {
  ajv.removeKeyword('uniqueItems');
  ajv.addKeyword({ keyword: 'uniqueItems', type: 'array', schemaType: 'boolean', errors: true, validate: uniqueItems });
}

// ---- validators, compiled on first use and kept.

/**
 * strict:false because the schemas use annotation keywords ajv does not know ("meta:enum",
 * "deprecated"). The schemas are published and fixed, so they are not validated again.
 */
const OPTIONS: Options = { strict: false, allErrors: true, validateFormats: true, validateSchema: false };

let cyclonedx: ValidateFunction | undefined;
let spdx: ValidateFunction | undefined;

function cyclonedxValidator(): ValidateFunction {
  if (cyclonedx) return cyclonedx;
  // The CycloneDX schemas are draft-07. Formats are enforced, as the upstream test harness
  // does: the JSF signature vectors depend on "uri" being checked.
  const { Ajv } = require('ajv') as { Ajv: typeof AjvClass };
  const ajv = new Ajv(OPTIONS);
  addFormats(ajv);
  linearUniqueItems(ajv);
  ajv.addSchema(loadSchema('cyclonedx/spdx.schema.json'));
  ajv.addSchema(loadSchema('cyclonedx/jsf-0.82.schema.json'));
  return (cyclonedx = ajv.compile(loadSchema('cyclonedx/bom-1.6.schema.json')));
}

function spdxValidator(): ValidateFunction {
  if (spdx) return spdx;
  // The SPDX 2.3 schema is draft 2019-09 and uses no formats.
  const { Ajv2019 } = require('ajv/dist/2019.js') as { Ajv2019: typeof Ajv2019Class };
  const ajv = new Ajv2019(OPTIONS);
  addFormats(ajv);
  linearUniqueItems(ajv);
  return (spdx = ajv.compile(loadSchema('spdx/spdx-schema.json')));
}

/** One line per error: `<JSON pointer>: <message>`, deduplicated, in ajv's order. */
function lines(errors: ErrorObject[] | null | undefined): string[] {
  const out = new Set<string>();
  for (const e of errors ?? []) {
    let msg = e.message ?? e.keyword;
    if (e.keyword === 'additionalProperties') msg += ` (${String((e.params as { additionalProperty?: unknown }).additionalProperty)})`;
    else if (e.keyword === 'enum') {
      // Short lists help; the licence-id list (hundreds of ids) would drown the line.
      const allowed = (e.params as { allowedValues?: unknown[] }).allowedValues ?? [];
      if (allowed.length <= 16) msg += ` (${allowed.map((x) => JSON.stringify(x)).join(', ')})`;
    }
    out.add(`${e.instancePath || '/'}: ${msg}`);
  }
  return [...out];
}

/** Errors of a CycloneDX document against bom-1.6.schema.json; [] when it is valid. */
export function validateCycloneDx(doc: unknown): string[] {
  const v = cyclonedxValidator();
  return v(doc) ? [] : lines(v.errors);
}

/**
 * Errors of an SPDX document against the SPDX 2.3 JSON schema, plus the rules the schema
 * cannot express: spdxVersion SPDX-2.3, dataLicense CC0-1.0, SPDXID syntax and uniqueness,
 * relationships naming elements that exist, LicenseRef-s that hasExtractedLicensingInfos defines.
 */
export function validateSpdx(doc: unknown): string[] {
  const v = spdxValidator();
  if (!v(doc)) return lines(v.errors);
  return spdxRules(doc as Record<string, unknown>);
}

const ID = /^SPDXRef-[A-Za-z0-9.-]+$/;

function spdxRules(doc: Record<string, unknown>): string[] {
  const errs: string[] = [];
  if (doc.spdxVersion !== 'SPDX-2.3') errs.push(`/spdxVersion: must be SPDX-2.3 (got ${JSON.stringify(doc.spdxVersion)})`);
  if (doc.dataLicense !== 'CC0-1.0') errs.push(`/dataLicense: must be CC0-1.0`);
  if (doc.SPDXID !== 'SPDXRef-DOCUMENT') errs.push(`/SPDXID: must be SPDXRef-DOCUMENT`);
  if (typeof doc.documentNamespace === 'string' && (doc.documentNamespace.includes('#') || !isUri(doc.documentNamespace))) errs.push('/documentNamespace: must be an absolute URI without #');
  const ids = new Set<string>(['SPDXRef-DOCUMENT']);
  for (const key of ['packages', 'files', 'snippets'] as const) {
    const list = doc[key];
    if (!Array.isArray(list)) continue;
    list.forEach((el: Record<string, unknown>, i) => {
      const id = el.SPDXID;
      if (typeof id !== 'string' || !ID.test(id)) errs.push(`/${key}/${i}/SPDXID: must be SPDXRef- followed by letters, digits, '.' or '-'`);
      else if (ids.has(id)) errs.push(`/${key}/${i}/SPDXID: ${id} is used twice`);
      else ids.add(id);
    });
  }
  const known = (x: unknown): boolean => typeof x === 'string' && (ids.has(x) || x === 'NONE' || x === 'NOASSERTION' || /^DocumentRef-[A-Za-z0-9.-]+:SPDXRef-[A-Za-z0-9.-]+$/.test(x));
  (Array.isArray(doc.relationships) ? doc.relationships : []).forEach((r: Record<string, unknown>, i) => {
    if (!known(r.spdxElementId)) errs.push(`/relationships/${i}/spdxElementId: ${JSON.stringify(r.spdxElementId)} is not an element of this document`);
    if (!known(r.relatedSpdxElement)) errs.push(`/relationships/${i}/relatedSpdxElement: ${JSON.stringify(r.relatedSpdxElement)} is not an element of this document`);
  });
  (Array.isArray(doc.documentDescribes) ? doc.documentDescribes : []).forEach((d: unknown, i) => {
    if (!known(d)) errs.push(`/documentDescribes/${i}: ${JSON.stringify(d)} is not an element of this document`);
  });
  const refs = new Set<string>();
  for (const x of Array.isArray(doc.hasExtractedLicensingInfos) ? doc.hasExtractedLicensingInfos : []) {
    if (typeof (x as { licenseId?: unknown }).licenseId === 'string') refs.add((x as { licenseId: string }).licenseId);
  }
  (Array.isArray(doc.packages) ? doc.packages : []).forEach((p: Record<string, unknown>, i) => {
    for (const field of ['licenseDeclared', 'licenseConcluded'] as const) {
      const v = p[field];
      if (typeof v !== 'string') continue;
      for (const m of v.matchAll(/(?<![A-Za-z0-9.:-])LicenseRef-[A-Za-z0-9.-]+/g)) {
        if (!refs.has(m[0])) errs.push(`/packages/${i}/${field}: ${m[0]} is not defined in hasExtractedLicensingInfos`);
      }
    }
  });
  return errs;
}
