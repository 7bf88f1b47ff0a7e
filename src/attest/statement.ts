import { SsfError, asObject, canonicalize, decodeBase64, parseJson, type ErrorCode } from '../core/index.js';

/**
 * in-toto Statement v1 and ResourceDescriptor. Validation follows the reference Go binding
 * (in-toto/attestation go/v1) so that ssf accepts and rejects exactly what other in-toto
 * tooling does. Per the spec's parsing rules, null, absent and empty values are equivalent
 * and unknown fields are ignored.
 */

export const STATEMENT_TYPE_V1 = 'https://in-toto.io/Statement/v1';
/** Still accepted on input: v0.1 statements are structurally compatible with v1. */
export const STATEMENT_TYPE_V01 = 'https://in-toto.io/Statement/v0.1';
export const INTOTO_PAYLOAD_TYPE = 'application/vnd.in-toto+json';

/** Algorithm name -> encoded digest. */
export type DigestSet = Readonly<Record<string, string>>;

export interface ResourceDescriptor {
  readonly name?: string;
  readonly uri?: string;
  readonly digest?: DigestSet;
  /** base64 of the resource's bytes. */
  readonly content?: string;
  readonly downloadLocation?: string;
  readonly mediaType?: string;
  readonly annotations?: Readonly<Record<string, unknown>>;
}

export interface Statement {
  readonly _type: string;
  readonly subject: readonly ResourceDescriptor[];
  readonly predicateType: string;
  readonly predicate: Readonly<Record<string, unknown>>;
}

/** The digest of an artifact to look up among a statement's subjects. */
export interface SubjectDigest {
  readonly algorithm: string;
  readonly hex: string;
}

/**
 * Known algorithms whose values must be hex of a fixed byte length; any other algorithm name
 * is allowed with any value, as the spec permits custom digests.
 */
const DIGEST_SIZES: Readonly<Record<string, readonly number[]>> = {
  md5: [16],
  sha1: [20],
  sha224: [28],
  sha512_224: [28],
  sha256: [32],
  sha512_256: [32],
  sha384: [48],
  sha512: [64],
  sha3_224: [28],
  sha3_256: [32],
  sha3_384: [48],
  sha3_512: [64],
  dirHash: [32],
  // git object ids are SHA-1 or, in SHA-256 repositories, SHA-256.
  gitCommit: [20, 32],
  gitTree: [20, 32],
  gitBlob: [20, 32],
  gitTag: [20, 32],
};

const HEX = /^[0-9a-fA-F]*$/;

/** Reads an optional string field, treating null as absent. */
function optString(o: Record<string, unknown>, key: string, what: string, code: ErrorCode): string | undefined {
  const v = o[key];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'string') throw new SsfError(code, `${what}.${key} must be a string`);
  return v;
}

/** Reads an optional JSON object field, treating null as absent. */
function optObject(
  o: Record<string, unknown>,
  key: string,
  what: string,
  code: ErrorCode,
): Record<string, unknown> | undefined {
  const v = o[key];
  if (v === undefined || v === null) return undefined;
  return asObject(v, `${what}.${key}`, code);
}

/**
 * Validates a DigestSet: string values, and for known algorithms hex of the right length
 * (either case, as the Go binding's hex decoder accepts both).
 */
export function parseDigestSet(json: unknown, what = 'digest', code: ErrorCode = 'STATEMENT_INVALID'): DigestSet {
  const o = asObject(json, what, code);
  const out: Record<string, string> = {};
  for (const [alg, value] of Object.entries(o)) {
    if (typeof value !== 'string') throw new SsfError(code, `${what}.${alg} must be a string`);
    const sizes = Object.hasOwn(DIGEST_SIZES, alg) ? DIGEST_SIZES[alg] : undefined;
    if (sizes !== undefined) {
      if (value.length % 2 !== 0 || !HEX.test(value)) throw new SsfError(code, `${what}.${alg} is not hex-encoded`);
      if (!sizes.includes(value.length / 2)) {
        throw new SsfError(
          code,
          `${what}.${alg} has ${value.length / 2} bytes, want ${sizes.join(' or ')}`,
        );
      }
    }
    // defineProperty, not assignment: a "__proto__" key must stay data, not swap the prototype.
    Object.defineProperty(out, alg, { value, enumerable: true, writable: true, configurable: true });
  }
  return out;
}

/** Validates a ResourceDescriptor: at least one of name, uri or digest, and a well-formed digest. */
export function parseResourceDescriptor(
  json: unknown,
  what = 'resource descriptor',
  code: ErrorCode = 'STATEMENT_INVALID',
): ResourceDescriptor {
  const o = asObject(json, what, code);
  const name = optString(o, 'name', what, code);
  const uri = optString(o, 'uri', what, code);
  const rawDigest = o['digest'];
  const digest = rawDigest === undefined || rawDigest === null ? undefined : parseDigestSet(rawDigest, `${what}.digest`, code);
  const content = optString(o, 'content', what, code);
  if (content !== undefined) decodeBase64(content, `${what}.content`, code);
  const downloadLocation = optString(o, 'downloadLocation', what, code);
  const mediaType = optString(o, 'mediaType', what, code);
  const annotations = optObject(o, 'annotations', what, code);

  const hasDigest = digest !== undefined && Object.keys(digest).length > 0;
  if (!name && !uri && !hasDigest) throw new SsfError(code, `${what} needs at least one of name, uri or digest`);

  const rd: {
    name?: string;
    uri?: string;
    digest?: DigestSet;
    content?: string;
    downloadLocation?: string;
    mediaType?: string;
    annotations?: Readonly<Record<string, unknown>>;
  } = {};
  if (name !== undefined) rd.name = name;
  if (uri !== undefined) rd.uri = uri;
  if (digest !== undefined) rd.digest = digest;
  if (content !== undefined) rd.content = content;
  if (downloadLocation !== undefined) rd.downloadLocation = downloadLocation;
  if (mediaType !== undefined) rd.mediaType = mediaType;
  if (annotations !== undefined) rd.annotations = annotations;
  return rd;
}

/**
 * Validates an in-toto Statement as the Go binding does: known _type (v1, or v0.1), at
 * least one subject, every subject a valid descriptor with a digest, a non-empty
 * predicateType, and a predicate object (which may be empty).
 */
export function parseStatement(json: unknown): Statement {
  const code: ErrorCode = 'STATEMENT_INVALID';
  const o = asObject(json, 'statement', code);
  const type = o['_type'];
  if (type !== STATEMENT_TYPE_V1 && type !== STATEMENT_TYPE_V01) {
    throw new SsfError(code, `statement _type must be ${STATEMENT_TYPE_V1}`);
  }
  const rawSubject = o['subject'];
  if (rawSubject !== undefined && rawSubject !== null && !Array.isArray(rawSubject)) {
    throw new SsfError(code, 'statement.subject must be an array');
  }
  if (!rawSubject || rawSubject.length === 0) throw new SsfError(code, 'statement needs at least one subject');
  const subject = rawSubject.map((s, i) => {
    const what = `statement.subject[${i}]`;
    const rd = parseResourceDescriptor(s, what, code);
    if (!rd.digest || Object.keys(rd.digest).length === 0) throw new SsfError(code, `${what} needs a digest`);
    return rd;
  });
  const predicateType = optString(o, 'predicateType', 'statement', code);
  if (!predicateType) throw new SsfError(code, 'statement.predicateType is required');
  const predicate = optObject(o, 'predicate', 'statement', code);
  if (predicate === undefined) throw new SsfError(code, 'statement.predicate is required');
  return { _type: type, subject, predicateType, predicate };
}

/** Builds a v1 statement, validating it as a consumer would so ssf never emits one it would reject. */
export function makeStatement(
  subjects: readonly ResourceDescriptor[],
  predicateType: string,
  predicate: Readonly<Record<string, unknown>>,
): Statement {
  return parseStatement({ _type: STATEMENT_TYPE_V1, subject: subjects, predicateType, predicate });
}

/**
 * Serialises a statement as canonical JSON (sorted keys, no whitespace), so the same
 * statement always yields the same payload bytes and payload digest.
 */
export function statementToPayload(st: Statement): Buffer {
  return Buffer.from(canonicalize(st), 'utf8');
}

const UTF8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

/** Parses DSSE payload bytes as a statement; invalid UTF-8 or JSON is STATEMENT_INVALID. */
export function parseStatementPayload(buf: Uint8Array): Statement {
  let text: string;
  try {
    text = UTF8.decode(buf);
  } catch (e) {
    throw new SsfError('STATEMENT_INVALID', 'statement payload is not valid UTF-8', { cause: e });
  }
  return parseStatement(parseJson(text, 'statement payload', 'STATEMENT_INVALID'));
}

/** Refuses an envelope whose payload is not declared as an in-toto statement. */
export function requireInTotoPayloadType(payloadType: string): void {
  if (payloadType !== INTOTO_PAYLOAD_TYPE) {
    throw new SsfError('PAYLOAD_TYPE', `DSSE payloadType is ${JSON.stringify(payloadType)}, want ${INTOTO_PAYLOAD_TYPE}`);
  }
}

/**
 * Finds the subject whose digest for the given algorithm equals the artifact's (hex compared
 * case-insensitively); the statement says nothing about an artifact no subject names.
 */
export function matchSubject(st: Statement, want: SubjectDigest): ResourceDescriptor {
  const hex = want.hex.toLowerCase();
  if (hex !== '') {
    for (const s of st.subject) {
      const d = s.digest;
      if (d === undefined || !Object.hasOwn(d, want.algorithm)) continue;
      const v = d[want.algorithm];
      if (typeof v === 'string' && v.toLowerCase() === hex) return s;
    }
  }
  throw new SsfError('SUBJECT_MISMATCH', `no subject of the statement has ${want.algorithm} digest ${hex}`);
}
