import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { request } from 'node:https';
import { homedir } from 'node:os';
import { Readable } from 'node:stream';
import { rootCertificates } from 'node:tls';

let cachedCa: string[] | null | undefined;

/**
 * The CA bundle npm is configured with (`cafile`), added to Node's own roots, when
 * NODE_EXTRA_CA_CERTS is not already set: on networks that re-sign TLS, npm works through its
 * cafile, and the mirror must trust exactly what npm trusts. Null when there is nothing to add.
 */
function npmCa(): string[] | null {
  if (cachedCa !== undefined) return cachedCa;
  cachedCa = null;
  if (process.env.NODE_EXTRA_CA_CERTS) return cachedCa;
  const r = spawnSync('npm', ['config', 'get', 'cafile'], { cwd: homedir(), encoding: 'utf8', timeout: 60_000, stdio: ['ignore', 'pipe', 'ignore'] });
  const file = r.status === 0 ? r.stdout.trim() : '';
  if (file !== '' && file !== 'null' && file !== 'undefined' && existsSync(file)) cachedCa = [...rootCertificates, readFileSync(file, 'utf8')];
  return cachedCa;
}

/**
 * The fetch the mirror uses by default: the global fetch, or, when npm has a `cafile` that
 * Node does not know about, a GET over node:https with that bundle (redirects followed).
 */
export function registryFetch(): typeof fetch {
  const ca = npmCa();
  if (!ca) return globalThis.fetch;
  const get = (url: string, redirects: number): Promise<Response> => new Promise((resolve, reject) => {
    const req = request(url, { method: 'GET', ca }, (res) => {
      const loc = res.headers.location;
      if (res.statusCode && res.statusCode >= 300 && res.statusCode < 400 && loc && redirects < 5) {
        res.resume();
        get(new URL(loc, url).href, redirects + 1).then(resolve, reject);
        return;
      }
      const headers = new Headers();
      for (const [k, v] of Object.entries(res.headers)) if (typeof v === 'string') headers.set(k, v);
      resolve(new Response(Readable.toWeb(res) as ReadableStream, { status: res.statusCode ?? 500, headers }));
    });
    req.on('error', (e) => reject(Object.assign(new TypeError('fetch failed'), { cause: e })));
    req.end();
  });
  return ((input: string | URL | Request) => get(typeof input === 'string' ? input : input instanceof URL ? input.href : input.url, 0)) as typeof fetch;
}
