/**
 * Streamable HTTP defects that clients other than the TypeScript SDK ran into, reproduced on the
 * wire: a cancelled call's stream that never ended, sessions that never expired, an empty batch
 * answered with 202.
 */
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startFleet, type LabFleet } from "../fleet/index.js";
import {
  rawHttp,
  sseMessages,
  startHttpScout,
  uniqueSleep,
  waitUntil,
  type ScoutUnderTest,
} from "../mcp/harness.js";

let lab: LabFleet;
let h0: string;
let root0: string;

beforeAll(async () => {
  lab = await startFleet({ hosts: 1 });
  h0 = lab.hosts[0]!.alias;
  root0 = lab.hosts[0]!.root;
  await lab.writeFile(join(root0, "hello.txt"), "hello\n");
});

afterAll(async () => {
  await lab?.stop();
});

async function session(url: string) {
  const raw = rawHttp(url);
  const init = await raw.initialize();
  expect(init.status).toBe(200);
  await init.text();
  expect((await raw.post({ jsonrpc: "2.0", method: "notifications/initialized" })).status).toBe(202);
  return raw;
}

describe("cancellation over Streamable HTTP", () => {
  let scout: ScoutUnderTest;
  beforeAll(async () => {
    scout = await startHttpScout(lab, { statusCacheTtlMs: 0 });
  });
  afterAll(async () => {
    await scout?.close();
  });

  it("ends a cancelled call's SSE stream when the cancellation arrives", async () => {
    const raw = await session(scout.url!);
    const call = await raw.post({
      jsonrpc: "2.0",
      id: 7,
      method: "tools/call",
      params: { name: "scout", arguments: { target: `${h0}:/`, query: uniqueSleep(30) } },
    });
    expect(call.status).toBe(200);
    const body = call.text();
    await new Promise((r) => setTimeout(r, 300));
    const cancel = await raw.post({
      jsonrpc: "2.0",
      method: "notifications/cancelled",
      params: { requestId: 7, reason: "user" },
    });
    expect(cancel.status).toBe(202);
    const started = performance.now();
    const text = await body; // resolves only once the server ends the stream
    expect(performance.now() - started).toBeLessThan(5000);
    // No response is owed for a cancelled request: the stream ends without one.
    expect(sseMessages(text).filter((m) => m.id === 7)).toEqual([]);
    // The session still works.
    const next = await raw.post({ jsonrpc: "2.0", id: 8, method: "tools/list", params: {} });
    expect(sseMessages(await next.text())[0]?.id).toBe(8);
  });

  it("stays responsive after a hundred cancelled calls on one session (SDK client)", async () => {
    for (let i = 0; i < 100; i++) {
      const ac = new AbortController();
      const p = scout.client.callTool(
        { name: "scout", arguments: { target: `${h0}:/`, query: "sleep 30" } },
        undefined,
        { signal: ac.signal },
      );
      setTimeout(() => ac.abort(), 5);
      await expect(p).rejects.toThrow();
    }
    const ok = await scout.call({ target: `${h0}:${root0}/hello.txt` });
    expect(ok.text).toBe("hello\n");
  });
});

describe("protocol errors", () => {
  let scout: ScoutUnderTest;
  beforeAll(async () => {
    scout = await startHttpScout(lab);
  });
  afterAll(async () => {
    await scout?.close();
  });

  it("answers an empty JSON-RPC batch with Invalid Request, with and without a session", async () => {
    const anon = rawHttp(scout.url!);
    const r1 = await anon.post([]);
    expect(r1.status).toBe(400);
    expect(await r1.json()).toMatchObject({ jsonrpc: "2.0", id: null, error: { code: -32600 } });
    const raw = await session(scout.url!);
    const r2 = await raw.post([]);
    expect(r2.status).toBe(400);
    expect(await r2.json()).toMatchObject({ error: { code: -32600, message: /empty JSON-RPC batch/ } });
  });
});

describe("session lifetime", () => {
  it("closes sessions idle longer than SCOUT_SESSION_IDLE_TIMEOUT, but not one with an open stream", async () => {
    const scout = await startHttpScout(lab, { sessionIdleTimeoutMs: 600 });
    try {
      const before = scout.server!.http!.sessions(); // the harness client's own session
      const quiet = await session(scout.url!);
      const listening = await session(scout.url!);
      const ac = new AbortController();
      const stream = await listening.get({}, ac.signal);
      expect(stream.status).toBe(200);
      expect(scout.server!.http!.sessions()).toBe(before + 2);
      // The harness client (SDK) keeps its GET stream open, like `listening`: both stay.
      await waitUntil(
        () => scout.server!.http!.sessions() === before + 1,
        5000,
        "the idle session to expire",
      );
      const gone = await quiet.post({ jsonrpc: "2.0", id: 2, method: "tools/list", params: {} });
      expect(gone.status).toBe(404);
      expect(((await gone.json()) as { error: { message: string } }).error.message).toMatch(
        /Session not found: start a new session/,
      );
      ac.abort();
      const alive = await listening.post({ jsonrpc: "2.0", id: 3, method: "tools/list", params: {} });
      expect(alive.status).toBe(200);
      await alive.text();
    } finally {
      await scout.server!.shutdown("test done");
    }
  });

  it("caps live sessions per client: a new one closes that client's idlest", async () => {
    const scout = await startHttpScout(lab, { maxSessionsPerClient: 3 });
    try {
      // The harness client holds the first session (same address); c closes it, d closes a.
      const a = await session(scout.url!);
      await session(scout.url!);
      await session(scout.url!);
      const d = await session(scout.url!);
      expect(scout.server!.http!.sessions()).toBe(3);
      const r = await a.post({ jsonrpc: "2.0", id: 2, method: "tools/list", params: {} });
      expect(r.status).toBe(404);
      await r.text();
      const ok = await d.post({ jsonrpc: "2.0", id: 2, method: "tools/list", params: {} });
      expect(ok.status).toBe(200);
      await ok.text();
    } finally {
      await scout.server!.shutdown("test done");
    }
  });
});
