import { join, resolve } from 'node:path';

/** Where each part of a factory lives inside its data directory. */
export interface FactoryLayout {
  readonly dir: string;
  readonly config: string;
  readonly trustedRoot: string;
  readonly revocations: string;
  readonly rootCert: string;
  readonly rootKey: string;
  readonly intermediateCert: (generation: number) => string;
  readonly intermediateKey: (generation: number) => string;
  readonly logKey: string;
  readonly db: string;
  readonly witness: string;
  /** Per-run work: workspaces, task logs. */
  readonly runs: string;
  /** The artifact repository, an OCI image layout. */
  readonly repository: string;
  /** The npm package mirror (content-addressed by integrity). */
  readonly npmMirror: string;
  /** The OSV advisory database (SQLite), filled by `ssf vulndb import`. */
  readonly vulnDb: string;
}

/** Resolves the data dir: the flag, else $SSF_DIR, else ./.ssf. */
export function resolveDataDir(flag?: string, env: NodeJS.ProcessEnv = process.env): string {
  return resolve(flag ?? env.SSF_DIR ?? '.ssf');
}

/** The file layout of a factory data directory. */
export function layoutOf(dir: string): FactoryLayout {
  return {
    dir,
    config: join(dir, 'factory.json'),
    trustedRoot: join(dir, 'trusted_root.json'),
    revocations: join(dir, 'revocations.json'),
    rootCert: join(dir, 'ca', 'root.pem'),
    rootKey: join(dir, 'ca', 'root.key.pem'),
    intermediateCert: (g) => join(dir, 'ca', `intermediate-${g}.pem`),
    intermediateKey: (g) => join(dir, 'ca', `intermediate-${g}.key.pem`),
    logKey: join(dir, 'log', 'log.key.pem'),
    db: join(dir, 'ssf.db'),
    witness: join(dir, 'witness.json'),
    runs: join(dir, 'runs'),
    repository: join(dir, 'repository'),
    npmMirror: join(dir, 'mirror', 'npm'),
    vulnDb: join(dir, 'vulndb', 'osv.db'),
  };
}
