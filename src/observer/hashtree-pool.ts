/**
 * The pool of hashing workers behind hashTree. Workers are created on first use and kept for
 * later calls; a worker is ref'd only while it has batches in flight, so an idle pool never
 * keeps the process alive. Several hashTree calls may share the pool; each batch carries its job.
 */
import { Worker } from 'node:worker_threads';
import type { HashFailure } from './hashtree-file.js';

/** A batch sent to a worker: paths relative to `root`; kinds[i] is 0 for a regular file, 1 for a symlink. */
export interface BatchRequest {
  readonly id: number;
  readonly root: string;
  readonly paths: string[];
  readonly kinds: Uint8Array;
}

/** A worker's answer: 64 hex characters per path, concatenated, or the first failure in the batch. */
export type BatchReply =
  | { readonly id: number; readonly hex: string; readonly sizes: Float64Array; readonly modes: Uint16Array; readonly failure?: undefined }
  | { readonly id: number; readonly failure: HashFailure & { readonly index: number } };

type Done = (reply: BatchReply | Error) => void;
interface Pending {
  readonly req: BatchRequest;
  readonly done: Done;
  /** Checked just before dispatch, so a failed job's queued batches are dropped. */
  readonly live: () => boolean;
}
interface Slot {
  readonly worker: Worker;
  readonly inflight: Map<number, Pending>;
}

/** Batches kept in flight per worker, so a worker never waits for the main thread between batches. */
const AHEAD = 2;
const WORKER_URL = new URL('./hashtree-worker.js', import.meta.url);

export class HashPool {
  private readonly slots: Slot[] = [];
  private readonly queue: Pending[] = [];
  private nextId = 1;

  /** Queues one batch; `done` is called exactly once with the reply or a worker crash. */
  submit(root: string, paths: string[], kinds: Uint8Array, workers: number, live: () => boolean, done: Done): void {
    this.grow(workers);
    this.queue.push({ req: { id: this.nextId++, root, paths, kinds }, done, live });
    this.pump();
  }

  private grow(n: number): void {
    while (this.slots.length < n) {
      const slot: Slot = { worker: new Worker(WORKER_URL, { execArgv: [] }), inflight: new Map() };
      slot.worker.unref();
      slot.worker.on('message', (reply: BatchReply) => this.onReply(slot, reply));
      slot.worker.on('error', (e: Error) => this.onCrash(slot, e));
      slot.worker.on('exit', (code: number) => this.onCrash(slot, new Error(`hashing worker exited with code ${code}`)));
      this.slots.push(slot);
    }
  }

  private pump(): void {
    for (;;) {
      let best: Slot | undefined;
      for (const s of this.slots) if (s.inflight.size < AHEAD && (best === undefined || s.inflight.size < best.inflight.size)) best = s;
      if (best === undefined) return;
      let next: Pending | undefined;
      while ((next = this.queue.shift()) !== undefined && !next.live()) {
        // dropped: its job has already failed
      }
      if (next === undefined) return;
      if (best.inflight.size === 0) best.worker.ref();
      best.inflight.set(next.req.id, next);
      best.worker.postMessage(next.req);
    }
  }

  private onReply(slot: Slot, reply: BatchReply): void {
    const p = slot.inflight.get(reply.id);
    if (p === undefined) return;
    slot.inflight.delete(reply.id);
    if (slot.inflight.size === 0) slot.worker.unref();
    this.pump();
    p.done(reply);
  }

  private onCrash(slot: Slot, e: Error): void {
    const i = this.slots.indexOf(slot);
    if (i < 0) return;
    this.slots.splice(i, 1);
    slot.worker.removeAllListeners();
    void slot.worker.terminate();
    const lost = [...slot.inflight.values()];
    slot.inflight.clear();
    // With no worker left nothing would ever take the queue: fail it rather than hang.
    if (this.slots.length === 0) lost.push(...this.queue.splice(0));
    for (const p of lost) p.done(e);
    this.pump();
  }
}

let shared: HashPool | undefined;

/** The process-wide pool. */
export function sharedPool(): HashPool {
  return (shared ??= new HashPool());
}
