/**
 * bench:sessions — memory held by abandoned HTTP sessions, as the Inspector CLI, mcp-remote and
 * `claude mcp list` leave them (initialize, list, never DELETE), from one client address. Three
 * servers in the same run: no expiry and no cap (Scout before SCOUT_SESSION_IDLE_TIMEOUT), the
 * defaults (a cap of 64 per client), and a 2 s idle timeout after 3 s. Prints live sessions and
 * heap/RSS growth over a fresh server's (after GC). Never fails on numbers.
 *
 *   npm run bench:sessions -- --sessions 500
 */
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { settingsWith, type Settings } from "../src/config/settings.js";
import { serve } from "../src/cli/serve.js";
import { silentLogger } from "../src/observe/log.js";
import { printTable } from "./lib.js";

const { values: opts } = parseArgs({ options: { sessions: { type: "string", default: "500" } } });
const N = Number(opts.sessions);
const MiB = 1024 * 1024;
const gc = (globalThis as { gc?: () => void }).gc;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function settle(): Promise<NodeJS.MemoryUsage> {
  for (let i = 0; i < 3; i++) {
    gc?.();
    await sleep(50);
  }
  return process.memoryUsage();
}

/** One abandoned session: what a listing client does before it exits without DELETE. */
async function abandon(url: string): Promise<void> {
  const headers = { "content-type": "application/json", accept: "application/json, text/event-stream" };
  const init = await fetch(url, {
    method: "POST",
    headers,
    body: JSON.stringify({
      jsonrpc: "2.0",
      id: 0,
      method: "initialize",
      params: {
        protocolVersion: "2025-06-18",
        capabilities: {},
        clientInfo: { name: "lister", version: "1" },
      },
    }),
  });
  await init.text();
  const h = { ...headers, "mcp-session-id": init.headers.get("mcp-session-id") ?? "" };
  await (
    await fetch(url, {
      method: "POST",
      headers: h,
      body: '{"jsonrpc":"2.0","method":"notifications/initialized"}',
    })
  ).text();
  for (const [id, method] of [
    [1, "tools/list"],
    [2, "resources/list"],
    [3, "resources/templates/list"],
  ] as const) {
    await (
      await fetch(url, {
        method: "POST",
        headers: h,
        body: JSON.stringify({ jsonrpc: "2.0", id, method, params: {} }),
      })
    ).text();
  }
}

async function scenario(name: string, base: Settings, overrides: Partial<Settings>, waitMs = 0) {
  const server = await serve({ ...base, ...overrides }, { log: silentLogger(), installSignals: false });
  const url = server.http!.url;
  await abandon(url); // warm the code paths before the baseline sample
  const before = await settle();
  for (let i = 0; i < N; i += 25)
    await Promise.all(Array.from({ length: Math.min(25, N - i) }, () => abandon(url)));
  if (waitMs) await sleep(waitMs);
  const after = await settle();
  const row = {
    scenario: name,
    live: String(server.http!.sessions()),
    heapMiB: ((after.heapUsed - before.heapUsed) / MiB).toFixed(1),
    rssMiB: ((after.rss - before.rss) / MiB).toFixed(1),
  };
  await server.shutdown("bench done");
  return row;
}

async function main(): Promise<void> {
  if (!gc) process.stderr.write("run with node --expose-gc for stable numbers\n");
  const dir = await mkdtemp(join(tmpdir(), "scout-bench-sessions-"));
  try {
    const cfg = join(dir, "ssh_config");
    await writeFile(
      cfg,
      Array.from({ length: 20 }, (_, i) => `Host web${i}\n  HostName 127.0.0.1\n  Port 1\n`).join(""),
    );
    const base = settingsWith({
      transport: "http",
      httpPort: 0,
      sshConfigPath: cfg,
      knownHostsPath: join(dir, "known_hosts"),
      logLevel: "silent",
    });
    const rows = [
      await scenario("no expiry, no cap (before)", base, {
        sessionIdleTimeoutMs: 0,
        maxSessionsPerClient: 0,
      }),
      await scenario("defaults (cap 64 per client)", base, {}),
      await scenario(
        "idle timeout 2 s, after 3 s",
        base,
        { sessionIdleTimeoutMs: 2000, maxSessionsPerClient: 0 },
        3000,
      ),
    ];
    printTable(
      `${N} abandoned sessions from one client address (growth over the same server before them)`,
      ["scenario", "live sessions", "heap MiB", "RSS MiB"],
      rows.map((r) => [r.scenario, r.live, r.heapMiB, r.rssMiB]),
    );
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

await main();
