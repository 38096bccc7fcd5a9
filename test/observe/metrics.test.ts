/**
 * Real traffic through Scout (Streamable HTTP, real SDK client, real sshds), then GET /metrics:
 * the counters must have moved exactly as the traffic says.
 */
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import type { CallToolResult } from "@modelcontextprotocol/sdk/types.js";
import { join } from "node:path";
import { Writable } from "node:stream";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { findFreePort, startFleet, type LabFleet } from "../fleet/index.js";
import { labSettings, startHttpScout, type ScoutUnderTest } from "../mcp/harness.js";
import { serve } from "../../src/cli/serve.js";
import { keyHash } from "../../src/guard/http-gate.js";
import { createLogger } from "../../src/observe/log.js";
import { scrape, type Scrape } from "./scrape.js";
import { REQUEST_MODES } from "../../src/observe/metrics.js";

let lab: LabFleet;
let h0: string;
let h1: string;
let root0: string;
let root1: string;
/** ssh_config with the two lab hosts plus `dead`, a port where nothing listens. */
let configWithDeadHost: string;

const HELLO = "hello\nworld\n";

function metricsUrl(s: ScoutUnderTest): string {
  return (s.url ?? "").replace(/\/mcp$/, "/metrics");
}

/** Every value of `name` (summed over other labels) moved by `delta` between two scrapes. */
function delta(before: Scrape, after: Scrape, name: string, labels: Record<string, string> = {}): number {
  return after.value(name, labels) - before.value(name, labels);
}

/** Polls until `check` passes on a fresh scrape (for gauges sampled while a call runs). */
async function scrapeUntil(url: string, check: (s: Scrape) => boolean, timeoutMs = 10_000): Promise<Scrape> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const s = await scrape(url);
    if (check(s) || Date.now() > until) return s;
    await new Promise((r) => setTimeout(r, 25));
  }
}

beforeAll(async () => {
  lab = await startFleet({ hosts: 2 });
  h0 = lab.hosts[0]!.alias;
  h1 = lab.hosts[1]!.alias;
  root0 = lab.hosts[0]!.root;
  root1 = lab.hosts[1]!.root;
  await lab.writeFile(join(root0, "hello.txt"), HELLO);
  await lab.writeFile(join(root1, "hello.txt"), "hello\nthere\n");
  await lab.writeFile(join(root0, "dir/a.txt"), "a\n");
  await lab.writeFile(join(root1, "dir/b.txt"), "b\n");
  configWithDeadHost = await lab.writeSshConfig([
    ...lab.hosts.map((h) => ({ alias: h.alias, port: h.port })),
    { alias: "dead", port: await findFreePort() },
  ]);
});

afterAll(async () => {
  await lab?.stop();
});

describe("GET /metrics after real traffic", () => {
  let scout: ScoutUnderTest;
  let url: string;

  beforeAll(async () => {
    scout = await startHttpScout(lab, { sshConfigPath: configWithDeadHost, statusCacheTtlMs: 60_000 });
    url = metricsUrl(scout);
  });
  afterAll(async () => {
    await scout?.close();
  });

  it("exports every metric the issue names, with its type, plus the default process metrics", async () => {
    const s = await scrape(url);
    const families: Record<string, string> = {
      scout_pool_connections: "gauge",
      scout_pool_hits_total: "counter",
      scout_pool_misses_total: "counter",
      scout_pool_evictions_total: "counter",
      scout_pool_wait_seconds: "histogram",
      scout_connection_creation_seconds: "histogram",
      scout_connection_failures_total: "counter",
      scout_request_duration_seconds: "histogram",
      scout_requests_total: "counter",
      scout_requests_in_flight: "gauge",
      scout_requests_rejected_total: "counter",
      scout_output_bytes: "histogram",
      scout_host_up: "gauge",
    };
    for (const [family, type] of Object.entries(families)) expect(s.type(family), family).toBe(type);
    for (const name of [
      "process_cpu_seconds_total",
      "process_resident_memory_bytes",
      "process_open_fds",
      "process_max_fds",
      "nodejs_eventloop_lag_p99_seconds",
      "nodejs_heap_size_used_bytes",
    ]) {
      expect(s.has(name), name).toBe(true);
    }
    // Before any call: nothing in flight, no connection, the cap is visible.
    expect(s.value("scout_requests_in_flight")).toBe(0);
    expect(s.value("scout_pool_connections")).toBe(0);
    expect(s.value("scout_pool_max_connections")).toBe(100);
  });

  it("a cold read misses, waits and creates a connection; a warm read hits and creates none", async () => {
    const s0 = await scrape(url);
    const cold = await scout.call({ target: `${h0}:${root0}/hello.txt` });
    expect(cold.text).toBe(HELLO);
    const s1 = await scrape(url);
    expect(delta(s0, s1, "scout_pool_misses_total", { host: h0 })).toBeGreaterThanOrEqual(1);
    expect(delta(s0, s1, "scout_connection_creation_seconds_count", { host: h0 })).toBe(1);
    expect(delta(s0, s1, "scout_connection_creation_seconds_sum", { host: h0 })).toBeGreaterThan(0);
    expect(delta(s0, s1, "scout_pool_wait_seconds_count", { host: h0 })).toBeGreaterThanOrEqual(1);
    expect(s1.value("scout_pool_connections", { state: "idle" })).toBe(1);
    expect(s1.value("scout_pool_connections", { state: "active" })).toBe(0);

    for (let i = 0; i < 3; i++) {
      expect((await scout.call({ target: `${h0}:${root0}/hello.txt` })).text).toBe(HELLO);
    }
    const s2 = await scrape(url);
    expect(delta(s1, s2, "scout_pool_hits_total", { host: h0 })).toBeGreaterThanOrEqual(3);
    expect(delta(s1, s2, "scout_pool_misses_total", { host: h0 })).toBe(0);
    expect(delta(s1, s2, "scout_connection_creation_seconds_count")).toBe(0);
    expect(delta(s1, s2, "scout_pool_evictions_total")).toBe(0);
    expect(s2.value("scout_pool_connections", { state: "idle" })).toBe(1);
    // Four reads of a 12-byte file: four observations of 12 bytes each.
    expect(delta(s0, s2, "scout_requests_total", { mode: "read", outcome: "ok" })).toBe(4);
    expect(delta(s0, s2, "scout_output_bytes_count", { mode: "read" })).toBe(4);
    expect(delta(s0, s2, "scout_output_bytes_sum", { mode: "read" })).toBe(4 * HELLO.length);
  });

  it("counts requests and durations for every mode, and errors as outcome=error", async () => {
    const s0 = await scrape(url);
    const calls: Array<[string, () => Promise<{ isError?: boolean; text: string }>]> = [
      ["hosts", () => scout.call({ target: "hosts" })],
      ["read", () => scout.call({ target: `${h0}:${root0}/hello.txt` })],
      ["list", () => scout.call({ target: `${h0}:${root0}/dir` })],
      ["tree", () => scout.call({ target: `${h0}:${root0}`, tree: true })],
      ["find", () => scout.call({ target: `${h0}:${root0}`, find: "*.txt" })],
      ["command", () => scout.call({ target: `${h0}:${root0}`, query: "echo hi" })],
      ["diff", () => scout.call({ target: `${h0}:${root0}/hello.txt`, diff: `${h1}:${root1}/hello.txt` })],
      ["broadcast", () => scout.call({ targets: [`${h0}:${root0}/dir`, `${h1}:${root1}/dir`] })],
      [
        "beam",
        () => scout.call({ beam_source: `${h0}:${root0}/hello.txt`, beam_target: `${h1}:${root1}/copy.txt` }),
      ],
      [
        "resource",
        async () => {
          const r = await scout.client.readResource({ uri: `scout://${h0}${root0}/hello.txt` });
          const c = r.contents[0];
          return { text: c && "text" in c ? c.text : "" };
        },
      ],
    ];
    expect(calls.map(([m]) => m).sort()).toEqual([...REQUEST_MODES].sort());
    for (const [mode, call] of calls) {
      const r = await call();
      expect(r.isError, `${mode}: ${r.text}`).toBeFalsy();
    }
    const s1 = await scrape(url);
    for (const [mode] of calls) {
      expect(delta(s0, s1, "scout_requests_total", { mode, outcome: "ok" }), mode).toBe(1);
      expect(delta(s0, s1, "scout_request_duration_seconds_count", { mode }), mode).toBe(1);
      expect(delta(s0, s1, "scout_request_duration_seconds_sum", { mode }), mode).toBeGreaterThan(0);
      // Histograms are cumulative: the +Inf bucket holds every observation.
      expect(delta(s0, s1, "scout_request_duration_seconds_bucket", { mode, le: "+Inf" }), mode).toBe(1);
    }
    // Resource reads count their output like tool calls do.
    expect(delta(s0, s1, "scout_output_bytes_count", { mode: "resource" })).toBe(1);
    expect(delta(s0, s1, "scout_output_bytes_sum", { mode: "resource" })).toBe(HELLO.length);

    const missing = await scout.call({ target: `${h0}:${root0}/no-such-file` });
    expect(missing.isError).toBe(true);
    const s2 = await scrape(url);
    expect(delta(s1, s2, "scout_requests_total", { mode: "read", outcome: "error" })).toBe(1);
    expect(delta(s1, s2, "scout_requests_total", { mode: "read", outcome: "ok" })).toBe(0);
  });

  it("shows the call in flight and its connection active while a command runs", async () => {
    const running = scout.call({ target: `${h0}:${root0}`, query: "sleep 1; echo done" });
    const during = await scrapeUntil(
      url,
      (s) =>
        s.value("scout_requests_in_flight") === 1 &&
        s.value("scout_pool_connections", { state: "active" }) >= 1,
    );
    expect(during.value("scout_requests_in_flight")).toBe(1);
    expect(during.value("scout_pool_connections", { state: "active" })).toBeGreaterThanOrEqual(1);
    expect((await running).text).toContain("done");
    const after = await scrape(url);
    expect(after.value("scout_requests_in_flight")).toBe(0);
    expect(after.value("scout_pool_connections", { state: "active" })).toBe(0);
  });

  it("counts connection failures by host and reason for a refused host", async () => {
    const s0 = await scrape(url);
    const r = await scout.call({ target: "dead:/etc/hostname" });
    expect(r.isError).toBe(true);
    expect(r.text).toMatch(/refused/i);
    const s1 = await scrape(url);
    expect(
      delta(s0, s1, "scout_connection_failures_total", { host: "dead", reason: "connection-refused" }),
    ).toBe(1);
    expect(delta(s0, s1, "scout_connection_creation_seconds_count", { host: "dead" })).toBe(0);
    expect(delta(s0, s1, "scout_requests_total", { mode: "read", outcome: "error" })).toBe(1);
  });

  it("sets scout_host_up from the status cache, and host labels only ever name configured hosts", async () => {
    const r = await scout.call({ target: "hosts" });
    expect(r.text).toContain("[✗] dead");
    // Unknown aliases are refused before any pool exists: they must never become a label.
    expect((await scout.call({ target: "not-a-host:/x" })).isError).toBe(true);
    expect((await scout.call({ target: 'evil"host:/x' })).isError).toBe(true);
    const s = await scrape(url);
    expect(s.value("scout_host_up", { host: h0 })).toBe(1);
    expect(s.value("scout_host_up", { host: h1 })).toBe(1);
    expect(s.has("scout_host_up", { host: "dead" })).toBe(true);
    expect(s.value("scout_host_up", { host: "dead" })).toBe(0);
    const configured = new Set([h0, h1, "dead"]);
    const hostLabels = new Set(
      s.samples.flatMap((x) => (x.labels.host !== undefined ? [x.labels.host] : [])),
    );
    expect(hostLabels.size).toBeGreaterThan(0);
    for (const h of hostLabels) expect(configured, `unexpected host label ${h}`).toContain(h);
  });
});

function runsOn(health: Record<string, unknown>, alias: string): boolean {
  const hosts = (health.pool as { hosts?: Array<{ alias: string; connections: number }> } | undefined)?.hosts;
  return health.inFlight === 1 && (hosts ?? []).some((h) => h.alias === alias && h.connections === 1);
}

describe("scout_host_up with the status cache disabled (SCOUT_STATUS_CACHE_TTL=0)", () => {
  it("still reports the last probe of every host", async () => {
    const scout = await startHttpScout(lab, { sshConfigPath: configWithDeadHost, statusCacheTtlMs: 0 });
    try {
      const before = await scrape(metricsUrl(scout));
      expect(before.has("scout_host_up")).toBe(false);
      expect((await scout.call({ target: "hosts" })).text).toContain("[✗] dead");
      const s = await scrape(metricsUrl(scout));
      expect(s.value("scout_host_up", { host: "dead" })).toBe(0);
      expect(s.value("scout_host_up", { host: h0 })).toBe(1);
      expect(s.value("scout_host_up", { host: h1 })).toBe(1);
    } finally {
      await scout.close();
    }
  });
});

describe("GET /health", () => {
  let scout: ScoutUnderTest;
  let base: string;

  beforeAll(async () => {
    scout = await startHttpScout(lab);
    base = (scout.url ?? "").replace(/\/mcp$/, "");
  });
  afterAll(async () => {
    await scout?.close();
  });

  it("is a cheap 200 OK", async () => {
    const res = await fetch(`${base}/health`);
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toMatch(/^text\/plain/);
    expect(await res.text()).toBe("OK");
    for (const q of ["?verbose=0", "?verbose=false", "?verbose="]) {
      const r = await fetch(`${base}/health${q}`);
      expect(await r.text(), q).toBe("OK");
    }
  });

  it("?verbose=1 returns version, uptime, pool size per host, in-flight calls and queue length", async () => {
    expect((await scout.call({ target: `${h0}:${root0}/hello.txt` })).text).toBe(HELLO);
    const running = scout.call({ target: `${h1}:${root1}`, query: "sleep 2; echo done" });
    let body: Record<string, unknown> = {};
    const until = Date.now() + 10_000;
    do {
      const res = await fetch(`${base}/health?verbose=1`);
      expect(res.status).toBe(200);
      expect(res.headers.get("content-type")).toMatch(/^application\/json/);
      body = (await res.json()) as Record<string, unknown>;
      // Wait until the command runs on its connection (not while it is still connecting).
    } while (!runsOn(body, h1) && Date.now() < until);
    expect(body).toMatchObject({ status: "ok", inFlight: 1, queued: 0 });
    expect(body.version).toMatch(/^\d+\.\d+\.\d+/);
    expect(typeof body.uptimeSeconds).toBe("number");
    const pool = body.pool as { open: number; maxPoolSize: number; hosts: Array<Record<string, unknown>> };
    expect(pool.maxPoolSize).toBe(100);
    expect(pool.hosts).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ alias: h0, connections: 1, idle: 1 }),
        expect.objectContaining({ alias: h1, connections: 1, idle: 0 }),
      ]),
    );
    // Each connected host reports its measured round trips and what they decide.
    const rtt = pool.hosts.find((h) => h.alias === h0)?.rtt as Record<string, unknown> | undefined;
    expect(rtt).toMatchObject({ pipelined: expect.any(Boolean), deadlineMs: expect.any(Number) });
    expect(rtt?.samples).toBeGreaterThan(0);
    expect(rtt?.srttMs).toBeGreaterThan(0);
    const s = await scrape(metricsUrl(scout));
    expect(s.type("scout_connection_rtt_seconds")).toBe("gauge");
    expect(s.value("scout_connection_rtt_seconds", { host: h0 })).toBeGreaterThan(0);
    expect(s.value("scout_connection_reply_deadline_seconds", { host: h0 })).toBeGreaterThanOrEqual(1);
    expect((await running).text).toContain("done");
  });
});

describe("the pool cap", () => {
  let scout: ScoutUnderTest;
  let url: string;

  beforeAll(async () => {
    scout = await startHttpScout(lab, { maxPoolSize: 1 });
    url = metricsUrl(scout);
  });
  afterAll(async () => {
    await scout?.close();
  });

  it("evicts the idle connection of one host to serve another, and counts it", async () => {
    const s0 = await scrape(url);
    expect(s0.value("scout_pool_max_connections")).toBe(1);
    expect((await scout.call({ target: `${h0}:${root0}/hello.txt` })).isError).toBeFalsy();
    expect((await scout.call({ target: `${h1}:${root1}/hello.txt` })).isError).toBeFalsy();
    const s1 = await scrape(url);
    expect(delta(s0, s1, "scout_pool_evictions_total", { host: h0 })).toBe(1);
    expect(delta(s0, s1, "scout_pool_evictions_total", { host: h1 })).toBe(0);
    expect(delta(s0, s1, "scout_connection_creation_seconds_count")).toBe(2);
    expect(delta(s0, s1, "scout_pool_wait_seconds_count", { host: h1 })).toBeGreaterThanOrEqual(1);
    expect(s1.value("scout_pool_connections", { state: "idle" })).toBeLessThanOrEqual(1);

    // And back: host-1's connection is evicted in turn.
    expect((await scout.call({ target: `${h0}:${root0}/hello.txt` })).isError).toBeFalsy();
    const s2 = await scrape(url);
    expect(delta(s1, s2, "scout_pool_evictions_total", { host: h1 })).toBe(1);
    expect(delta(s1, s2, "scout_pool_misses_total", { host: h0 })).toBeGreaterThanOrEqual(1);
  });
});

describe("rejections under limits", () => {
  it("counts busy and timeout rejections (one slot, no queue, 2.5 s deadline)", async () => {
    const scout = await startHttpScout(lab, {
      maxConcurrentRequests: 1,
      maxQueuedRequests: 0,
      requestTimeoutMs: 2500,
    });
    try {
      const url = metricsUrl(scout);
      const s0 = await scrape(url);
      const slow = scout.call({ target: `${h0}:${root0}`, query: "sleep 30" });
      await scrapeUntil(url, (s) => s.value("scout_requests_in_flight") === 1);
      const busy = await scout.call({ target: `${h0}:${root0}/hello.txt` });
      expect(busy.isError).toBe(true);
      expect(busy.text).toMatch(/^Error: server busy/);
      const timedOut = await slow;
      expect(timedOut.isError).toBe(true);
      expect(timedOut.text).toMatch(/timed out/);
      const s1 = await scrape(url);
      expect(delta(s0, s1, "scout_requests_rejected_total", { reason: "busy" })).toBe(1);
      expect(delta(s0, s1, "scout_requests_rejected_total", { reason: "timeout" })).toBe(1);
      expect(delta(s0, s1, "scout_requests_total", { mode: "read", outcome: "rejected" })).toBe(1);
      expect(delta(s0, s1, "scout_requests_total", { mode: "command", outcome: "error" })).toBe(1);
      expect(s1.value("scout_requests_in_flight")).toBe(0);
    } finally {
      await scout.close();
    }
  });

  it("counts auth, rate and policy rejections (API keys, 2 calls/min, read-only)", async () => {
    const keys = ["metrics-test-key-one", "metrics-test-key-two"];
    const scout = await startHttpScout(
      lab,
      { apiKeys: keys, rateLimitPerMinute: 2, readOnly: true },
      { authorization: `Bearer ${keys[0]}` },
    );
    try {
      const url = metricsUrl(scout);
      const auth = { authorization: `Bearer ${keys[1]}` };
      // /metrics is behind the same gate as /mcp.
      expect((await fetch(url)).status).toBe(401);
      const s0 = await scrape(url, auth);
      // GET /health stays open (load balancers); the verbose one needs a key.
      const health = url.replace(/\/metrics$/, "/health");
      expect((await fetch(health)).status).toBe(200);
      expect((await fetch(`${health}?verbose=1`)).status).toBe(401);
      const verbose = await fetch(`${health}?verbose=1`, { headers: auth });
      expect(verbose.status).toBe(200);
      expect(await verbose.json()).toMatchObject({ status: "ok", inFlight: 0, queued: 0 });

      const noKey = await fetch(scout.url ?? "", {
        method: "POST",
        headers: { "content-type": "application/json", accept: "application/json, text/event-stream" },
        body: JSON.stringify({ jsonrpc: "2.0", id: 1, method: "tools/list" }),
      });
      expect(noKey.status).toBe(401);
      const badKey = await fetch(url, { headers: { authorization: "Bearer wrong" } });
      expect(badKey.status).toBe(401);

      const refused = await scout.call({ target: `${h0}:${root0}`, query: "echo hi" });
      expect(refused.isError).toBe(true);
      expect(refused.text).toMatch(/^Error: Read-only mode/);
      expect((await scout.call({ target: `${h0}:${root0}/hello.txt` })).isError).toBeFalsy();
      const limited = await scout.call({ target: `${h0}:${root0}/hello.txt` });
      expect(limited.isError).toBe(true);
      expect(limited.text).toMatch(/rate limit/);

      const s1 = await scrape(url, auth);
      // The keyless verbose health, the keyless POST and the wrong key (after the first scrape).
      expect(delta(s0, s1, "scout_requests_rejected_total", { reason: "auth" })).toBe(3);
      expect(s0.value("scout_requests_rejected_total", { reason: "auth" })).toBe(1);
      expect(delta(s0, s1, "scout_requests_rejected_total", { reason: "policy" })).toBe(1);
      expect(delta(s0, s1, "scout_requests_rejected_total", { reason: "rate" })).toBe(1);
      expect(delta(s0, s1, "scout_requests_total", { mode: "read", outcome: "rejected" })).toBe(1);
      expect(delta(s0, s1, "scout_requests_total", { mode: "read", outcome: "ok" })).toBe(1);

      // Resource reads go through the same limits, in the caller's own bucket: the first key has
      // spent its budget on tool calls, so this part reads as a client with the second key.
      const uri = `scout://${h0}${root0}/hello.txt`;
      await expect(scout.client.readResource({ uri })).rejects.toThrow(/rate limit/);
      const second = new Client({ name: "metrics-test-2", version: "1.0.0" });
      await second.connect(
        new StreamableHTTPClientTransport(new URL(scout.url ?? ""), { requestInit: { headers: auth } }),
      );
      try {
        for (let i = 0; i < 2; i++) await second.readResource({ uri });
        await expect(second.readResource({ uri })).rejects.toThrow(/rate limit/);
      } finally {
        await second.close();
      }
      const s2 = await scrape(url, auth);
      expect(delta(s1, s2, "scout_requests_total", { mode: "resource", outcome: "ok" })).toBe(2);
      expect(delta(s1, s2, "scout_requests_total", { mode: "resource", outcome: "rejected" })).toBe(2);
      expect(delta(s1, s2, "scout_requests_rejected_total", { reason: "rate" })).toBe(2);
    } finally {
      await scout.close();
    }
  });
});

describe("HTTP logs", () => {
  it("logs one line per call and per refusal, with key hashes only, never a key", async () => {
    const keys = ["http-log-test-key-A-0123456789", "http-log-test-key-B-0123456789"];
    let logged = "";
    const capture = new Writable({
      write(chunk: Buffer, _enc, done) {
        logged += chunk.toString("utf8");
        done();
      },
    });
    // A cold read on a loaded machine may pass the default 1 s: keep this test about content, not speed.
    const settings = labSettings(lab, { transport: "http", apiKeys: keys, slowThresholdMs: 60_000 });
    const server = await serve(settings, {
      log: createLogger({ level: "debug", destination: capture }),
      installSignals: false,
    });
    const client = new Client({ name: "observe-test", version: "1.0.0" });
    const mcpUrl = server.http?.url ?? "";
    try {
      await client.connect(
        new StreamableHTTPClientTransport(new URL(mcpUrl), {
          requestInit: { headers: { "x-api-key": keys[0]! } },
        }),
      );
      const r = (await client.callTool({
        name: "scout",
        arguments: { target: `${h0}:${root0}/hello.txt` },
      })) as CallToolResult;
      expect(r.isError).toBeFalsy();
      const wrong = "http-log-test-WRONG-key-9876543210";
      expect(
        (await fetch(mcpUrl, { method: "POST", headers: { authorization: `Bearer ${wrong}` } })).status,
      ).toBe(401);
    } finally {
      await client.close();
      await server.shutdown("test done");
    }
    const lines = logged
      .split("\n")
      .filter((l) => l !== "")
      .map((l) => JSON.parse(l) as Record<string, unknown>);
    const call = lines.find((l) => l.msg === "tool call");
    expect(call).toMatchObject({
      level: "info",
      mode: "read",
      outcome: "ok",
      host: h0,
      client: `key:${keyHash(keys[0]!)}`,
    });
    expect(typeof call?.durationMs).toBe("number");
    const refusal = lines.find((l) => l.msg === "HTTP request refused");
    expect(refusal).toMatchObject({ level: "warn", reason: "auth" });
    expect(String(refusal?.detail)).toContain(keyHash("http-log-test-WRONG-key-9876543210"));
    for (const secret of [...keys, "http-log-test-WRONG-key-9876543210"])
      expect(logged).not.toContain(secret);
  });
});
