/** Target parsing for fleets (pure logic): `hosts:PATTERN`, and pattern expansion in broadcasts. */
import { describe, expect, it } from "vitest";
import { expandTargets, isHostsTarget, parseTarget } from "../../src/mcp/target.js";
import { formatBroadcast } from "../../src/mcp/format.js";

const aliases = ["db-1", "db-2", "web-1", "web-2", "web-old"];

describe("hosts:PATTERN", () => {
  it("is the hosts list with a filter; hosts:/path stays a path on a host named hosts", () => {
    expect(parseTarget("hosts")).toEqual({ kind: "hosts" });
    expect(parseTarget(" Hosts:web-* ")).toEqual({ kind: "hosts", filter: "web-*" });
    expect(parseTarget("hosts:web-*, !web-old")).toEqual({ kind: "hosts", filter: "web-*, !web-old" });
    expect(parseTarget("hosts:/etc/x")).toEqual({ kind: "path", host: "hosts", path: "/etc/x" });
    expect(isHostsTarget("hosts:@web")).toBe(true);
    expect(isHostsTarget("hosts:~/x")).toBe(false);
    expect(() => parseTarget("hosts:a;rm")).toThrow("Host pattern contains invalid characters");
  });
});

describe("expandTargets", () => {
  it("expands patterns and groups in alias order, keeps plain aliases, drops duplicates", () => {
    const t = expandTargets(["web-*,!web-old:/etc/x", "db-1:/etc/x", "@db:/etc/x", "nohost:/y"], aliases, {
      db: ["db-?"],
    });
    expect(t).toEqual([
      { host: "web-1", path: "/etc/x" },
      { host: "web-2", path: "/etc/x" },
      { host: "db-1", path: "/etc/x" },
      { host: "db-2", path: "/etc/x" },
      { host: "nohost", path: "/y" }, // unknown plain aliases fail later, with the available ones
    ]);
  });

  it("an entry that selects nothing or does not parse is one target carrying its error", () => {
    const t = expandTargets(["mail-*:/x", "bad", "@nope:/x"], aliases, {});
    expect(t.map((x) => x.error?.message)).toEqual([
      "No configured host matches 'mail-*'",
      "Error parsing target 'bad': Invalid target 'bad'. Expected 'host:/path' or 'hosts'",
      "Unknown host group '@nope'",
    ]);
  });
});

describe("formatBroadcast within the cap", () => {
  const block = (i: number, output: string, ok = true) => ({ host: `h${i}`, path: "/p", ok, output });

  it("keeps the layout when everything fits, shortens sections evenly while each keeps 256 bytes", () => {
    const small = formatBroadcast([block(1, "a"), block(2, "b", false)], { maxTotalBytes: 10_000 });
    expect(small).toBe(
      `═══ h1:/p ${"═".repeat(50)}\na\n\n═══ h2:/p [FAILED] ${"═".repeat(41)}\nb\n\n─── 1/2 hosts succeeded ───`,
    );
    const even = formatBroadcast([block(1, "x".repeat(5000)), block(2, "y".repeat(5000))], {
      maxTotalBytes: 2000,
    });
    expect(even).toContain("[broadcast output capped at 2000 bytes; 2 host sections shortened]");
    expect(Buffer.byteLength(even)).toBeLessThanOrEqual(2000);
  });

  it("past that: full blocks while they fit, then one summary line per host, all within the cap", () => {
    const blocks = Array.from({ length: 1000 }, (_, i) =>
      i === 7
        ? { ...block(i, "Error: Connection refused by h7", false), error: true }
        : block(i, `line one of ${i}\n` + "z".repeat(300)),
    );
    const text = formatBroadcast(blocks, { maxTotalBytes: 64 * 1024 });
    expect(Buffer.byteLength(text)).toBeLessThanOrEqual(64 * 1024);
    expect(text).toMatch(/\[\d+ of 1000 hosts did not fit in 65536 bytes: one line each\]/);
    expect(text).toContain("  ✓ h999:/p — 316 bytes: line one of 999");
    expect(text).toContain("─── 999/1000 hosts succeeded ───");
    const tiny = formatBroadcast(blocks, { maxTotalBytes: 4096 });
    expect(Buffer.byteLength(tiny)).toBeLessThanOrEqual(4096);
    expect(tiny).toMatch(/\[\d+ more hosts not shown; target fewer hosts\]/);
    const dropped = formatBroadcast([{ ...block(1, "first"), droppedBytes: 9999 }], { maxTotalBytes: 1e6 });
    expect(dropped).toContain("  ✓ h1:/p — 9999 bytes: first");
  });
});
