import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { isSsfError, sha256Hex, type ErrorCode } from '../core/index.js';
import {
  INTOTO_PAYLOAD_TYPE,
  STATEMENT_TYPE_V1,
  makeStatement,
  matchSubject,
  parseDigestSet,
  parseResourceDescriptor,
  parseStatement,
  parseStatementPayload,
  requireInTotoPayloadType,
  statementToPayload,
} from './statement.js';
import { throwsCode } from '../core/testing.js';

interface VectorCase {
  readonly name: string;
  readonly json: unknown;
  readonly expect: 'accept' | 'reject';
  readonly error?: string;
}

// dist/src/attest -> project root
const vectorsPath = fileURLToPath(new URL('../../../vectors/in-toto-attestation/validation-vectors.json', import.meta.url));
const vectors = JSON.parse(readFileSync(vectorsPath, 'utf8')) as Record<string, unknown>;

function cases(key: string): VectorCase[] {
  const v = vectors[key];
  assert.ok(Array.isArray(v), `vectors file lacks "${key}"`);
  return v as VectorCase[];
}

const statementCases = cases('statement');
const rdCases = cases('resourceDescriptor');

test('vector file has the expected case counts', () => {
  assert.equal(statementCases.length, 11);
  assert.equal(rdCases.length, 8);
});

for (const c of statementCases) {
  test(`statement vector: ${c.name} -> ${c.expect}`, () => {
    if (c.expect === 'accept') {
      const st = parseStatement(c.json);
      assert.equal(st.subject.length > 0, true);
    } else {
      throwsCode(() => parseStatement(c.json), 'STATEMENT_INVALID');
    }
  });
}

for (const c of rdCases) {
  test(`resource descriptor vector: ${c.name} -> ${c.expect}`, () => {
    if (c.expect === 'accept') {
      parseResourceDescriptor(c.json);
    } else {
      throwsCode(() => parseResourceDescriptor(c.json), 'STATEMENT_INVALID');
    }
  });
}

const SHA = sha256Hex('artifact');
const subject = { name: 'app.tar.gz', digest: { sha256: SHA } };

test('parseResourceDescriptor keeps every known field', () => {
  const full = rdCases.find((c) => c.name === 'wantFullRd');
  assert.ok(full);
  assert.deepEqual(parseResourceDescriptor(full.json), full.json);
});

test('resource descriptor: type and digest checks', () => {
  const bad: unknown[] = [
    null,
    [],
    'x',
    {},
    { name: '' },
    { name: 5 },
    { uri: ['u'] },
    { name: 'n', digest: [] },
    { name: 'n', digest: { sha256: 5 } },
    { digest: { sha256: SHA.slice(1) } }, // odd length
    { digest: { sha256: SHA + 'aa' } },
    { digest: { sha512: SHA } },
    { digest: { sha1: 'g'.repeat(40) } },
    { digest: { md5: '0'.repeat(30) } },
    { digest: { dirHash: '0'.repeat(40) } },
    { digest: { gitTree: '0'.repeat(48) } },
    { name: 'n', content: 'not base64!' },
    { name: 'n', annotations: [] },
    { name: 'n', mediaType: 1 },
    { name: 'n', downloadLocation: {} },
  ];
  for (const b of bad) throwsCode(() => parseResourceDescriptor(b), 'STATEMENT_INVALID');

  const good: unknown[] = [
    { name: 'n' },
    { uri: 'https://example.com/x' },
    { digest: { sha256: SHA.toUpperCase() } },
    { digest: { sha512: 'ab'.repeat(64), sha384: 'cd'.repeat(48), sha224: '00'.repeat(28) } },
    { digest: { sha3_256: '00'.repeat(32), sha512_256: '11'.repeat(32), md5: '22'.repeat(16) } },
    { digest: { gitBlob: '0'.repeat(40), gitTag: '0'.repeat(64) } },
    { digest: { myAlg: '' } }, // custom algorithms are opaque
    { name: 'n', digest: null, uri: null, content: 'Ynl0ZXM_', annotations: null },
  ];
  for (const g of good) parseResourceDescriptor(g);
});

test('a "__proto__" digest key stays data', () => {
  const rd = parseResourceDescriptor(JSON.parse('{"digest":{"__proto__":"x","sha256":"' + SHA + '"}}'));
  assert.equal(Object.getPrototypeOf(rd.digest), Object.prototype);
  assert.deepEqual(Object.keys(rd.digest ?? {}), ['__proto__', 'sha256']);
});

test('parseDigestSet uses the given error code', () => {
  throwsCode(() => parseDigestSet({ sha256: 'x' }, 'd', 'PREDICATE_INVALID'), 'PREDICATE_INVALID');
});

test('statement: structural checks beyond the vectors', () => {
  const base = { _type: STATEMENT_TYPE_V1, subject: [subject], predicateType: 'p', predicate: {} };
  parseStatement(base); // empty predicate object is allowed, as in the Go binding
  const bad: unknown[] = [
    null,
    [],
    { ...base, _type: undefined },
    { ...base, subject: undefined },
    { ...base, subject: null },
    { ...base, subject: {} },
    { ...base, subject: [null] },
    { ...base, subject: [{ name: 'x', digest: {} }] },
    { ...base, subject: [subject, { name: 'y' }] },
    { ...base, predicateType: undefined },
    { ...base, predicateType: 3 },
    { ...base, predicate: null },
    { ...base, predicate: [] },
    { ...base, predicate: 'x' },
  ];
  for (const b of bad) throwsCode(() => parseStatement(b), 'STATEMENT_INVALID');
});

test('statement: unknown fields are ignored', () => {
  const st = parseStatement({ _type: STATEMENT_TYPE_V1, subject: [{ ...subject, extra: 1 }], predicateType: 'p', predicate: {}, x: 1 });
  assert.deepEqual(st.subject[0], subject);
  assert.equal(Object.hasOwn(st, 'x'), false);
});

test('makeStatement builds and validates a v1 statement', () => {
  const st = makeStatement([subject], 'https://example.com/p', { a: 1 });
  assert.deepEqual(st, { _type: STATEMENT_TYPE_V1, subject: [subject], predicateType: 'https://example.com/p', predicate: { a: 1 } });
  throwsCode(() => makeStatement([], 'p', {}), 'STATEMENT_INVALID');
  throwsCode(() => makeStatement([{ name: 'x' }], 'p', {}), 'STATEMENT_INVALID');
  throwsCode(() => makeStatement([subject], '', {}), 'STATEMENT_INVALID');
});

test('statement payload round trip is canonical and stable', () => {
  const st = makeStatement([subject], 'p', { z: 1, a: [true, null, 'é'] });
  const bytes = statementToPayload(st);
  assert.equal(
    bytes.toString('utf8'),
    `{"_type":"${STATEMENT_TYPE_V1}","predicate":{"a":[true,null,"é"],"z":1},"predicateType":"p","subject":[{"digest":{"sha256":"${SHA}"},"name":"app.tar.gz"}]}`,
  );
  assert.deepEqual(parseStatementPayload(bytes), st);
  assert.deepEqual(statementToPayload(parseStatementPayload(bytes)), bytes);
});

test('parseStatementPayload: bad bytes are STATEMENT_INVALID', () => {
  throwsCode(() => parseStatementPayload(Buffer.from('{not json')), 'STATEMENT_INVALID');
  throwsCode(() => parseStatementPayload(Buffer.from('')), 'STATEMENT_INVALID');
  throwsCode(() => parseStatementPayload(Buffer.from([0x7b, 0xff, 0x7d])), 'STATEMENT_INVALID');
  throwsCode(() => parseStatementPayload(Buffer.from('[]')), 'STATEMENT_INVALID');
  throwsCode(() => parseStatementPayload(Buffer.from('{"_type":"x"}')), 'STATEMENT_INVALID');
});

test('matchSubject finds the subject by digest, case-insensitively', () => {
  const other = { name: 'other', digest: { sha512: 'ab'.repeat(64), sha256: sha256Hex('other') } };
  const st = makeStatement([other, { name: 'up', digest: { sha256: SHA.toUpperCase() } }], 'p', {});
  assert.equal(matchSubject(st, { algorithm: 'sha256', hex: SHA }).name, 'up');
  assert.equal(matchSubject(st, { algorithm: 'sha256', hex: SHA.toUpperCase() }).name, 'up');
  assert.equal(matchSubject(st, { algorithm: 'sha256', hex: sha256Hex('other') }).name, 'other');
});

test('matchSubject throws SUBJECT_MISMATCH when nothing matches', () => {
  const st = makeStatement([subject], 'p', {});
  throwsCode(() => matchSubject(st, { algorithm: 'sha256', hex: sha256Hex('nope') }), 'SUBJECT_MISMATCH');
  throwsCode(() => matchSubject(st, { algorithm: 'sha512', hex: SHA }), 'SUBJECT_MISMATCH');
  throwsCode(() => matchSubject(st, { algorithm: 'sha256', hex: '' }), 'SUBJECT_MISMATCH');
  throwsCode(() => matchSubject(st, { algorithm: 'constructor', hex: 'x' }), 'SUBJECT_MISMATCH');
});

test('requireInTotoPayloadType', () => {
  requireInTotoPayloadType(INTOTO_PAYLOAD_TYPE);
  throwsCode(() => requireInTotoPayloadType('application/json'), 'PAYLOAD_TYPE');
});
