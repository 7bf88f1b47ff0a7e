import { SANDBOX_GID, SANDBOX_UID, type CheckedSpec } from './spec.js';
import { DEVICES, HOST_CERTS, ROOT_SYMLINKS } from './rootfs.js';

/** Namespaces both real backends create (no user namespace: they start as root and drop to 65534). */
export const NAMESPACES = ['mount', 'pid', 'net', 'ipc', 'uts', 'cgroup'] as const;

export const BWRAP = '/usr/bin/bwrap';
export const UNSHARE = '/usr/bin/unshare';
export const SETPRIV = '/usr/bin/setpriv';
export const SH = '/usr/bin/sh';
export const ENV = '/usr/bin/env';
export const IP = '/usr/bin/ip';

/** The host environment a backend itself runs with (never reaches the task: env -i below). */
export const LAUNCH_ENV: Readonly<Record<string, string>> = { PATH: '/usr/bin:/bin', LANG: 'C.UTF-8' };

/** What a backend needs beyond the spec: where the synthetic /etc is and whether host certs exist. */
export interface RootfsInputs {
  /** Host directory holding the synthetic /etc. */
  etcDir: string;
  /** Empty host directory the unshare backend mounts its tmpfs root on (private to its mount namespace). */
  rootMountpoint: string;
  /** The unshare backend's root skeleton (see rootfs.ts). */
  skeleton: string;
  certs: boolean;
  /** Bring loopback up inside the sandbox's own network namespace (bubblewrap always does). */
  loopbackUp: boolean;
}

/**
 * The last link of every chain, run inside the finished sandbox: drop to 65534:65534 with no
 * supplementary groups, an empty capability bounding set and no_new_privs, then run the
 * command with exactly the declared environment.
 */
export function dropAndExec(spec: Pick<CheckedSpec, 'env' | 'command'>): string[] {
  return [
    SETPRIV, `--reuid=${SANDBOX_UID}`, `--regid=${SANDBOX_GID}`, '--clear-groups', '--bounding-set=-all', '--inh-caps=-all', '--no-new-privs', '--',
    ENV, '-i', ...Object.entries(spec.env).map(([k, v]) => `${k}=${v}`), ...spec.command,
  ];
}

/**
 * Tells the host the sandbox is fully set up: one byte on fd 3, which is then closed so the task
 * never holds it. No byte means a setup failure (SANDBOX_FAILED), not a task failure.
 */
const READY = 'printf r >&3 && exec 3>&- && exec "$@"';

/** argv for bubblewrap (run as root, no user namespace; the task itself drops to 65534). */
export function bubblewrapArgv(spec: CheckedSpec, fs: RootfsInputs): string[] {
  const a: string[] = [
    BWRAP, '--die-with-parent', '--new-session',
    '--unshare-pid', '--unshare-net', '--unshare-ipc', '--unshare-uts', '--unshare-cgroup', '--hostname', 'sandbox',
    // Only what setpriv needs to drop to 65534 and empty the bounding set; it drops these too.
    '--cap-drop', 'ALL', '--cap-add', 'CAP_SETUID', '--cap-add', 'CAP_SETGID', '--cap-add', 'CAP_SETPCAP',
    '--ro-bind', '/usr', '/usr',
  ];
  for (const [link, target] of ROOT_SYMLINKS) a.push('--symlink', target, link);
  a.push('--ro-bind', fs.etcDir, '/etc');
  if (fs.certs) a.push('--ro-bind', HOST_CERTS, HOST_CERTS);
  // /tmp is capped at the memory limit too, so it stays bounded even where only RLIMIT_DATA limits memory.
  a.push('--proc', '/proc', '--dev', '/dev', '--perms', '1777', '--size', String(spec.memoryBytes), '--tmpfs', '/tmp', '--dir', '/workspace', '--dir', '/opt/ssf');
  for (const m of spec.mounts) a.push(m.mode === 'rw' ? '--bind' : '--ro-bind', m.hostReal, m.target);
  a.push('--remount-ro', '/', '--chdir', spec.cwd, '--clearenv', '--', SH, '-c', READY, 'ssf-sandbox', ...dropAndExec(spec));
  return a;
}

/** Single-quotes a string for sh; safe for any bytes except NUL (rejected by checkSpec). */
export function shQuote(s: string): string {
  return `'${s.replace(/'/g, `'\\''`)}'`;
}

/**
 * The setup script the unshare backend runs as pid 1 of the new namespaces, still root: builds a
 * tmpfs root with the same layout bubblewrap builds, pivots into it, detaches the host's
 * filesystem, makes the root read-only, then runs the task with dropped privileges as its child.
 */
export function unshareScript(spec: CheckedSpec, fs: RootfsInputs): string {
  const q = shQuote;
  // util-linux mount applies ro/nosuid/nodev to a bind in the same call (bind, then remount).
  const bind = (src: string, dst: string, mode: 'ro' | 'rw'): string => `mount -o bind,${mode === 'ro' ? 'ro,' : ''}nosuid,nodev ${q(src)} ${q(dst)}`;
  const lines: string[] = [
    'set -eu',
    'export PATH=/usr/sbin:/usr/bin',
    `cd ${q(fs.rootMountpoint)}`,
    'mount -t tmpfs -o mode=0755,nosuid,nodev ssf-root .',
    // cd again so the shell's cwd is in the new tmpfs, not the directory under it.
    `cd ${q(fs.rootMountpoint)}`,
    `cp -a ${q(fs.skeleton + '/.')} .`,
    bind('/usr', 'usr', 'ro'),
    bind(fs.etcDir, 'etc', 'ro'),
  ];
  if (fs.certs) lines.push(bind(HOST_CERTS, '.' + HOST_CERTS, 'ro'));
  lines.push(
    'mount -t proc -o nosuid,nodev,noexec proc proc',
    `mount -t tmpfs -o mode=1777,nosuid,nodev,size=${spec.memoryBytes} ssf-tmp tmp`,
    // Device nodes are bind mounts of the host's, each its own mount, so the nodev root does not block them.
    ...DEVICES.map((d) => `mount -o bind,nosuid /dev/${d} dev/${d}`),
  );
  if (spec.mounts.length > 0) lines.push(`mkdir -p ${spec.mounts.map((m) => q('.' + m.target)).join(' ')}`);
  for (const m of spec.mounts) lines.push(bind(m.hostReal, '.' + m.target, m.mode));
  lines.push('echo sandbox > proc/sys/kernel/hostname');
  if (fs.loopbackUp) lines.push(`${IP} link set lo up`);
  lines.push(
    'pivot_root . .oldroot',
    'cd /',
    'umount -l /.oldroot',
    'rmdir /.oldroot',
    'mount -o remount,bind,ro,nosuid,nodev /',
    `cd ${q(spec.cwd)}`,
    'printf r >&3',
    'exec 3>&-',
    // Not exec: this shell stays pid 1, as root with unchanged credentials, so the parent-death
    // signal unshare --kill-child gave it survives (a uid change would clear it) and the whole
    // namespace dies with ssf. A task killed by signal N is reported as exit 128+N, as with bubblewrap.
    'set +e',
    dropAndExec(spec).map(q).join(' '),
    'exit $?',
  );
  return lines.join('\n') + '\n';
}

/** argv for the unshare backend; setpriv --pdeathsig makes unshare die with its parent, --kill-child takes the namespace along. */
export function unshareArgv(spec: CheckedSpec, fs: RootfsInputs): string[] {
  return [
    SETPRIV, '--pdeathsig', 'SIGKILL', '--',
    UNSHARE, '--mount', '--pid', '--net', '--ipc', '--uts', '--cgroup', '--fork', '--kill-child', '--propagation', 'private', '--',
    SH, '-c', unshareScript(spec, fs), 'ssf-sandbox-setup',
  ];
}
