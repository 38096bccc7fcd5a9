/** The unknown-host answer stays short at any fleet size: the closest aliases, the count, how to list. */
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { closestAliases, editDistance } from "../../src/config/closest.js";
import { HostRegistry } from "../../src/config/registry.js";
import { settingsWith } from "../../src/config/settings.js";
import { ScoutError } from "../../src/errors.js";

describe("closestAliases", () => {
  it("edit distance", () => {
    expect(editDistance("web1", "web1")).toBe(0);
    expect(editDistance("web1", "wbe1")).toBe(2);
    expect(editDistance("kitten", "sitting")).toBe(3);
    expect(editDistance("", "abc")).toBe(3);
    // Bounded: past `max` it answers max + 1 without finishing.
    expect(editDistance("aaaaaaaa", "bbbbbbbb", 2)).toBe(3);
  });

  it("nearest first, a shared prefix breaking ties, case-insensitive", () => {
    const aliases = ["db-01", "web-0100", "web-0101", "web-0110", "Web-0102", "cache-1"];
    expect(closestAliases("web-0l01", aliases, 3)).toEqual(["web-0101", "web-0100", "Web-0102"]);
    expect(closestAliases("db01", aliases, 1)).toEqual(["db-01"]);
    expect(closestAliases("x", [], 3)).toEqual([]);
  });
});

describe("unknown host in a large fleet", () => {
  it("names 5 close aliases and the count, not 1,000 aliases", async () => {
    const dir = mkdtempSync(join(tmpdir(), "scout-closest-"));
    try {
      const cfg = join(dir, "config");
      const aliases = Array.from({ length: 1000 }, (_, i) => `web-${String(i).padStart(4, "0")}`);
      writeFileSync(cfg, aliases.map((a) => `Host ${a}\n  HostName 127.0.0.1\n`).join(""));
      const reg = await HostRegistry.open(
        settingsWith({ sshConfigPath: cfg, systemSshConfigPath: undefined }),
      );
      let err: unknown;
      try {
        reg.require("web-0l23");
      } catch (e) {
        err = e;
      }
      expect(err).toBeInstanceOf(ScoutError);
      const e = err as ScoutError;
      expect(e.code).toBe("unknown-host");
      expect(e.message).toBe(
        "Unknown host 'web-0l23'. Closest of the 1000 configured: web-0023, web-0123, web-0223, web-0323, web-0423",
      );
      expect(e.hint).toMatch(/scout\('hosts'\).*scout\('hosts:PATTERN'\)/);
      expect(e.message.length + (e.hint?.length ?? 0)).toBeLessThan(300);
      // A huge alias is cut in the answer.
      expect(() => reg.require("x".repeat(5000))).toThrow(/^Unknown host 'x{100}…'\. Closest/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
