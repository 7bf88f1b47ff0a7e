import { SsfError } from './errors.js';

/**
 * Canonical JSON (RFC 8785 JCS for the values ssf emits: objects with sorted keys, no
 * whitespace, ECMAScript number and string serialisation). Used for signed entry timestamps
 * and transparency-log entry bodies, where the bytes signed must be reproducible by others.
 */
export function canonicalize(value: unknown): string {
  if (value === null) return 'null';
  switch (typeof value) {
    case 'boolean':
      return value ? 'true' : 'false';
    case 'number':
      if (!Number.isFinite(value)) throw new SsfError('INPUT_MALFORMED', 'cannot canonicalize a non-finite number');
      return JSON.stringify(value);
    case 'string':
      return JSON.stringify(value);
    case 'object': {
      if (Array.isArray(value)) return '[' + value.map((v) => canonicalize(v)).join(',') + ']';
      const obj = value as Record<string, unknown>;
      // JCS sorts by UTF-16 code units, which is what the default sort does.
      const keys = Object.keys(obj).filter((k) => obj[k] !== undefined).sort();
      return '{' + keys.map((k) => JSON.stringify(k) + ':' + canonicalize(obj[k])).join(',') + '}';
    }
    default:
      throw new SsfError('INPUT_MALFORMED', `cannot canonicalize a value of type ${typeof value}`);
  }
}
