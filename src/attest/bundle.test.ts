import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { canonicalize, isSsfError, sha256Hex } from '../core/index.js';
import { BUNDLE_V03_MEDIA_TYPE, bundleToJson, canonicalEnvelope, dsseEntryBody, parseBundle, setPayload, type Bundle } from './bundle.js';

// The hand-written canonical forms must be byte-identical to the generic JCS canonicaliser.
test('canonicalEnvelope, dsseEntryBody and setPayload equal generic canonical JSON', () => {
  for (const payloadType of ['application/vnd.in-toto+json', 'tÿpe "quoted" \\ \u2028 ✓']) {
    for (const keyid of [undefined, '', 'key "1"']) {
      const env = { payload: randomBytes(100).toString('base64'), payloadType, signatures: [keyid === undefined ? { sig: 'c2ln' } : { keyid, sig: 'c2ln' }] };
      assert.equal(canonicalEnvelope(env), canonicalize(env));
      const payload = randomBytes(50);
      const pem = '-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n';
      const body = dsseEntryBody(env, payload, pem);
      const expected = canonicalize({
        apiVersion: '0.0.1',
        kind: 'dsse',
        spec: {
          envelopeHash: { algorithm: 'sha256', value: sha256Hex(canonicalize(env)) },
          payloadHash: { algorithm: 'sha256', value: sha256Hex(payload) },
          signatures: [{ signature: 'c2ln', verifier: Buffer.from(pem).toString('base64') }],
        },
      });
      assert.equal(body.toString(), expected);
      const e = { canonicalizedBody: body, integratedTime: 1767225600, logIndex: 42, logIdHex: 'ab'.repeat(32) };
      assert.equal(setPayload(e).toString(), canonicalize({ body: body.toString('base64'), integratedTime: 1767225600, logIndex: 42, logID: 'ab'.repeat(32) }));
    }
  }
});

test('bundleToJson and parseBundle round-trip', () => {
  const b: Bundle = {
    mediaType: BUNDLE_V03_MEDIA_TYPE,
    certificateDer: randomBytes(300),
    envelope: { payload: 'cGF5bG9hZA==', payloadType: 'application/vnd.in-toto+json', signatures: [{ sig: 'c2ln' }] },
    tlogEntries: [{
      logIndex: 7, logIdHex: 'cd'.repeat(32), kind: 'dsse', version: '0.0.1', integratedTime: 1767225600,
      signedEntryTimestamp: randomBytes(70), canonicalizedBody: Buffer.from('{}'),
      inclusionProof: { logIndex: 7, treeSize: 8, rootHash: randomBytes(32), hashes: [randomBytes(32), randomBytes(32), randomBytes(32)], checkpoint: 'o\n8\nAAAA\n\n— o sig\n' },
    }],
  };
  const back = parseBundle(JSON.parse(JSON.stringify(bundleToJson(b))));
  assert.deepEqual(back.certificateDer, b.certificateDer);
  assert.deepEqual(back.tlogEntries[0], b.tlogEntries[0]);
  assert.deepEqual(back.envelope.signatures, [{ sig: 'c2ln', keyid: '' }]);
  assert.throws(() => parseBundle({ ...bundleToJson(b), mediaType: 'application/vnd.dev.sigstore.bundle.v0.1+json' }), (e: unknown) => isSsfError(e, 'BUNDLE_VERSION'));
});
