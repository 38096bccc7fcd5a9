/** Starts Scout against a lab fleet and connects a real MCP client (SDK Client) to it. */
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StdioClientTransport } from "@modelcontextprotocol/sdk/client/stdio.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import type { CallToolResult } from "@modelcontextprotocol/sdk/types.js";
import { spawn } from "node:child_process";
import { readdirSync, readFileSync } from "node:fs";
import net from "node:net";
import type { Settings } from "../../src/config/settings.js";
import { serve, type RunningServer } from "../../src/cli/serve.js";
import { silentLogger } from "../../src/observe/log.js";
import type { LabFleet } from "../fleet/index.js";
import { cliArgs, labEnv } from "../cli/run-cli.js";
export { descendantsOf } from "../../src/lab/processes.js";
import { labSettings } from "../../src/lab/settings.js";
export { labSettings };

export interface ScoutUnderTest {
  client: Client;
  server?: RunningServer;
  url?: string;
  call(args: Record<string, unknown>): Promise<CallToolResult & { text: string }>;
  close(): Promise<void>;
}

function textOf(r: CallToolResult): string {
  return r.content.map((c) => (c.type === "text" ? c.text : "")).join("");
}

async function wrap(client: Client, extra: Omit<ScoutUnderTest, "client" | "call">): Promise<ScoutUnderTest> {
  return {
    client,
    ...extra,
    call: async (args) => {
      const r = (await client.callTool({ name: "scout", arguments: args })) as CallToolResult;
      return { ...r, text: textOf(r) };
    },
  };
}

export async function startHttpScout(
  lab: LabFleet,
  overrides: Partial<Settings> = {},
  headers: Record<string, string> = {},
): Promise<ScoutUnderTest> {
  const settings = labSettings(lab, { transport: "http", ...overrides });
  const server = await serve(settings, { log: silentLogger(), installSignals: false });
  const url = server.http?.url ?? "";
  const client = new Client({ name: "scout-test", version: "1.0.0" });
  await client.connect(new StreamableHTTPClientTransport(new URL(url), { requestInit: { headers } }));
  return wrap(client, {
    server,
    url,
    close: async () => {
      await client.close();
      await server.shutdown("test done");
    },
  });
}

export async function startStdioScout(
  lab: LabFleet,
  env: Record<string, string> = {},
): Promise<ScoutUnderTest> {
  const transport = new StdioClientTransport({
    command: process.execPath,
    args: cliArgs(["--stdio"]),
    env: labEnv(lab, { SCOUT_STATUS_CACHE_TTL: "0", SCOUT_LOG_LEVEL: "warn", ...env }),
    stderr: "pipe",
  });
  const client = new Client({ name: "scout-test", version: "1.0.0" });
  await client.connect(transport);
  return wrap(client, { close: () => client.close() });
}

/**
 * Local processes whose command line (NUL → space) contains `needle`, excluding this process
 * (the lab hosts run on this machine).
 */
export function processesMatching(needle: string): Array<{ pid: number; cmd: string }> {
  const found: Array<{ pid: number; cmd: string }> = [];
  for (const e of readdirSync("/proc")) {
    if (!/^\d+$/.test(e) || Number(e) === process.pid) continue;
    try {
      const cmd = readFileSync(`/proc/${e}/cmdline`, "utf8").replace(/\0/g, " ");
      if (cmd.includes(needle)) found.push({ pid: Number(e), cmd });
    } catch {
      // exited meanwhile
    }
  }
  return found;
}

/** Polls `check` every 25 ms until it returns true; throws with `what` after `timeoutMs`. */
export async function waitUntil(check: () => boolean, timeoutMs: number, what: string): Promise<number> {
  const started = performance.now();
  while (!check()) {
    if (performance.now() - started > timeoutMs)
      throw new Error(`Timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
  return performance.now() - started;
}

/** A command line no other test uses: `sleep N.<random digits>` (GNU and busybox sleep take fractions). */
export function uniqueSleep(seconds = 30): string {
  return `sleep ${seconds}.${String(Math.floor(Math.random() * 1e6)).padStart(6, "0")}1`;
}

/**
 * A loopback port where connects hang, like a host behind a firewall that drops packets: a
 * stopped process listens with a backlog of 1, and filler connections fill its accept queue, so
 * the kernel drops further SYNs. (A blackholed FaultProxy accepts the TCP connection, which a TCP
 * probe counts as online.)
 */
export async function startUnansweredPort(): Promise<{ port: number; close(): void }> {
  const child = spawn(
    process.execPath,
    [
      "-e",
      "const s=require('net').createServer();s.listen({port:0,host:'127.0.0.1',backlog:1},()=>{console.log(s.address().port);process.kill(process.pid,'SIGSTOP')})",
    ],
    { stdio: ["ignore", "pipe", "inherit"] },
  );
  const port = await new Promise<number>((resolve, reject) => {
    child.once("error", reject);
    child.stdout!.once("data", (d: Buffer) => resolve(Number(d.toString().trim())));
  });
  const fillers: net.Socket[] = [];
  const connects = (ms: number) =>
    new Promise<boolean>((resolve) => {
      const s = net.connect({ port, host: "127.0.0.1" });
      s.on("error", () => {});
      const t = setTimeout(() => {
        s.destroy();
        resolve(false);
      }, ms);
      s.once("connect", () => {
        clearTimeout(t);
        fillers.push(s);
        resolve(true);
      });
    });
  for (let i = 0; i < 1000 && (await connects(300)); i++);
  return {
    port,
    close: () => {
      for (const f of fillers) f.destroy();
      child.kill("SIGKILL");
    },
  };
}

/** An `initialize` request as a raw JSON-RPC client sends it. */
export function initializeRequest(clientName = "raw", id = 1) {
  return {
    jsonrpc: "2.0",
    id,
    method: "initialize",
    params: {
      protocolVersion: "2025-06-18",
      capabilities: {},
      clientInfo: { name: clientName, version: "1" },
    },
  };
}

/** Raw Streamable HTTP against a Scout URL: what an SDK client would hide. */
export function rawHttp(url: string) {
  let session = "";
  const headers = (extra: Record<string, string>) => ({
    "content-type": "application/json",
    accept: "application/json, text/event-stream",
    ...(session ? { "mcp-session-id": session } : {}),
    ...extra,
  });
  return {
    post: (body: unknown, extra: Record<string, string> = {}, signal?: AbortSignal) =>
      fetch(url, {
        method: "POST",
        headers: headers(extra),
        body: typeof body === "string" ? body : JSON.stringify(body),
        signal,
      }),
    get: (extra: Record<string, string> = {}, signal?: AbortSignal) =>
      fetch(url, { method: "GET", headers: headers({ accept: "text/event-stream", ...extra }), signal }),
    del: () => fetch(url, { method: "DELETE", headers: headers({}) }),
    /** Starts the session; `capabilities` are the client's (e.g. `{ elicitation: {} }`). */
    async initialize(capabilities: Record<string, unknown> = {}): Promise<Response> {
      const init = initializeRequest("raw", 0);
      const r = await this.post({ ...init, params: { ...init.params, capabilities } });
      session = r.headers.get("mcp-session-id") ?? session;
      return r;
    },
  };
}

/** The JSON-RPC messages in an SSE body (`data:` lines). */
export function sseMessages(
  body: string,
): Array<{ id?: number; result?: unknown; error?: { message: string } }> {
  return body
    .split("\n")
    .filter((l) => l.startsWith("data: "))
    .map((l) => JSON.parse(l.slice(6)) as { id?: number; result?: unknown });
}
