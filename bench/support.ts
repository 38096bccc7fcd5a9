/**
 * What the suite's scenarios share: the lab fleet and its fixtures, the engine and the real server
 * built the way production builds them, the same-run baselines (raw ssh2 SFTP/exec, a minimal MCP
 * SDK server on the same HTTP transport), and process statistics (RSS, fds).
 */
import { Client as McpClient } from "@modelcontextprotocol/sdk/client/index.js";
import { StdioClientTransport } from "@modelcontextprotocol/sdk/client/stdio.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import { McpServer } from "@modelcontextprotocol/server";
import type { CallToolResult } from "@modelcontextprotocol/sdk/types.js";
import { readFileSync, readdirSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { Client, type ConnectConfig, type SFTPWrapper } from "ssh2";
import { createApp, type ScoutApp } from "../src/app.js";
import { serve, type RunningServer } from "../src/cli/serve.js";
import type { Settings } from "../src/config/settings.js";
import type { LabFleet } from "../src/lab/index.js";
import { silentLogger } from "../src/observe/log.js";
import type { FleetObserver } from "../src/ssh/fleet.js";
import { startHttpTransport } from "../src/transport/http.js";
import { percentile } from "./lib.js";
import type { ChartEntry, Figure, Row } from "./report.js";
import { labSettings } from "../src/lab/settings.js";

/** Lab settings as a user would set them through the environment, with quiet logs. */
export const benchSettings = labSettings;

// ---- options and context ------------------------------------------------------------------------

export interface BenchContext {
  lab: LabFleet;
  quick: boolean;
  /** Scenario 11's duration in seconds. */
  durationSeconds: number;
  /** A 4 KB text file of log lines on host-0 (peers redact high-entropy lines, so plain text). */
  file4k: string;
  /** A directory of 50 log files on host-0 (the Python benchmark listed 50 lines). */
  dir50: string;
  progress(msg: string): void;
}

/** 4,096 bytes of ordinary log lines. */
export function logLines(bytes: number): string {
  const lines: string[] = [];
  let size = 0;
  for (let i = 0; size < bytes; i++) {
    const l = `2026-11-25T01:${String(i % 60).padStart(2, "0")}:00Z INFO worker[${i % 7}] request ${i} served in ${(i * 37) % 900} ms\n`;
    lines.push(l);
    size += l.length;
  }
  return lines.join("").slice(0, bytes);
}

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

// ---- latency statistics -------------------------------------------------------------------------

export interface Stats {
  count: number;
  seconds: number;
  perSecond: number;
  mean: number;
  p50: number;
  p95: number;
  p99: number;
  max: number;
  errors: number;
}

export function summarize(latencies: number[], seconds: number, errors = 0): Stats {
  const sorted = [...latencies].sort((a, b) => a - b);
  return {
    count: sorted.length,
    seconds,
    perSecond: sorted.length / seconds,
    mean: sorted.reduce((a, b) => a + b, 0) / Math.max(1, sorted.length),
    p50: percentile(sorted, 50),
    p95: percentile(sorted, 95),
    p99: percentile(sorted, 99),
    max: sorted[sorted.length - 1] ?? NaN,
    errors,
  };
}

/** Runs `op` `total` times on `concurrency` workers; failures are counted, not thrown. */
export async function load(total: number, concurrency: number, op: () => Promise<unknown>): Promise<Stats> {
  const latencies: number[] = [];
  let next = 0;
  let errors = 0;
  const started = performance.now();
  await Promise.all(
    Array.from({ length: Math.min(concurrency, total) }, async () => {
      while (next < total) {
        next++;
        const t = performance.now();
        try {
          await op();
          latencies.push(performance.now() - t);
        } catch {
          errors++;
        }
      }
    }),
  );
  return summarize(latencies, (performance.now() - started) / 1000, errors);
}

export function median(xs: number[]): number {
  return percentile(
    [...xs].sort((a, b) => a - b),
    50,
  );
}

/** Runs `fn` with a time limit; rejects with a clear message when it is exceeded. */
export async function withTimeout<T>(what: string, ms: number, fn: () => Promise<T>): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([
      fn(),
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`${what}: no answer within ${ms / 1000} s`)), ms);
      }),
    ]);
  } finally {
    clearTimeout(timer);
  }
}

// ---- process statistics -------------------------------------------------------------------------

export function fdCount(pid: number | "self" = "self"): number {
  try {
    return readdirSync(`/proc/${pid}/fd`).length;
  } catch {
    return NaN;
  }
}

/** Resident set size in MB (of another process via /proc, or of this one). */
export function rssMB(pid?: number): number {
  if (pid === undefined) return process.memoryUsage.rss() / 2 ** 20;
  try {
    const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
    return m ? Number(m[1]) / 1024 : NaN;
  } catch {
    return NaN;
  }
}

/** Samples this process's RSS every 20 ms while `fn` runs; returns the peak above the start. */
export async function peakRss<T>(
  fn: () => Promise<T>,
): Promise<{ value: T; peakMB: number; baseMB: number }> {
  gc();
  const base = rssMB();
  let peak = base;
  const timer = setInterval(() => (peak = Math.max(peak, rssMB())), 20);
  try {
    const value = await fn();
    peak = Math.max(peak, rssMB());
    return { value, peakMB: peak - base, baseMB: base };
  } finally {
    clearInterval(timer);
  }
}

/** Forces a full GC when node runs with --expose-gc (npm run bench does); a no-op otherwise. */
export function gc(): void {
  (globalThis as { gc?: () => void }).gc?.();
}

// ---- raw ssh2 baselines -------------------------------------------------------------------------

export interface RawSsh {
  client: Client;
  sftp: SFTPWrapper;
  /** Milliseconds: TCP + handshake + auth, then opening the SFTP subsystem. */
  connectMs: number;
  sftpMs: number;
  close(): void;
}

/** A plain ssh2 client with TCP_NODELAY and one SFTP session: what a careful hand-written tool does. */
export async function rawSsh(config: ConnectConfig, opts: { sftp?: boolean } = {}): Promise<RawSsh> {
  const client = new Client();
  const t0 = performance.now();
  await new Promise<void>((resolve, reject) => {
    client.once("ready", () => resolve());
    client.once("error", reject);
    client.connect({ readyTimeout: 20_000, ...config });
  });
  client.on("error", () => {}); // a late error after close must not crash the suite
  client.setNoDelay(true);
  const connectMs = performance.now() - t0;
  const t1 = performance.now();
  const sftp =
    opts.sftp === false
      ? (undefined as unknown as SFTPWrapper) // exec-only callers never touch it
      : await new Promise<SFTPWrapper>((resolve, reject) =>
          client.sftp((e, s) => (e ? reject(e) : resolve(s))),
        );
  return { client, sftp, connectMs, sftpMs: performance.now() - t1, close: () => client.end() };
}

export function rawRead(sftp: SFTPWrapper, path: string): Promise<Buffer> {
  return new Promise((resolve, reject) => sftp.readFile(path, (e, d) => (e ? reject(e) : resolve(d))));
}

export function rawReaddir(sftp: SFTPWrapper, path: string): Promise<number> {
  return new Promise((resolve, reject) =>
    sftp.readdir(path, (e, list) => (e ? reject(e) : resolve(list.length))),
  );
}

/** Runs a command on a raw ssh2 connection, draining (and counting) all of its output. */
export function rawExec(client: Client, command: string): Promise<{ bytes: number; code: number | null }> {
  return new Promise((resolve, reject) => {
    client.exec(command, (err, ch) => {
      if (err) return reject(err);
      let bytes = 0;
      let code: number | null = null;
      ch.on("data", (d: Buffer) => (bytes += d.length));
      ch.stderr.on("data", (d: Buffer) => (bytes += d.length));
      ch.on("exit", (c: number | null) => (code = c));
      ch.on("close", () => resolve({ bytes, code }));
    });
  });
}

// ---- the engine and the real server ------------------------------------------------------------

export interface CountingObserver extends FleetObserver {
  connects: number;
}

/** A counting fleet observer: how many connections a scenario created. */
export function countingObserver(): CountingObserver {
  const o: CountingObserver = {
    connects: 0,
    connectStart: () => {
      o.connects++;
    },
  };
  return o;
}

/** The engine exactly as the server composes it (registry → fleet → limits), without MCP. */
export function engine(settings: Settings, observer?: FleetObserver): Promise<ScoutApp> {
  return createApp(settings, {
    log: silentLogger(),
    watch: false,
    ...(observer ? { fleetObserver: observer } : {}),
  });
}

export interface McpUnderTest {
  client: McpClient;
  call(name: string, args: Record<string, unknown>): Promise<{ text: string; isError: boolean }>;
  close(): Promise<void>;
  /** Server process id when it runs in a child process. */
  pid?: number;
  server?: RunningServer;
}

function textOf(r: CallToolResult): string {
  return r.content.map((c) => (c.type === "text" ? c.text : "")).join("");
}

function wrapClient(
  client: McpClient,
  close: () => Promise<void>,
  extra: Partial<McpUnderTest> = {},
): McpUnderTest {
  return {
    client,
    ...extra,
    call: async (name, args) => {
      const r = (await client.callTool({ name, arguments: args }, undefined, {
        timeout: 120_000,
      })) as CallToolResult;
      return { text: textOf(r), isError: r.isError === true };
    },
    close,
  };
}

/** Scout's real server (serve()) over Streamable HTTP on loopback, with an SDK client connected. */
export async function scoutHttp(settings: Settings): Promise<McpUnderTest> {
  const server = await serve(
    { ...settings, transport: "http" },
    { log: silentLogger(), installSignals: false },
  );
  const client = new McpClient({ name: "scout-bench", version: "1.0.0" });
  await client.connect(new StreamableHTTPClientTransport(new URL(server.http?.url ?? "")));
  return wrapClient(
    client,
    async () => {
      await client.close();
      await server.shutdown("bench done");
    },
    { server },
  );
}

const CONSTANT_4K = logLines(4096);

/**
 * The baseline for end-to-end figures: a minimal MCP SDK server whose one tool returns 4 KB of
 * constant text, on the same HTTP transport module as Scout, called by the same SDK client.
 */
export async function minimalHttpMcp(): Promise<McpUnderTest> {
  const http = await startHttpTransport({
    host: "127.0.0.1",
    port: 0,
    createMcpServer: () => {
      const mcp = new McpServer({ name: "minimal", version: "1.0.0" }, { capabilities: { tools: {} } });
      mcp.registerTool("constant", { description: "Returns 4 KB of constant text" }, () => ({
        content: [{ type: "text", text: CONSTANT_4K }],
      }));
      return mcp;
    },
  });
  const client = new McpClient({ name: "scout-bench", version: "1.0.0" });
  await client.connect(new StreamableHTTPClientTransport(new URL(http.url)));
  return wrapClient(client, async () => {
    await client.close();
    await http.close();
  });
}

const MAIN = fileURLToPath(new URL("../src/cli/main.ts", import.meta.url));

/** Scout as a user runs it from an MCP client: a child process serving stdio. */
export async function scoutStdio(lab: LabFleet, env: Record<string, string> = {}): Promise<McpUnderTest> {
  return stdioServer(process.execPath, ["--import", "tsx", MAIN, "--stdio"], {
    SCOUT_SSH_CONFIG: lab.sshConfigPath,
    SCOUT_KNOWN_HOSTS: lab.knownHostsPath,
    SCOUT_STATUS_CACHE_TTL: "0",
    SCOUT_LOG_LEVEL: "warn",
    ...env,
  });
}

/** Any MCP server over stdio (Scout, or a peer), with an SDK client; stderr is kept for errors. */
export async function stdioServer(
  command: string,
  args: string[],
  env: Record<string, string>,
  cwd?: string,
): Promise<McpUnderTest & { stderr(): string }> {
  const transport = new StdioClientTransport({
    command,
    args,
    env: { PATH: process.env.PATH ?? "/usr/bin:/bin", HOME: process.env.HOME ?? "/root", ...env },
    stderr: "pipe",
    ...(cwd ? { cwd } : {}),
  });
  let stderr = "";
  transport.stderr?.on("data", (d: Buffer) => {
    stderr = (stderr + d.toString()).slice(-4000);
  });
  const client = new McpClient({ name: "scout-bench", version: "1.0.0" });
  try {
    await client.connect(transport, { timeout: 60_000 });
  } catch (e) {
    await client.close().catch(() => {});
    // The most telling stderr line: the first error, else the last line.
    const lines = stderr
      .trim()
      .split("\n")
      .map((l) => l.trim())
      .filter(Boolean);
    const why = (lines.find((l) => /error/i.test(l)) ?? lines[lines.length - 1] ?? "").slice(0, 300);
    if (process.env.BENCH_DEBUG) process.stderr.write(stderr);
    throw new Error(`${e instanceof Error ? e.message : String(e)}${why ? ` (stderr: ${why})` : ""}`);
  }
  const pid = transport.pid ?? undefined;
  return {
    ...wrapClient(client, () => client.close(), pid ? { pid } : {}),
    stderr: () => stderr,
  };
}

// ---- scenarios ----------------------------------------------------------------------------------

export interface ScenarioOutput {
  rows: Row[];
  chart?: ChartEntry[];
  /** Raw data worth keeping in latest.json (e.g. scenario 11's per-second samples). */
  extra?: unknown;
}

export interface Scenario {
  id: number;
  key: string;
  title: string;
  run(ctx: BenchContext): Promise<ScenarioOutput>;
}

export const ms = (value: number): Figure => ({ value, unit: "ms" });
export const fig = (value: number, unit: Figure["unit"]): Figure => ({ value, unit });
