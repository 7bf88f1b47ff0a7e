/**
 * Pipelines as code: the ssf/v1 definition format, its loader (with line:column errors),
 * linter, parameters and execution plan. Reference: docs/pipeline.md.
 */
export {
  TASK_KINDS,
  TASK_KIND_NAMES,
  MAX_PIPELINE_BYTES,
  type TaskKind,
  type PipelineDefinition,
  type LoadedPipeline,
  type LintFinding,
  type ParamSpec,
  type ParamType,
  type ParamValue,
  type ToolSpec,
  type WorkspaceSpec,
  type WorkspaceMount,
  type MountMode,
  type TaskDef,
  type SourceSpec,
  type GitSourceSpec,
  type DependenciesSpec,
  type DependencyManager,
  type RunSpec,
  type ImageSpec,
  type PublishSpec,
  type PublishArtifact,
  type ArtifactType,
  EVIDENCE_KINDS,
  type EvidenceTaskKind,
  type EvidenceSubject,
  type EvidenceCommon,
  type SbomTaskSpec,
  type ScanTaskSpec,
  type LicensesTaskSpec,
  type SecretsTaskSpec,
  type FailOnSeverity,
} from './types.js';
export { parsePipeline, loadPipeline } from './parse.js';
export { lintPipeline, LINT_RULES, type LintRule } from './lint.js';
export { resolveParams, substitute, MAX_PARAM_LENGTH } from './params.js';
export { planRun, type Plan } from './plan.js';
export { pipelineSchema } from './schema.js';
// The YAML-with-positions layer, shared with other ssf/v1 documents (policies).
export { parseSource, decodeUtf8, offsetPos, Locator, MAX_ALIAS_COUNT, type ParsedSource, type Problem, type JsonPath } from './source.js';
export { schemaProblems } from './messages.js';
