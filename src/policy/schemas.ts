import { readFileSync } from 'node:fs';
import { SsfError } from '../core/index.js';

/** The policy schemas ship with the package in schema/policy/ (package.json "files"). */
const SCHEMA_DIR = new URL('../../../schema/policy/', import.meta.url);

const cache = new Map<string, object>();

/** One of the bundled policy schemas, parsed once. */
export function readSchema(name: string): object {
  let s = cache.get(name);
  if (!s) {
    try {
      s = JSON.parse(readFileSync(new URL(name, SCHEMA_DIR), 'utf8')) as object;
    } catch (e) {
      throw new SsfError('FILE_NOT_FOUND', `the bundled schema policy/${name} could not be read from ${SCHEMA_DIR.pathname}: ${(e as Error).message}; reinstall ssf`, { cause: e });
    }
    cache.set(name, s);
  }
  return s;
}
