import { Ajv2020, type ErrorObject, type ValidateFunction } from 'ajv/dist/2020.js';
import { DIGEST_PATTERN, NAME_PATTERN, TASK_KINDS, TASK_KIND_NAMES, TOOL_NAME_PATTERN } from './types.js';

/**
 * The published JSON Schema (draft 2020-12) of a pipeline definition. It checks structure
 * only; cross-references (needs, mounts, tools, params) are checked by semantic.ts, and pins
 * and credentials by lint.ts. `schema/pipeline.schema.json` is this object, written out.
 */

const NAME_DESCRIPTION = 'must be a name of 1 to 63 characters: lower-case letters, digits and "-", starting with a letter or digit';
// Normalised absolute path: no empty, "." or ".." segments, no trailing slash, no NUL.
const ABS_PATH = '^(?:/(?!\\.\\.?(?:/|$))[^/\\u0000]+)+$';
// Relative path that cannot climb out of its directory: no leading "/", no ".." segment.
const REL_PATH = '^(?:(?!\\.\\.(?:/|$))[^/\\u0000]+/)*(?!\\.\\.(?:/|$))[^/\\u0000]+/?$';

/** An evidence task's block: `from` and `subjects` (every kind) plus the kind's own fields. */
function evidenceBlock(extra: Record<string, object>): object {
  return {
    type: 'object',
    additionalProperties: false,
    required: ['from', 'subjects'],
    properties: { from: { $ref: '#/$defs/name' }, ...extra, subjects: { $ref: '#/$defs/evidenceSubjects' } },
  };
}

function buildSchema(): Record<string, unknown> {
  const blocks = TASK_KIND_NAMES.map((k) => TASK_KINDS[k]);
  return {
    $schema: 'https://json-schema.org/draft/2020-12/schema',
    $id: 'https://ssf.invalid/schemas/pipeline/v1',
    title: 'ssf pipeline definition (ssf/v1)',
    description: 'A pipeline for the ssf Secure Software Factory. Reference: docs/pipeline.md.',
    type: 'object',
    additionalProperties: false,
    required: ['apiVersion', 'kind', 'metadata', 'tasks'],
    properties: {
      apiVersion: { const: 'ssf/v1' },
      kind: { const: 'Pipeline' },
      metadata: {
        type: 'object',
        additionalProperties: false,
        required: ['name'],
        properties: { name: { $ref: '#/$defs/name' }, description: { $ref: '#/$defs/text' } },
      },
      params: { type: 'array', maxItems: 64, items: { $ref: '#/$defs/param' } },
      workspaces: {
        type: 'array',
        maxItems: 64,
        items: { type: 'object', additionalProperties: false, required: ['name'], properties: { name: { $ref: '#/$defs/name' } } },
      },
      tools: { type: 'array', maxItems: 64, items: { $ref: '#/$defs/tool' } },
      tasks: { type: 'array', minItems: 1, maxItems: 256, items: { $ref: '#/$defs/task' } },
    },
    $defs: {
      name: { type: 'string', pattern: NAME_PATTERN, description: NAME_DESCRIPTION },
      toolName: {
        type: 'string',
        pattern: TOOL_NAME_PATTERN,
        description: 'must be a tool name of 1 to 63 characters: lower-case letters, digits, ".", "_" and "-", starting with a letter or digit',
      },
      text: { type: 'string', maxLength: 4096 },
      nonEmpty: { type: 'string', minLength: 1, maxLength: 4096, pattern: '^[^\\u0000]*$', description: 'must not contain NUL characters' },
      absPath: {
        type: 'string',
        maxLength: 4096,
        pattern: ABS_PATH,
        description: 'must be a normalised absolute path: starts with "/", no empty, "." or ".." segments, no trailing "/"',
      },
      relPath: {
        type: 'string',
        maxLength: 4096,
        pattern: REL_PATH,
        description: 'must be a relative path that stays inside its directory: no leading "/", no ".." segments, no empty segments',
      },
      stringList: { type: 'array', maxItems: 1024, items: { type: 'string', maxLength: 65536 } },
      envMap: {
        type: 'object',
        maxProperties: 256,
        propertyNames: {
          pattern: '^[A-Za-z_][A-Za-z0-9_]*$',
          not: { const: '__proto__' },
          description: 'must be an environment variable name: letters, digits and "_", not starting with a digit',
        },
        additionalProperties: { type: 'string', maxLength: 65536 },
      },
      param: {
        type: 'object',
        additionalProperties: false,
        required: ['name', 'type'],
        properties: {
          name: { $ref: '#/$defs/name' },
          type: { enum: ['string', 'boolean', 'number'] },
          default: { type: ['string', 'boolean', 'number'] },
          enum: { type: 'array', minItems: 1, maxItems: 256, uniqueItems: true, items: { type: ['string', 'boolean', 'number'] } },
          pattern: { type: 'string', minLength: 1, maxLength: 1024 },
          description: { $ref: '#/$defs/text' },
        },
        allOf: (['string', 'boolean', 'number'] as const).map((t) => ({
          if: { properties: { type: { const: t } }, required: ['type'] },
          then: {
            properties: {
              default: { type: t },
              enum: { items: { type: t } },
              ...(t === 'string' ? {} : { pattern: false }),
            },
          },
        })),
      },
      tool: {
        type: 'object',
        additionalProperties: false,
        required: ['name', 'path'],
        properties: {
          name: { $ref: '#/$defs/toolName' },
          path: { $ref: '#/$defs/absPath' },
          // The pin's shape is a lint rule (unpinned-tool), not a schema rule, so that
          // `ssf pipeline pin` can load a definition whose pins are missing or stale.
          digest: { type: 'string', maxLength: 256, description: `should match ${DIGEST_PATTERN}` },
        },
      },
      mount: {
        type: 'object',
        additionalProperties: false,
        required: ['name', 'mode'],
        properties: { name: { $ref: '#/$defs/name' }, mode: { enum: ['ro', 'rw'] } },
      },
      task: {
        type: 'object',
        additionalProperties: false,
        required: ['name', 'kind'],
        properties: {
          name: { $ref: '#/$defs/name' },
          kind: { enum: TASK_KIND_NAMES },
          description: { $ref: '#/$defs/text' },
          needs: { type: 'array', maxItems: 256, uniqueItems: true, items: { $ref: '#/$defs/name' } },
          workspaces: { type: 'array', maxItems: 64, items: { $ref: '#/$defs/mount' } },
          ...Object.fromEntries(TASK_KIND_NAMES.map((k) => [TASK_KINDS[k], { $ref: `#/$defs/${k}Block` }])),
        },
        // A task carries exactly the block its kind names.
        allOf: TASK_KIND_NAMES.map((k) => ({
          if: { properties: { kind: { const: k } }, required: ['kind'] },
          then: {
            required: [TASK_KINDS[k]],
            properties: Object.fromEntries(blocks.filter((b) => b !== TASK_KINDS[k]).map((b) => [b, false])),
          },
        })),
      },
      sourceBlock: {
        type: 'object',
        additionalProperties: false,
        properties: {
          path: { $ref: '#/$defs/nonEmpty' },
          git: {
            type: 'object',
            additionalProperties: false,
            required: ['url', 'commit'],
            properties: {
              url: { $ref: '#/$defs/nonEmpty' },
              commit: {
                type: 'string',
                pattern: '^(?:[0-9a-f]{40}|[0-9a-f]{64})$',
                description: 'must be a full commit id: 40 (or 64) lower-case hex digits',
              },
            },
          },
          allowedSigners: { $ref: '#/$defs/nonEmpty' },
        },
        oneOf: [{ required: ['path'] }, { required: ['git'] }],
      },
      dependenciesBlock: {
        type: 'object',
        additionalProperties: false,
        required: ['manager', 'lockfile', 'tool'],
        properties: {
          manager: { enum: ['npm'] },
          lockfile: { $ref: '#/$defs/relPath' },
          tool: { $ref: '#/$defs/toolName' },
        },
      },
      runBlock: {
        type: 'object',
        additionalProperties: false,
        required: ['tool'],
        properties: {
          tool: { $ref: '#/$defs/toolName' },
          args: { $ref: '#/$defs/stringList' },
          cwd: { type: 'string', minLength: 1, maxLength: 256 },
          env: { $ref: '#/$defs/envMap' },
          timeoutSeconds: { type: 'integer', minimum: 1, maximum: 86400 },
          memoryMiB: { type: 'integer', minimum: 16, maximum: 1048576 },
        },
      },
      imageBlock: {
        type: 'object',
        additionalProperties: false,
        required: ['from'],
        properties: {
          base: { type: 'string', minLength: 1, maxLength: 256, description: '"scratch" or sha256:<64 hex>; checked by ssf lint (unpinned-tool)' },
          from: { $ref: '#/$defs/name' },
          path: { $ref: '#/$defs/relPath' },
          target: { $ref: '#/$defs/absPath' },
          entrypoint: { $ref: '#/$defs/stringList' },
          cmd: { $ref: '#/$defs/stringList' },
          env: { $ref: '#/$defs/envMap' },
          user: {
            type: 'string',
            pattern: '^[A-Za-z0-9._-]{1,64}(?::[A-Za-z0-9._-]{1,64})?$',
            description: 'must be a user, or user:group, as a name or number',
          },
          workingDir: { $ref: '#/$defs/absPath' },
        },
      },
      publishBlock: {
        type: 'object',
        additionalProperties: false,
        required: ['artifacts'],
        properties: { artifacts: { type: 'array', minItems: 1, maxItems: 256, items: { $ref: '#/$defs/artifact' } } },
      },
      evidenceSubject: {
        type: 'object',
        additionalProperties: false,
        properties: { from: { $ref: '#/$defs/name' }, path: { $ref: '#/$defs/relPath' }, image: { $ref: '#/$defs/name' } },
        oneOf: [{ required: ['from', 'path'], properties: { image: false } }, { required: ['image'], properties: { from: false, path: false } }],
        description: 'must be { from: <workspace>, path: <file or glob> } or { image: <image task> }',
      },
      evidenceSubjects: { type: 'array', minItems: 1, maxItems: 256, items: { $ref: '#/$defs/evidenceSubject' } },
      sbomBlock: evidenceBlock({ lockfile: { $ref: '#/$defs/relPath' }, format: { enum: ['cyclonedx', 'spdx'] } }),
      scanBlock: evidenceBlock({
        lockfile: { $ref: '#/$defs/relPath' },
        vex: { type: 'array', maxItems: 256, items: { $ref: '#/$defs/nonEmpty' } },
        failOn: { enum: ['low', 'medium', 'high', 'critical', 'none'] },
      }),
      licensesBlock: evidenceBlock({ lockfile: { $ref: '#/$defs/relPath' }, policy: { $ref: '#/$defs/nonEmpty' }, failOn: { enum: ['denied', 'unknown', 'none'] } }),
      secretsBlock: evidenceBlock({ path: { $ref: '#/$defs/relPath' }, allowlist: { $ref: '#/$defs/nonEmpty' }, failOn: { enum: ['any', 'none'] } }),
      artifact: {
        type: 'object',
        additionalProperties: false,
        required: ['type'],
        properties: {
          type: { enum: ['file', 'tarball', 'image'] },
          name: {
            type: 'string',
            pattern: '^(?!\\.\\.?$)[A-Za-z0-9._+-]{1,128}$',
            description: 'must be a file name of 1 to 128 characters: letters, digits, ".", "_", "+" and "-"',
          },
          from: { $ref: '#/$defs/name' },
          path: { $ref: '#/$defs/relPath' },
          task: { $ref: '#/$defs/name' },
        },
        allOf: [
          { if: { properties: { type: { const: 'file' } }, required: ['type'] }, then: { required: ['from', 'path'], properties: { task: false } } },
          { if: { properties: { type: { const: 'tarball' } }, required: ['type'] }, then: { required: ['name', 'from'], properties: { task: false } } },
          { if: { properties: { type: { const: 'image' } }, required: ['type'] }, then: { required: ['task'], properties: { from: false, path: false } } },
        ],
      },
    },
  };
}

const SCHEMA = buildSchema();
const SCHEMA_JSON = JSON.stringify(SCHEMA);

/** The published schema (a fresh copy; `schema/pipeline.schema.json` holds the same object). */
export function pipelineSchema(): object {
  return JSON.parse(SCHEMA_JSON) as object;
}

let validator: ValidateFunction | undefined;

/** Structural validation: the ajv errors, or none. Compiled once, on first use. */
export function schemaErrors(value: unknown): ErrorObject[] {
  // allErrors so that `ssf lint` reports every problem at once; inputs are at most 1 MiB.
  // verbose keeps the failing schema, whose description becomes the message. The schema is
  // ours and schema.test.ts checks it against the draft 2020-12 meta-schema, so validating
  // it again here would only cost start-up time (about 100 ms).
  const validate = (validator ??= new Ajv2020({ allErrors: true, verbose: true, strict: true, strictTypes: false, strictRequired: false, validateSchema: false }).compile(pipelineSchema()));
  return validate(value) ? [] : [...(validate.errors ?? [])];
}
