import { SsfError } from '../core/index.js';
import { PARAM_REF, type ParamSpec, type ParamValue, type PipelineDefinition } from './types.js';

/**
 * Trigger parameters: only declared ones, each converted to its type and checked against
 * its enum and pattern. Substitution happens in run.args, run.env values and run.cwd only,
 * in one pass (a substituted value is never scanned again).
 */

/** The longest string a parameter may carry. */
export const MAX_PARAM_LENGTH = 4096;

const NUMBER = /^-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?$/;

/** Compiles a param's pattern, anchored to the whole value; throws the RegExp error. */
export function compilePattern(pattern: string): RegExp {
  return new RegExp(`^(?:${pattern})$`, 'u');
}

/** Why `value` is not acceptable for `spec`, or undefined when it is. */
export function paramValueProblem(spec: ParamSpec, value: ParamValue): string | undefined {
  if (typeof value !== spec.type) return `must be a ${spec.type}, not a ${typeof value}`;
  if (typeof value === 'number' && !Number.isFinite(value)) return 'must be a finite number';
  if (typeof value === 'string') {
    if (value.length > MAX_PARAM_LENGTH) return `must be at most ${MAX_PARAM_LENGTH} characters`;
    // Control characters (newlines included) have no business in a trigger value and make
    // injection into scripts and logs easier.
    // eslint-disable-next-line no-control-regex
    if (/[\u0000-\u001f\u007f]/.test(value)) return 'must not contain control characters (newlines, tabs, NUL)';
  }
  if (spec.enum && !spec.enum.some((e) => e === value)) return `must be one of: ${spec.enum.map((e) => JSON.stringify(e)).join(', ')}`;
  if (spec.pattern !== undefined && typeof value === 'string') {
    let re: RegExp;
    try {
      re = compilePattern(spec.pattern);
    } catch {
      return `cannot be checked: the pattern ${JSON.stringify(spec.pattern)} is not a valid regular expression`;
    }
    if (!re.test(value)) return `must match the pattern ${JSON.stringify(spec.pattern)}`;
  }
  return undefined;
}

function convert(spec: ParamSpec, raw: string): ParamValue | undefined {
  switch (spec.type) {
    case 'string':
      return raw;
    case 'boolean':
      return raw === 'true' ? true : raw === 'false' ? false : undefined;
    case 'number': {
      if (!NUMBER.test(raw)) return undefined;
      const n = Number(raw);
      return Number.isFinite(n) ? n : undefined;
    }
  }
}

/** Checks and types the caller's parameters, filling in defaults. */
export function resolveParams(def: PipelineDefinition, given: Record<string, string>): Record<string, ParamValue> {
  const specs = new Map(def.params.map((p) => [p.name, p]));
  const declared = def.params.map((p) => p.name).join(', ') || 'none';
  const values = new Map<string, ParamValue>();
  for (const name of Object.keys(given)) {
    const spec = specs.get(name);
    if (!spec) throw new SsfError('PARAM_INVALID', `parameter ${JSON.stringify(name)} is not declared by pipeline ${def.metadata.name} (declared: ${declared})`);
    const raw: unknown = given[name];
    if (typeof raw !== 'string') throw new SsfError('PARAM_INVALID', `parameter ${name}: the value must be given as a string`);
    const value = convert(spec, raw);
    if (value === undefined) {
      const want = spec.type === 'boolean' ? 'true or false' : 'a decimal number';
      throw new SsfError('PARAM_INVALID', `parameter ${name} is a ${spec.type}: ${JSON.stringify(raw.slice(0, 100))} is not ${want}`);
    }
    const problem = paramValueProblem(spec, value);
    if (problem) throw new SsfError('PARAM_INVALID', `parameter ${name}: ${JSON.stringify(raw.slice(0, 100))} ${problem}`);
    values.set(name, value);
  }
  const out: Record<string, ParamValue> = {};
  for (const spec of def.params) {
    const v = values.get(spec.name) ?? spec.default;
    if (v === undefined) throw new SsfError('PARAM_INVALID', `parameter ${spec.name} has no default and was not given; pass ${spec.name}=<${spec.type}>`);
    // Defaults were checked when the definition was parsed; a hand-built definition may not have been.
    const problem = paramValueProblem(spec, v);
    if (problem) throw new SsfError('PARAM_INVALID', `parameter ${spec.name}: ${JSON.stringify(v)} ${problem}`);
    out[spec.name] = v;
  }
  return out;
}

/** Replaces every `$(params.NAME)` in s; an unknown name is PARAM_INVALID. */
export function substituteString(s: string, params: Record<string, ParamValue>, where: string): string {
  return s.replace(PARAM_REF, (_m, name: string) => {
    if (!Object.prototype.hasOwnProperty.call(params, name)) {
      throw new SsfError('PARAM_INVALID', `${where} references $(params.${name}), which is not a resolved parameter of this run`);
    }
    return String(params[name]);
  });
}

/** A copy of def with parameters substituted in run.args, run.env values and run.cwd. */
export function substitute(def: PipelineDefinition, params: Record<string, ParamValue>): PipelineDefinition {
  const out = structuredClone(def);
  for (const task of out.tasks) {
    const run = task.run;
    if (!run) continue;
    const where = `task ${task.name}`;
    run.args = run.args.map((a, i) => substituteString(a, params, `${where}: run.args[${i}]`));
    if (run.env) {
      const env: Record<string, string> = {};
      for (const [k, v] of Object.entries(run.env)) env[k] = substituteString(v, params, `${where}: run.env.${k}`);
      run.env = env;
    }
    if (run.cwd !== undefined) {
      const cwd = substituteString(run.cwd, params, `${where}: run.cwd`);
      if (!task.workspaces.some((w) => w.name === cwd)) {
        throw new SsfError('PARAM_INVALID', `${where}: run.cwd became ${JSON.stringify(cwd)}, which is not a workspace the task mounts (${task.workspaces.map((w) => w.name).join(', ') || 'none'})`);
      }
      run.cwd = cwd;
    }
  }
  return out;
}
