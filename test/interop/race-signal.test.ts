/**
 * A call cancelled before the pipeline raced it against its signal left the work's own rejection
 * unhandled, and Node ended the stdio server ("Connection closed" in the Python client after a
 * few of 100 quick cancels).
 */
import { describe, expect, it } from "vitest";
import { raceSignal } from "../../src/ssh/abort.js";

describe("raceSignal on a signal already aborted", () => {
  it("rejects at once and leaves no unhandled rejection behind when the work fails later", async () => {
    const unhandled: unknown[] = [];
    const onUnhandled = (e: unknown) => unhandled.push(e);
    process.on("unhandledRejection", onUnhandled);
    try {
      const c = new AbortController();
      c.abort(new Error("cancelled by the client"));
      const work = new Promise<never>((_, reject) =>
        setTimeout(() => reject(new Error("the command was cancelled")), 10),
      );
      await expect(raceSignal(work, c.signal, "the call")).rejects.toThrow();
      await new Promise((r) => setTimeout(r, 50));
      expect(unhandled).toEqual([]);
    } finally {
      process.off("unhandledRejection", onUnhandled);
    }
  });
});
