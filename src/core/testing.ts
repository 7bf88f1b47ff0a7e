import assert from 'node:assert/strict';
import { isSsfError, type ErrorCode } from './errors.js';

/** Test helper: asserts `fn` throws an SsfError with exactly `code`, naming what was thrown otherwise. */
export function throwsCode(fn: () => unknown, code: ErrorCode): void {
  assert.throws(fn, (e: unknown) => {
    if (isSsfError(e, code)) return true;
    assert.fail(`expected SsfError ${code}, got ${isSsfError(e) ? `SsfError ${e.code}: ${e.message}` : String(e)}`);
  });
}

/** Test helper: the async form of throwsCode. */
export async function rejectsCode(p: Promise<unknown>, code: ErrorCode): Promise<void> {
  await assert.rejects(p, (e: unknown) => {
    if (isSsfError(e, code)) return true;
    assert.fail(`expected SsfError ${code}, got ${isSsfError(e) ? `SsfError ${e.code}: ${e.message}` : String(e)}`);
  });
}
