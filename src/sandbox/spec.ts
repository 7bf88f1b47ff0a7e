import { realpathSync, statSync, existsSync } from 'node:fs';
import { posix } from 'node:path';
import { SsfError } from '../core/index.js';
import type { Mount, SandboxSpec } from './types.js';

/** The uid and gid every sandboxed task runs as (the conventional `nobody`). */
export const SANDBOX_UID = 65534;
export const SANDBOX_GID = 65534;

/** Mount targets must lie under one of these. */
export const MOUNT_ROOTS = ['/workspace', '/opt/ssf'] as const;

/** Directories that exist in every sandbox root (besides /usr and the mount targets). */
export const FIXED_DIRS = ['/', '/tmp', '/etc', '/dev', '/proc', '/opt', '/workspace', '/opt/ssf'] as const;

/** Host directories that may never be mounted (exactly these; /proc, /sys and /dev also not below). */
const FORBIDDEN_HOSTS = new Set(['/', '/proc', '/sys', '/dev', '/etc', '/usr', '/boot', '/run', '/var', '/root', '/home', '/bin', '/sbin', '/lib', '/lib64']);
const FORBIDDEN_HOST_TREES = ['/proc/', '/sys/', '/dev/'];

const DEFAULT_ENV: Readonly<Record<string, string>> = { PATH: '/usr/bin:/bin', HOME: '/tmp', TMPDIR: '/tmp', LANG: 'C.UTF-8' };
const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;
const MIN_MEMORY = 16 * 1024 * 1024;
const MAX_TIMEOUT = 2_147_483_647; // setTimeout's limit

/** A mount whose host side was resolved to a real directory. */
export interface ResolvedMount extends Mount {
  /** realpath of `host`; this is what gets bound, so a later symlink swap of `host` has no effect. */
  hostReal: string;
}

/** A validated spec: env merged with defaults, mounts resolved and ordered. */
export interface CheckedSpec {
  command: string[];
  cwd: string;
  mounts: ResolvedMount[];
  env: Record<string, string>;
  timeoutMs: number;
  memoryBytes: number;
}

function fail(message: string): never {
  throw new SsfError('SANDBOX_FAILED', message);
}

function isNormalAbsolute(p: string): boolean {
  return p.startsWith('/') && !p.includes('\0') && posix.normalize(p) === p && (p === '/' || !p.endsWith('/'));
}

function within(p: string, root: string): boolean {
  return p === root || p.startsWith(root + '/');
}

/** Checks one mount and resolves its host directory; PATH_ESCAPE for a target outside the allowed roots. */
export function checkMount(m: Mount): ResolvedMount {
  if (typeof m?.target !== 'string' || !isNormalAbsolute(m.target) || !MOUNT_ROOTS.some((r) => within(m.target, r))) {
    throw new SsfError('PATH_ESCAPE', `mount target ${JSON.stringify(m?.target)} is not a normalised absolute path under ${MOUNT_ROOTS.join(' or ')}; mount workspaces there`);
  }
  if (m.mode !== 'ro' && m.mode !== 'rw') fail(`mount ${m.target} has mode ${JSON.stringify(m.mode)}; use 'ro' or 'rw'`);
  if (typeof m.host !== 'string' || !m.host.startsWith('/') || m.host.includes('\0')) fail(`mount ${m.target} has host path ${JSON.stringify(m.host)}; give an absolute host directory`);
  let hostReal: string;
  try {
    hostReal = realpathSync(m.host);
  } catch (e) {
    throw new SsfError('SANDBOX_FAILED', `mount ${m.target}: host directory ${m.host} cannot be resolved (${(e as NodeJS.ErrnoException).code ?? 'error'}); create it first`, { cause: e });
  }
  if (FORBIDDEN_HOSTS.has(hostReal) || FORBIDDEN_HOST_TREES.some((t) => hostReal.startsWith(t))) {
    fail(`mount ${m.target}: host path ${m.host} resolves to ${hostReal}, a system directory that is never mounted into a sandbox; mount a workspace directory instead`);
  }
  if (!statSync(hostReal).isDirectory()) fail(`mount ${m.target}: host path ${m.host} is not a directory; only directories can be mounted`);
  return { host: m.host, target: m.target, mode: m.mode, hostReal };
}

/**
 * Maps a path as seen inside the sandbox to the host path that backs it, or undefined when it
 * is not backed by a host path (tmpfs, synthetic /etc) or not visible at all.
 */
export function hostPathOf(inside: string, mounts: readonly ResolvedMount[]): string | undefined {
  for (const m of mounts) if (within(inside, m.target)) return m.hostReal + inside.slice(m.target.length);
  if (within(inside, '/usr')) return inside;
  for (const link of ['/bin', '/sbin', '/lib', '/lib64']) if (within(inside, link)) return '/usr' + inside;
  return undefined;
}

/** Validates a spec up front so that setup problems are SANDBOX_FAILED before anything starts. */
export function checkSpec(spec: SandboxSpec): CheckedSpec {
  if (!Array.isArray(spec.command) || spec.command.length === 0 || spec.command.some((a) => typeof a !== 'string' || a.includes('\0'))) {
    fail('sandbox command must be a non-empty array of strings without NUL bytes');
  }
  const exe = spec.command[0] as string;
  // env(1) runs the command inside and would take an argv[0] containing '=' for an assignment.
  if (!isNormalAbsolute(exe) || exe.includes('=')) fail(`sandbox command ${JSON.stringify(exe)} must be a normalised absolute path without '='`);
  if (spec.network !== 'none') fail(`sandbox network mode ${JSON.stringify(spec.network)} is not supported; use 'none'`);
  if (!Number.isInteger(spec.timeoutMs) || spec.timeoutMs <= 0 || spec.timeoutMs > MAX_TIMEOUT) fail(`sandbox timeoutMs ${spec.timeoutMs} must be a positive integer of at most ${MAX_TIMEOUT}`);
  if (!Number.isSafeInteger(spec.memoryBytes) || spec.memoryBytes < MIN_MEMORY) fail(`sandbox memoryBytes ${spec.memoryBytes} must be an integer of at least ${MIN_MEMORY} (16 MiB)`);
  if (!Array.isArray(spec.mounts)) fail('sandbox mounts must be an array');

  const mounts = spec.mounts.map(checkMount);
  for (const a of mounts) {
    for (const b of mounts) {
      // A nested mount would need its mount point created inside the outer host directory.
      if (a !== b && within(b.target, a.target)) fail(`mount targets ${a.target} and ${b.target} overlap; give each workspace its own target`);
    }
  }
  mounts.sort((a, b) => (a.target < b.target ? -1 : a.target > b.target ? 1 : 0));

  const env: Record<string, string> = { ...DEFAULT_ENV };
  if (spec.env === null || typeof spec.env !== 'object') fail('sandbox env must be an object of strings');
  for (const [k, v] of Object.entries(spec.env)) {
    if (!ENV_NAME.test(k)) fail(`environment variable name ${JSON.stringify(k)} is not a valid name ([A-Za-z_][A-Za-z0-9_]*)`);
    if (typeof v !== 'string' || v.includes('\0')) fail(`environment variable ${k} must be a string without NUL bytes`);
    env[k] = v;
  }

  if (typeof spec.cwd !== 'string' || !isNormalAbsolute(spec.cwd)) fail(`sandbox cwd ${JSON.stringify(spec.cwd)} must be a normalised absolute path`);
  const cwdHost = hostPathOf(spec.cwd, mounts);
  const isMountParent = mounts.some((m) => within(m.target, spec.cwd));
  if (!(FIXED_DIRS as readonly string[]).includes(spec.cwd) && !isMountParent) {
    if (cwdHost === undefined) fail(`sandbox cwd ${spec.cwd} is not visible inside the sandbox; use a path under a mount target`);
    if (!isDir(cwdHost)) fail(`sandbox cwd ${spec.cwd} (host ${cwdHost}) is not a directory`);
  }
  const exeHost = hostPathOf(exe, mounts);
  if (exeHost === undefined) fail(`sandbox command ${exe} is not visible inside the sandbox; use a path under /usr or under a mount target`);
  if (!existsSync(exeHost)) fail(`sandbox command ${exe} (host ${exeHost}) does not exist`);

  return { command: [...spec.command], cwd: spec.cwd, mounts, env, timeoutMs: spec.timeoutMs, memoryBytes: spec.memoryBytes };
}

function isDir(p: string): boolean {
  try {
    return statSync(p).isDirectory();
  } catch {
    return false;
  }
}
