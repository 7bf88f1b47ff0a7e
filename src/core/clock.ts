/** Time source, injected so expiry and rollback can be tested deterministically. */
export interface Clock {
  now(): Date;
}

export const systemClock: Clock = { now: () => new Date() };

/** A clock fixed at (and movable from) a given instant, for tests. */
export class FixedClock implements Clock {
  private t: number;
  constructor(at: Date | string | number) {
    this.t = new Date(at).getTime();
  }
  now(): Date {
    return new Date(this.t);
  }
  advance(ms: number): void {
    this.t += ms;
  }
}
