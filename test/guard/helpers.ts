/**
 * Helpers for the guard tests: a Scout server over HTTP with a real SDK Client (optionally with
 * elicitation and custom headers), a logger whose lines the test can read, raw HTTP requests (to
 * send Host/Origin headers fetch won't), and a /proc scan for remote processes (the lab hosts run
 * on this machine).
 */
import { readdirSync, readFileSync, readlinkSync } from "node:fs";
import { request } from "node:http";
import { Writable } from "node:stream";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import {
  ElicitRequestSchema,
  type CallToolResult,
  type ElicitResult,
} from "@modelcontextprotocol/sdk/types.js";
import type { Settings } from "../../src/config/settings.js";
import { serve, type RunningServer } from "../../src/cli/serve.js";
import { createLogger, type Logger } from "../../src/observe/log.js";
import type { LabFleet } from "../fleet/index.js";
import { initializeRequest, labSettings } from "../mcp/harness.js";

export interface CapturedLog {
  log: Logger;
  /** Parsed JSON log records so far. */
  records(): Array<Record<string, unknown>>;
  /** Everything written, raw. */
  text(): string;
}

export function captureLogger(level = "info"): CapturedLog {
  let raw = "";
  const sink = new Writable({
    write(chunk: Buffer, _enc, cb) {
      raw += chunk.toString();
      cb();
    },
  });
  const log = createLogger({ level, pretty: false, destination: sink });
  return {
    log,
    text: () => raw,
    records: () =>
      raw
        .split("\n")
        .filter((l) => l.trim() !== "")
        .map((l) => JSON.parse(l) as Record<string, unknown>),
  };
}

export interface TestClient {
  client: Client;
  call(args: Record<string, unknown>): Promise<CallToolResult & { text: string }>;
  close(): Promise<void>;
}

export interface ClientOptions {
  headers?: Record<string, string>;
  /** Answers elicitation requests; when set the client declares the elicitation capability. */
  onElicit?: (message: string) => ElicitResult | Promise<ElicitResult>;
}

function textOf(r: CallToolResult): string {
  return r.content.map((c) => (c.type === "text" ? c.text : "")).join("");
}

export async function connectClient(url: string, options: ClientOptions = {}): Promise<TestClient> {
  const client = new Client(
    { name: "guard-test", version: "1.0.0" },
    { capabilities: options.onElicit ? { elicitation: {} } : {} },
  );
  if (options.onElicit) {
    const answer = options.onElicit;
    client.setRequestHandler(ElicitRequestSchema, async (req) => answer(req.params.message));
  }
  await client.connect(
    new StreamableHTTPClientTransport(new URL(url), { requestInit: { headers: options.headers ?? {} } }),
  );
  return {
    client,
    call: async (args) => {
      const r = (await client.callTool({ name: "scout", arguments: args })) as CallToolResult;
      return { ...r, text: textOf(r) };
    },
    close: () => client.close(),
  };
}

export interface TestServer {
  server: RunningServer;
  url: string;
  /** http://127.0.0.1:PORT */
  base: string;
  close(): Promise<void>;
}

export async function startServer(
  lab: LabFleet,
  overrides: Partial<Settings> = {},
  log: Logger = createLogger({ level: "silent", pretty: false }),
): Promise<TestServer> {
  const server = await serve(labSettings(lab, { transport: "http", ...overrides }), {
    log,
    installSignals: false,
  });
  const url = server.http?.url ?? "";
  return { server, url, base: url.replace(/\/mcp$/, ""), close: () => server.shutdown("test done") };
}

export interface RawResponse {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

/** A raw HTTP request to 127.0.0.1 with exactly the headers given (Host included). */
export function rawRequest(
  base: string,
  path: string,
  options: { method?: string; headers?: Record<string, string>; body?: string } = {},
): Promise<RawResponse> {
  const u = new URL(base);
  return new Promise((resolve, reject) => {
    const req = request(
      {
        host: u.hostname,
        port: Number(u.port),
        path,
        method: options.method ?? "GET",
        headers: {
          ...(options.body !== undefined
            ? { "content-type": "application/json", accept: "application/json, text/event-stream" }
            : {}),
          ...options.headers,
        },
      },
      (res) => {
        let body = "";
        res.on("data", (d: Buffer) => (body += d.toString()));
        res.on("end", () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
      },
    );
    req.on("error", reject);
    req.end(options.body);
  });
}

export const INITIALIZE = JSON.stringify(initializeRequest());

// Shared with the MCP tests.
export { processesMatching, uniqueSleep, waitUntil as waitFor } from "../mcp/harness.js";

/** GET /health (no auth) and one good read through `client`: the server is still serving. */
export async function assertHealthy(
  base: string,
  client: TestClient,
  goodTarget: string,
): Promise<{ health: number; good: boolean }> {
  const h = await rawRequest(base, "/health");
  const r = await client.call({ target: goodTarget });
  return { health: h.status, good: !r.isError };
}

/** This process's ESTABLISHED TCP sockets whose remote port is `port` (IPv4, from /proc). */
export function establishedTo(port: number): number {
  const inodes = new Set<string>();
  for (const fd of readdirSync("/proc/self/fd")) {
    try {
      const m = /^socket:\[(\d+)\]$/.exec(readlinkSync(`/proc/self/fd/${fd}`));
      if (m?.[1]) inodes.add(m[1]);
    } catch {
      // closed meanwhile
    }
  }
  let n = 0;
  for (const line of readFileSync("/proc/net/tcp", "utf8").split("\n").slice(1)) {
    const f = line.trim().split(/\s+/);
    const remotePort = parseInt(f[2]?.split(":")[1] ?? "", 16);
    if (f[3] === "01" && remotePort === port && f[9] && inodes.has(f[9])) n++;
  }
  return n;
}
