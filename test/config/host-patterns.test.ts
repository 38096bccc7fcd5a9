/** Host patterns and groups (pure logic): ssh Host-line semantics, `!` negation, `@group`s. */
import { describe, expect, it } from "vitest";
import { isHostPattern, selectHosts } from "../../src/config/host-patterns.js";
import { isScoutError } from "../../src/errors.js";
import { SettingsError, loadSettings } from "../../src/config/settings.js";

const aliases = ["db-1", "db-2", "db-10", "Web-Old", "web-1", "web-2", "web-old", "worker"];
const groups = {
  web: ["web-*", "!web-old"],
  db: ["db-?"],
  all: ["@web", "@db"],
  loop: ["@loop2"],
  loop2: ["@loop"],
};

describe("host patterns", () => {
  it("tells patterns from plain aliases", () => {
    for (const p of ["web-*", "db-?", "a,b", "!x", "@web"]) expect(isHostPattern(p)).toBe(true);
    for (const p of ["web-1", "host.example.com", "db_1"]) expect(isHostPattern(p)).toBe(false);
  });

  it("matches like an ssh_config Host line: * and ?, case-insensitive, negation wins", () => {
    expect(selectHosts("web-*", aliases, {})).toEqual(["Web-Old", "web-1", "web-2", "web-old"]);
    expect(selectHosts("db-?", aliases, {})).toEqual(["db-1", "db-2"]);
    expect(selectHosts("web-*,!web-old", aliases, {})).toEqual(["web-1", "web-2"]);
    expect(selectHosts("!web-old", aliases, {})).toEqual([]); // as in ssh: negation alone selects nothing
    expect(selectHosts("*,!w*", aliases, {})).toEqual(["db-1", "db-2", "db-10"]);
    expect(selectHosts("db-1, worker", aliases, {})).toEqual(["db-1", "worker"]);
  });

  it("expands groups, nested and negated", () => {
    expect(selectHosts("@web", aliases, groups)).toEqual(["web-1", "web-2"]);
    expect(selectHosts("@all", aliases, groups)).toEqual(["db-1", "db-2", "web-1", "web-2"]);
    expect(selectHosts("*,!@web,!@db", aliases, groups)).toEqual(["db-10", "Web-Old", "web-old", "worker"]);
  });

  it("refuses an unknown group, naming the defined ones, and a group that includes itself", () => {
    let err: unknown;
    try {
      selectHosts("@nope", aliases, groups);
    } catch (e) {
      err = e;
    }
    expect(isScoutError(err, "invalid-input")).toBe(true);
    expect((err as Error).message).toBe("Unknown host group '@nope'");
    expect(() => selectHosts("@loop", aliases, groups)).toThrow("includes itself: loop → loop2 → loop");
  });

  it("SCOUT_HOST_GROUPS parses NAME=PATTERNS;… and rejects what is not a group", () => {
    const s = loadSettings({ SCOUT_HOST_GROUPS: "web=web-*,!web-old; db=db-?" });
    expect(s.hostGroups).toEqual({ web: ["web-*", "!web-old"], db: ["db-?"] });
    expect(() => loadSettings({ SCOUT_HOST_GROUPS: "web" })).toThrow(SettingsError);
    expect(() => loadSettings({ SCOUT_HOST_GROUPS: "a=x;a=y" })).toThrow("defined twice");
    expect(loadSettings({ SCOUT_WARM_HOSTS: "web-*, @db" }).warmHosts).toEqual(["web-*", "@db"]);
  });
});
