import { basename } from 'node:path';
import { SsfError, writeFileAtomic } from '../core/index.js';
import { makeStatement } from '../attest/index.js';
import type { Factory } from '../factory/index.js';
import type { LoadedPipeline } from '../pipeline/index.js';

/** Predicate type of a signed pipeline definition (a URI under a domain that cannot be registered). */
export const SSF_PIPELINE_PREDICATE = 'https://ssf.invalid/attestations/pipeline-definition/v1';

/** Who signed a pipeline definition, and where in the log. */
export interface PipelineSignature {
  readonly identity: string;
  readonly logIndex: number;
}

function signerIdentity(f: Factory): string {
  return `spiffe://${f.trustDomain}/operator/pipeline-signer`;
}

/**
 * Signs a pipeline definition: an in-toto statement whose subject is the file's exact bytes,
 * logged and stored, and written beside the file as `<file>.sigstore.json`.
 */
export async function signPipeline(f: Factory, p: LoadedPipeline): Promise<{ bundlePath: string; logIndex: number; identity: string }> {
  const identity = await f.issueIdentity(['operator', 'pipeline-signer']);
  const hex = p.digest.replace(/^sha256:/, '');
  const st = makeStatement([{ name: basename(p.file), digest: { sha256: hex } }], SSF_PIPELINE_PREDICATE, {
    name: p.def.metadata.name,
    apiVersion: p.def.apiVersion,
    tasks: p.def.tasks.map((t) => ({ name: t.name, kind: t.kind })),
    tools: p.def.tools.map((t) => ({ name: t.name, path: t.path, digest: t.digest })),
  });
  const [res] = f.attest([{ statement: st, identity }]);
  if (!res) throw new SsfError('INTERNAL', 'no bundle produced');
  const bundlePath = `${p.file}.sigstore.json`;
  writeFileAtomic(bundlePath, JSON.stringify(res.bundle, null, 2) + '\n');
  return { bundlePath, logIndex: res.logIndex, identity: identity.spiffeId };
}

/**
 * The newest signature of exactly these pipeline bytes by this factory's pipeline signer, fully
 * verified (chain, log proof, revocation; a failure is an error, never "unsigned"), or undefined.
 */
export function findPipelineSignature(f: Factory, p: LoadedPipeline): PipelineSignature | undefined {
  const hex = p.digest.replace(/^sha256:/, '');
  const expected = signerIdentity(f);
  const newest = f.evidence.findBySubject('sha256', hex).filter((e) => e.predicateType === SSF_PIPELINE_PREDICATE && e.signer === expected).at(-1);
  if (!newest) return undefined;
  const v = f.verifier().verify(f.bundleOf(newest), { identity: expected, artifact: { algorithm: 'sha256', hex } });
  return { identity: v.signer.identity ?? expected, logIndex: v.logIndex };
}
