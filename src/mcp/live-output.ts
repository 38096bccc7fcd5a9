/**
 * Live output: turns a command's (or a followed job's) output, as it arrives, into progress
 * notifications whose message is the new complete lines. Bounded: at most one notification per
 * `intervalMs` and `maxBytes` of text in each; lines that arrive faster are summarized by a
 * "[… N bytes not shown live]" line (the final answer still has them). `progress` counts the output
 * bytes the notifications have covered so far: each one covers new bytes, so it strictly grows, as
 * MCP requires.
 */
import { StringDecoder } from "node:string_decoder";

export interface LiveOutputOptions {
  /** Sends one notification (the caller's progress reporter). */
  send: (progress: number, message: string) => void;
  intervalMs?: number;
  maxBytes?: number;
  /** For tests. */
  now?: () => number;
}

export const LIVE_INTERVAL_MS = 250;
export const LIVE_MAX_BYTES = 4096;

export class LiveOutput {
  private readonly decoder = new StringDecoder("utf8");
  private readonly interval: number;
  private readonly maxBytes: number;
  private readonly now: () => number;
  /** Complete lines waiting for the next notification, and the line still being written. */
  private pending = "";
  private partial = "";
  private skipped = 0;
  private covered = 0;
  private lastSent = -Infinity;
  private timer: NodeJS.Timeout | undefined;
  private closed = false;

  constructor(private readonly options: LiveOutputOptions) {
    this.interval = options.intervalMs ?? LIVE_INTERVAL_MS;
    this.maxBytes = options.maxBytes ?? LIVE_MAX_BYTES;
    this.now = options.now ?? (() => performance.now());
  }

  /** New output (bytes are decoded across chunk boundaries; text is taken as is). */
  push(chunk: Buffer | string): void {
    if (this.closed) return;
    const text = typeof chunk === "string" ? chunk : this.decoder.write(chunk);
    const all = this.partial + text;
    const cut = all.lastIndexOf("\n");
    if (cut < 0) {
      this.partial = all;
      // A "line" that never ends (a progress bar) is shown once it fills a message.
      if (Buffer.byteLength(this.partial) < this.maxBytes) return;
      this.add(this.partial, true);
      this.partial = "";
    } else {
      this.add(all.slice(0, cut + 1));
      this.partial = all.slice(cut + 1);
    }
    this.schedule();
  }

  /** Sends what is left (the last partial line too) and stops. */
  close(): void {
    if (this.closed) return;
    const rest = this.partial + this.decoder.end();
    this.partial = "";
    if (rest) this.add(rest, true);
    this.flush();
    this.closed = true;
    clearTimeout(this.timer);
  }

  private add(text: string, endLine = false): void {
    this.covered += Buffer.byteLength(text);
    this.pending += endLine && !text.endsWith("\n") ? text + "\n" : text;
    // Keep only the newest lines that fit one message; count what is dropped.
    const size = Buffer.byteLength(this.pending);
    if (size > this.maxBytes) {
      let keep = this.pending.slice(-this.maxBytes);
      const nl = keep.indexOf("\n");
      if (nl >= 0 && nl < keep.length - 1) keep = keep.slice(nl + 1);
      this.skipped += size - Buffer.byteLength(keep);
      this.pending = keep;
    }
  }

  private schedule(): void {
    if (this.timer || this.pending === "") return;
    const wait = this.lastSent + this.interval - this.now();
    if (wait <= 0) {
      this.flush();
      return;
    }
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.flush();
    }, wait);
    this.timer.unref();
  }

  private flush(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
    if (this.pending === "" && this.skipped === 0) return;
    const note = this.skipped > 0 ? `[… ${this.skipped} bytes not shown live]\n` : "";
    const message = (note + this.pending).replace(/\n$/, "");
    this.pending = "";
    this.skipped = 0;
    this.lastSent = this.now();
    this.options.send(this.covered, message);
  }
}
