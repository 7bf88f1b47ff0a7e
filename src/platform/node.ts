import { existsSync, readFileSync } from 'node:fs';
import { arch, hostname, release, version as osVersion } from 'node:os';
import { dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { canonicalize, sha256Hex, sha256File } from '../core/index.js';
import { makeStatement, type Statement } from '../attest/index.js';
import { hashTree } from '../observer/index.js';
import { detectSandbox } from '../sandbox/index.js';
import { SSF_NODE_PREDICATE } from '../verify/index.js';

/** What a node attestation measures about the host before it receives work. */
export interface NodeMeasurement {
  readonly nodeId: string;
  readonly machineIdSha256: string;
  readonly hostname: string;
  readonly kernel: { readonly release: string; readonly version: string; readonly arch: string };
  readonly node: { readonly path: string; readonly version: string; readonly sha256: string };
  readonly ssf: { readonly version: string; readonly path: string; readonly treeDigest: string; readonly files: number };
  readonly sandbox: { readonly backend: string; readonly version?: string; readonly reason?: string };
}

/** ssf's own compiled code: dist/src, two levels above this file. */
function ssfCodeDir(): string {
  return dirname(dirname(fileURLToPath(import.meta.url)));
}

function machineId(): string {
  for (const p of ['/etc/machine-id', '/var/lib/dbus/machine-id']) {
    if (existsSync(p)) {
      const v = readFileSync(p, 'utf8').trim();
      if (v !== '') return v;
    }
  }
  return `hostname:${hostname()}`;
}

/**
 * Measures this host: machine id (hashed, it is meant to stay private), kernel, the node
 * binary's digest, the digest of ssf's own code tree, and the sandbox backend that works here.
 * `known.nodeSha256`: the node binary's digest when the caller has just computed it.
 */
export async function measureNode(ssfVersion: string, known: { nodeSha256?: string } = {}): Promise<NodeMeasurement> {
  const mid = sha256Hex(Buffer.from(machineId()));
  const code = ssfCodeDir();
  const tree = await hashTree(code);
  const sb = detectSandbox();
  return {
    nodeId: mid.slice(0, 16),
    machineIdSha256: mid,
    hostname: hostname(),
    kernel: { release: release(), version: osVersion(), arch: arch() },
    node: { path: process.execPath, version: process.version, sha256: known.nodeSha256 ?? sha256File(process.execPath) },
    ssf: { version: ssfVersion, path: code, treeDigest: tree.digest, files: tree.files },
    sandbox: { backend: sb.backend, ...(sb.version ? { version: sb.version } : {}), ...(sb.reason ? { reason: sb.reason } : {}) },
  };
}

/** The node attestation statement: the subject is the node, its digest that of the measurement. */
export function nodeStatement(m: NodeMeasurement): Statement {
  const digest = sha256Hex(Buffer.from(canonicalize(m)));
  return makeStatement([{ name: `node/${m.nodeId}`, digest: { sha256: digest } }], SSF_NODE_PREDICATE, { ...m });
}

