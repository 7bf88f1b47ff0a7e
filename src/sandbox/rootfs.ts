import { createHash } from 'node:crypto';
import { existsSync, lstatSync, mkdirSync, mkdtempSync, renameSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
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

/** Device nodes bound from the host into every sandbox's /dev (bubblewrap's --dev set). */
export const DEVICES = ['null', 'zero', 'full', 'random', 'urandom', 'tty'] as const;

/** Host-side material every sandbox root is built from. */
export interface Stage {
  /** The synthetic /etc, bound read-only. */
  etcDir: string;
  /** Empty directory the unshare backend mounts its tmpfs root on (only inside its own mount namespace). */
  rootMountpoint: string;
  /**
   * The unshare backend's root skeleton, copied into its tmpfs root in one step: top-level
   * directories, the /usr-merged symlinks, and /dev's mount points and symlinks.
   */
  skeleton: string;
}

let stage: Stage | undefined;

function buildSkeleton(skel: string): void {
  for (const d of ['usr', 'etc', 'proc', 'dev', 'dev/shm', 'dev/pts', 'tmp', 'opt', 'opt/ssf', 'workspace', '.oldroot']) mkdirSync(join(skel, d), { mode: 0o755 });
  for (const [link, target] of ROOT_SYMLINKS) symlinkSync(target, join(skel, link));
  for (const dev of DEVICES) writeFileSync(join(skel, 'dev', dev), '', { mode: 0o644 });
  symlinkSync('/proc/self/fd', join(skel, 'dev', 'fd'));
  ['stdin', 'stdout', 'stderr'].forEach((name, fd) => symlinkSync(`/proc/self/fd/${fd}`, join(skel, 'dev', name)));
}

function buildStage(dir: string): void {
  const etc = join(dir, 'etc');
  mkdirSync(etc, { mode: 0o755 });
  for (const [name, text] of Object.entries(SYNTHETIC_ETC)) writeFileSync(join(etc, name), text, { mode: 0o644 });
  // Mount point for the certificates, so nothing is ever created inside a read-only bind.
  mkdirSync(join(etc, 'ssl', 'certs'), { recursive: true, mode: 0o755 });
  mkdirSync(join(dir, 'root'), { mode: 0o755 });
  mkdirSync(join(dir, 'skeleton'), { mode: 0o755 });
  buildSkeleton(join(dir, 'skeleton'));
}

function stageAt(dir: string): Stage {
  return { etcDir: join(dir, 'etc'), rootMountpoint: join(dir, 'root'), skeleton: join(dir, 'skeleton') };
}

/**
 * A stage directory may be used only if it is ours and private: a real directory (not a symlink)
 * owned by this uid with no group/other access, so no other user can have planted or changed its
 * content, and complete.
 */
function usable(dir: string): boolean {
  try {
    const st = lstatSync(dir);
    const uid = process.getuid?.() ?? -1;
    return st.isDirectory() && st.uid === uid && (st.mode & 0o077) === 0 && existsSync(join(dir, 'etc', 'passwd')) && existsSync(join(dir, 'skeleton', '.oldroot'));
  } catch {
    return false;
  }
}

/**
 * Returns the host-side material for sandbox roots. It lives in one private directory per uid and
 * content version (`<tmpdir>/ssf-sandbox-<uid>-<digest>`), built in a mkdtemp directory and renamed
 * into place, and is shared by all ssf processes and never removed (so a killed ssf leaves nothing
 * new behind). If that name is taken by something unusable, a per-process directory is used and
 * removed at exit.
 */
export function sandboxStage(): Stage {
  if (stage !== undefined && existsSync(join(stage.etcDir, 'passwd')) && existsSync(join(stage.skeleton, '.oldroot'))) return stage;
  const version = createHash('sha256').update(JSON.stringify({ v: 1, SYNTHETIC_ETC, ROOT_SYMLINKS, DEVICES })).digest('hex').slice(0, 12);
  const shared = join(tmpdir(), `ssf-sandbox-${process.getuid?.() ?? 'u'}-${version}`);
  if (usable(shared)) return (stage = stageAt(shared));
  let dir: string;
  try {
    dir = mkdtempSync(join(tmpdir(), 'ssf-sandbox-'));
    buildStage(dir);
  } catch (e) {
    throw new SsfError('SANDBOX_FAILED', `cannot create the sandbox root material under ${tmpdir()}: ${(e as Error).message}`, { cause: e });
  }
  try {
    renameSync(dir, shared);
    return (stage = stageAt(shared));
  } catch {
    // Another process won the race (then its directory is complete), or the name is taken.
    if (usable(shared)) {
      rmSync(dir, { recursive: true, force: true });
      return (stage = stageAt(shared));
    }
  }
  const own = dir;
  process.once('exit', () => {
    try {
      rmSync(own, { recursive: true, force: true });
    } catch {
      // best effort: the directory holds only public, synthetic files
    }
  });
  return (stage = stageAt(own));
}

/** Whether the host certificate directory exists and is a real directory. */
export function hostCertsAvailable(): boolean {
  try {
    return lstatSync(HOST_CERTS).isDirectory();
  } catch {
    return false;
  }
}
