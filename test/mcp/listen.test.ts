/**
 * 2026-07-28 `subscriptions/listen` through the SDK v2 client (pinned to the modern era) against
 * the lab fleet, over Streamable HTTP and stdio: the acknowledgement honors what is true (the
 * resource list and watched files; the tool list never changes), an appended log line arrives as
 * notifications/resources/updated with the appended bytes, an ssh config change is one
 * resources/list_changed, closing the stream stops its watches (the verbose health counts them),
 * caps and URIs Scout cannot watch refuse the listen with a clear error, and a shutdown ends the
 * streams gracefully (SubscriptionsListenResult) instead of hanging.
 */
import { appendFileSync } from "node:fs";
import net from "node:net";
import { join } from "node:path";
import {
  Client,
  ProtocolError,
  StreamableHTTPClientTransport,
  SUBSCRIPTION_ID_META_KEY,
  PROTOCOL_VERSION_META_KEY,
  CLIENT_INFO_META_KEY,
  CLIENT_CAPABILITIES_META_KEY,
  type ResourceUpdatedNotification,
} from "@modelcontextprotocol/client";
import { StdioClientTransport } from "@modelcontextprotocol/client/stdio";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { serve, type RunningServer } from "../../src/cli/serve.js";
import type { Settings } from "../../src/config/settings.js";
import { silentLogger } from "../../src/observe/log.js";
import { startFleet, type LabFleet } from "../fleet/index.js";
import { cliArgs, labEnv } from "../cli/run-cli.js";
import { labSettings, rawHttp, waitUntil } from "./harness.js";

let lab: LabFleet;
let h0: string;
let root0: string;

beforeAll(async () => {
  lab = await startFleet({ hosts: 2 });
  h0 = lab.hosts[0]!.alias;
  root0 = lab.hosts[0]!.root;
});

afterAll(async () => {
  await lab?.stop();
});

const MODERN = { versionNegotiation: { mode: { pin: "2026-07-28" as const } } };

interface Under {
  client: Client;
  health(): Promise<{ watches: number; listenStreams: number }>;
  close(): Promise<void>;
  server?: RunningServer;
}

async function httpScout(overrides: Partial<Settings> = {}): Promise<Under> {
  const server = await serve(labSettings(lab, { transport: "http", ...overrides }), {
    log: silentLogger(),
    installSignals: false,
  });
  const url = server.http!.url;
  const client = new Client({ name: "listen-test", version: "1.0.0" }, MODERN);
  await client.connect(new StreamableHTTPClientTransport(new URL(url)));
  return {
    client,
    server,
    health: async () => (await (await fetch(new URL("/health?verbose=1", url))).json()) as never,
    close: async () => {
      await client.close();
      await server.shutdown("test done");
    },
  };
}

async function freePort(): Promise<number> {
  const s = net.createServer();
  await new Promise<void>((r) => s.listen(0, "127.0.0.1", r));
  const port = (s.address() as net.AddressInfo).port;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

async function stdioScout(env: Record<string, string> = {}): Promise<Under> {
  const port = await freePort();
  const client = new Client({ name: "listen-test", version: "1.0.0" }, MODERN);
  await client.connect(
    new StdioClientTransport({
      command: process.execPath,
      args: cliArgs(["--stdio"]),
      env: labEnv(lab, {
        SCOUT_STATUS_CACHE_TTL: "0",
        SCOUT_LOG_LEVEL: "warn",
        SCOUT_METRICS_PORT: String(port),
        ...env,
      }),
      stderr: "pipe",
    }),
  );
  return {
    client,
    health: async () => (await (await fetch(`http://127.0.0.1:${port}/health?verbose=1`)).json()) as never,
    close: () => client.close(),
  };
}

function updates(client: Client): Array<ResourceUpdatedNotification["params"]> {
  const seen: Array<ResourceUpdatedNotification["params"]> = [];
  client.setNotificationHandler("notifications/resources/updated", (n) => {
    seen.push(n.params);
  });
  return seen;
}

async function refusal(p: Promise<unknown>): Promise<ProtocolError> {
  const e = await p.then(
    () => undefined,
    (x: unknown) => x,
  );
  expect(e).toBeInstanceOf(ProtocolError);
  return e as ProtocolError;
}

async function untilHealth(u: Under, want: { watches: number; listenStreams: number }): Promise<void> {
  let last = await u.health();
  for (
    let i = 0;
    i < 100 && (last.watches !== want.watches || last.listenStreams !== want.listenStreams);
    i++
  ) {
    await new Promise((r) => setTimeout(r, 50));
    last = await u.health();
  }
  expect({ watches: last.watches, listenStreams: last.listenStreams }).toEqual(want);
}

for (const transport of ["http", "stdio"] as const) {
  describe(`subscriptions/listen over ${transport}`, () => {
    it("a watched log notifies on append with the appended bytes; closing the stream stops its watch", async () => {
      const log = await lab.writeFile(join(root0, `listen-${transport}.log`), "first\n");
      const uri = `scout://${h0}${log}`;
      const u = transport === "http" ? await httpScout() : await stdioScout();
      try {
        expect(u.client.getProtocolEra()).toBe("modern");
        expect(u.client.getServerCapabilities()?.resources?.subscribe).toBe(true);
        const seen = updates(u.client);
        const sub = await u.client.listen({
          resourceSubscriptions: [uri],
          resourcesListChanged: true,
          toolsListChanged: true,
        });
        // Scout's tool list never changes: only what is true is acknowledged.
        expect(sub.honoredFilter).toEqual({ resourcesListChanged: true, resourceSubscriptions: [uri] });
        // At once after the acknowledgement: reported even if it lands before the first poll.
        appendFileSync(log, "second line\n");
        await untilHealth(u, { watches: 1, listenStreams: 1 });
        if (u.server) {
          const metrics = await (await fetch(new URL("/metrics", u.server.http!.url))).text();
          expect(metrics).toMatch(/^scout_watches 1$/m);
          expect(metrics).toMatch(/^scout_listen_streams 1$/m);
        }
        await waitUntil(() => seen.length >= 1, 15_000, "a notification for the append");
        expect(seen[0]).toMatchObject({
          uri,
          _meta: {
            "scout/event": "appended",
            "scout/appended": "second line\n",
            "scout/appendedBytes": 12,
            "scout/size": 18,
            [SUBSCRIPTION_ID_META_KEY]: expect.anything() as unknown,
          },
        });
        // A second stream on the same file: one more slot, one poll, one notification per stream.
        const second = await u.client.listen({ resourceSubscriptions: [uri] });
        await untilHealth(u, { watches: 2, listenStreams: 2 });
        appendFileSync(log, "third\n");
        await waitUntil(() => seen.length >= 3, 15_000, "the append on both streams");
        const ids = seen.slice(1, 3).map((n) => n._meta?.[SUBSCRIPTION_ID_META_KEY]);
        expect(new Set(ids).size).toBe(2);
        for (const n of seen.slice(1, 3)) expect(n._meta).toMatchObject({ "scout/appended": "third\n" });
        await second.close();
        expect(await second.closed).toBe("local");
        await untilHealth(u, { watches: 1, listenStreams: 1 });
        await sub.close();
        expect(await sub.closed).toBe("local");
        await untilHealth(u, { watches: 0, listenStreams: 0 });
      } finally {
        await u.close();
      }
    });

    it("URIs Scout cannot watch and full caps refuse the listen, saying why", async () => {
      const u =
        transport === "http"
          ? await httpScout({ maxWatchesPerClient: 2 })
          : await stdioScout({ SCOUT_MAX_WATCHES_PER_CLIENT: "2" });
      try {
        const files = ["a", "b", "c"].map((n) => `scout://${h0}${root0}/${transport}-${n}.log`);
        const tooMany = await refusal(u.client.listen({ resourceSubscriptions: files }));
        expect(tooMany.code).toBe(-32603);
        expect(tooMany.message).toMatch(
          /already watches 0 resources \(SCOUT_MAX_WATCHES_PER_CLIENT\) and asked for 3 more: the limit is 2\. Close one of this client's listen streams/,
        );
        const unknown = await refusal(
          u.client.listen({ resourceSubscriptions: ["scout://nohost/etc/hosts"] }),
        );
        expect(unknown.code).toBe(-32602);
        expect(unknown.message).toMatch(/Unknown host 'nohost'/);
        const view = await refusal(u.client.listen({ resourceSubscriptions: [`${h0}://docker`] }));
        expect(view.code).toBe(-32602);
        expect(view.message).toMatch(/Only files can be watched/);
        // Nothing was kept by the refused listens; two files fit, a third on another stream does not.
        await untilHealth(u, { watches: 0, listenStreams: 0 });
        const sub = await u.client.listen({ resourceSubscriptions: files.slice(0, 2) });
        await untilHealth(u, { watches: 2, listenStreams: 1 });
        const third = await refusal(u.client.listen({ resourceSubscriptions: files.slice(2) }));
        expect(third.message).toMatch(/already watches 2 resources \(SCOUT_MAX_WATCHES_PER_CLIENT\)/);
        await sub.close();
        await untilHealth(u, { watches: 0, listenStreams: 0 });
      } finally {
        await u.close();
      }
    });

    it("an ssh config change that changes the listed hosts is one resources/list_changed", async () => {
      const config = `listen_${transport}_ssh_config`;
      const [p0, p1] = [lab.hosts[0]!.port, lab.hosts[1]!.port];
      const configPath = await lab.writeSshConfig([{ alias: "alpha", port: p0 }], config);
      const u =
        transport === "http"
          ? await httpScout({ sshConfigPath: configPath })
          : await stdioScout({ SCOUT_SSH_CONFIG: configPath });
      try {
        let changed = 0;
        let tools = 0;
        u.client.setNotificationHandler("notifications/resources/list_changed", () => {
          changed++;
        });
        u.client.setNotificationHandler("notifications/tools/list_changed", () => {
          tools++;
        });
        const sub = await u.client.listen({ resourcesListChanged: true, toolsListChanged: true });
        await untilHealth(u, { watches: 0, listenStreams: 1 });
        await lab.writeSshConfig(
          [
            { alias: "alpha", port: p0 },
            { alias: "beta", port: p1 },
          ],
          config,
        );
        await waitUntil(() => changed >= 1, 10_000, "list_changed after a host appeared");
        // The same hosts on another port: the list is the same, so nothing is sent; the next real
        // change is the second notification, so each change was exactly one.
        await lab.writeSshConfig(
          [
            { alias: "alpha", port: p1 },
            { alias: "beta", port: p1 },
          ],
          config,
        );
        await lab.writeSshConfig([{ alias: "beta", port: p1 }], config);
        await waitUntil(() => changed >= 2, 10_000, "list_changed after a host went away");
        const resources = (await u.client.listResources()).resources.map((r) => r.uri);
        expect(resources).not.toContain("alpha://docker");
        expect(changed).toBe(2);
        expect(tools).toBe(0);
        await sub.close();
      } finally {
        await u.close();
      }
    });
  });
}

describe("a listen stream whose HTTP request is aborted", () => {
  it("gives its watch back", async () => {
    const log = await lab.writeFile(join(root0, "abort.log"), "x\n");
    const u = await httpScout();
    try {
      const listen = {
        jsonrpc: "2.0",
        id: 7,
        method: "subscriptions/listen",
        params: {
          _meta: {
            [PROTOCOL_VERSION_META_KEY]: "2026-07-28",
            [CLIENT_INFO_META_KEY]: { name: "raw", version: "1" },
            [CLIENT_CAPABILITIES_META_KEY]: {},
          },
          notifications: { resourceSubscriptions: [`scout://${h0}${log}`] },
        },
      };
      const raw = rawHttp(u.server!.http!.url);
      // Admitted by Scout, then refused by the SDK (no MCP-Protocol-Version header): nothing kept.
      const refused = await raw.post(listen, { "mcp-method": "subscriptions/listen" });
      expect(((await refused.json()) as { error: { code: number } }).error.code).toBe(-32020);
      await untilHealth(u, { watches: 0, listenStreams: 0 });
      const gone = new AbortController();
      const r = await raw.post(
        listen,
        { "mcp-method": "subscriptions/listen", "mcp-protocol-version": "2026-07-28" },
        gone.signal,
      );
      expect(r.headers.get("content-type")).toMatch(/text\/event-stream/);
      // The acknowledgement is the first frame.
      const reader = r.body!.getReader();
      const first = new TextDecoder().decode((await reader.read()).value);
      expect(first).toContain("notifications/subscriptions/acknowledged");
      await untilHealth(u, { watches: 1, listenStreams: 1 });
      gone.abort();
      await untilHealth(u, { watches: 0, listenStreams: 0 });
    } finally {
      await u.close();
    }
  });
});

describe("shutdown with listen streams open", () => {
  it("ends them gracefully (SubscriptionsListenResult) and stops their watches, without hanging", async () => {
    const log = await lab.writeFile(join(root0, "shutdown.log"), "x\n");
    const u = await httpScout();
    const sub = await u.client.listen({
      resourceSubscriptions: [`scout://${h0}${log}`],
      resourcesListChanged: true,
    });
    await untilHealth(u, { watches: 1, listenStreams: 1 });
    await u.server!.shutdown("test");
    expect(await sub.closed).toBe("graceful");
    await u.client.close();
  });

  it("over stdio: SIGTERM ends them gracefully too", async () => {
    const log = await lab.writeFile(join(root0, "shutdown-stdio.log"), "x\n");
    const u = await stdioScout();
    try {
      const sub = await u.client.listen({ resourceSubscriptions: [`scout://${h0}${log}`] });
      await untilHealth(u, { watches: 1, listenStreams: 1 });
      const pid = (u.client.transport as StdioClientTransport).pid!;
      process.kill(pid, "SIGTERM");
      expect(await sub.closed).toBe("graceful");
    } finally {
      await u.close();
    }
  });
});
