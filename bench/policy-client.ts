/**
 * The HTTPS client of the admission benchmark, run in a worker thread so that the webhook
 * server keeps the main thread: `clients` concurrent request loops over one keep-alive agent,
 * each sending the same AdmissionReview `perClient` times (bounded by `maxMs`), to 127.0.0.1 only.
 */
import { Agent, request } from 'node:https';
import type { TLSSocket } from 'node:tls';
import { parentPort, workerData } from 'node:worker_threads';

export interface ClientTask {
  readonly url: string;
  readonly caPem: string;
  readonly body: string;
  readonly clients: number;
  readonly perClient: number;
  /** Untimed requests per client first. */
  readonly warmup: number;
  /** Stop early after this long. */
  readonly maxMs: number;
}

export interface ClientResult {
  readonly ok: number;
  readonly failed: number;
  readonly firstError?: string;
  readonly perSecond: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
  readonly protocol: string;
}

function post(agent: Agent, url: URL, caPem: string, body: string): Promise<{ allowed: boolean; protocol: string }> {
  return new Promise((resolve, reject) => {
    const req = request(url, { method: 'POST', agent, ca: caPem, servername: 'localhost', headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) } }, (res) => {
      // Read now: with keep-alive the socket goes back to the agent when the response ends.
      const protocol = (res.socket as TLSSocket | null)?.getProtocol?.() ?? '';
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        try {
          const j = JSON.parse(Buffer.concat(chunks).toString('utf8')) as { response?: { allowed?: boolean } };
          resolve({ allowed: res.statusCode === 200 && j.response?.allowed === true, protocol: protocol ?? '' });
        } catch (e) {
          reject(e as Error);
        }
      });
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(body);
  });
}

async function main(task: ClientTask): Promise<ClientResult> {
  const url = new URL(task.url);
  if (url.hostname !== '127.0.0.1' && url.hostname !== 'localhost') throw new Error('the benchmark client only talks to the loopback address');
  const agent = new Agent({ keepAlive: true, maxSockets: task.clients, ca: task.caPem });
  let protocol = '';
  let failed = 0;
  let firstError: string | undefined;
  const lat: number[] = [];
  const one = async (timed: boolean): Promise<void> => {
    const t0 = process.hrtime.bigint();
    try {
      const r = await post(agent, url, task.caPem, task.body);
      protocol = r.protocol;
      if (!r.allowed) {
        failed++;
        firstError ??= 'not allowed';
      } else if (timed) {
        lat.push(Number(process.hrtime.bigint() - t0) / 1e6);
      }
    } catch (e) {
      failed++;
      firstError ??= (e as Error).message;
    }
  };
  await Promise.all(Array.from({ length: task.clients }, async () => { for (let i = 0; i < task.warmup; i++) await one(false); }));
  const start = process.hrtime.bigint();
  const deadline = start + BigInt(task.maxMs) * 1_000_000n;
  await Promise.all(Array.from({ length: task.clients }, async () => {
    for (let i = 0; i < task.perClient && process.hrtime.bigint() < deadline; i++) await one(true);
  }));
  const seconds = Number(process.hrtime.bigint() - start) / 1e9;
  agent.destroy();
  const s = [...lat].sort((a, b) => a - b);
  const q = (p: number): number => s[Math.min(s.length - 1, Math.max(0, Math.ceil(p * s.length) - 1))] ?? NaN;
  return { ok: lat.length, failed, ...(firstError ? { firstError } : {}), perSecond: lat.length / seconds, p50Ms: q(0.5), p99Ms: q(0.99), protocol };
}

if (parentPort) {
  const port = parentPort;
  main(workerData as ClientTask).then((r) => port.postMessage(r), (e: unknown) => { throw e; });
}
