import { Ajv2020, type ErrorObject, type ValidateFunction } from 'ajv/dist/2020.js';
import { SsfError } from '../core/index.js';
import { readSchema } from './schemas.js';
import type { Gate } from './types.js';

/**
 * The documented input of each gate (schema/policy/input-<gate>.schema.json). A gate input
 * is checked before any rule sees it, so that a rule reading a missing field is a bug found
 * here, not a silent pass.
 */

const RFC3339 = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$/;

let ajv: Ajv2020 | undefined;
const validators = new Map<Gate, ValidateFunction>();

function validatorFor(gate: Gate): ValidateFunction {
  let v = validators.get(gate);
  if (!v) {
    ajv ??= (() => {
      const a = new Ajv2020({ allErrors: false, strict: true, strictTypes: false, strictRequired: false, validateSchema: false });
      a.addFormat('date-time', { type: 'string', validate: (s: string) => RFC3339.test(s) && !Number.isNaN(Date.parse(s)) });
      return a;
    })();
    v = ajv.compile(readSchema(`input-${gate}.schema.json`));
    validators.set(gate, v);
  }
  return v;
}

function describe(e: ErrorObject): string {
  const where = e.instancePath === '' ? 'the input' : `input${e.instancePath.replace(/\/(\d+)/g, '[$1]').replace(/\//g, '.')}`;
  if (e.keyword === 'required') return `${where} has no ${String((e.params as { missingProperty?: string }).missingProperty)}`;
  return `${where} ${e.message ?? 'is invalid'}`;
}

/** The JSON Schema of a gate's input document. */
export function gateInputSchema(gate: Gate): object {
  return readSchema(`input-${gate}.schema.json`);
}

/** POLICY_INPUT_INVALID unless `input` is a valid input document of `gate`. */
export function validateGateInput(gate: Gate, input: unknown): void {
  const v = validatorFor(gate);
  if (!v(input)) {
    const e = v.errors?.[0];
    throw new SsfError('POLICY_INPUT_INVALID', `${e ? describe(e) : 'the input is invalid'} (schema/policy/input-${gate}.schema.json)`);
  }
}
