/**
 * Backpressure for tool calls: at most `maxConcurrent` run at once, at most `maxQueued` wait (FIFO);
 * past that a call is refused at once instead of piling up.
 */
import { ScoutError, abortError } from "../errors.js";

interface Waiter {
  resolve: (release: () => void) => void;
  reject: (e: unknown) => void;
  signal: AbortSignal | undefined;
  onAbort: () => void;
}

export class ConcurrencyLimiter {
  private running = 0;
  private readonly queue: Waiter[] = [];

  constructor(
    private readonly maxConcurrent: number,
    private readonly maxQueued: number,
  ) {}

  get active(): number {
    return this.running;
  }

  get waiting(): number {
    return this.queue.length;
  }

  /** Resolves with a release function once the call may run. */
  acquire(signal?: AbortSignal): Promise<() => void> {
    if (this.running < this.maxConcurrent && this.queue.length === 0) {
      this.running++;
      return Promise.resolve(this.releaser());
    }
    if (this.queue.length >= this.maxQueued) {
      return Promise.reject(
        new ScoutError("refused", "server busy", {
          hint: `${this.running} calls running and ${this.queue.length} queued; retry shortly`,
        }),
      );
    }
    if (signal?.aborted) return Promise.reject(abortError(signal, "Waiting for a free slot"));
    return new Promise((resolve, reject) => {
      const waiter: Waiter = {
        resolve,
        reject,
        signal,
        onAbort: () => {
          const i = this.queue.indexOf(waiter);
          if (i >= 0) this.queue.splice(i, 1);
          reject(abortError(signal, "Waiting for a free slot"));
        },
      };
      signal?.addEventListener("abort", waiter.onAbort, { once: true });
      this.queue.push(waiter);
    });
  }

  private releaser(): () => void {
    let done = false;
    return () => {
      if (done) return;
      done = true;
      const next = this.queue.shift();
      if (next) {
        next.signal?.removeEventListener("abort", next.onAbort);
        next.resolve(this.releaser());
      } else {
        this.running--;
      }
    };
  }
}
