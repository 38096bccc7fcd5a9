/**
 * The transports themselves: many Streamable HTTP sessions at once, the HTTP protocol errors,
 * resources over stdio, and the per-host errors not covered elsewhere (permission denied, a host
 * key that is not in known_hosts).
 */
import { join } from "node:path";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import type { CallToolResult } from "@modelcontextprotocol/sdk/types.js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { FaultProxy, startFleet, type LabFleet } from "../fleet/index.js";
import { startHttpScout, startStdioScout, type ScoutUnderTest } from "./harness.js";

let lab: LabFleet;
let scout: ScoutUnderTest;
let h0: string;
let root0: string;
let stranger: FaultProxy;

beforeAll(async () => {
  lab = await startFleet({ hosts: 1 });
  h0 = lab.hosts[0]!.alias;
  root0 = lab.hosts[0]!.root;
  await lab.writeFile(join(root0, "hello.txt"), "hello\n");
  await lab.writeFile(join(root0, "secret.txt"), "no\n", 0o000);
  // A proxy made directly (not by lab.proxy()) has no known_hosts line: an unknown host key.
  stranger = await FaultProxy.start({ targetPort: lab.hosts[0]!.port });
  const cfg = await lab.writeSshConfig([
    { alias: h0, port: lab.hosts[0]!.port },
    { alias: "stranger", port: stranger.port },
  ]);
  scout = await startHttpScout(lab, { sshConfigPath: cfg });
});

afterAll(async () => {
  await scout?.close();
  await stranger?.close();
  await lab?.stop();
});

describe("Streamable HTTP", () => {
  it("serves many sessions at once, each with its own Mcp-Session-Id", async () => {
    const before = scout.server!.http!.sessions();
    const clients = await Promise.all(
      Array.from({ length: 16 }, async (_, i) => {
        const c = new Client({ name: `c${i}`, version: "1" });
        const t = new StreamableHTTPClientTransport(new URL(scout.url!));
        await c.connect(t);
        return { c, t };
      }),
    );
    try {
      expect(new Set(clients.map(({ t }) => t.sessionId)).size).toBe(16);
      expect(scout.server!.http!.sessions()).toBe(before + 16);
      const results = await Promise.all(
        clients.flatMap(({ c }) =>
          [0, 1, 2].map(
            async () =>
              (await c.callTool({
                name: "scout",
                arguments: { target: `${h0}:${root0}/hello.txt` },
              })) as CallToolResult,
          ),
        ),
      );
      for (const r of results) expect((r.content[0] as { text: string }).text).toBe("hello\n");
    } finally {
      // terminateSession sends DELETE: the server forgets the session.
      await Promise.all(clients.map(({ t }) => t.terminateSession()));
      await Promise.all(clients.map(({ c }) => c.close()));
    }
    expect(scout.server!.http!.sessions()).toBe(before);
  });

  it("answers protocol mistakes with JSON-RPC errors and the right status", async () => {
    const base = scout.url!;
    const post = (body: unknown, headers: Record<string, string> = {}) =>
      fetch(base, {
        method: "POST",
        headers: {
          "content-type": "application/json",
          accept: "application/json, text/event-stream",
          ...headers,
        },
        body: typeof body === "string" ? body : JSON.stringify(body),
      });
    const call = { jsonrpc: "2.0", id: 1, method: "tools/list", params: {} };

    const noSession = await post(call);
    expect(noSession.status).toBe(400);
    expect(((await noSession.json()) as { error: { message: string } }).error.message).toMatch(
      /no Mcp-Session-Id header and not an initialize request/,
    );
    const unknown = await post(call, { "mcp-session-id": "not-a-session" });
    expect(unknown.status).toBe(404);
    expect(((await unknown.json()) as { error: { message: string } }).error.message).toMatch(
      /Session not found: start a new session/,
    );
    const garbage = await post("{not json");
    expect(garbage.status).toBe(400);
    expect(((await garbage.json()) as { error: { code: number } }).error.code).toBe(-32700);

    const health = await fetch(base.replace(/\/mcp$/, "/health"));
    expect(health.status).toBe(200);
    expect(await health.text()).toBe("OK");
    const nowhere = await fetch(base.replace(/\/mcp$/, "/nowhere"));
    expect(nowhere.status).toBe(404);
    expect(await nowhere.text()).toBe("Not found: MCP is served at /mcp");
    // The server is still up and serving.
    expect((await scout.call({ target: `${h0}:${root0}/hello.txt` })).text).toBe("hello\n");
  });
});

describe("errors of their own", () => {
  it("permission denied", async () => {
    const r = await scout.call({ target: `${h0}:${root0}/secret.txt` });
    expect(r.isError).toBe(true);
    expect(r.text).toMatch(/^Error: Permission denied/);
    expect(r.text).toContain(`${root0}/secret.txt`);
    expect(r.structuredContent).toMatchObject({ error: { code: "permission-denied" } });
  });

  it("a host key not in known_hosts is refused, with the fix", async () => {
    const r = await scout.call({ target: "stranger:/etc/hostname" });
    expect(r.isError).toBe(true);
    expect(r.text).toMatch(/^Error: .*stranger/);
    expect(r.text).toMatch(/known_hosts|ssh-keyscan/);
    expect(r.structuredContent).toMatchObject({ error: { code: "host-key-unknown" } });
  });
});

describe("stdio", () => {
  it("serves resources too", async () => {
    const s = await startStdioScout(lab);
    try {
      const list = await s.client.readResource({ uri: "hosts://list" });
      expect((list.contents[0] as { text: string }).text).toContain(`[✓] ${h0} (online)`);
      const file = await s.client.readResource({ uri: `scout://${h0}${root0}/hello.txt` });
      expect((file.contents[0] as { text: string }).text).toBe("hello\n");
      const perHost = await s.client.readResource({ uri: `${h0}://${root0.slice(1)}/hello.txt` });
      expect((perHost.contents[0] as { text: string }).text).toBe("hello\n");
    } finally {
      await s.close();
    }
  });
});
