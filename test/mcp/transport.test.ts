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
import { rawHttp, sseMessages, startHttpScout, startStdioScout, type ScoutUnderTest } from "./harness.js";

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

describe("the session transport (src/transport/http-session.ts)", () => {
  it("follows the Streamable HTTP rules: SSE answers, 202, batches, GET stream, DELETE, and refusals", async () => {
    const raw = rawHttp(scout.url!);
    const init = await raw.initialize();
    expect(init.status).toBe(200);
    expect(init.headers.get("content-type")).toBe("text/event-stream");
    expect(init.headers.get("mcp-session-id")).toMatch(/^[0-9a-f-]{36}$/);
    const [hello] = sseMessages(await init.text());
    expect(hello).toMatchObject({ id: 0, result: { serverInfo: { name: "scout-mcp" } } });
    // A second initialize on the same session is refused.
    const again = await raw.initialize();
    expect(again.status).toBe(400);

    const initialized = await raw.post({ jsonrpc: "2.0", method: "notifications/initialized" });
    expect(initialized.status).toBe(202);

    // A batch: one answer stream carrying both responses.
    const batch = await raw.post([
      { jsonrpc: "2.0", id: 1, method: "tools/list", params: {} },
      {
        jsonrpc: "2.0",
        id: 2,
        method: "tools/call",
        params: { name: "scout", arguments: { target: `${h0}:${root0}/hello.txt` } },
      },
    ]);
    expect(batch.status).toBe(200);
    const answers = sseMessages(await batch.text());
    expect(answers.map((a) => a.id).sort()).toEqual([1, 2]);
    const read = answers.find((a) => a.id === 2) as { result: CallToolResult };
    expect((read.result.content[0] as { text: string }).text).toBe("hello\n");

    // Refusals, each with the SDK transport's status and message.
    const list = { jsonrpc: "2.0", id: 3, method: "tools/list", params: {} };
    const wrongAccept = await raw.post(list, { accept: "application/json" });
    expect(wrongAccept.status).toBe(406);
    const wrongType = await raw.post(list, { "content-type": "text/plain" });
    expect(wrongType.status).toBe(415);
    const wrongVersion = await raw.post(list, { "mcp-protocol-version": "1999-01-01" });
    expect(wrongVersion.status).toBe(400);
    expect(((await wrongVersion.json()) as { error: { message: string } }).error.message).toMatch(
      /Unsupported protocol version: 1999-01-01/,
    );
    const notRpc = await raw.post({ hello: "world" });
    expect(notRpc.status).toBe(400);
    const tooBig = await raw.post(
      JSON.stringify({ jsonrpc: "2.0", id: 4, method: "x", params: { pad: "x".repeat(9 << 20) } }),
    );
    expect(tooBig.status).toBe(413);

    // One GET stream per session: it opens at once, a second one is refused.
    const aborter = new AbortController();
    const stream = await raw.get({}, aborter.signal);
    expect(stream.status).toBe(200);
    expect(stream.headers.get("content-type")).toBe("text/event-stream");
    const second = await raw.get();
    expect(second.status).toBe(409);
    aborter.abort();
    await stream.body?.cancel().catch(() => {});

    // DELETE ends the session; it is then unknown.
    const sessions = scout.server!.http!.sessions();
    expect((await raw.del()).status).toBe(200);
    expect(scout.server!.http!.sessions()).toBe(sessions - 1);
    expect((await raw.post(list)).status).toBe(404);
  });

  it("starts a slow call's SSE stream (head, keep-alives) before its answer", async () => {
    const raw = rawHttp(scout.url!);
    await raw.initialize();
    const started = performance.now();
    const res = await raw.post({
      jsonrpc: "2.0",
      id: 1,
      method: "tools/call",
      params: { name: "scout", arguments: { target: `${h0}:${root0}`, query: "sleep 2; echo done" } },
    });
    const headAt = performance.now() - started;
    const body = await res.text();
    const answerAt = performance.now() - started;
    expect(res.headers.get("content-type")).toBe("text/event-stream");
    expect(answerAt).toBeGreaterThanOrEqual(1900);
    expect(headAt).toBeLessThan(answerAt - 500);
    const [answer] = sseMessages(body) as Array<{ result: CallToolResult }>;
    expect((answer!.result.content[0] as { text: string }).text).toContain("done");
    await raw.del();
  });

  it("survives a client that hangs up mid-call: the late answer is dropped, the session goes on", async () => {
    const raw = rawHttp(scout.url!);
    await raw.initialize();
    const hangUp = new AbortController();
    const pending = raw
      .post(
        {
          jsonrpc: "2.0",
          id: 7,
          method: "tools/call",
          params: { name: "scout", arguments: { target: `${h0}:${root0}`, query: "sleep 1; echo late" } },
        },
        {},
        hangUp.signal,
      )
      .catch((e: unknown) => e);
    await new Promise((r) => setTimeout(r, 300));
    hangUp.abort();
    expect(await pending).toBeInstanceOf(Error);
    await new Promise((r) => setTimeout(r, 1200)); // the call finishes with nobody to answer
    const after = await raw.post({
      jsonrpc: "2.0",
      id: 8,
      method: "tools/call",
      params: { name: "scout", arguments: { target: `${h0}:${root0}/hello.txt` } },
    });
    const [answer] = sseMessages(await after.text()) as Array<{ id: number; result: CallToolResult }>;
    expect(answer!.id).toBe(8);
    expect((answer!.result.content[0] as { text: string }).text).toBe("hello\n");
    await raw.del();
  });

  it("answers with one JSON body when SCOUT_HTTP_JSON_RESPONSE is set, batches as an array", async () => {
    const cfg = await lab.writeSshConfig([{ alias: h0, port: lab.hosts[0]!.port }], "json_mode_config");
    const json = await startHttpScout(lab, { sshConfigPath: cfg, httpJsonResponse: true });
    try {
      // The SDK client works unchanged against it.
      expect((await json.call({ target: `${h0}:${root0}/hello.txt` })).text).toBe("hello\n");
      const raw = rawHttp(json.url!);
      await raw.initialize();
      const one = await raw.post({ jsonrpc: "2.0", id: 1, method: "tools/list", params: {} });
      expect(one.headers.get("content-type")).toBe("application/json");
      expect(((await one.json()) as { id: number }).id).toBe(1);
      const both = await raw.post([
        { jsonrpc: "2.0", id: 2, method: "tools/list", params: {} },
        { jsonrpc: "2.0", id: 3, method: "resources/list", params: {} },
      ]);
      const arr = (await both.json()) as Array<{ id: number; result: unknown }>;
      expect(arr.map((a) => a.id)).toEqual([2, 3]);
      expect(arr.every((a) => a.result !== undefined)).toBe(true);
    } finally {
      await json.close();
    }
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
