import { existsSync, lstatSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SsfError } from '../core/index.js';

/**
 * The synthetic /etc every sandbox sees: just enough for libc, Node and npm to resolve the
 * sandbox user and localhost, and nothing of the host's configuration (no resolvers, no
 * users, no credentials). Certificates come from the host's /etc/ssl/certs, read-only.
 */
export const SYNTHETIC_ETC: Readonly<Record<string, string>> = {
  passwd: 'root:x:0:0:root:/nonexistent:/usr/sbin/nologin\nnobody:x:65534:65534:nobody:/tmp:/usr/sbin/nologin\n',
  group: 'root:x:0:\nnogroup:x:65534:\n',
  hosts: '127.0.0.1\tlocalhost sandbox\n::1\tlocalhost ip6-localhost ip6-loopback\n',
  'nsswitch.conf': 'passwd: files\ngroup: files\nshadow: files\nhosts: files\nnetworks: files\nprotocols: files\nservices: files\n',
  'resolv.conf': '',
  hostname: 'sandbox\n',
};

/** Host certificate directory bound read-only at the same path, when it exists. */
export const HOST_CERTS = '/etc/ssl/certs';

/** The /usr-merged symlinks every sandbox root gets, as [link, target]. */
export const ROOT_SYMLINKS: readonly (readonly [string, string])[] = [
  ['/bin', 'usr/bin'],
  ['/sbin', 'usr/sbin'],
  ['/lib', 'usr/lib'],
  ['/lib64', 'usr/lib64'],
];

let stageDir: string | undefined;

/**
 * Returns a host directory holding the synthetic /etc (created once per process in a private
 * mkdtemp directory, so no other user can plant content in it; removed when the process exits).
 */
export function syntheticEtcDir(): string {
  if (stageDir !== undefined && existsSync(join(stageDir, 'etc', 'passwd'))) return join(stageDir, 'etc');
  try {
    const dir = mkdtempSync(join(tmpdir(), 'ssf-sandbox-'));
    const etc = join(dir, 'etc');
    mkdirSync(etc, { mode: 0o755 });
    for (const [name, text] of Object.entries(SYNTHETIC_ETC)) writeFileSync(join(etc, name), text, { mode: 0o644 });
    // Mount point for the certificates, so nothing is ever created inside a read-only bind.
    mkdirSync(join(etc, 'ssl', 'certs'), { recursive: true, mode: 0o755 });
    // Empty mount point for the unshare backend's tmpfs root (mounted only inside its own namespace).
    mkdirSync(join(dir, 'root'), { mode: 0o755 });
    stageDir = dir;
    process.once('exit', () => {
      try {
        rmSync(dir, { recursive: true, force: true });
      } catch {
        // best effort: a leftover directory holds only the public synthetic files
      }
    });
    return etc;
  } catch (e) {
    throw new SsfError('SANDBOX_FAILED', `cannot create the synthetic /etc for sandboxes under ${tmpdir()}: ${(e as Error).message}`, { cause: e });
  }
}

/** Whether the host certificate directory exists and is a real directory. */
export function hostCertsAvailable(): boolean {
  try {
    return lstatSync(HOST_CERTS).isDirectory();
  } catch {
    return false;
  }
}
