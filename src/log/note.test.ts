import { test } from 'node:test';
import assert from 'node:assert/strict';
import { generateKeyPairSync } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { isSsfError } from '../core/errors.js';
import { parseCheckpointBody } from './checkpoint.js';
import {
  ecdsaNoteSigner,
  ecdsaNoteVerifier,
  ed25519NoteSigner,
  ed25519NoteVerifier,
  ed25519VerifierKey,
  generateEd25519NoteKey,
  openNote,
  parseNote,
  signNote,
  type NoteVerifier,
} from './note.js';

const VECTORS = join(dirname(fileURLToPath(import.meta.url)), '../../../vectors/signed-note');

interface NoteCase {
  name: string;
  verifierKeys: string[];
  note: string;
  expect: 'accept' | 'reject';
  text?: string;
}

const isNoteInvalid = (e: unknown): boolean => isSsfError(e, 'NOTE_INVALID');

test('signed-note vectors', () => {
  const doc = JSON.parse(readFileSync(join(VECTORS, 'signed-note-vectors.json'), 'utf8')) as { computedKeyId: string; cases: NoteCase[] };
  assert.ok(doc.cases.length >= 8);
  for (const c of doc.cases) {
    const verifiers = c.verifierKeys.map((k) => ed25519NoteVerifier(k));
    if (c.expect === 'accept') {
      const opened = openNote(c.note, verifiers);
      if (c.text !== undefined) assert.equal(opened.text, c.text, c.name);
      assert.deepEqual(
        opened.verified.map((v) => `${v.name}+${v.keyId.toString('hex')}`),
        [`PeterNeumann+${doc.computedKeyId}`],
        c.name,
      );
      // Bytes and strings are read the same way.
      assert.equal(openNote(Buffer.from(c.note, 'utf8'), verifiers).text, opened.text, c.name);
    } else {
      assert.throws(() => openNote(c.note, verifiers), isNoteInvalid, c.name);
    }
  }
});

test('the C2SP example checkpoint parses as a checkpoint', () => {
  const note = readFileSync(join(VECTORS, 'c2sp-tlog-checkpoint-example.txt'), 'utf8');
  const { text, signatures } = parseNote(note);
  assert.equal(signatures.length, 1);
  assert.equal(signatures[0]?.name, 'example.com/behind-the-sofa');
  assert.equal(signatures[0]?.keyId.length, 4);
  const cp = parseCheckpointBody(text);
  assert.equal(cp.origin, 'example.com/behind-the-sofa');
  assert.equal(cp.size, 20852163);
  assert.equal(cp.rootHash.toString('base64'), 'CsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=');
  // Its key is not published, so with any other key it must be rejected.
  const other = generateEd25519NoteKey('example.com/behind-the-sofa');
  assert.throws(() => openNote(note, [ed25519NoteVerifier(other.verifierKey)]), isNoteInvalid);
});

test('ECDSA P-256 notes: sign, open, key hint from the SPKI', () => {
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const signer = ecdsaNoteSigner('log.example/a', privateKey);
  const verifier = ecdsaNoteVerifier('log.example/a', publicKey);
  assert.deepEqual(signer.keyId, verifier.keyId);
  const note = signNote('log.example/a\n5\nAAAA\n', [signer]);
  assert.match(note, /^log\.example\/a\n5\nAAAA\n\n— log\.example\/a [A-Za-z0-9+/]+=*\n$/);
  const opened = openNote(note, [verifier]);
  assert.equal(opened.text, 'log.example/a\n5\nAAAA\n');
  assert.deepEqual(opened.verified, [{ name: 'log.example/a', keyId: signer.keyId }]);
  // A private key is accepted where a verifier is built (its public half is used).
  assert.equal(openNote(note, [ecdsaNoteVerifier('log.example/a', privateKey)]).verified.length, 1);
  // A different key with the same name is a different key: ignored, so nothing verifies.
  const other = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  assert.throws(() => openNote(note, [ecdsaNoteVerifier('log.example/a', other.publicKey)]), isNoteInvalid);
  // Wrong key types are refused.
  const ed = generateKeyPairSync('ed25519');
  assert.throws(() => ecdsaNoteSigner('x', ed.privateKey), (e) => isSsfError(e, 'KEY_INVALID'));
  assert.throws(() => ecdsaNoteSigner('x', publicKey), (e) => isSsfError(e, 'KEY_INVALID'));
  const p384 = generateKeyPairSync('ec', { namedCurve: 'P-384' });
  assert.throws(() => ecdsaNoteVerifier('x', p384.publicKey), (e) => isSsfError(e, 'KEY_INVALID'));
});

test('Ed25519 keys: generated key strings round-trip and cosigned notes open', () => {
  const a = generateEd25519NoteKey('log.example/b');
  assert.match(a.verifierKey, /^log\.example\/b\+[0-9a-f]{8}\+A[A-Za-z0-9+/]{43}$/);
  assert.match(a.signerKey, /^PRIVATE\+KEY\+log\.example\/b\+[0-9a-f]{8}\+A/);
  const { privateKey } = generateKeyPairSync('ed25519');
  const b = ed25519NoteSigner('witness.example/w', privateKey);
  const bVerifier = ed25519NoteVerifier(ed25519VerifierKey('witness.example/w', privateKey));
  assert.deepEqual(b.keyId, bVerifier.keyId);
  const note = signNote('hello\n\nworld\n', [ed25519NoteSigner(a.signerKey), b]);
  const av = ed25519NoteVerifier(a.verifierKey);
  assert.equal(openNote(note, [av]).text, 'hello\n\nworld\n');
  assert.equal(openNote(note, [av]).unknown.length, 1);
  assert.equal(openNote(note, [av, bVerifier]).verified.length, 2);
  // The base64 field of a key string may contain '+', which is also the field separator.
  for (let i = 0; i < 20; i++) {
    const k = generateEd25519NoteKey('log.example/c');
    assert.equal(openNote(signNote('x\n', [ed25519NoteSigner(k.signerKey)]), [ed25519NoteVerifier(k.verifierKey)]).text, 'x\n');
  }
  // Key strings are checked.
  assert.throws(() => ed25519NoteVerifier(a.verifierKey.replace(/\+[0-9a-f]{8}\+/, '+00000000+')), (e) => isSsfError(e, 'KEY_INVALID'));
  assert.throws(() => ed25519NoteVerifier('only+two'), (e) => isSsfError(e, 'KEY_INVALID'));
  assert.throws(() => ed25519NoteSigner(a.verifierKey), (e) => isSsfError(e, 'KEY_INVALID'));
});

test('notes that break the format are rejected', () => {
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const s = ecdsaNoteSigner('k', privateKey);
  const v: NoteVerifier = ecdsaNoteVerifier('k', publicKey);
  const good = signNote('body\n', [s]);
  const sigLine = good.slice('body\n\n'.length);
  const b64 = sigLine.slice('— k '.length, -1);
  const cases: [string, string][] = [
    ['no signatures', 'body\n\n'],
    ['no final newline', good.slice(0, -1)],
    ['text without newline', 'body\n— k ' + b64 + '\n'],
    ['carriage return', good.replace('body', 'bo\rdy')],
    ['bad base64', good.replace(b64, b64.slice(1))],
    ['url-safe alphabet', good.replace(b64, '-' + b64.slice(1))],
    ['two spaces', good.replace('— k ', '— k  ')],
    ['signature too short', 'body\n\n— k AAAAAA==\n'],
    ['name with plus', good.replace('— k ', '— k+x ')],
    ['duplicate signature', good + sigLine],
    ['known key, bad signature', good.replace(b64, Buffer.concat([s.keyId, Buffer.alloc(70, 1)]).toString('base64'))],
    ['too many signatures', 'body\n\n' + Array.from({ length: 101 }, (_, i) => `— w${i} AAAAAAA=\n`).join('') + sigLine],
  ];
  for (const [name, note] of cases) assert.throws(() => openNote(note, [v]), isNoteInvalid, name);
  assert.throws(() => openNote(Buffer.from([0x62, 0xff, 0x0a, 0x0a]), [v]), isNoteInvalid, 'invalid UTF-8');
  // Sixteen unknown signatures plus the known one are fine.
  const many = 'body\n\n' + Array.from({ length: 16 }, (_, i) => `— w${i} AAAAAAA=\n`).join('') + sigLine;
  assert.equal(openNote(many, [v]).verified.length, 1);
  assert.throws(() => signNote('no newline', [s]), isNoteInvalid);
  assert.throws(() => signNote('tab\t\n', [s]), isNoteInvalid);
  assert.throws(() => signNote('x\n', []), (e) => isSsfError(e, 'USAGE'));
});
