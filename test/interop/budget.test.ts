/** The answer budget (src/mcp/budget.ts): pure logic, checked against JSON.stringify itself. */
import { describe, expect, it } from "vitest";
import {
  encodedBytes,
  fitReadResult,
  fitToolResult,
  prefixFitting,
  readOnHint,
} from "../../src/mcp/budget.js";

const wire = (result: unknown) =>
  Buffer.byteLength(JSON.stringify({ jsonrpc: "2.0", id: 123456, result }), "utf8");

describe("encodedBytes", () => {
  it("matches JSON.stringify for escapes, controls, multi-byte text, pairs and lone surrogates", () => {
    for (const s of [
      "",
      "plain",
      'q"b\\',
      "\n\t\r\b\f",
      "\u0001\u001f\u007f",
      "é€",
      "😀x",
      "\ud800",
      "a\udc00b",
    ]) {
      expect(encodedBytes(s)).toBe(Buffer.byteLength(JSON.stringify(s), "utf8"));
    }
  });

  it("cuts prefixes that fit and never splits a surrogate pair", () => {
    const s = "ab😀cd";
    expect(prefixFitting(s, 2)).toBe(2);
    expect(prefixFitting(s, 5)).toBe(2); // the pair needs 4 bytes
    expect(prefixFitting(s, 6)).toBe(4);
    expect(prefixFitting("\n\n\n", 5)).toBe(2);
  });
});

describe("fitToolResult", () => {
  const max = 100_000;

  it("leaves small results alone (same object)", () => {
    const r = { content: [{ type: "text" as const, text: "hello" }], structuredContent: { mode: "read" } };
    expect(fitToolResult(r, max)).toBe(r);
  });

  it("bounds the encoded message, not the raw bytes: a text of newlines doubles when escaped", () => {
    const text = "\n".repeat(80_000); // 80 KB raw, 160 KB encoded
    const r = {
      content: [{ type: "text" as const, text }],
      structuredContent: { mode: "read", kind: "file", truncated: false },
    };
    const out = fitToolResult(r, max, readOnHint(r));
    expect(wire(out)).toBeLessThanOrEqual(max);
    expect(wire(out)).toBeGreaterThan(max * 0.95);
    const shown = (out.content[0] as { text: string }).text;
    const m =
      /\[cut to fit one MCP message: showing the first (\d+) of 80000 bytes .*; read on with offset=(\d+)\]$/.exec(
        shown,
      );
    expect(m).not.toBeNull();
    expect(m![1]).toBe(m![2]);
    expect(out.structuredContent).toMatchObject({ truncated: true });
    expect(r.content[0]!.text.length).toBe(80_000); // the input is not modified
  });

  it("counts resource_link blocks: kept whole after the text, the first ones within an eighth", () => {
    const link = (i: number) => ({
      type: "resource_link" as const,
      uri: `scout://web1/${"d".repeat(4000)}/f${i}`,
      name: `f${i}`,
      description: `file web1:/${"d".repeat(4000)}/f${i}`,
    });
    const links = Array.from({ length: 40 }, (_, i) => link(i)); // ~320 KB of links
    const r = { content: [{ type: "text" as const, text: "x".repeat(90_000) }, ...links] };
    const out = fitToolResult(r, max);
    expect(wire(out)).toBeLessThanOrEqual(max);
    expect(out.content[0]!.type).toBe("text");
    const kept = out.content.slice(1);
    expect(kept.length).toBeGreaterThan(0);
    expect(kept).toEqual(links.slice(0, kept.length)); // whole blocks, in order
    expect(Buffer.byteLength(JSON.stringify(kept))).toBeLessThanOrEqual(max / 8);
    // Small links next to a small text: nothing changes.
    const small = { content: [{ type: "text" as const, text: "a" }, link(0)] };
    expect(fitToolResult(small, 1_000_000)).toBe(small);
  });

  it("gives control characters their 6-byte escapes", () => {
    const r = { content: [{ type: "text" as const, text: "\u0001".repeat(50_000) }] };
    expect(wire(fitToolResult(r, max))).toBeLessThanOrEqual(max);
  });

  it("cuts structured arrays to a quarter of the budget, then the text to the rest", () => {
    const matches = Array.from({ length: 20_000 }, (_, i) => `/srv/data/file-${i}.log`);
    const r = {
      content: [{ type: "text" as const, text: matches.join("\n") }],
      structuredContent: { mode: "find", matches, truncated: false },
    };
    const out = fitToolResult(r, max);
    expect(wire(out)).toBeLessThanOrEqual(max);
    const s = out.structuredContent as { matches: string[]; truncated: boolean };
    expect(s.truncated).toBe(true);
    expect(s.matches.length).toBeGreaterThan(100);
    expect(Buffer.byteLength(JSON.stringify(s))).toBeLessThanOrEqual(max / 4);
    expect(s.matches).toEqual(matches.slice(0, s.matches.length));
  });

  it("adds no `truncated` to a structured answer whose schema has none (output schemas are closed)", () => {
    const results = Array.from({ length: 5000 }, (_, i) => ({ target: `web${i}:/etc/hosts`, ok: true }));
    const r = {
      content: [{ type: "text" as const, text: "x".repeat(10) }],
      structuredContent: { mode: "broadcast", succeeded: 5000, total: 5000, results },
    };
    const out = fitToolResult(r, max).structuredContent as Record<string, unknown>;
    expect(wire({ structuredContent: out })).toBeLessThanOrEqual(max / 4 + 100);
    expect(out).not.toHaveProperty("truncated");
    expect((out.results as unknown[]).length).toBeLessThan(5000);
  });

  it("points a ranged read at the file offset after its header line", () => {
    const body = "x".repeat(200_000);
    const text = `[/f: bytes 1000-201000 of 900000]\n${body}`;
    const r = {
      content: [{ type: "text" as const, text }],
      structuredContent: { mode: "read", kind: "file", range: { offset: 1000, length: 200_000 } },
    };
    const out = (fitToolResult(r, max, readOnHint(r)).content[0] as { text: string }).text;
    const shownBody = out.slice(out.indexOf("\n") + 1, out.indexOf("\n\n[cut"));
    expect(out).toContain(`read on with offset=${1000 + shownBody.length}]`);
  });
});

describe("fitReadResult", () => {
  it("bounds a resource read", () => {
    const r = { contents: [{ uri: "web1://etc/big", mimeType: "text/plain", text: '"'.repeat(300_000) }] };
    const out = fitReadResult(r, 200_000);
    expect(wire(out)).toBeLessThanOrEqual(200_000);
    expect((out.contents[0] as { text: string }).text).toMatch(/\[cut to fit one MCP message/);
  });
});
