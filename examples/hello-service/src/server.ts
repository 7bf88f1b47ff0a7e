import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';

/** The greeting for a name; names are trimmed and limited to 64 characters. */
export function greeting(name: string | null): string {
  const who = (name ?? '').trim().slice(0, 64);
  return `hello, ${who === '' ? 'world' : who}`;
}

function send(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

/** Routes one request: GET /health, GET /hello?name=…; anything else is 404 or 405. */
export function handle(req: IncomingMessage, res: ServerResponse): void {
  const url = new URL(req.url ?? '/', 'http://localhost');
  if (req.method !== 'GET') return send(res, 405, { error: 'method not allowed' });
  if (url.pathname === '/health') return send(res, 200, { status: 'ok' });
  if (url.pathname === '/hello') return send(res, 200, { message: greeting(url.searchParams.get('name')) });
  send(res, 404, { error: 'not found' });
}

/** An HTTP server for the service (not yet listening). */
export function createService(): Server {
  return createServer(handle);
}
