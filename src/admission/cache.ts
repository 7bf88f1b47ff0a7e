import { SsfError, type Clock } from '../core/index.js';
import type { ImageDecision } from './decider.js';

/** Options of a DecisionCache. */
export interface DecisionCacheOptions {
  /** How long a decision stays usable; 0 turns the cache off. */
  readonly ttlMs: number;
  readonly maxEntries: number;
  readonly clock: Clock;
}

interface Entry {
  readonly decision: ImageDecision;
  readonly at: number;
}

/**
 * Final deploy decisions by key, each usable for a fixed time from when it was made (never
 * extended by use), least recently used evicted first. Time comes from the injected clock.
 */
export class DecisionCache {
  private readonly entries = new Map<string, Entry>();
  private readonly ttlMs: number;
  private readonly maxEntries: number;
  private readonly clock: Clock;
  hits = 0;
  misses = 0;

  constructor(opts: DecisionCacheOptions) {
    if (!Number.isFinite(opts.ttlMs) || opts.ttlMs < 0) throw new SsfError('USAGE', `cache TTL must be zero or more milliseconds, got ${opts.ttlMs}`);
    if (!Number.isInteger(opts.maxEntries) || opts.maxEntries < 1) throw new SsfError('USAGE', `cache size must be a positive integer, got ${opts.maxEntries}`);
    this.ttlMs = opts.ttlMs;
    this.maxEntries = opts.maxEntries;
    this.clock = opts.clock;
  }

  /** The cached decision, or undefined when absent or expired. */
  get(key: string): ImageDecision | undefined {
    const e = this.entries.get(key);
    if (!e) {
      this.misses++;
      return undefined;
    }
    const age = this.clock.now().getTime() - e.at;
    // A clock that went backwards makes age negative: treat it as expired, not as fresh forever.
    if (age >= this.ttlMs || age < 0) {
      this.entries.delete(key);
      this.misses++;
      return undefined;
    }
    // Map order is insertion order: re-inserting marks it most recently used.
    this.entries.delete(key);
    this.entries.set(key, e);
    this.hits++;
    return e.decision;
  }

  set(key: string, decision: ImageDecision): void {
    if (this.ttlMs === 0) return;
    this.entries.delete(key);
    this.entries.set(key, { decision, at: this.clock.now().getTime() });
    while (this.entries.size > this.maxEntries) {
      const oldest = this.entries.keys().next();
      if (oldest.done) break;
      this.entries.delete(oldest.value);
    }
  }

  get size(): number {
    return this.entries.size;
  }

  clear(): void {
    this.entries.clear();
  }
}
