import { SsfError, asObject, type ErrorCode } from '../core/index.js';
import { parseResourceDescriptor, type DigestSet, type ResourceDescriptor, type Statement } from './statement.js';

/**
 * Predicate types ssf emits and checks. Parsers return typed copies holding only the known
 * fields (the spec says consumers ignore unknown ones); builders run the same parser on
 * their output so ssf never signs a predicate it would itself reject. The shapes are `type`
 * aliases rather than interfaces so they stay assignable to a statement's predicate object.
 */

export const SLSA_PROVENANCE_V1 = 'https://slsa.dev/provenance/v1';
export const SLSA_VSA_V1 = 'https://slsa.dev/verification_summary/v1';
export const INTOTO_LINK_V03 = 'https://in-toto.io/attestation/link/v0.3';

export type JsonObject = Readonly<Record<string, unknown>>;

// ---------------------------------------------------------------- SLSA Provenance v1

export type ProvenanceBuilder = {
  readonly id: string;
  readonly version?: Readonly<Record<string, string>>;
  readonly builderDependencies?: readonly ResourceDescriptor[];
};

export type BuildMetadata = {
  readonly invocationId?: string;
  readonly startedOn?: string;
  readonly finishedOn?: string;
};

export type BuildDefinition = {
  readonly buildType: string;
  readonly externalParameters: JsonObject;
  readonly internalParameters?: JsonObject;
  readonly resolvedDependencies?: readonly ResourceDescriptor[];
};

export type RunDetails = {
  readonly builder: ProvenanceBuilder;
  readonly metadata?: BuildMetadata;
  readonly byproducts?: readonly ResourceDescriptor[];
};

export type ProvenanceV1 = {
  readonly buildDefinition: BuildDefinition;
  readonly runDetails: RunDetails;
};

// ---------------------------------------------------------------- SLSA VSA v1

export type VsaVerifier = {
  readonly id: string;
  readonly version?: Readonly<Record<string, string>>;
};

export type VsaPolicy = {
  /** Required by the VSA spec ("the entry MUST contain a uri"). */
  readonly uri: string;
  readonly digest?: DigestSet;
};

export type VerificationResult = 'PASSED' | 'FAILED';

export type VsaV1 = {
  readonly verifier: VsaVerifier;
  readonly timeVerified: string;
  readonly resourceUri: string;
  readonly policy: VsaPolicy;
  readonly inputAttestations?: readonly ResourceDescriptor[];
  readonly verificationResult: VerificationResult;
  readonly verifiedLevels: readonly string[];
  readonly dependencyLevels?: Readonly<Record<string, number>>;
  readonly slsaVersion?: string;
  /** Fields the spec does not define are kept as they are (in-toto: consumers ignore unknown fields). */
  readonly [extension: string]: unknown;
};

// ---------------------------------------------------------------- in-toto link v0.3

export type LinkV03 = {
  readonly name: string;
  readonly command: readonly string[];
  readonly materials: readonly ResourceDescriptor[];
  readonly byproducts: JsonObject;
  readonly environment: JsonObject;
};

// ---------------------------------------------------------------- helpers

const CODE: ErrorCode = 'PREDICATE_INVALID';

function fail(message: string): never {
  throw new SsfError(CODE, message);
}

/** Null and absent are the same per the in-toto parsing rules. */
function isUnset(v: unknown): v is null | undefined {
  return v === undefined || v === null;
}

function optString(o: Record<string, unknown>, key: string, what: string): string | undefined {
  const v = o[key];
  if (isUnset(v)) return undefined;
  if (typeof v !== 'string') fail(`${what}.${key} must be a string`);
  return v;
}

function reqString(o: Record<string, unknown>, key: string, what: string): string {
  const v = optString(o, key, what);
  if (!v) fail(`${what}.${key} is required`);
  return v;
}

function optObject(o: Record<string, unknown>, key: string, what: string): Record<string, unknown> | undefined {
  const v = o[key];
  if (isUnset(v)) return undefined;
  return asObject(v, `${what}.${key}`, CODE);
}

/** An object that must be present and non-empty: an empty message counts as unset. */
function reqNonEmptyObject(o: Record<string, unknown>, key: string, what: string): Record<string, unknown> {
  const v = optObject(o, key, what);
  if (v === undefined || Object.keys(v).length === 0) fail(`${what}.${key} is required`);
  return v;
}

function optStringMap(o: Record<string, unknown>, key: string, what: string): Readonly<Record<string, string>> | undefined {
  const m = optObject(o, key, what);
  if (m === undefined) return undefined;
  for (const [k, v] of Object.entries(m)) {
    if (typeof v !== 'string') fail(`${what}.${key}.${k} must be a string`);
  }
  return m as Record<string, string>;
}

function optDescriptors(o: Record<string, unknown>, key: string, what: string): ResourceDescriptor[] | undefined {
  const v = o[key];
  if (isUnset(v)) return undefined;
  if (!Array.isArray(v)) fail(`${what}.${key} must be an array`);
  return v.map((rd, i) => parseResourceDescriptor(rd, `${what}.${key}[${i}]`, CODE));
}

function optStringArray(o: Record<string, unknown>, key: string, what: string): string[] | undefined {
  const v = o[key];
  if (isUnset(v)) return undefined;
  if (!Array.isArray(v)) fail(`${what}.${key} must be an array`);
  return v.map((s, i) => {
    if (typeof s !== 'string') fail(`${what}.${key}[${i}] must be a string`);
    return s;
  });
}

const RFC3339 = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(?:\.\d{1,9})?(?:Z|[+-](\d{2}):(\d{2}))$/;

/**
 * RFC 3339 timestamp as protobuf's Timestamp accepts it: upper-case T and Z, real calendar
 * dates, no leap second, years 0001-9999. Date.parse is not used because it rolls
 * 2023-02-30 over into March instead of refusing it.
 */
export function isRfc3339Timestamp(s: string): boolean {
  const m = RFC3339.exec(s);
  if (!m) return false;
  const [year, month, day, hour, minute, second] = m.slice(1, 7).map(Number) as [number, number, number, number, number, number];
  if (year < 1 || month < 1 || month > 12 || hour > 23 || minute > 59 || second > 59) return false;
  const leap = (year % 4 === 0 && year % 100 !== 0) || year % 400 === 0;
  const days = [31, leap ? 29 : 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31][month - 1] ?? 0;
  if (day < 1 || day > days) return false;
  if (m[7] !== undefined && (Number(m[7]) > 23 || Number(m[8]) > 59)) return false;
  return true;
}

function optTimestamp(o: Record<string, unknown>, key: string, what: string): string | undefined {
  const v = optString(o, key, what);
  if (v === undefined || v === '') return undefined;
  if (!isRfc3339Timestamp(v)) fail(`${what}.${key} is not an RFC 3339 timestamp`);
  return v;
}

function toTimestamp(t: Date | string): string {
  if (typeof t === 'string') return t;
  if (Number.isNaN(t.getTime())) fail('timestamp is an invalid Date');
  return t.toISOString();
}

/** Copies the defined entries only, so optional fields are omitted rather than set to undefined. */
function defined<T extends Record<string, unknown>>(o: T): T {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(o)) if (v !== undefined) out[k] = v;
  return out as T;
}

// ---------------------------------------------------------------- provenance

/**
 * Validates SLSA Provenance v1 as the in-toto Go binding does: buildDefinition with
 * buildType and externalParameters, runDetails with builder.id, and every descriptor
 * (resolvedDependencies, builderDependencies, byproducts) a valid ResourceDescriptor.
 */
export function parseProvenance(json: unknown): ProvenanceV1 {
  const p = asObject(json, 'provenance', CODE);

  const bd = reqNonEmptyObject(p, 'buildDefinition', 'provenance');
  const bdWhat = 'provenance.buildDefinition';
  const buildType = reqString(bd, 'buildType', bdWhat);
  const externalParameters = optObject(bd, 'externalParameters', bdWhat);
  if (externalParameters === undefined) fail(`${bdWhat}.externalParameters is required`);
  const buildDefinition: BuildDefinition = defined({
    buildType,
    externalParameters,
    internalParameters: optObject(bd, 'internalParameters', bdWhat),
    resolvedDependencies: optDescriptors(bd, 'resolvedDependencies', bdWhat),
  });

  const rd = reqNonEmptyObject(p, 'runDetails', 'provenance');
  const rdWhat = 'provenance.runDetails';
  const b = reqNonEmptyObject(rd, 'builder', rdWhat);
  const bWhat = `${rdWhat}.builder`;
  const builder: ProvenanceBuilder = defined({
    id: reqString(b, 'id', bWhat),
    version: optStringMap(b, 'version', bWhat),
    builderDependencies: optDescriptors(b, 'builderDependencies', bWhat),
  });
  const md = optObject(rd, 'metadata', rdWhat);
  const mdWhat = `${rdWhat}.metadata`;
  const metadata: BuildMetadata | undefined =
    md === undefined
      ? undefined
      : defined({
          invocationId: optString(md, 'invocationId', mdWhat),
          startedOn: optTimestamp(md, 'startedOn', mdWhat),
          finishedOn: optTimestamp(md, 'finishedOn', mdWhat),
        });
  const runDetails: RunDetails = defined({
    builder,
    metadata,
    byproducts: optDescriptors(rd, 'byproducts', rdWhat),
  });
  return { buildDefinition, runDetails };
}

export interface ProvenanceInput {
  readonly buildType: string;
  readonly externalParameters: JsonObject;
  readonly internalParameters?: JsonObject;
  readonly resolvedDependencies?: readonly ResourceDescriptor[];
  readonly builderId: string;
  readonly builderVersion?: Readonly<Record<string, string>>;
  readonly builderDependencies?: readonly ResourceDescriptor[];
  readonly invocationId?: string;
  readonly startedOn?: Date | string;
  readonly finishedOn?: Date | string;
  readonly byproducts?: readonly ResourceDescriptor[];
}

/** Builds a validated SLSA Provenance v1 predicate from flat inputs. */
export function makeProvenance(input: ProvenanceInput): ProvenanceV1 {
  const metadata = defined({
    invocationId: input.invocationId,
    startedOn: input.startedOn === undefined ? undefined : toTimestamp(input.startedOn),
    finishedOn: input.finishedOn === undefined ? undefined : toTimestamp(input.finishedOn),
  });
  return parseProvenance({
    buildDefinition: defined({
      buildType: input.buildType,
      externalParameters: input.externalParameters,
      internalParameters: input.internalParameters,
      resolvedDependencies: input.resolvedDependencies,
    }),
    runDetails: defined({
      builder: defined({
        id: input.builderId,
        version: input.builderVersion,
        builderDependencies: input.builderDependencies,
      }),
      metadata: Object.keys(metadata).length > 0 ? metadata : undefined,
      byproducts: input.byproducts,
    }),
  });
}

// ---------------------------------------------------------------- VSA

const SLSA_LEVEL = /^SLSA_([A-Z]+)_LEVEL_(\d+)$/;

/** SlsaResult: custom values are allowed, but anything starting with SLSA_ must be a real level. */
function checkSlsaResult(v: string, what: string): RegExpExecArray | null {
  if (v === '') fail(`${what} is empty`);
  const m = SLSA_LEVEL.exec(v);
  if (!m && v.startsWith('SLSA_')) fail(`${what} "${v}" is not of the form SLSA_<TRACK>_LEVEL_<N>`);
  return m;
}

/** Validates a SLSA Verification Summary v1 predicate against its spec's required fields. */
export function parseVsa(json: unknown): VsaV1 {
  const what = 'vsa';
  const p = asObject(json, what, CODE);

  const v = reqNonEmptyObject(p, 'verifier', what);
  const verifier: VsaVerifier = defined({
    id: reqString(v, 'id', `${what}.verifier`),
    version: optStringMap(v, 'version', `${what}.verifier`),
  });

  const timeVerified = optTimestamp(p, 'timeVerified', what);
  if (timeVerified === undefined) fail(`${what}.timeVerified is required`);
  const resourceUri = reqString(p, 'resourceUri', what);

  const rawPolicy = reqNonEmptyObject(p, 'policy', what);
  const policyRd = parseResourceDescriptor(rawPolicy, `${what}.policy`, CODE);
  if (!policyRd.uri) fail(`${what}.policy.uri is required`);
  const policy: VsaPolicy = defined({ uri: policyRd.uri, digest: policyRd.digest });

  const inputAttestations = optDescriptors(p, 'inputAttestations', what);
  inputAttestations?.forEach((a, i) => {
    if (!a.digest || Object.keys(a.digest).length === 0) fail(`${what}.inputAttestations[${i}] needs a digest`);
  });

  const verificationResult = p['verificationResult'];
  if (verificationResult !== 'PASSED' && verificationResult !== 'FAILED') {
    fail(`${what}.verificationResult must be "PASSED" or "FAILED"`);
  }

  const verifiedLevels = optStringArray(p, 'verifiedLevels', what);
  if (!verifiedLevels || verifiedLevels.length === 0) fail(`${what}.verifiedLevels is required`);
  const tracks = new Set<string>();
  verifiedLevels.forEach((lvl, i) => {
    const m = checkSlsaResult(lvl, `${what}.verifiedLevels[${i}]`);
    const track = m?.[1];
    if (track !== undefined) {
      if (tracks.has(track)) fail(`${what}.verifiedLevels names more than one level of the ${track} track`);
      tracks.add(track);
    }
  });

  const rawDeps = optObject(p, 'dependencyLevels', what);
  let dependencyLevels: Record<string, number> | undefined;
  if (rawDeps !== undefined) {
    dependencyLevels = {};
    for (const [lvl, n] of Object.entries(rawDeps)) {
      checkSlsaResult(lvl, `${what}.dependencyLevels key`);
      if (typeof n !== 'number' || !Number.isSafeInteger(n) || n < 0) {
        fail(`${what}.dependencyLevels.${lvl} must be a non-negative integer`);
      }
      Object.defineProperty(dependencyLevels, lvl, { value: n, enumerable: true, writable: true, configurable: true });
    }
  }

  const slsaVersion = optString(p, 'slsaVersion', what);
  if (slsaVersion !== undefined && slsaVersion !== '' && !/^\d+\.\d+$/.test(slsaVersion)) {
    fail(`${what}.slsaVersion must be <MAJOR>.<MINOR>`);
  }

  const known = new Set(['verifier', 'timeVerified', 'resourceUri', 'policy', 'inputAttestations', 'verificationResult', 'verifiedLevels', 'dependencyLevels', 'slsaVersion']);
  const extensions = Object.fromEntries(Object.entries(p).filter(([k]) => !known.has(k) && k !== '__proto__'));
  return defined({
    ...extensions,
    verifier,
    timeVerified,
    resourceUri,
    policy,
    inputAttestations,
    verificationResult,
    verifiedLevels,
    dependencyLevels,
    slsaVersion: slsaVersion || undefined,
  });
}

export interface VsaInput {
  readonly verifierId: string;
  readonly verifierVersion?: Readonly<Record<string, string>>;
  readonly timeVerified: Date | string;
  readonly resourceUri: string;
  readonly policy: VsaPolicy;
  readonly inputAttestations?: readonly ResourceDescriptor[];
  readonly verificationResult: VerificationResult;
  readonly verifiedLevels: readonly string[];
  readonly dependencyLevels?: Readonly<Record<string, number>>;
  readonly slsaVersion?: string;
  /** Extra top-level fields (ssf records the policy decision under `decision`). */
  readonly extensions?: Readonly<Record<string, unknown>>;
}

/** Builds a validated SLSA VSA v1 predicate. */
export function makeVsa(input: VsaInput): VsaV1 {
  return parseVsa(
    defined({
      ...(input.extensions ?? {}),
      verifier: defined({ id: input.verifierId, version: input.verifierVersion }),
      timeVerified: toTimestamp(input.timeVerified),
      resourceUri: input.resourceUri,
      policy: input.policy,
      inputAttestations: input.inputAttestations,
      verificationResult: input.verificationResult,
      verifiedLevels: input.verifiedLevels,
      dependencyLevels: input.dependencyLevels,
      slsaVersion: input.slsaVersion,
    }),
  );
}

// ---------------------------------------------------------------- link

/**
 * Validates an in-toto link v0.3 predicate: a step name, and materials that each carry a
 * unique name and a digest. Absent command/materials/byproducts/environment become empty.
 */
export function parseLink(json: unknown): LinkV03 {
  const what = 'link';
  const p = asObject(json, what, CODE);
  const name = reqString(p, 'name', what);
  const command = optStringArray(p, 'command', what) ?? [];
  const materials = optDescriptors(p, 'materials', what) ?? [];
  const seen = new Set<string>();
  materials.forEach((m, i) => {
    if (!m.name) fail(`${what}.materials[${i}] needs a name`);
    if (!m.digest || Object.keys(m.digest).length === 0) fail(`${what}.materials[${i}] needs a digest`);
    if (seen.has(m.name)) fail(`${what}.materials name "${m.name}" is not unique`);
    seen.add(m.name);
  });
  const byproducts = optObject(p, 'byproducts', what) ?? {};
  const environment = optObject(p, 'environment', what) ?? {};
  return { name, command, materials, byproducts, environment };
}

export interface LinkInput {
  readonly name: string;
  readonly command?: readonly string[];
  readonly materials?: readonly ResourceDescriptor[];
  readonly byproducts?: JsonObject;
  readonly environment?: JsonObject;
}

/** Builds a validated in-toto link v0.3 predicate. */
export function makeLink(input: LinkInput): LinkV03 {
  return parseLink({
    name: input.name,
    command: input.command ?? [],
    materials: input.materials ?? [],
    byproducts: input.byproducts ?? {},
    environment: input.environment ?? {},
  });
}

// ---------------------------------------------------------------- dispatch

/**
 * Validates a predicate by its type. Unknown types are accepted as opaque objects: the
 * statement layer must not refuse predicates ssf has no schema for. Returns the input.
 */
export function validatePredicate(predicateType: string, predicate: unknown): JsonObject {
  const o = asObject(predicate, `predicate of type ${predicateType}`, CODE);
  switch (predicateType) {
    case SLSA_PROVENANCE_V1:
      parseProvenance(o);
      break;
    case SLSA_VSA_V1:
      parseVsa(o);
      break;
    case INTOTO_LINK_V03:
      parseLink(o);
      break;
    default:
      break;
  }
  return o;
}

/**
 * Validates a statement's predicate plus the rules that span statement and predicate: a
 * link's subjects must each have a unique name, as they stand for the step's products.
 */
export function validateStatementPredicate(st: Statement): JsonObject {
  const o = validatePredicate(st.predicateType, st.predicate);
  if (st.predicateType === INTOTO_LINK_V03) {
    const seen = new Set<string>();
    st.subject.forEach((s, i) => {
      if (!s.name) fail(`link statement subject[${i}] needs a name`);
      if (seen.has(s.name)) fail(`link statement subject name "${s.name}" is not unique`);
      seen.add(s.name);
    });
  }
  return o;
}

