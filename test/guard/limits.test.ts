import { createServer, request, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ConcurrencyLimiter } from "../../src/guard/concurrency.js";
import { RateLimiter } from "../../src/guard/rate-limit.js";
import { keyHash, makeHttpGate } from "../../src/guard/http-gate.js";
import { isScoutError } from "../../src/errors.js";

describe("ConcurrencyLimiter", () => {
  it("runs at most N at once, queues the rest in order, refuses past the queue", async () => {
    const limiter = new ConcurrencyLimiter(2, 2);
    const r1 = await limiter.acquire();
    const r2 = await limiter.acquire();
    const order: number[] = [];
    const q3 = limiter.acquire().then((r) => (order.push(3), r));
    const q4 = limiter.acquire().then((r) => (order.push(4), r));
    const e5 = await limiter.acquire().catch((e: unknown) => e);
    expect(isScoutError(e5, "refused")).toBe(true);
    expect((e5 as Error).message).toBe("server busy");
    expect(limiter.active).toBe(2);
    expect(limiter.waiting).toBe(2);
    r1();
    const r3 = await q3;
    r2();
    const r4 = await q4;
    expect(order).toEqual([3, 4]);
    r3();
    r4();
    r4(); // releasing twice is harmless
    expect(limiter.active).toBe(0);
  });

  it("a queued call leaves the queue when its signal aborts", async () => {
    const limiter = new ConcurrencyLimiter(1, 5);
    const r1 = await limiter.acquire();
    const ac = new AbortController();
    const p = limiter.acquire(ac.signal).catch((e: unknown) => e);
    expect(limiter.waiting).toBe(1);
    ac.abort();
    expect(await p).toBeInstanceOf(Error);
    expect(limiter.waiting).toBe(0);
    r1();
    expect(limiter.active).toBe(0);
  });
});

describe("RateLimiter", () => {
  it("allows the per-minute budget, then says when to retry, and refills", () => {
    let now = 0;
    const rl = new RateLimiter(6, () => now);
    for (let i = 0; i < 6; i++) expect(rl.take("a")).toBe(0);
    expect(rl.take("a")).toBe(10); // one token every 10 s
    expect(rl.take("b")).toBe(0); // per client
    now += 10_000;
    expect(rl.take("a")).toBe(0);
    expect(rl.take("a")).toBeGreaterThan(0);
  });

  it("0 disables it", () => {
    const rl = new RateLimiter(0);
    for (let i = 0; i < 1000; i++) expect(rl.take("a")).toBe(0);
  });
});

describe("HTTP gate", () => {
  let server: Server;
  let port: number;
  beforeAll(async () => {
    const gate = makeHttpGate({
      apiKeys: ["s3cret", "other"],
      allowedOrigins: ["https://app.example"],
      bindHost: "127.0.0.1",
    });
    server = createServer((req, res) => {
      if (gate(req, res)) res.writeHead(200).end("passed");
    });
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", () => r()));
    port = (server.address() as AddressInfo).port;
  });
  afterAll(() => new Promise<void>((r) => server.close(() => r())));

  function get(headers: Record<string, string>): Promise<{ status: number; body: string }> {
    return new Promise((resolve, reject) => {
      const req = request({ host: "127.0.0.1", port, path: "/mcp", headers }, (res) => {
        let body = "";
        res.on("data", (d: Buffer) => (body += d.toString()));
        res.on("end", () => resolve({ status: res.statusCode ?? 0, body }));
      });
      req.on("error", reject);
      req.end();
    });
  }

  it("requires a valid key, by Bearer or X-API-Key", async () => {
    expect((await get({})).status).toBe(401);
    const bad = await get({ authorization: "Bearer nope" });
    expect(bad.status).toBe(401);
    expect(JSON.parse(bad.body)).toMatchObject({
      jsonrpc: "2.0",
      error: { message: expect.stringMatching(/invalid API key/) },
    });
    expect((await get({ authorization: "Bearer s3cret" })).status).toBe(200);
    expect((await get({ "x-api-key": "other" })).status).toBe(200);
  });

  it("refuses foreign Origins and non-loopback Host headers", async () => {
    const key = { "x-api-key": "s3cret" };
    expect((await get({ ...key, origin: "http://evil.example" })).status).toBe(403);
    expect((await get({ ...key, origin: "http://localhost:3000" })).status).toBe(200);
    expect((await get({ ...key, origin: "https://app.example" })).status).toBe(200);
    expect((await get({ ...key, host: "evil.example:8000" })).status).toBe(403);
  });

  it("logs only short hashes of keys", () => {
    expect(keyHash("s3cret")).toMatch(/^[0-9a-f]{8}$/);
    expect(keyHash("s3cret")).not.toContain("s3cret");
  });
});
