/**
 * Watching a remote file by SFTP stat polling: quick while it changes, backing off while it does
 * not. A file that grows (a log) reports the appended bytes (the first `appendMax` of them); one
 * that shrinks or changes in place reports a change; one that disappears, once, a deletion. Every
 * poll is one SFTP stat (plus one read when it grew), never an exec, so a watch costs no process
 * on the host.
 */
import { abortError, isScoutError } from "../errors.js";
import type { HostAccess } from "../ssh/types.js";
import type { Limits } from "./limits.js";
import { readFile, statPath } from "./read.js";

export type WatchEvent =
  | { kind: "appended"; size: number; bytes: number; text: string; truncated: boolean }
  | { kind: "changed"; size: number; mtime: Date }
  | { kind: "deleted" }
  | { kind: "error"; message: string };

export interface WatchOptions {
  signal: AbortSignal;
  onEvent: (e: WatchEvent) => void;
  /** Poll interval after a change, and the ceiling it backs off to (ms). */
  minMs?: number;
  maxMs?: number;
  /** Bytes of appended text carried by one event at most. */
  appendMax?: number;
  /**
   * What the file was when the client was told the watch started (the admission's stat): changes
   * from then on are reported, even one that lands before the first poll.
   */
  initial?: WatchBaseline;
}

/** A file's size and mtime (ms), or "missing". */
export type WatchBaseline = { size: number; mtime: number } | "missing";

export const WATCH_MIN_MS = 1000;
export const WATCH_MAX_MS = 15_000;
export const WATCH_APPEND_MAX = 4096;

const sleep = (ms: number, signal: AbortSignal) =>
  new Promise<void>((resolve, reject) => {
    if (signal.aborted) return reject(abortError(signal, "The watch"));
    const onAbort = () => {
      clearTimeout(t);
      reject(abortError(signal, "The watch"));
    };
    const t = setTimeout(() => {
      signal.removeEventListener("abort", onAbort);
      resolve();
    }, ms);
    t.unref();
    signal.addEventListener("abort", onAbort, { once: true });
  });

/** Runs until `signal` aborts; never rejects (failures are events, and polling goes on). */
export async function watchFile(
  host: HostAccess,
  path: string,
  limits: Limits,
  o: WatchOptions,
): Promise<void> {
  const minMs = o.minMs ?? WATCH_MIN_MS;
  const maxMs = o.maxMs ?? WATCH_MAX_MS;
  const appendMax = o.appendMax ?? WATCH_APPEND_MAX;
  let last: WatchBaseline | undefined = o.initial;
  let interval = minMs;
  let failing = false;
  try {
    for (;;) {
      let changed = false;
      try {
        const s = await statPath(host, path, o.signal).catch((e: unknown) => {
          if (isScoutError(e, "not-found")) return undefined;
          throw e;
        });
        failing = false;
        if (!s) {
          if (last !== undefined && last !== "missing") {
            o.onEvent({ kind: "deleted" });
            changed = true;
          }
          last = "missing";
        } else {
          const now = { size: s.size, mtime: s.mtime.getTime() };
          if (last !== undefined && last !== "missing" && now.size > last.size) {
            const r = await readFile(host, path, limits, {
              signal: o.signal,
              offset: last.size,
              length: Math.min(now.size - last.size, appendMax),
            });
            o.onEvent({
              kind: "appended",
              size: now.size,
              bytes: now.size - last.size,
              text: r.binary ? "" : r.content,
              truncated: now.size - last.size > appendMax,
            });
            changed = true;
          } else if (
            last === "missing" ||
            (last !== undefined && (now.size !== last.size || now.mtime !== last.mtime))
          ) {
            o.onEvent({ kind: "changed", size: now.size, mtime: s.mtime });
            changed = true;
          }
          last = now;
        }
      } catch (e) {
        if (o.signal.aborted) return;
        // A host that stops answering is reported once, and polled at the slow pace meanwhile.
        if (!failing) o.onEvent({ kind: "error", message: e instanceof Error ? e.message : String(e) });
        failing = true;
      }
      interval = changed ? minMs : Math.min(maxMs, Math.round(interval * 1.5));
      await sleep(failing ? maxMs : interval, o.signal);
    }
  } catch {
    // aborted: the watch ends with its subscription or its client
  }
}
