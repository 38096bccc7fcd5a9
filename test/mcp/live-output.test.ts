/** The live-output throttler (pure logic, a fake clock): lines only, bounded rate and size. */
import { afterEach, describe, expect, it, vi } from "vitest";
import { LiveOutput } from "../../src/mcp/live-output.js";

afterEach(() => vi.useRealTimers());

function recorder(opts: { intervalMs?: number; maxBytes?: number } = {}) {
  vi.useFakeTimers();
  const sent: Array<{ progress: number; message: string }> = [];
  const live = new LiveOutput({
    send: (progress, message) => sent.push({ progress, message }),
    now: () => Date.now(),
    ...opts,
  });
  return { live, sent };
}

describe("LiveOutput", () => {
  it("sends complete lines at once, then at most one message per interval", () => {
    const { live, sent } = recorder({ intervalMs: 250 });
    live.push(Buffer.from("a\nb"));
    expect(sent).toEqual([{ progress: 2, message: "a" }]);
    live.push("c\nd\n");
    expect(sent).toHaveLength(1); // within the interval: held
    vi.advanceTimersByTime(250);
    expect(sent[1]).toEqual({ progress: 7, message: "bc\nd" }); // bytes up to the end of "d\n"
    live.push("tail without newline");
    live.close();
    expect(sent[2]!.message).toBe("tail without newline");
    expect(sent[2]!.progress).toBeGreaterThan(sent[1]!.progress);
  });

  it("keeps the newest lines that fit a message and says how much was not shown", () => {
    const { live, sent } = recorder({ intervalMs: 250, maxBytes: 20 });
    live.push("first\n"); // sent at once
    for (let i = 0; i < 10; i++) live.push(`line ${i}\n`);
    vi.advanceTimersByTime(250);
    expect(sent[1]!.message).toMatch(/^\[… \d+ bytes not shown live\]\n(line \d\n)*line 9$/);
    expect(Buffer.byteLength(sent[1]!.message.split("\n").slice(1).join("\n"))).toBeLessThanOrEqual(20);
  });

  it("decodes a UTF-8 character split across chunks, and shows a never-ending line, cut to the size bound, once it fills a message", () => {
    const { live, sent } = recorder({ maxBytes: 8 });
    const e = Buffer.from("é\n");
    live.push(e.subarray(0, 1));
    live.push(e.subarray(1));
    expect(sent[0]!.message).toBe("é");
    vi.advanceTimersByTime(1000);
    live.push("0123456789");
    vi.advanceTimersByTime(1000);
    expect(sent[1]!.message).toBe("[… 3 bytes not shown live]\n3456789");
    live.close();
    expect(sent).toHaveLength(2);
  });
});
