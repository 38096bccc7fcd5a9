/**
 * Who may call and how much, end to end: the real HTTP server, a real SDK client, a real sshd
 * fleet. API keys, DNS-rebinding checks, the bind warning, the concurrency queue, per-client rate
 * limits and the end-to-end request deadline (with the remote process group killed).
 */
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { startFleet, type LabFleet } from "../fleet/index.js";
import {
  INITIALIZE,
  assertHealthy,
  captureLogger,
  connectClient,
  processesMatching,
  rawRequest,
  startServer,
  uniqueSleep,
  waitFor,
} from "./helpers.js";

let lab: LabFleet;
let good: string;

beforeAll(async () => {
  lab = await startFleet({ hosts: 2 });
  await lab.writeFile(join(lab.hosts[0]!.root, "hello.txt"), "hello\n");
  good = `${lab.hosts[0]!.alias}:${lab.hosts[0]!.root}/hello.txt`;
});

afterAll(async () => {
  await lab?.stop();
});

describe("who may call", () => {
  it("API keys: 401 with a JSON-RPC body without or with a wrong key; Bearer and X-API-Key pass; /health is open", async () => {
    const cap = captureLogger();
    const srv = await startServer(lab, { apiKeys: ["k-one-secret", "k-two-secret"] }, cap.log);
    try {
      const none = await rawRequest(srv.base, "/mcp", { method: "POST", body: INITIALIZE });
      expect(none.status).toBe(401);
      expect(JSON.parse(none.body)).toMatchObject({
        jsonrpc: "2.0",
        id: null,
        error: { code: -32001, message: expect.stringMatching(/Authorization: Bearer/) },
      });
      // Not an OAuth-looking challenge: no Bearer scheme, no resource_metadata.
      expect(none.headers["www-authenticate"]).toMatch(/^ApiKey realm="scout-mcp".*API key/);
      expect(none.headers["www-authenticate"]).not.toMatch(/Bearer realm|resource_metadata/);
      expect(JSON.parse(none.body).error.message).toMatch(/Scout wants an API key.*does not use OAuth/);
      const discovery = await rawRequest(srv.base, "/.well-known/oauth-protected-resource/mcp");
      expect(discovery.status).toBe(404);
      expect(discovery.body).toMatch(/does not use OAuth/);
      const wrong = await rawRequest(srv.base, "/mcp", {
        method: "POST",
        body: INITIALIZE,
        headers: { authorization: "Bearer not-a-key" },
      });
      expect(wrong.status).toBe(401);
      expect(JSON.parse(wrong.body)).toMatchObject({
        error: { message: expect.stringMatching(/^Unauthorized: invalid API key/) },
      });
      const wrongX = await rawRequest(srv.base, "/mcp", {
        method: "POST",
        body: INITIALIZE,
        headers: { "x-api-key": "k-one-secreT" },
      });
      expect(wrongX.status).toBe(401);

      const health = await rawRequest(srv.base, "/health");
      expect(health.status).toBe(200);
      expect(health.body).toBe("OK");
      expect((await rawRequest(srv.base, "/health?verbose=1")).status).toBe(401);
      expect((await rawRequest(srv.base, "/metrics")).status).toBe(401);

      const bearer = await connectClient(srv.url, { headers: { authorization: "Bearer k-one-secret" } });
      const viaX = await connectClient(srv.url, { headers: { "x-api-key": "k-two-secret" } });
      expect((await bearer.call({ target: good })).text).toBe("hello\n");
      expect((await viaX.call({ target: good })).text).toBe("hello\n");
      await bearer.close();
      await viaX.close();
      await expect(connectClient(srv.url)).rejects.toThrow();

      // Refusals are logged with a short hash, never the key itself.
      const refused = cap.records().filter((r) => r.msg === "HTTP request refused");
      expect(refused.length).toBeGreaterThanOrEqual(3);
      expect(refused.some((r) => /^invalid key [0-9a-f]{8}$/.test(String(r.detail)))).toBe(true);
      expect(cap.text()).not.toContain("not-a-key");
      expect(cap.text()).not.toContain("k-one-secre");
      expect(cap.text()).not.toContain("k-two-secre");
    } finally {
      await srv.close();
    }
  });

  it("DNS rebinding: a foreign Origin or a non-loopback Host gets 403; loopback and listed origins pass", async () => {
    const srv = await startServer(lab, { allowedOrigins: ["https://app.example"] });
    try {
      const port = new URL(srv.base).port;
      const post = (headers: Record<string, string>) =>
        rawRequest(srv.base, "/mcp", { method: "POST", body: INITIALIZE, headers });
      const evil = await post({ origin: "http://evil.example" });
      expect(evil.status).toBe(403);
      expect(JSON.parse(evil.body)).toMatchObject({
        jsonrpc: "2.0",
        error: { message: expect.stringMatching(/Origin http:\/\/evil\.example is not allowed/) },
      });
      expect((await post({ origin: "http://attacker.127.0.0.1.nip.io" })).status).toBe(403);
      expect((await post({ origin: "http://localhost:5173" })).status).toBe(200);
      expect((await post({ origin: "http://127.0.0.1:3000" })).status).toBe(200);
      expect((await post({ origin: "https://app.example" })).status).toBe(200);
      const rebound = await post({ host: `evil.example:${port}` });
      expect(rebound.status).toBe(403);
      expect(rebound.body).toMatch(/Host evil\.example:\d+ is not a loopback name/);
      expect((await post({ host: `localhost:${port}` })).status).toBe(200);
    } finally {
      await srv.close();
    }
  });

  it("binding a non-loopback address without API keys prints a loud warning; with keys it doesn't", async () => {
    const stderr = vi.spyOn(process.stderr, "write").mockImplementation(() => true);
    try {
      const cap = captureLogger();
      // Port 0 and shut down at once; nothing connects to it.
      const open = await startServer(lab, { httpHost: "0.0.0.0" }, cap.log);
      await open.close();
      const warn = cap.records().find((r) => r.level === "warn" && /WITHOUT API keys/.test(String(r.msg)));
      expect(warn).toBeDefined();
      expect(stderr.mock.calls.map((c) => String(c[0])).join("")).toMatch(
        /\*\*\* scout-mcp WARNING: listening on 0\.0\.0\.0 without SCOUT_API_KEYS/,
      );
      stderr.mockClear();
      const cap2 = captureLogger();
      const keyed = await startServer(lab, { httpHost: "0.0.0.0", apiKeys: ["k"] }, cap2.log);
      await keyed.close();
      expect(cap2.text()).not.toMatch(/WITHOUT API keys/);
      expect(stderr.mock.calls.map((c) => String(c[0])).join("")).not.toMatch(/WARNING/);
    } finally {
      stderr.mockRestore();
    }
  });
});

describe("how much", () => {
  it("past SCOUT_MAX_CONCURRENT_REQUESTS + SCOUT_MAX_QUEUED_REQUESTS a call gets 'Error: server busy' at once", async () => {
    const srv = await startServer(lab, { maxConcurrentRequests: 2, maxQueuedRequests: 1 });
    const c = await connectClient(srv.url);
    try {
      const target = `${lab.hosts[1]!.alias}:${lab.hosts[1]!.root}`;
      const started = performance.now();
      const calls = Array.from({ length: 6 }, () => c.call({ target, query: "sleep 2; echo done" }));
      const busyAt: number[] = [];
      for (const p of calls)
        void p.then(
          (r) => r.text.startsWith("Error: server busy") && busyAt.push(performance.now() - started),
        );
      const results = await Promise.all(calls);
      const done = results.filter((r) => !r.isError && r.text.includes("done"));
      const busy = results.filter((r) => r.isError && r.text.startsWith("Error: server busy"));
      expect(done).toHaveLength(3); // 2 running + 1 queued
      expect(busy).toHaveLength(3);
      expect(busy[0]!.text).toMatch(/2 calls running and 1 queued; retry shortly/);
      // Refused at once, not after waiting for a slot (generous: the first sleeps take 2 s).
      expect(Math.max(...busyAt)).toBeLessThan(1500);
      expect(await assertHealthy(srv.base, c, good)).toEqual({ health: 200, good: true });
    } finally {
      await c.close();
      await srv.close();
    }
  });

  it("SCOUT_RATE_LIMIT_PER_MINUTE: per API key, else per remote address; says when to retry", async () => {
    const keyed = await startServer(lab, { rateLimitPerMinute: 3, apiKeys: ["key-a", "key-b"] });
    const a = await connectClient(keyed.url, { headers: { "x-api-key": "key-a" } });
    const b = await connectClient(keyed.url, { headers: { "x-api-key": "key-b" } });
    try {
      for (let i = 0; i < 3; i++) expect((await a.call({ target: good })).text).toBe("hello\n");
      const limited = await a.call({ target: good });
      expect(limited.isError).toBe(true);
      expect(limited.text).toMatch(/^Error: rate limit exceeded, retry in (1[0-9]|20) s$/);
      expect((await b.call({ target: good })).text).toBe("hello\n"); // another key, another bucket
      // Resource reads draw from the caller's own bucket too, not from one shared by every client.
      const uri = `scout://${lab.hosts[0]!.alias}${lab.hosts[0]!.root}/hello.txt`;
      await expect(a.client.readResource({ uri })).rejects.toThrow(/rate limit exceeded/);
      expect((await b.client.readResource({ uri })).contents[0]).toMatchObject({ text: "hello\n" });
    } finally {
      await a.close();
      await b.close();
      await keyed.close();
    }
    const open = await startServer(lab, { rateLimitPerMinute: 2 });
    const c1 = await connectClient(open.url);
    const c2 = await connectClient(open.url);
    try {
      expect((await c1.call({ target: good })).isError).toBeFalsy();
      expect((await c2.call({ target: good })).isError).toBeFalsy();
      // Same address (127.0.0.1), same bucket, whichever session.
      expect((await c1.call({ target: good })).text).toMatch(/^Error: rate limit exceeded, retry in \d+ s$/);
      expect((await c2.call({ target: good })).text).toMatch(/^Error: rate limit exceeded/);
      expect((await rawRequest(open.base, "/health")).status).toBe(200);
    } finally {
      await c1.close();
      await c2.close();
      await open.close();
    }
  });

  it("SCOUT_REQUEST_TIMEOUT: the call returns an error and the remote process group is killed", async () => {
    const srv = await startServer(lab, { requestTimeoutMs: 2500, commandTimeoutMs: 60_000 });
    const c = await connectClient(srv.url);
    try {
      const sleep = uniqueSleep(30);
      const pending = c.call({ target: `${lab.hosts[1]!.alias}:/tmp`, query: `${sleep}; echo never` });
      // The command really runs on the host…
      await waitFor(
        () => processesMatching(sleep).some((p) => p.cmd.startsWith("sleep")),
        10_000,
        "the remote sleep",
      );
      const r = await pending;
      expect(r.isError).toBe(true);
      expect(r.text).toMatch(/^Error: request timed out after 2\.5 s \(SCOUT_REQUEST_TIMEOUT\)/);
      // …and nothing of it is left: no orphaned sleep.
      await waitFor(() => processesMatching(sleep).length === 0, 10_000, `no '${sleep}' left on the host`);
      expect(await assertHealthy(srv.base, c, good)).toEqual({ health: 200, good: true });
    } finally {
      await c.close();
      await srv.close();
    }
  });
});
