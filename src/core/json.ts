import { SsfError, type ErrorCode } from './errors.js';

/** Parses JSON from untrusted text into `unknown`, with a one-line error naming the input. */
export function parseJson(text: string, what: string, code: ErrorCode = 'INPUT_MALFORMED'): unknown {
  try {
    return JSON.parse(text);
  } catch (e) {
    throw new SsfError(code, `${what} is not valid JSON: ${(e as Error).message}`, { cause: e });
  }
}

/** Narrows to a plain object or throws. */
export function asObject(v: unknown, what: string, code: ErrorCode = 'INPUT_MALFORMED'): Record<string, unknown> {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new SsfError(code, `${what} must be a JSON object`);
  return v as Record<string, unknown>;
}

/** Narrows to a string or throws. */
export function asString(v: unknown, what: string, code: ErrorCode = 'INPUT_MALFORMED'): string {
  if (typeof v !== 'string') throw new SsfError(code, `${what} must be a string`);
  return v;
}

/** Narrows to an array or throws. */
export function asArray(v: unknown, what: string, code: ErrorCode = 'INPUT_MALFORMED'): unknown[] {
  if (!Array.isArray(v)) throw new SsfError(code, `${what} must be an array`);
  return v;
}
