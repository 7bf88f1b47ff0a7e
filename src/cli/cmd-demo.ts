import { mkdtempSync, writeFileSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { randomBytes } from 'node:crypto';
import { SsfError, isSsfError, sha256File, systemClock } from '../core/index.js';
import { makeProvenance, makeStatement } from '../attest/index.js';
import { Factory, initFactory } from '../factory/index.js';
import { SigstoreJsVerifier } from '../verify/index.js';
import { str, type Command } from './command.js';

export const demoCommand: Command = {
  name: 'demo',
  summary: 'run the factory\'s main job on its embedded default: init, attest a sample, verify',
  usage: `Usage: ssf demo [--dir D] [--keep]

Creates a fresh factory (in D, else a temporary directory), writes a sample
artifact, signs an SLSA Provenance v1 statement about it with a short-lived
workload identity, logs and stores it, then verifies the bundle twice: with
ssf's own verifier and with the independent @sigstore/verify library, using
only trusted_root.json. Finally it shows that a tampered artifact and a
tampered bundle are rejected.

Options:
  --dir D     where to create the demo factory (must not hold one already)
  --keep      keep the temporary directory
  -h, --help  show this help`,
  options: { dir: { type: 'string' }, keep: { type: 'boolean' } },
  async run(a, io) {
    const base = str(a, 'dir') ? resolve(str(a, 'dir') as string) : mkdtempSync(join(tmpdir(), 'ssf-demo-'));
    const dataDir = join(base, '.ssf');
    const step = (s: string): void => io.out(`• ${s}`);
    try {
      // The demo keeps its root key offline-style: written out (encrypted) beside the data dir.
      const passphrase = io.env.SSF_ROOT_PASSPHRASE || randomBytes(18).toString('base64url');
      const init = await initFactory({ dir: dataDir, trustDomain: 'demo.ssf.internal', clock: systemClock, passphrase, rootKeyOut: join(base, 'root.key.pem') });
      step(`factory created in ${dataDir} (root key kept offline at ${init.rootKeyPath})`);
      const artifact = join(base, 'hello.txt');
      writeFileSync(artifact, 'hello from the secure software factory\n');
      const digest = sha256File(artifact);
      const f = Factory.open(dataDir);
      let bundleText: string;
      let spiffe: string;
      try {
        const identity = await f.issueIdentity(['demo', 'build']);
        spiffe = identity.spiffeId;
        step(`issued workload identity ${identity.spiffeId}, valid until ${identity.notAfter.toISOString()}`);
        const provenance = makeProvenance({
          buildType: 'https://ssf.invalid/buildtypes/demo/v1',
          externalParameters: { source: 'embedded demo' },
          builderId: `spiffe://${f.trustDomain}/factory`,
          invocationId: randomBytes(8).toString('hex'),
          startedOn: new Date(),
          finishedOn: new Date(),
        });
        const st = makeStatement([{ name: 'hello.txt', digest: { sha256: digest } }], 'https://slsa.dev/provenance/v1', provenance);
        const [res] = f.attest([{ statement: st, identity }]);
        if (!res) throw new SsfError('INTERNAL', 'no bundle produced');
        bundleText = JSON.stringify(res.bundle);
        writeFileSync(join(base, 'hello.txt.sigstore.json'), JSON.stringify(res.bundle, null, 2));
        step(`signed SLSA provenance for hello.txt (sha256:${digest.slice(0, 12)}…), logged at index ${res.logIndex}`);
      } finally {
        f.close();
      }
      const trustedRoot = JSON.parse(readFileSync(join(dataDir, 'trusted_root.json'), 'utf8'));
      const f2 = Factory.open(dataDir);
      try {
        const v = f2.verifier().verify(bundleText, { identity: spiffe, artifact: { algorithm: 'sha256', hex: digest } });
        step(`ssf verifier: OK (signer ${v.signer.identity}, checkpoint size ${v.checkpoint.size})`);
        new SigstoreJsVerifier(trustedRoot).verify(JSON.parse(bundleText), spiffe);
        step('@sigstore/verify with trusted_root.json: OK');
        try {
          f2.verifier().verify(bundleText, { identity: spiffe, artifact: { algorithm: 'sha256', hex: '0'.repeat(64) } });
          throw new SsfError('INTERNAL', 'a tampered artifact was accepted');
        } catch (e) {
          if (!isSsfError(e, 'SUBJECT_MISMATCH')) throw e;
          step('tampered artifact rejected: SUBJECT_MISMATCH');
        }
        const b = JSON.parse(bundleText);
        const payload = Buffer.from(b.dsseEnvelope.payload, 'base64');
        payload[payload.length - 2] = (payload[payload.length - 2] ?? 0) ^ 1;
        b.dsseEnvelope.payload = payload.toString('base64');
        try {
          f2.verifier().verify(b);
          throw new SsfError('INTERNAL', 'a tampered bundle was accepted');
        } catch (e) {
          if (!isSsfError(e) || e.code === 'INTERNAL') throw e;
          step(`tampered bundle rejected: ${e.code}`);
        }
      } finally {
        f2.close();
      }
      io.out(`demo passed; files in ${base}${a.values.keep || str(a, 'dir') ? '' : ' (removed)'}`);
      return 0;
    } finally {
      if (!a.values.keep && !str(a, 'dir')) rmSync(base, { recursive: true, force: true });
    }
  },
};
