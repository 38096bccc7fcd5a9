/**
 * Every answer fits one SSE event of at most 1 MiB (what the Python SDK and fastmcp accept), for
 * the cases that broke them: a read at the 1 MiB cap, a file of newlines (JSON escaping doubles
 * it), a 50 MB file, ~1.5 MB of command output, over HTTP with the default settings.
 */
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startFleet, type LabFleet } from "../fleet/index.js";
import { rawHttp, startHttpScout, type ScoutUnderTest } from "../mcp/harness.js";

const MiB = 1024 * 1024;
let lab: LabFleet;
let scout: ScoutUnderTest;
let h0: string;
let root0: string;

beforeAll(async () => {
  lab = await startFleet({ hosts: 1 });
  h0 = lab.hosts[0]!.alias;
  root0 = lab.hosts[0]!.root;
  await lab.writeFile(join(root0, "newlines.txt"), "\n".repeat(600 * 1024));
  await lab.writeFile(join(root0, "at-cap.txt"), "y".repeat(MiB));
  await lab.writeFile(join(root0, "big.log"), Buffer.alloc(50 * MiB, "log line 0123456789\n"));
  scout = await startHttpScout(lab, { statusCacheTtlMs: 0 });
});

afterAll(async () => {
  await scout?.close();
  await lab?.stop();
});

/** One tool call on a fresh raw session; returns the SSE events' data sizes and the parsed result. */
async function rawCall(args: Record<string, unknown>) {
  const raw = rawHttp(scout.url!);
  await (await raw.initialize()).text();
  await raw.post({ jsonrpc: "2.0", method: "notifications/initialized" });
  const r = await raw.post({
    jsonrpc: "2.0",
    id: 1,
    method: "tools/call",
    params: { name: "scout", arguments: args },
  });
  const body = await r.text();
  await raw.del();
  const events = body.split("\n\n").filter((e) => e.includes("data: "));
  const sizes = events.map((e) => Buffer.byteLength(e, "utf8"));
  const last = events.at(-1)!;
  const msg = JSON.parse(last.slice(last.indexOf("data: ") + 6)) as {
    result: {
      content: Array<{ text: string }>;
      structuredContent?: Record<string, unknown>;
      isError?: boolean;
    };
  };
  return { sizes, result: msg.result, text: msg.result.content.map((c) => c.text).join("") };
}

describe("answers fit one 1 MiB SSE event", () => {
  it("a 600 KB file of newlines (1.2 MB once escaped) is cut with a marker that says how to read on", async () => {
    const { sizes, text, result } = await rawCall({ target: `${h0}:${root0}/newlines.txt` });
    expect(Math.max(...sizes)).toBeLessThanOrEqual(MiB);
    const m =
      /\[cut to fit one MCP message: showing the first (\d+) of 614400 bytes .*read on with offset=(\d+)\]$/.exec(
        text,
      );
    expect(m).not.toBeNull();
    expect(Number(m![1])).toBeGreaterThan(400_000);
    expect(text.slice(0, Number(m![1]))).toBe("\n".repeat(Number(m![1])));
    expect(result.structuredContent).toMatchObject({ mode: "read", truncated: true });
    // Reading on from the offset given returns the next bytes.
    const next = await scout.call({
      target: `${h0}:${root0}/newlines.txt`,
      offset: Number(m![2]),
      length: 10,
    });
    expect(next.text).toMatch(new RegExp(`bytes ${m![2]}-${Number(m![2]) + 10} of 614400`));
  });

  it("a read at the 1 MiB cap and a capped read of a 50 MB file", async () => {
    for (const file of ["at-cap.txt", "big.log"]) {
      const { sizes, text } = await rawCall({ target: `${h0}:${root0}/${file}` });
      expect(Math.max(...sizes)).toBeLessThanOrEqual(MiB);
      expect(text).toMatch(/\[cut to fit one MCP message: showing the first \d+ of \d+ bytes/);
      expect(text.length).toBeGreaterThan(MiB * 0.9);
    }
  });

  it("~1.5 MB of command output, plain and all newlines", async () => {
    for (const query of ["head -c 1500000 /dev/zero | tr '\\0' a", "yes '' | head -c 1500000"]) {
      const { sizes, text, result } = await rawCall({ target: `${h0}:/`, query });
      expect(Math.max(...sizes)).toBeLessThanOrEqual(MiB);
      expect(result.isError).toBeFalsy();
      expect(text).toMatch(/\[cut to fit one MCP message/);
    }
  });

  it("a resource read of the 50 MB file", async () => {
    const r = await scout.client.readResource({ uri: `scout://${h0}${root0}/big.log` });
    const body = JSON.stringify({ jsonrpc: "2.0", id: 1, result: r });
    expect(Buffer.byteLength(body)).toBeLessThanOrEqual(MiB);
    expect((r.contents[0] as { text: string }).text).toMatch(/\[cut to fit one MCP message/);
  });
});
