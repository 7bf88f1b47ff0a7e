import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { isSsfError, sha256Hex, type ErrorCode } from '../core/index.js';
import {
  INTOTO_LINK_V03,
  SLSA_PROVENANCE_V1,
  SLSA_VSA_V1,
  isRfc3339Timestamp,
  makeLink,
  makeProvenance,
  makeVsa,
  parseLink,
  parseProvenance,
  parseVsa,
  validatePredicate,
  validateStatementPredicate,
} from './predicates.js';
import { makeStatement } from './statement.js';
import { throwsCode } from '../core/testing.js';

interface VectorCase {
  readonly name: string;
  readonly json: unknown;
  readonly expect: 'accept' | 'reject';
}

const vectorsPath = fileURLToPath(new URL('../../../vectors/in-toto-attestation/validation-vectors.json', import.meta.url));
const vectors = JSON.parse(readFileSync(vectorsPath, 'utf8')) as Record<string, unknown>;
const provenanceCases = vectors['provenanceV1'] as VectorCase[];

const SHA = sha256Hex('x');
const clone = <T>(v: T): T => structuredClone(v);

// ------------------------------------------------------------------ provenance

test('provenance vector file has 7 cases', () => {
  assert.ok(Array.isArray(provenanceCases));
  assert.equal(provenanceCases.length, 7);
});

for (const c of provenanceCases) {
  test(`provenance vector: ${c.name} -> ${c.expect}`, () => {
    if (c.expect === 'accept') {
      parseProvenance(c.json);
      validatePredicate(SLSA_PROVENANCE_V1, c.json);
    } else {
      throwsCode(() => parseProvenance(c.json), 'PREDICATE_INVALID');
      throwsCode(() => validatePredicate(SLSA_PROVENANCE_V1, c.json), 'PREDICATE_INVALID');
    }
  });
}

const validProvenance = provenanceCases.find((c) => c.expect === 'accept')?.json as Record<string, any>;

test('parseProvenance returns the known fields of the valid vector', () => {
  assert.deepEqual(parseProvenance(validProvenance), validProvenance);
});

test('provenance: further violations are PREDICATE_INVALID', () => {
  const mutations: Array<(p: any) => void> = [
    (p) => delete p.buildDefinition,
    (p) => (p.buildDefinition = null),
    (p) => (p.buildDefinition = []),
    (p) => delete p.runDetails,
    (p) => (p.runDetails.builder = null),
    (p) => delete p.runDetails.builder.id,
    (p) => (p.runDetails.builder.id = 7),
    (p) => (p.buildDefinition.buildType = ''),
    (p) => (p.buildDefinition.externalParameters = null),
    (p) => (p.buildDefinition.externalParameters = 'x'),
    (p) => (p.buildDefinition.internalParameters = []),
    (p) => (p.buildDefinition.resolvedDependencies = {}),
    (p) => (p.buildDefinition.resolvedDependencies = [{}]),
    (p) => (p.buildDefinition.resolvedDependencies = [{ digest: { sha256: 'abc' } }]),
    (p) => (p.runDetails.builder.version = { c: 1 }),
    (p) => (p.runDetails.builder.builderDependencies = [{ mediaType: 'm' }]),
    (p) => (p.runDetails.byproducts = [{ digest: { sha1: 'zz' } }]),
    (p) => (p.runDetails.metadata = []),
    (p) => (p.runDetails.metadata.invocationId = 3),
    (p) => (p.runDetails.metadata.startedOn = 'yesterday'),
    (p) => (p.runDetails.metadata.finishedOn = '2023-02-29T00:00:00Z'),
  ];
  mutations.forEach((m, i) => {
    const p = clone(validProvenance);
    m(p);
    assert.throws(() => parseProvenance(p), (e: unknown) => isSsfError(e, 'PREDICATE_INVALID'), `mutation ${i}`);
  });
});

test('provenance: empty externalParameters object and minimal fields are accepted', () => {
  const p = parseProvenance({
    buildDefinition: { buildType: 't', externalParameters: {} },
    runDetails: { builder: { id: 'b' }, metadata: { startedOn: '2024-02-29T12:00:00.123456789+01:00' } },
    ignored: true,
  });
  assert.deepEqual(p, {
    buildDefinition: { buildType: 't', externalParameters: {} },
    runDetails: { builder: { id: 'b' }, metadata: { startedOn: '2024-02-29T12:00:00.123456789+01:00' } },
  });
});

test('makeProvenance builds a valid predicate', () => {
  const started = new Date(Date.UTC(2024, 0, 2, 3, 4, 5));
  const p = makeProvenance({
    buildType: 'https://ssf.dev/build/v1',
    externalParameters: { source: 'git+https://example.com/r' },
    resolvedDependencies: [{ uri: 'git+https://example.com/r', digest: { gitCommit: 'a'.repeat(40) } }],
    builderId: 'https://ssf.dev/builder',
    builderVersion: { ssf: '0.1.0' },
    invocationId: 'inv-1',
    startedOn: started,
    finishedOn: '2024-01-02T03:05:00Z',
    byproducts: [{ name: 'log', digest: { sha256: SHA } }],
  });
  assert.deepEqual(p, {
    buildDefinition: {
      buildType: 'https://ssf.dev/build/v1',
      externalParameters: { source: 'git+https://example.com/r' },
      resolvedDependencies: [{ uri: 'git+https://example.com/r', digest: { gitCommit: 'a'.repeat(40) } }],
    },
    runDetails: {
      builder: { id: 'https://ssf.dev/builder', version: { ssf: '0.1.0' } },
      metadata: { invocationId: 'inv-1', startedOn: '2024-01-02T03:04:05.000Z', finishedOn: '2024-01-02T03:05:00Z' },
      byproducts: [{ name: 'log', digest: { sha256: SHA } }],
    },
  });
  const minimal = makeProvenance({ buildType: 't', externalParameters: {}, builderId: 'b' });
  assert.deepEqual(minimal, { buildDefinition: { buildType: 't', externalParameters: {} }, runDetails: { builder: { id: 'b' } } });
  throwsCode(() => makeProvenance({ buildType: 't', externalParameters: {}, builderId: '' }), 'PREDICATE_INVALID');
  throwsCode(() => makeProvenance({ buildType: '', externalParameters: {}, builderId: 'b' }), 'PREDICATE_INVALID');
  throwsCode(
    () => makeProvenance({ buildType: 't', externalParameters: {}, builderId: 'b', startedOn: new Date(NaN) }),
    'PREDICATE_INVALID',
  );
});

// ------------------------------------------------------------------ VSA

const validVsa = {
  verifier: { id: 'https://ssf.dev/verifier', version: { ssf: '0.1.0' } },
  timeVerified: '1985-04-12T23:20:50.52Z',
  resourceUri: 'https://example.com/example-1.2.3.tar.gz',
  policy: { uri: 'https://example.com/example_tarball.policy', digest: { sha256: SHA } },
  inputAttestations: [{ uri: 'https://example.com/att.intoto.jsonl', digest: { sha256: SHA } }],
  verificationResult: 'PASSED',
  verifiedLevels: ['SLSA_BUILD_LEVEL_3', 'SLSA_SOURCE_LEVEL_1', 'MY_CUSTOM_LEVEL'],
  dependencyLevels: { SLSA_BUILD_LEVEL_3: 5, SLSA_BUILD_LEVEL_2: 7, SLSA_BUILD_LEVEL_1: 0 },
  slsaVersion: '1.0',
};

test('VSA: the spec example shape is accepted and round-trips', () => {
  assert.deepEqual(parseVsa(validVsa), validVsa);
  validatePredicate(SLSA_VSA_V1, validVsa);
  const minimal = {
    verifier: { id: 'v' },
    timeVerified: '2024-01-01T00:00:00Z',
    resourceUri: 'r',
    policy: { uri: 'p' },
    verificationResult: 'FAILED',
    verifiedLevels: ['FAILED'],
  };
  assert.deepEqual(parseVsa(minimal), minimal);
});

test('VSA: violations are PREDICATE_INVALID', () => {
  const mutations: Array<(p: any) => void> = [
    (p) => delete p.verifier,
    (p) => (p.verifier = {}),
    (p) => (p.verifier.id = ''),
    (p) => (p.verifier.version = { ssf: 1 }),
    (p) => delete p.timeVerified,
    (p) => (p.timeVerified = '2024-13-01T00:00:00Z'),
    (p) => (p.timeVerified = '2024-01-01 00:00:00Z'),
    (p) => (p.timeVerified = '2024-01-01T00:00:00'),
    (p) => delete p.resourceUri,
    (p) => delete p.policy,
    (p) => (p.policy = { digest: { sha256: SHA } }),
    (p) => (p.policy.digest = { sha256: 'short' }),
    (p) => (p.inputAttestations = {}),
    (p) => (p.inputAttestations = [{ uri: 'https://example.com/a' }]),
    (p) => delete p.verificationResult,
    (p) => (p.verificationResult = 'passed'),
    (p) => delete p.verifiedLevels,
    (p) => (p.verifiedLevels = []),
    (p) => (p.verifiedLevels = [3]),
    (p) => (p.verifiedLevels = ['']),
    (p) => (p.verifiedLevels = ['SLSA_BUILD_LEVEL_3', 'SLSA_BUILD_LEVEL_2']),
    (p) => (p.verifiedLevels = ['SLSA_CUSTOM']),
    (p) => (p.dependencyLevels = []),
    (p) => (p.dependencyLevels = { SLSA_BUILD_LEVEL_1: -1 }),
    (p) => (p.dependencyLevels = { SLSA_BUILD_LEVEL_1: 1.5 }),
    (p) => (p.dependencyLevels = { SLSA_BUILD_LEVEL_1: '1' }),
    (p) => (p.dependencyLevels = { SLSA_BOGUS: 1 }),
    (p) => (p.slsaVersion = 'v1'),
    (p) => (p.slsaVersion = 1),
  ];
  mutations.forEach((m, i) => {
    const p = clone(validVsa);
    m(p);
    assert.throws(() => parseVsa(p), (e: unknown) => isSsfError(e, 'PREDICATE_INVALID'), `mutation ${i}`);
    assert.throws(() => validatePredicate(SLSA_VSA_V1, p), (e: unknown) => isSsfError(e, 'PREDICATE_INVALID'));
  });
});

test('makeVsa builds a valid predicate', () => {
  const v = makeVsa({
    verifierId: 'https://ssf.dev/verifier',
    timeVerified: new Date(Date.UTC(2024, 5, 1)),
    resourceUri: 'file:app.tar.gz',
    policy: { uri: 'https://ssf.dev/policy/default' },
    verificationResult: 'PASSED',
    verifiedLevels: ['SLSA_BUILD_LEVEL_2'],
    slsaVersion: '1.0',
  });
  assert.deepEqual(v, {
    verifier: { id: 'https://ssf.dev/verifier' },
    timeVerified: '2024-06-01T00:00:00.000Z',
    resourceUri: 'file:app.tar.gz',
    policy: { uri: 'https://ssf.dev/policy/default' },
    verificationResult: 'PASSED',
    verifiedLevels: ['SLSA_BUILD_LEVEL_2'],
    slsaVersion: '1.0',
  });
  throwsCode(
    () =>
      makeVsa({
        verifierId: 'v',
        timeVerified: 'not a time',
        resourceUri: 'r',
        policy: { uri: 'p' },
        verificationResult: 'PASSED',
        verifiedLevels: ['SLSA_BUILD_LEVEL_1'],
      }),
    'PREDICATE_INVALID',
  );
});

// ------------------------------------------------------------------ link

const validLink = {
  name: 'compile',
  command: ['make', 'all'],
  materials: [
    { name: 'src/main.c', digest: { sha256: SHA } },
    { name: 'Makefile', digest: { sha256: SHA }, uri: 'file:Makefile' },
  ],
  byproducts: { stdout: '', returnValue: 0 },
  environment: { os: 'linux' },
};

test('link: valid predicate round-trips; absent optional fields default to empty', () => {
  assert.deepEqual(parseLink(validLink), validLink);
  validatePredicate(INTOTO_LINK_V03, validLink);
  assert.deepEqual(parseLink({ name: 'step' }), { name: 'step', command: [], materials: [], byproducts: {}, environment: {} });
});

test('link: violations are PREDICATE_INVALID', () => {
  const mutations: Array<(p: any) => void> = [
    (p) => delete p.name,
    (p) => (p.name = ''),
    (p) => (p.command = 'make all'),
    (p) => (p.command = ['make', 1]),
    (p) => (p.materials = {}),
    (p) => (p.materials = [{ digest: { sha256: SHA } }]),
    (p) => (p.materials = [{ name: 'a' }]),
    (p) => (p.materials = [{ name: 'a', digest: { sha256: 'bad' } }]),
    (p) => (p.materials = [p.materials[0], p.materials[0]]),
    (p) => (p.byproducts = []),
    (p) => (p.environment = 'linux'),
  ];
  mutations.forEach((m, i) => {
    const p = clone(validLink);
    m(p);
    assert.throws(() => parseLink(p), (e: unknown) => isSsfError(e, 'PREDICATE_INVALID'), `mutation ${i}`);
  });
});

test('makeLink builds a valid predicate', () => {
  assert.deepEqual(makeLink({ name: 'step', command: ['echo', 'hi'] }), {
    name: 'step',
    command: ['echo', 'hi'],
    materials: [],
    byproducts: {},
    environment: {},
  });
  throwsCode(() => makeLink({ name: '' }), 'PREDICATE_INVALID');
});

// ------------------------------------------------------------------ dispatch

test('validatePredicate: unknown types are opaque objects', () => {
  const p = { anything: [1, 2, 3] };
  assert.equal(validatePredicate('https://example.com/custom/v1', p), p);
  assert.deepEqual(validatePredicate('https://example.com/custom/v1', {}), {});
  for (const bad of [null, [], 'x', 1, undefined]) {
    throwsCode(() => validatePredicate('https://example.com/custom/v1', bad), 'PREDICATE_INVALID');
  }
});

test('validatePredicate dispatches on the predicate type', () => {
  // A valid link is not a valid provenance, and vice versa.
  throwsCode(() => validatePredicate(SLSA_PROVENANCE_V1, validLink), 'PREDICATE_INVALID');
  throwsCode(() => validatePredicate(INTOTO_LINK_V03, validProvenance), 'PREDICATE_INVALID');
  throwsCode(() => validatePredicate(SLSA_VSA_V1, validLink), 'PREDICATE_INVALID');
});

test('predicates embed in statements and validate there', () => {
  const prov = makeProvenance({ buildType: 't', externalParameters: {}, builderId: 'b' });
  const st = makeStatement([{ name: 'a', digest: { sha256: SHA } }], SLSA_PROVENANCE_V1, prov);
  validateStatementPredicate(st);

  const link = makeLink({ name: 'step' });
  const dupSubjects = makeStatement(
    [
      { name: 'a', digest: { sha256: SHA } },
      { name: 'a', digest: { sha256: sha256Hex('y') } },
    ],
    INTOTO_LINK_V03,
    link,
  );
  throwsCode(() => validateStatementPredicate(dupSubjects), 'PREDICATE_INVALID');
  const unnamed = makeStatement([{ digest: { sha256: SHA } }], INTOTO_LINK_V03, link);
  throwsCode(() => validateStatementPredicate(unnamed), 'PREDICATE_INVALID');
  const bad = makeStatement([{ name: 'a', digest: { sha256: SHA } }], SLSA_VSA_V1, {});
  throwsCode(() => validateStatementPredicate(bad), 'PREDICATE_INVALID');
});

test('isRfc3339Timestamp', () => {
  for (const ok of ['2024-02-29T00:00:00Z', '1985-04-12T23:20:50.52Z', '1996-12-19T16:39:57-08:00', '0001-01-01T00:00:00Z']) {
    assert.equal(isRfc3339Timestamp(ok), true, ok);
  }
  for (const bad of [
    '2023-02-29T00:00:00Z',
    '2024-04-31T00:00:00Z',
    '2024-01-01T24:00:00Z',
    '2024-01-01T00:60:00Z',
    '2024-01-01T00:00:60Z',
    '2024-01-01t00:00:00z',
    '2024-01-01T00:00:00+24:00',
    '2024-01-01T00:00:00.1234567890Z',
    '0000-01-01T00:00:00Z',
    '2024-1-01T00:00:00Z',
    '',
  ]) {
    assert.equal(isRfc3339Timestamp(bad), false, bad);
  }
});
