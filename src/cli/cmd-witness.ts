import { existsSync } from 'node:fs';
import { SsfError, readTextFile, writeFileAtomic } from '../core/index.js';
import { CheckpointWitness, ecdsaNoteVerifier, openCheckpoint } from '../log/index.js';
import { parseTrustedRoot } from '../trust/index.js';
import { noteNameForLog } from '../verify/index.js';
import { Factory, resolveDataDir } from '../factory/index.js';
import { str, type Command } from './command.js';

export const witnessCommand: Command = {
  name: 'log witness',
  summary: 'check the log\'s checkpoint against the last one this witness saw (rollback, split view)',
  usage: `Usage: ssf log witness [--state FILE] [--checkpoint FILE] [--trusted-root FILE] [--dir D]

Acts as a witness of the factory's transparency log. It verifies a signed
checkpoint with the log key from the trusted root (the log's latest checkpoint,
or one given with --checkpoint, e.g. taken from a bundle), then compares it
with the newest checkpoint recorded in the state file:
  - a smaller tree than already seen is refused (TLOG_ROLLBACK);
  - the same size with another root, or a larger tree that is not an
    append-only extension (checked with a consistency proof from the log),
    is refused (TLOG_CONSISTENCY: a fork or split view);
  - otherwise the state file is updated.

Options:
  --state FILE          witness state (default: ssf-witness.json)
  --checkpoint FILE     a signed checkpoint note to check instead of the latest
  --trusted-root FILE   trusted_root.json (default: the factory's)
  --dir D               factory data directory
  -h, --help            show this help`,
  options: { state: { type: 'string' }, checkpoint: { type: 'string' }, 'trusted-root': { type: 'string' }, dir: { type: 'string' } },
  async run(a, io) {
    const statePath = str(a, 'state') ?? 'ssf-witness.json';
    const witness = existsSync(statePath) ? CheckpointWitness.fromJSON(readTextFile(statePath, 'witness state')) : new CheckpointWitness();
    const f = Factory.open(resolveDataDir(str(a, 'dir'), io.env));
    try {
      const trust = parseTrustedRoot(readTextFile(str(a, 'trusted-root') ?? f.layout.trustedRoot, 'trusted root'));
      const given = str(a, 'checkpoint');
      const note = given !== undefined ? readTextFile(given, 'checkpoint') : f.log.latestCheckpoint()?.note;
      if (note === undefined) throw new SsfError('NOT_FOUND', 'the log has no checkpoint yet');
      const verifiers = trust.tlogs.map((t) => ecdsaNoteVerifier(noteNameForLog(t.baseUrl), t.publicKey));
      let cp;
      try {
        cp = openCheckpoint(note, verifiers);
      } catch (e) {
        throw new SsfError('TLOG_CHECKPOINT', `checkpoint does not verify with a log key from the trusted root: ${(e as Error).message}`, { cause: e });
      }
      const seen = witness.latest(cp.origin);
      // The proof comes from the log being watched; the witness checks it, it does not trust it.
      const proof = seen !== undefined && seen.size > 0 && cp.size > seen.size && cp.size <= f.log.size() ? f.log.consistencyProof(seen.size, cp.size) : undefined;
      const outcome = witness.observe(cp, proof);
      writeFileAtomic(statePath, JSON.stringify(witness.toJSON(), null, 2) + '\n');
      io.out(`${outcome}: ${cp.origin} size ${cp.size} root ${cp.rootHash.toString('base64')}${seen ? ` (previously size ${seen.size})` : ''}`);
    } finally {
      f.close();
    }
    return 0;
  },
};
