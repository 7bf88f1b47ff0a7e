import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { writeFileAtomic } from './files.js';

test('writeFileAtomic replaces a regular file and leaves no temporary behind', () => {
  const dir = mkdtempSync(join(tmpdir(), 'ssf-files-'));
  try {
    const p = join(dir, 'a.json');
    writeFileAtomic(p, 'one');
    writeFileAtomic(p, 'two');
    assert.equal(readFileSync(p, 'utf8'), 'two');
    assert.deepEqual(readdirSync(dir), ['a.json']);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('writeFileAtomic writes into a device instead of renaming over it (--output /dev/null)', () => {
  writeFileAtomic('/dev/null', 'discarded');
  assert.ok(statSync('/dev/null').isCharacterDevice(), '/dev/null is still a character device');
});
