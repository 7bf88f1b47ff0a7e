/**
 * The typed form of a pipeline definition (`apiVersion: ssf/v1`, `kind: Pipeline`).
 * docs/pipeline.md is the reference for every field; schema.ts publishes the same shape as
 * JSON Schema. Arrays that the file may omit are always present here (empty).
 */

/**
 * Every task kind and the name of the block that configures it. This table is the one place
 * a new kind (sbom, scan, …) is added: the schema, the kind/block consistency check and the
 * TaskKind type all read it.
 */
export const TASK_KINDS = {
  source: 'source',
  dependencies: 'dependencies',
  run: 'run',
  image: 'image',
  publish: 'publish',
  sbom: 'sbom',
  scan: 'scan',
  licenses: 'licenses',
  secrets: 'secrets',
} as const;

/** The kinds that produce signed evidence (docs/evidence.md); ssf's own code runs them. */
export const EVIDENCE_KINDS = ['sbom', 'scan', 'licenses', 'secrets'] as const;
export type EvidenceTaskKind = (typeof EVIDENCE_KINDS)[number];

export type TaskKind = keyof typeof TASK_KINDS;

/** The kinds, in the order docs/pipeline.md lists them. */
export const TASK_KIND_NAMES = Object.keys(TASK_KINDS) as TaskKind[];

/** Names of tasks, workspaces, params and the pipeline itself. */
export const NAME_PATTERN = '^[a-z0-9][a-z0-9-]{0,62}$';
/** Tool names may also carry dots and underscores (python3.12, clang_tidy). */
export const TOOL_NAME_PATTERN = '^[a-z0-9][a-z0-9._-]{0,62}$';
/** A pinned digest as ssf writes it: `sha256:` and 64 lower-case hex digits. */
export const DIGEST_PATTERN = '^sha256:[0-9a-f]{64}$';
/** `$(params.NAME)`: the only substitution syntax. */
export const PARAM_REF = /\$\(params\.([^)]*)\)/g;

export type ParamType = 'string' | 'boolean' | 'number';
export type ParamValue = string | boolean | number;

/** A run parameter the caller may set; nothing else is accepted at trigger time. */
export interface ParamSpec {
  name: string;
  type: ParamType;
  default?: ParamValue;
  /** Allowed values (of the param's type). */
  enum?: ParamValue[];
  /** For strings: an ECMAScript regular expression the whole value must match. */
  pattern?: string;
  description?: string;
}

/** A host binary or directory tasks may execute, pinned by digest (a directory: its tree digest). */
export interface ToolSpec {
  name: string;
  /** Absolute, normalised host path. */
  path: string;
  /**
   * `sha256:<64 hex>`. Parsing accepts a missing or malformed pin so that `ssf pipeline pin`
   * can write it; `ssf lint` reports it (unpinned-tool) and a run refuses it.
   */
  digest?: string;
}

export interface WorkspaceSpec {
  name: string;
}

export type MountMode = 'ro' | 'rw';

/** A workspace a task mounts at `/workspace/<name>` in its sandbox. */
export interface WorkspaceMount {
  name: string;
  mode: MountMode;
}

export interface GitSourceSpec {
  url: string;
  /** Full commit id: 40 hex digits (SHA-1 repositories) or 64 (SHA-256 repositories). */
  commit: string;
}

/** Exactly one of `path` (relative to the pipeline file) or `git`. */
export interface SourceSpec {
  path?: string;
  git?: GitSourceSpec;
  /** An ssh allowed_signers file (relative to the pipeline file) the commit must be signed by. */
  allowedSigners?: string;
}

export type DependencyManager = 'npm';

export interface DependenciesSpec {
  manager: DependencyManager;
  /** Relative path of the lockfile inside the task's rw workspace. */
  lockfile: string;
  /** The declared tool that installs (for npm: the npm directory or npm-cli.js). */
  tool: string;
}

export interface RunSpec {
  /** A declared tool: command[0] of the process. */
  tool: string;
  args: string[];
  /** A workspace the task mounts; the process starts in `/workspace/<cwd>`. */
  cwd?: string;
  env?: Record<string, string>;
  timeoutSeconds?: number;
  memoryMiB?: number;
}

export interface ImageSpec {
  /** `scratch` (the default) or the `sha256:<64 hex>` digest of a base image manifest. */
  base?: string;
  /** The mounted workspace whose `path` becomes the image's layer. */
  from: string;
  path?: string;
  /** Absolute directory in the image the layer lands in (default /app). */
  target?: string;
  entrypoint?: string[];
  cmd?: string[];
  env?: Record<string, string>;
  user?: string;
  workingDir?: string;
}

export type PublishArtifact =
  | { type: 'file'; name?: string; from: string; path: string }
  | { type: 'tarball'; name: string; from: string; path?: string }
  | { type: 'image'; name?: string; task: string };

export type ArtifactType = PublishArtifact['type'];

export interface PublishSpec {
  artifacts: PublishArtifact[];
}

/**
 * What an evidence statement is about: files in a mounted workspace (a `*` is allowed in the
 * last path part; each match is a subject) or the image an image task built.
 */
export type EvidenceSubject = { from: string; path: string } | { image: string };

/** Fields every evidence block shares. */
export interface EvidenceCommon {
  /** The mounted workspace the task reads (the source tree, with its lockfile). */
  from: string;
  /** The statement's subjects; published artifacts with these digests get the evidence attached. */
  subjects: EvidenceSubject[];
}

export interface SbomTaskSpec extends EvidenceCommon {
  /** Lockfile path inside `from` (default: found the way `ssf sbom DIR` finds it). */
  lockfile?: string;
  /** Output format (default cyclonedx). */
  format?: 'cyclonedx' | 'spdx';
}

export type FailOnSeverity = 'low' | 'medium' | 'high' | 'critical' | 'none';

export interface ScanTaskSpec extends EvidenceCommon {
  lockfile?: string;
  /** Signed VEX bundles (paths relative to the pipeline file). */
  vex?: string[];
  /** Fail the task when a finding not suppressed by VEX is at or above this severity (default high). */
  failOn?: FailOnSeverity;
}

export interface LicensesTaskSpec extends EvidenceCommon {
  lockfile?: string;
  /** A licence policy file (relative to the pipeline file). */
  policy?: string;
  /** denied (default): fail on denied licences; unknown: also on missing or non-SPDX ones; none. */
  failOn?: 'denied' | 'unknown' | 'none';
}

export interface SecretsTaskSpec extends EvidenceCommon {
  /** Directory inside `from` to scan (default: all of it). */
  path?: string;
  /** An allowlist file (relative to the pipeline file). */
  allowlist?: string;
  /** any (default): fail on any finding the allowlist does not suppress; none: report only. */
  failOn?: 'any' | 'none';
}

/** One task. Exactly the block named by TASK_KINDS[kind] is present. */
export interface TaskDef {
  name: string;
  kind: TaskKind;
  description?: string;
  needs: string[];
  workspaces: WorkspaceMount[];
  source?: SourceSpec;
  dependencies?: DependenciesSpec;
  run?: RunSpec;
  image?: ImageSpec;
  publish?: PublishSpec;
  sbom?: SbomTaskSpec;
  scan?: ScanTaskSpec;
  licenses?: LicensesTaskSpec;
  secrets?: SecretsTaskSpec;
}

export interface PipelineDefinition {
  apiVersion: 'ssf/v1';
  kind: 'Pipeline';
  metadata: { name: string; description?: string };
  params: ParamSpec[];
  workspaces: WorkspaceSpec[];
  tools: ToolSpec[];
  tasks: TaskDef[];
}

/** A parsed definition with the exact bytes it came from. */
export interface LoadedPipeline {
  def: PipelineDefinition;
  /** `sha256:<hex>` of the exact file bytes (what a signature covers). */
  digest: string;
  bytes: Buffer;
  file: string;
}

/** One problem `ssf lint` reports; positions are 1-based. */
export interface LintFinding {
  file: string;
  line: number;
  column: number;
  severity: 'error' | 'warning';
  rule: string;
  message: string;
}

/** The largest definition ssf reads. */
export const MAX_PIPELINE_BYTES = 1024 * 1024;
