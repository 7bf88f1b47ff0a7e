import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Ajv2020 } from 'ajv/dist/2020.js';
import { parse } from 'yaml';
import { pipelineSchema } from './index.js';
import { CLEAN, edit } from './testdata.js';

const FILE = fileURLToPath(new URL('../../../schema/pipeline.schema.json', import.meta.url));

test('schema/pipeline.schema.json is exactly pipelineSchema()', () => {
  const text = readFileSync(FILE, 'utf8');
  assert.equal(
    text,
    JSON.stringify(pipelineSchema(), null, 2) + '\n',
    'regenerate with: node -e "import(\'./dist/src/pipeline/index.js\').then(m=>process.stdout.write(JSON.stringify(m.pipelineSchema(),null,2)+\'\\n\'))" > schema/pipeline.schema.json',
  );
});

test('pipelineSchema returns a fresh copy each time', () => {
  const a = pipelineSchema() as Record<string, unknown>;
  a.title = 'changed';
  assert.notEqual((pipelineSchema() as Record<string, unknown>).title, 'changed');
});

test('the published schema is a valid draft 2020-12 schema that a stock validator can use', () => {
  const ajv = new Ajv2020({ strict: false });
  assert.ok(ajv.validateSchema(pipelineSchema()), JSON.stringify(ajv.errors));
  const validate = ajv.compile(pipelineSchema());
  assert.ok(validate(parse(CLEAN)), JSON.stringify(validate.errors));
  assert.equal(validate(parse(edit(CLEAN, 'kind: run', 'kind: compile'))), false);
  // Kind and block must agree in the schema too, not only in ssf's own checks.
  assert.equal(validate(parse(edit(CLEAN, '    source: { path: . }\n', ''))), false);
  assert.equal(validate(parse(edit(CLEAN, '    kind: run\n', '    kind: run\n    source: { path: . }\n'))), false);
});
