import { existsSync, statSync } from 'node:fs';
import { basename, dirname, resolve } from 'node:path';
import { SsfError, parseJson, readTextFile, sha256File, writeFileAtomic } from '../core/index.js';
import { makeStatement, validatePredicate } from '../attest/index.js';
import { Factory, resolveDataDir } from '../factory/index.js';
import { int, need, str, strs, type Command } from './command.js';

/** Short names for the predicate types ssf knows. */
export const PREDICATE_ALIASES: Readonly<Record<string, string>> = {
  'slsa-provenance': 'https://slsa.dev/provenance/v1',
  provenance: 'https://slsa.dev/provenance/v1',
  vsa: 'https://slsa.dev/verification_summary/v1',
  link: 'https://in-toto.io/attestation/link/v0.3',
};

export const attestCommand: Command = {
  name: 'attest',
  summary: 'sign an in-toto statement about files with a short-lived identity, log it, write a bundle',
  usage: `Usage: ssf attest --predicate-type T --predicate FILE --subject FILE... --bundle OUT
                  [--identity PATH] [--minutes N] [--dir D]

Issues a short-lived workload identity (spiffe://<trust-domain>/<PATH>), signs an
in-toto Statement v1 whose subjects are the SHA-256 digests of the --subject
files, appends it to the factory's transparency log, stores it, and writes a
Sigstore bundle v0.3 to OUT.

Options:
  --predicate-type T   predicate type URI, or one of: slsa-provenance, vsa, link
  --predicate FILE     JSON predicate (validated for the known types)
  --subject FILE       artifact to attest (repeatable)
  --bundle OUT         where to write the bundle
  --identity PATH      SPIFFE path of the signing identity (default: cli/attest);
                       factory/, run/, node/, operator/ and evidence/ are
                       reserved
  --minutes N          identity validity in minutes (default: the factory's)
  --dir D              factory data directory
  -h, --help           show this help`,
  options: {
    'predicate-type': { type: 'string' },
    predicate: { type: 'string' },
    subject: { type: 'string', multiple: true },
    bundle: { type: 'string' },
    identity: { type: 'string' },
    minutes: { type: 'string' },
    dir: { type: 'string' },
  },
  async run(a, io) {
    const identityPath = (str(a, 'identity') ?? 'cli/attest').split('/').filter((s) => s !== '');
    if ((Factory.RESERVED_PATHS as readonly string[]).includes(identityPath[0] ?? '')) {
      throw new SsfError('USAGE', `--identity ${identityPath.join('/')}: paths under ${Factory.RESERVED_PATHS.map((p) => `${p}/`).join(', ')} are reserved for the factory's own identities (builder, run tasks, nodes, pipeline and policy signers, evidence and VEX signers)`);
    }
    const typeArg = need(a, 'predicate-type', 'attest');
    const predicateType = PREDICATE_ALIASES[typeArg] ?? typeArg;
    if (!/^[a-z][a-z0-9+.-]*:\/\/[^\s]+$/i.test(predicateType)) {
      throw new SsfError('USAGE', `--predicate-type ${JSON.stringify(typeArg)} is neither a URI nor one of: ${Object.keys(PREDICATE_ALIASES).join(', ')}`);
    }
    const predicate = parseJson(readTextFile(need(a, 'predicate', 'attest'), 'predicate file'), 'predicate file');
    validatePredicate(predicateType, predicate);
    const subjects = strs(a, 'subject');
    if (subjects.length === 0) throw new SsfError('USAGE', 'ssf attest needs at least one --subject FILE');
    const out = need(a, 'bundle', 'attest');
    // Check where the bundle goes before anything is signed and logged (the log is append-only).
    if (existsSync(out) && statSync(out).isDirectory()) throw new SsfError('USAGE', `--bundle ${out} is a directory; give a file path`);
    if (!existsSync(dirname(resolve(out)))) throw new SsfError('FILE_NOT_FOUND', `the directory of --bundle ${out} does not exist`);
    const minutes = int(a, 'minutes');
    const statement = makeStatement(subjects.map((f) => ({ name: basename(f), digest: { sha256: sha256File(f) } })), predicateType, predicate as Record<string, unknown>);
    const factory = Factory.open(resolveDataDir(str(a, 'dir'), io.env));
    try {
      const identity = await factory.issueIdentity(identityPath, minutes);
      const [res] = factory.attest([{ statement, identity }]);
      if (!res) throw new SsfError('INTERNAL', 'attest produced no bundle');
      writeFileAtomic(out, JSON.stringify(res.bundle, null, 2) + '\n');
      io.out(`signed by ${identity.spiffeId} (serial ${identity.serial})`);
      io.out(`logged at index ${res.logIndex}; bundle written to ${out}`);
    } finally {
      factory.close();
    }
    return 0;
  },
};
