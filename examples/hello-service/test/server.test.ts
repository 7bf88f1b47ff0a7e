import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { AddressInfo } from 'node:net';
import { createService, greeting } from '../src/server.js';

test('greeting defaults to world and trims names', () => {
  assert.equal(greeting(null), 'hello, world');
  assert.equal(greeting('  ada '), 'hello, ada');
  assert.equal(greeting('x'.repeat(100)).length, 'hello, '.length + 64);
});

// The sandbox has a loopback-only network namespace; binding 127.0.0.1 works there.
test('the server answers /health and /hello and refuses other routes', async () => {
  const server = createService();
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as AddressInfo;
  try {
    const health = await fetch(`http://127.0.0.1:${port}/health`);
    assert.deepEqual(await health.json(), { status: 'ok' });
    const hello = await fetch(`http://127.0.0.1:${port}/hello?name=ssf`);
    assert.deepEqual(await hello.json(), { message: 'hello, ssf' });
    assert.equal((await fetch(`http://127.0.0.1:${port}/nope`)).status, 404);
    assert.equal((await fetch(`http://127.0.0.1:${port}/health`, { method: 'POST' })).status, 405);
  } finally {
    server.close();
  }
});
