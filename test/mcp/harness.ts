/** Starts Scout against a lab fleet and connects a real MCP client (SDK Client) to it. */
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StdioClientTransport } from "@modelcontextprotocol/sdk/client/stdio.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import type { CallToolResult } from "@modelcontextprotocol/sdk/types.js";
import { fileURLToPath } from "node:url";
import { settingsWith, type Settings } from "../../src/config/settings.js";
import { serve, type RunningServer } from "../../src/cli/serve.js";
import { silentLogger } from "../../src/observe/log.js";
import type { LabFleet } from "../fleet/index.js";

export interface ScoutUnderTest {
  client: Client;
  server?: RunningServer;
  url?: string;
  call(args: Record<string, unknown>): Promise<CallToolResult & { text: string }>;
  close(): Promise<void>;
}

export function labSettings(lab: LabFleet, overrides: Partial<Settings> = {}): Settings {
  return settingsWith({
    sshConfigPath: lab.sshConfigPath,
    knownHostsPath: lab.knownHostsPath,
    httpHost: "127.0.0.1",
    httpPort: 0,
    statusCacheTtlMs: 0,
    logLevel: "silent",
    ...overrides,
  });
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

const MAIN = fileURLToPath(new URL("../../src/cli/main.ts", import.meta.url));

export async function startStdioScout(
  lab: LabFleet,
  env: Record<string, string> = {},
): Promise<ScoutUnderTest> {
  const transport = new StdioClientTransport({
    command: process.execPath,
    args: ["--import", "tsx", MAIN, "--stdio"],
    env: {
      PATH: process.env.PATH ?? "/usr/bin:/bin",
      HOME: process.env.HOME ?? "/root",
      SCOUT_SSH_CONFIG: lab.sshConfigPath,
      SCOUT_KNOWN_HOSTS: lab.knownHostsPath,
      SCOUT_STATUS_CACHE_TTL: "0",
      SCOUT_LOG_LEVEL: "warn",
      ...env,
    },
    stderr: "pipe",
  });
  const client = new Client({ name: "scout-test", version: "1.0.0" });
  await client.connect(transport);
  return wrap(client, { close: () => client.close() });
}
