/**
 * Watched files (resources/subscribe, 2025 era) through the SDK client against the lab fleet: an
 * appended log line arrives as notifications/resources/updated with the appended bytes; a
 * rewrite and a deletion are reported; the per-client cap refuses one watch too many; a session's
 * watches stop with it (the server's verbose health counts them).
 */
import { appendFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import {
  ResourceUpdatedNotificationSchema,
  type ResourceUpdatedNotification,
} from "@modelcontextprotocol/sdk/types.js";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startFleet, type LabFleet } from "../fleet/index.js";
import { startHttpScout, waitUntil, type ScoutUnderTest } from "./harness.js";

let lab: LabFleet;
let h0: string;
let root0: string;

beforeAll(async () => {
  lab = await startFleet({ hosts: 1 });
  h0 = lab.hosts[0]!.alias;
  root0 = lab.hosts[0]!.root;
});

afterAll(async () => {
  await lab?.stop();
});

function collect(scout: ScoutUnderTest): Array<ResourceUpdatedNotification["params"]> {
  const seen: Array<ResourceUpdatedNotification["params"]> = [];
  scout.client.setNotificationHandler(ResourceUpdatedNotificationSchema, (n) => {
    seen.push(n.params);
  });
  return seen;
}

async function watchCount(scout: ScoutUnderTest): Promise<number> {
  const health = new URL("/health?verbose=1", scout.url!);
  return ((await (await fetch(health)).json()) as { watches: number }).watches;
}

describe("watched files", () => {
  it("a watched log notifies on append with the appended bytes, then on rewrite and deletion", async () => {
    const log = await lab.writeFile(join(root0, "watched.log"), "first\n");
    const scout = await startHttpScout(lab);
    try {
      expect(scout.client.getServerCapabilities()?.resources?.subscribe).toBe(true);
      const seen = collect(scout);
      const uri = `scout://${h0}${log}`;
      await scout.client.subscribeResource({ uri });
      expect(await watchCount(scout)).toBe(1);
      appendFileSync(log, "second line\n");
      await waitUntil(() => seen.length >= 1, 10_000, "a notification for the append");
      expect(seen[0]).toMatchObject({
        uri,
        _meta: {
          "scout/event": "appended",
          "scout/appended": "second line\n",
          "scout/appendedBytes": 12,
          "scout/size": 18,
        },
      });
      writeFileSync(log, "short\n"); // shrinks: a rewrite, not an append
      await waitUntil(() => seen.length >= 2, 10_000, "a notification for the rewrite");
      expect(seen[1]).toMatchObject({ uri, _meta: { "scout/event": "changed", "scout/size": 6 } });
      rmSync(log);
      await waitUntil(() => seen.length >= 3, 20_000, "a notification for the deletion");
      expect(seen[2]).toMatchObject({ uri, _meta: { "scout/event": "deleted" } });
      // Unsubscribed: no watch left, and no more notifications.
      await scout.client.unsubscribeResource({ uri });
      expect(await watchCount(scout)).toBe(0);
    } finally {
      await scout.close();
    }
  });

  it("one watch too many for a client is refused; a closed session's watches stop", async () => {
    const scout = await startHttpScout(lab, { maxWatchesPerClient: 2 });
    const other = await startHttpScout(lab);
    try {
      for (const n of ["a", "b"]) {
        await lab.writeFile(join(root0, `${n}.log`), "x\n");
        await scout.client.subscribeResource({ uri: `scout://${h0}${root0}/${n}.log` });
      }
      await expect(scout.client.subscribeResource({ uri: `scout://${h0}${root0}/c.log` })).rejects.toThrow(
        /already watches 2 resources \(SCOUT_MAX_WATCHES_PER_CLIENT\)/,
      );
      // A second session of the same client (same address) shares the cap.
      const second = new Client({ name: "scout-test-2", version: "1.0.0" });
      await second.connect(new StreamableHTTPClientTransport(new URL(scout.url!)));
      await expect(second.subscribeResource({ uri: `scout://${h0}${root0}/c.log` })).rejects.toThrow(
        /SCOUT_MAX_WATCHES_PER_CLIENT/,
      );
      await second.close();
      await expect(scout.client.subscribeResource({ uri: `${h0}://docker` })).rejects.toThrow(
        /Only files can be watched/,
      );
      await expect(other.client.subscribeResource({ uri: `scout://nohost/etc/hosts` })).rejects.toThrow(
        /Unknown host 'nohost'/,
      );
      expect(await watchCount(scout)).toBe(2);
      // When the client's session ends (DELETE), its watches stop.
      const url = scout.url!;
      await (scout.client.transport as StreamableHTTPClientTransport).terminateSession();
      const health = new URL("/health?verbose=1", url);
      let left = -1;
      for (let i = 0; i < 100 && left !== 0; i++) {
        left = ((await (await fetch(health)).json()) as { watches: number }).watches;
        if (left !== 0) await new Promise((r) => setTimeout(r, 100));
      }
      expect(left).toBe(0);
    } finally {
      await Promise.allSettled([scout.close(), other.close()]);
    }
  });
});
