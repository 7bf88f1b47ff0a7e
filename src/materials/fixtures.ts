/** Test fixtures for materials: real npm tarballs and an in-process registry serving them over HTTP. */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { gzipSync } from 'node:zlib';
import { pack } from 'tar-stream';
import { tarballPath } from './lockfile.js';
import { sriOf } from './sri.js';

/** A built tarball: `package/package.json` plus the given files, gzipped as npm publishes them. */
export interface Tarball {
  name: string;
  version: string;
  bytes: Buffer;
  integrity: string;
}

export async function makeTarball(name: string, version: string, files: Record<string, string> = {}, extra: Record<string, unknown> = {}): Promise<Tarball> {
  const p = pack();
  const chunks: Buffer[] = [];
  p.on('data', (c: unknown) => chunks.push(c as Buffer));
  const done = new Promise<void>((res, rej) => {
    p.on('end', () => res());
    p.on('error', rej);
  });
  const all: Record<string, string> = { 'package.json': JSON.stringify({ name, version, license: 'MIT', ...extra }), ...files };
  for (const [f, content] of Object.entries(all)) p.entry({ name: `package/${f}`, mode: 0o644, mtime: new Date(499162500000) }, content);
  p.finalize();
  await done;
  const bytes = gzipSync(Buffer.concat(chunks));
  return { name, version, bytes, integrity: sriOf(bytes, 'sha512') };
}

/** An HTTP server on 127.0.0.1 answering GET <base>/<name>/-/<file>.tgz from a table; counts requests. */
export class FakeRegistry {
  readonly files = new Map<string, Buffer>();
  readonly requests: string[] = [];
  /** Paths answered with HTTP 500 this many times before succeeding. */
  readonly flaky = new Map<string, number>();
  private server: Server | undefined;
  url = '';

  add(t: Tarball, bytes: Buffer = t.bytes): void {
    this.files.set('/' + tarballPath(t.name, t.version), bytes);
  }

  async start(): Promise<string> {
    this.server = createServer((req, res) => {
      const path = decodeURIComponent(new URL(req.url ?? '/', 'http://x').pathname);
      this.requests.push(path);
      const left = this.flaky.get(path) ?? 0;
      if (left > 0) {
        this.flaky.set(path, left - 1);
        res.writeHead(500).end('try again');
        return;
      }
      const body = this.files.get(path);
      if (req.method !== 'GET' || !body) {
        res.writeHead(404, { 'content-type': 'application/json' }).end('{"error":"Not found"}');
        return;
      }
      res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': body.length }).end(body);
    });
    await new Promise<void>((res) => this.server?.listen(0, '127.0.0.1', () => res()));
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
    return this.url;
  }

  async stop(): Promise<void> {
    await new Promise<void>((res) => (this.server ? this.server.close(() => res()) : res()));
  }
}

/** A v3 lockfile text for a root project depending on the given tarballs (no `resolved`, as this machine's npm writes them). */
export function lockfileFor(project: string, deps: Tarball[], extra: Record<string, Record<string, unknown>> = {}): string {
  const dependencies = Object.fromEntries(deps.map((d) => [d.name, d.version]));
  const packages: Record<string, unknown> = { '': { name: project, version: '1.0.0', dependencies } };
  for (const d of deps) packages[`node_modules/${d.name}`] = { version: d.version, integrity: d.integrity, license: 'MIT', ...(extra[d.name] ?? {}) };
  return JSON.stringify({ name: project, version: '1.0.0', lockfileVersion: 3, requires: true, packages }, null, 2);
}
