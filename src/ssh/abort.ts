/** Small helpers for deadlines and cancellation; every wait in the engine goes through them. */
import { setMaxListeners } from "node:events";
import { ScoutError, abortError } from "../errors.js";

/** Resolves or rejects with `promise`, or rejects as soon as `signal` aborts (the work itself goes on). */
export function raceSignal<T>(
  promise: Promise<T>,
  signal: AbortSignal | undefined,
  what: string,
): Promise<T> {
  if (!signal) return promise;
  if (signal.aborted) {
    // Nobody waits for `promise` any more; its own rejection (the aborted work) must not become
    // an unhandled rejection, which ends the process: a call cancelled before it got here did.
    promise.catch(() => {});
    return Promise.reject(abortError(signal, what));
  }
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(abortError(signal, what));
    signal.addEventListener("abort", onAbort, { once: true });
    promise.then(
      (v) => {
        signal.removeEventListener("abort", onAbort);
        resolve(v);
      },
      (e: unknown) => {
        signal.removeEventListener("abort", onAbort);
        reject(e);
      },
    );
  });
}

/** A signal that aborts when any input aborts or after `timeoutMs` with a ScoutError("timeout"). */
export function deadlineSignal(
  timeoutMs: number,
  message: string,
  ...signals: Array<AbortSignal | undefined>
): { signal: AbortSignal; dispose: () => void } {
  const controller = new AbortController();
  // One request's signal is shared by every host of a broadcast (one listener each): not a leak.
  setMaxListeners(1000, controller.signal);
  const timer = setTimeout(() => controller.abort(new ScoutError("timeout", message)), timeoutMs);
  timer.unref();
  const cleanups: Array<() => void> = [];
  for (const s of signals) {
    if (!s) continue;
    if (s.aborted) {
      controller.abort(s.reason);
      break;
    }
    const onAbort = () => controller.abort(s.reason);
    s.addEventListener("abort", onAbort, { once: true });
    cleanups.push(() => s.removeEventListener("abort", onAbort));
  }
  return {
    signal: controller.signal,
    dispose: () => {
      clearTimeout(timer);
      for (const c of cleanups) c();
    },
  };
}
