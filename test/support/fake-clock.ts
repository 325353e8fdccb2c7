import type { Clock } from '../../functions/execute-comfyui-workflow/ports.js';

interface Timer {
  at: number;
  order: number;
  fire: () => void;
}

/**
 * Virtual time for timing logic: nothing happens until the test runs the clock, which jumps from
 * one timer to the next, letting the code under test react (microtasks, then an immediate) after
 * each. Code under test must do its I/O through fakes that answer without real timers.
 */
export class FakeClock implements Clock {
  private time = 0;
  private order = 0;
  private timers: Timer[] = [];

  now = (): number => this.time;

  sleep = (ms: number, signal?: AbortSignal): Promise<void> =>
    new Promise((resolve, reject) => {
      if (signal?.aborted) return reject(signal.reason);
      const onAbort = () => {
        this.timers = this.timers.filter((t) => t !== timer);
        reject(signal?.reason);
      };
      const timer = this.schedule(this.time + Math.max(0, ms), () => {
        signal?.removeEventListener('abort', onAbort);
        resolve();
      });
      signal?.addEventListener('abort', onAbort, { once: true });
    });

  /** Runs fn when virtual time reaches `time`. */
  at(time: number, fn: () => void): void {
    this.schedule(time, fn);
  }

  /** Runs timers in order until the promise settles; throws if it would need time beyond limitMs. */
  async run<T>(promise: Promise<T>, limitMs = 24 * 3_600_000): Promise<T> {
    let settled = false;
    promise.then(
      () => (settled = true),
      () => (settled = true),
    );
    for (;;) {
      await new Promise((resolve) => setImmediate(resolve));
      if (settled) return promise;
      const next = this.timers.reduce<Timer | undefined>((a, b) => (!a || b.at < a.at || (b.at === a.at && b.order < a.order) ? b : a), undefined);
      if (!next) throw new Error(`stuck at ${this.time} ms: not settled and no timer left`);
      if (next.at > limitMs) throw new Error(`not settled by ${limitMs} ms`);
      this.timers = this.timers.filter((t) => t !== next);
      this.time = Math.max(this.time, next.at);
      next.fire();
    }
  }

  private schedule(at: number, fire: () => void): Timer {
    const timer = { at, order: this.order++, fire };
    this.timers.push(timer);
    return timer;
  }
}
