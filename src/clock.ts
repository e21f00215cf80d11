/**
 * Time comes from here, never from `new Date()` in the domain, so that tests and the
 * control API can move it forward (token expiry, resize auto-confirm, reclaim …) at once.
 */
/** The last moment every part of Nimbus can write and read back: ISO 8601 has four-digit years. */
export const LATEST_TIME_MS = Date.UTC(9999, 11, 31, 23, 59, 59);

export class Clock {
  private offsetMs = 0;

  now(): Date {
    return new Date(Date.now() + this.offsetMs);
  }

  nowMs(): number {
    return Date.now() + this.offsetMs;
  }

  private readonly listeners: (() => void)[] = [];

  /** Moves time forward (or back) and lets periodic jobs see the new time at once. */
  advance(ms: number): void {
    const to = this.nowMs() + ms;
    if (!Number.isFinite(to) || to > LATEST_TIME_MS) throw new RangeError(`The clock cannot move past ${new Date(LATEST_TIME_MS).toISOString()}`);
    this.offsetMs += ms;
    for (const fn of this.listeners) fn();
  }

  onAdvance(fn: () => void): void {
    this.listeners.push(fn);
  }
}

/** ISO 8601 UTC without milliseconds, as OpenStack renders most timestamps. */
export function isoSeconds(date: Date): string {
  return date.toISOString().replace(/\.\d{3}Z$/, 'Z');
}
