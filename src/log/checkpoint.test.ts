import { test } from 'node:test';
import assert from 'node:assert/strict';
import { generateKeyPairSync } from 'node:crypto';
import { isSsfError } from '../core/errors.js';
import { formatCheckpointBody, openCheckpoint, parseCheckpointBody } from './checkpoint.js';
import { emptyRoot } from './merkle.js';
import { ecdsaNoteSigner, ecdsaNoteVerifier, signNote } from './note.js';

const root = Buffer.alloc(32, 0x5a);
const rootB64 = root.toString('base64');
const isBad = (e: unknown): boolean => isSsfError(e, 'TLOG_CHECKPOINT');

test('format and parse round-trip, with and without extensions', () => {
  const text = formatCheckpointBody({ origin: 'ssf.example/log', size: 12, rootHash: root });
  assert.equal(text, `ssf.example/log\n12\n${rootB64}\n`);
  assert.deepEqual(parseCheckpointBody(text), { origin: 'ssf.example/log', size: 12, rootHash: root });
  const ext = formatCheckpointBody({ origin: 'o', size: 0, rootHash: emptyRoot(), extensions: ['Timestamp: 1', 'x y'] });
  assert.deepEqual(parseCheckpointBody(ext).extensions, ['Timestamp: 1', 'x y']);
  // Origins are opaque: spaces are allowed (Rekor uses "host - treeID").
  assert.equal(parseCheckpointBody(`rekor.example - 123\n1\n${rootB64}\n`).origin, 'rekor.example - 123');
});

test('strict parsing rejects ambiguous or malformed bodies', () => {
  const bodies = [
    `o\n12\n${rootB64}`, // no final newline
    `o\n12\n`, // missing root
    `\n12\n${rootB64}\n`, // empty origin
    `o\n012\n${rootB64}\n`, // leading zero
    `o\n+12\n${rootB64}\n`,
    `o\n-1\n${rootB64}\n`,
    `o\n1e3\n${rootB64}\n`,
    `o\n 12\n${rootB64}\n`,
    `o\n99999999999999999999\n${rootB64}\n`, // beyond exact integers
    `o\n12\n${root.subarray(0, 31).toString('base64')}\n`, // short root
    `o\n12\n${rootB64.replace(/=$/, '')}\n`, // unpadded
    `o\n12\n${rootB64}\n\n`, // empty extension line
    `o\n12\n${rootB64} \n`,
  ];
  for (const b of bodies) assert.throws(() => parseCheckpointBody(b), isBad, JSON.stringify(b));
  assert.equal(parseCheckpointBody(`o\n0\n${emptyRoot().toString('base64')}\n`).size, 0);
  assert.throws(() => formatCheckpointBody({ origin: '', size: 1, rootHash: root }), isBad);
  assert.throws(() => formatCheckpointBody({ origin: 'o', size: 1.5, rootHash: root }), isBad);
  assert.throws(() => formatCheckpointBody({ origin: 'o', size: 1, rootHash: root.subarray(1) }), isBad);
  assert.throws(() => formatCheckpointBody({ origin: 'o', size: 1, rootHash: root, extensions: [''] }), isBad);
});

test('openCheckpoint verifies the note and the origin', () => {
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const note = signNote(formatCheckpointBody({ origin: 'ssf.example/log', size: 3, rootHash: root }), [
    ecdsaNoteSigner('ssf.example/log', privateKey),
  ]);
  const v = ecdsaNoteVerifier('ssf.example/log', publicKey);
  const cp = openCheckpoint(note, [v], 'ssf.example/log');
  assert.equal(cp.size, 3);
  assert.deepEqual(cp.rootHash, root);
  assert.equal(cp.note, note);
  assert.throws(() => openCheckpoint(note, [v], 'other.example/log'), isBad);
  assert.throws(() => openCheckpoint(note.replace('\n3\n', '\n4\n'), [v]), (e) => isSsfError(e, 'NOTE_INVALID'));
});
