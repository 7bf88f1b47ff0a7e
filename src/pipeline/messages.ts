import type { ErrorObject } from 'ajv/dist/2020.js';
import type { JsonPath, Locator, Problem } from './source.js';
import { TASK_KINDS, TASK_KIND_NAMES } from './types.js';

/**
 * Turns ajv's errors into one-line messages placed at the YAML node they concern:
 * "task build: run.timeoutSeconds must be an integer" at the value, "unknown field" at the key.
 */

const BLOCKS = new Set<string>(TASK_KIND_NAMES.map((k) => TASK_KINDS[k]));

function pointerToPath(pointer: string): (string | number)[] {
  if (pointer === '') return [];
  return pointer.slice(1).split('/').map((s) => s.replace(/~1/g, '/').replace(/~0/g, '~'));
}

function at(value: unknown, path: JsonPath): unknown {
  let v = value;
  for (const seg of path) {
    if (v === null || typeof v !== 'object') return undefined;
    v = (v as Record<string, unknown>)[String(seg)];
  }
  return v;
}

/** "task build" / "param mode" / "" for the top level, and the rest of the path as a field. */
function describe(value: unknown, path: JsonPath): { subject: string; field: string } {
  const collections: Record<string, string> = { tasks: 'task', params: 'param', tools: 'tool', workspaces: 'workspace' };
  let subject = '';
  let rest = path;
  const head = path[0];
  if (typeof head === 'string' && collections[head] && path.length >= 2) {
    const name = at(value, [head, path[1] as string, 'name']);
    subject = typeof name === 'string' && name !== '' ? `${collections[head]} ${name}` : `${head}[${String(path[1])}]`;
    rest = path.slice(2);
  }
  let field = '';
  for (const seg of rest) field += /^\d+$/.test(String(seg)) ? `[${String(seg)}]` : `${field ? '.' : ''}${String(seg)}`;
  return { subject, field };
}

function typeName(t: unknown): string {
  const names: Record<string, string> = { string: 'a string', integer: 'an integer', number: 'a number', boolean: 'a boolean (true or false)', object: 'a mapping', array: 'a list', null: 'empty' };
  if (Array.isArray(t)) {
    const parts = t.map((x) => String(x));
    return parts.length > 1 ? `a ${parts.slice(0, -1).join(', ')} or ${parts[parts.length - 1]}` : typeName(parts[0]);
  }
  return names[String(t)] ?? String(t);
}

function kindOf(data: unknown): string {
  if (data === null) return 'empty';
  if (Array.isArray(data)) return 'a list';
  if (typeof data === 'object') return 'a mapping';
  return `${typeof data === 'string' ? 'a string' : typeof data === 'number' ? 'a number' : typeof data === 'boolean' ? 'a boolean' : typeof data}`;
}

/** The problems for one validation of `value`, positioned through loc. */
export function schemaProblems(errors: readonly ErrorObject[], value: unknown, loc: Locator): Problem[] {
  const out: Problem[] = [];
  const seen = new Set<string>();
  for (const e of errors) {
    // `if` only says which `then` applied; the `then` errors say what is wrong. Errors from
    // inside a oneOf branch are summarised by the oneOf error itself; those from inside
    // propertyNames by the propertyNames error.
    if (e.keyword === 'if') continue;
    if (/\/oneOf\/\d+\//.test(e.schemaPath)) continue;
    if (e.keyword !== 'propertyNames' && ((e.params as { propertyName?: string }).propertyName !== undefined || e.schemaPath.includes('/propertyNames/'))) continue;

    const path = pointerToPath(e.instancePath);
    const { subject, field } = describe(value, path);
    const lead = subject ? `${subject}: ` : '';
    let text: string;
    let where: JsonPath = path;
    let key = false;
    const p = e.params as Record<string, unknown>;
    switch (e.keyword) {
      case 'required': {
        const missing = String(p.missingProperty);
        const kind = at(value, [...path, 'kind']);
        if (path[0] === 'tasks' && path.length === 2 && BLOCKS.has(missing) && e.schemaPath.includes('/then/')) {
          text = `kind ${String(kind)} needs the ${missing} block`;
        } else {
          text = `missing required field ${missing}${field ? ` in ${field}` : ''}`;
        }
        break;
      }
      case 'additionalProperties': {
        const extra = String(p.additionalProperty);
        const allowed = Object.keys((e.parentSchema as { properties?: object } | undefined)?.properties ?? {});
        where = [...path, extra];
        key = true;
        text = `unknown field ${extra}${field ? ` in ${field}` : ''}${allowed.length ? ` (allowed: ${allowed.join(', ')})` : ''}`;
        break;
      }
      case 'false schema': {
        key = true;
        const last = String(path[path.length - 1]);
        const parent = path.slice(0, -1);
        const { field: parentField } = describe(value, parent);
        if (path[0] === 'tasks' && path.length === 3 && BLOCKS.has(last)) {
          text = `${last} is not allowed in a task of kind ${String(at(value, [...parent, 'kind']))}`;
        } else if (path.includes('artifacts')) {
          text = `${parentField}: ${last} is not allowed for an artifact of type ${String(at(value, [...parent, 'type']))}`;
        } else if (path[0] === 'params') {
          text = `${last} is only allowed for params of type string`;
        } else {
          text = `${field} is not allowed here`;
        }
        break;
      }
      case 'type': {
        const quote = p.type === 'string' && (typeof e.data === 'number' || typeof e.data === 'boolean') ? '; quote the value' : '';
        text = `${field ? `${field} ` : ''}must be ${typeName(p.type)}, not ${kindOf(e.data)}${quote}`;
        break;
      }
      case 'const':
        text = `${field ? `${field} ` : ''}must be ${JSON.stringify(p.allowedValue)}`;
        break;
      case 'enum':
        text = `${field ? `${field} ` : ''}must be one of: ${((p.allowedValues as unknown[]) ?? []).map((x) => String(x)).join(', ')}`;
        break;
      case 'pattern': {
        const desc = (e.parentSchema as { description?: string } | undefined)?.description;
        text = `${field ? `${field} ` : ''}${desc ?? `must match ${String(p.pattern)}`} (got ${JSON.stringify(e.data)})`;
        break;
      }
      case 'minLength':
        text = `${field ? `${field} ` : ''}${p.limit === 1 ? 'must not be empty' : `must have at least ${String(p.limit)} characters`}`;
        break;
      case 'maxLength':
        text = `${field ? `${field} ` : ''}must have at most ${String(p.limit)} characters`;
        break;
      case 'minItems':
        text = `${field ? `${field} ` : ''}must have at least ${String(p.limit)} item${p.limit === 1 ? '' : 's'}`;
        break;
      case 'maxItems':
        text = `${field ? `${field} ` : ''}must have at most ${String(p.limit)} items`;
        break;
      case 'maxProperties':
        text = `${field ? `${field} ` : ''}must have at most ${String(p.limit)} entries`;
        break;
      case 'uniqueItems':
        where = [...path, Number(p.i)];
        text = `${field ? `${field} ` : ''}must not repeat an item (items ${String(p.j)} and ${String(p.i)} are equal)`;
        break;
      case 'minimum':
      case 'maximum':
        text = `${field ? `${field} ` : ''}must be ${String(p.comparison)} ${String(p.limit)}`;
        break;
      case 'oneOf': {
        const branches = (Array.isArray(e.schema) ? e.schema : []) as { required?: string[] }[];
        const names = branches.flatMap((b) => b.required ?? []);
        text = `${field ? `${field} ` : ''}must have exactly one of: ${names.join(', ')}`;
        break;
      }
      case 'propertyNames': {
        const name = String(p.propertyName);
        const desc = (e.schema as { description?: string } | undefined)?.description ?? 'is not allowed';
        where = [...path, name];
        key = true;
        text = `${field ? `${field}: ` : ''}key ${JSON.stringify(name)} ${name === '__proto__' ? 'is not allowed' : desc}`;
        break;
      }
      default:
        text = `${field ? `${field} ` : ''}${e.message ?? 'is invalid'}`;
    }
    const message = `${lead}${text}`;
    const pos = loc.pos(where, { key });
    const id = `${pos.line}:${pos.column}:${message}`;
    if (seen.has(id)) continue;
    seen.add(id);
    out.push({ ...pos, rule: 'schema', severity: 'error', message });
  }
  return out;
}
