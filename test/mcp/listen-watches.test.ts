/**
 * Unit test of the bookkeeping behind 2026-07-28 listen streams (pure logic; the end-to-end proof
 * against real sshd is listen.test.ts): streams on one delivery path share one poll per URI and
 * the last one to close stops it; each stream holds its own slots; a stream gets all its slots or
 * none; the caps say which setting refused; closing the group (connection or server closing) gives
 * everything back. The host is a stand-in whose SFTP calls never answer: only the counting matters.
 */
import { describe, expect, it } from "vitest";
import { settingsWith } from "../../src/config/settings.js";
import { WatchCapError, WatchHub } from "../../src/mcp/watches.js";
import { limitsFrom } from "../../src/ops/limits.js";
import type { HostAccess } from "../../src/ssh/types.js";

// A host that is never reached: each poll's stat waits forever (no SFTP traffic in a unit test).
const quietHost = { withSftp: () => new Promise<never>(() => {}) } as unknown as HostAccess;

function hub(caps: { maxTotal?: number; maxPerClient?: number; maxStreamsPerClient?: number } = {}) {
  return new WatchHub({
    host: () => quietHost,
    limits: limitsFrom(settingsWith()),
    maxTotal: caps.maxTotal ?? 256,
    maxPerClient: caps.maxPerClient ?? 16,
    ...(caps.maxStreamsPerClient !== undefined ? { maxStreamsPerClient: caps.maxStreamsPerClient } : {}),
  });
}

const file = (n: string) => ({ uri: `scout://h/${n}`, host: "h", path: `/${n}` });

describe("SharedWatches", () => {
  it("polls a URI once for every stream on the path; the last stream to close stops it", () => {
    const h = hub();
    const g = h.shared(() => {});
    const a = g.stream("alice", [file("a.log"), file("a.log"), file("b.log")]);
    const b = g.stream("bob", [file("a.log")]);
    expect(g.polling).toBe(2);
    expect(h.active).toBe(3); // alice: a, b (the duplicate counts once); bob: a
    expect(h.listenStreams).toBe(2);
    a.close();
    expect(g.polling).toBe(1);
    expect(h.active).toBe(1);
    a.close(); // twice is once
    expect(h.active).toBe(1);
    b.close();
    expect([g.polling, h.active, h.listenStreams]).toEqual([0, 0, 0]);
  });

  it("a stream gets all its slots or none; the error names the cap", () => {
    const h = hub({ maxPerClient: 2, maxTotal: 3 });
    const g = h.shared(() => {});
    g.stream("alice", [file("1")]);
    const perClient = (() => {
      try {
        g.stream("alice", [file("2"), file("3")]);
      } catch (e) {
        return e;
      }
    })();
    expect(perClient).toBeInstanceOf(WatchCapError);
    expect(perClient).toMatchObject({ cap: "SCOUT_MAX_WATCHES_PER_CLIENT", limit: 2 });
    expect(h.active).toBe(1); // nothing half-taken
    g.stream("bob", [file("2"), file("3")]);
    expect(() => g.stream("carol", [file("4")])).toThrow(
      /The server already runs 3 watches \(SCOUT_MAX_WATCHES\): the limit is 3/,
    );
    // A stream without resources needs no watch slot.
    expect(() => g.stream("carol", [])).not.toThrow();
  });

  it("caps open streams per client, and closing the group gives everything back", () => {
    const h = hub({ maxStreamsPerClient: 2 });
    const g = h.shared(() => {});
    g.stream("alice", [file("1")]);
    g.stream("alice", []);
    expect(() => g.check("alice", 0)).toThrow(
      /2 open subscriptions\/listen streams \(SCOUT_MAX_SESSIONS_PER_CLIENT\)/,
    );
    expect(() => g.stream("bob", [])).not.toThrow();
    h.close();
    expect([g.polling, h.active, h.listenStreams]).toEqual([0, 0, 0]);
    expect(() => g.stream("alice", [])).toThrow(/shutting down/);
  });
});
