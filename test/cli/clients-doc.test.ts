/**
 * docs/clients.md is tested, not just written: every stdio snippet (JSON configs and
 * `claude mcp add … -- cmd`) is started with exactly its command, args and env, every HTTP snippet
 * is pointed at a running Scout with its url and headers, and the curl lines are run; each time a
 * real SDK client lists the tools and calls scout("hosts") against a lab fleet.
 */
import { execFile } from "node:child_process";
import { randomBytes } from "node:crypto";
import { chmod, copyFile, mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StdioClientTransport } from "@modelcontextprotocol/sdk/client/stdio.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import type { Transport } from "@modelcontextprotocol/sdk/shared/transport.js";
import type { CallToolResult } from "@modelcontextprotocol/sdk/types.js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { serve, type RunningServer } from "../../src/cli/serve.js";
import { silentLogger } from "../../src/observe/log.js";
import { startFleet, type LabFleet } from "../fleet/index.js";
import { labSettings } from "../mcp/harness.js";
import { MAIN, REPO } from "./run-cli.js";

interface StdioSnippet {
  where: string;
  command: string;
  args: string[];
  env: Record<string, string>;
}
interface HttpSnippet {
  where: string;
  url: string;
  headers: Record<string, string>;
}

const DOC = path.join(REPO, "docs", "clients.md");
let doc: string;
let lab: LabFleet;
let home: string;
let bin: string;
let server: RunningServer;
let openServer: RunningServer;
const apiKey = randomBytes(16).toString("hex");

function blocks(md: string): Array<{ lang: string; body: string; heading: string }> {
  const out: Array<{ lang: string; body: string; heading: string }> = [];
  let heading = "";
  const re = /^(#{1,3} .*)$|^```(\w*)\n([\s\S]*?)^```$/gm;
  for (let m = re.exec(md); m; m = re.exec(md)) {
    if (m[1]) heading = m[1].replace(/^#+ /, "");
    else out.push({ lang: m[2] ?? "", body: m[3] ?? "", heading });
  }
  return out;
}

/**
 * `claude mcp add` as Claude Code's parser (commander) reads it: `-e/--env` and `-H/--header` are
 * variadic and take every following word up to the next option, so a name written after them is
 * swallowed (and the add fails); `-s/--scope`, `-t/--transport` take one value; `--` ends the
 * options and starts the stdio command.
 */
function claudeMcpAdd(line: string) {
  const w = words(line).slice(3);
  const dash = w.indexOf("--");
  const opts = dash >= 0 ? w.slice(0, dash) : w;
  const env: Record<string, string> = {};
  const headers: Record<string, string> = {};
  const positionals: string[] = [];
  for (let i = 0; i < opts.length; i++) {
    const x = opts[i]!;
    if (["-e", "--env", "-H", "--header"].includes(x)) {
      for (; i + 1 < opts.length && !opts[i + 1]!.startsWith("-"); i++) {
        const v = opts[i + 1]!;
        if (x === "-e" || x === "--env") {
          const eq = v.indexOf("=");
          if (eq <= 0) throw new Error(`Invalid environment variable format: ${v} (in ${line})`);
          env[v.slice(0, eq)] = v.slice(eq + 1);
        } else {
          const colon = v.indexOf(":");
          headers[v.slice(0, colon).trim()] = v.slice(colon + 1).trim();
        }
      }
    } else if (["-s", "--scope", "-t", "--transport"].includes(x)) i++;
    else if (x.startsWith("-")) throw new Error(`unknown option ${x} (in ${line})`);
    else positionals.push(x);
  }
  return {
    name: positionals[0],
    url: positionals[1],
    env,
    headers,
    command: dash >= 0 ? w.slice(dash + 1) : [],
  };
}

/** Splits a shell line into words, honoring double quotes (enough for the doc's commands). */
function words(line: string): string[] {
  return [...line.matchAll(/"([^"]*)"|(\S+)/g)].map((m) => m[1] ?? m[2] ?? "");
}

function snippets(md: string): { stdio: StdioSnippet[]; http: HttpSnippet[] } {
  const stdio: StdioSnippet[] = [];
  const http: HttpSnippet[] = [];
  for (const b of blocks(md)) {
    if (b.lang === "json") {
      const cfg = JSON.parse(b.body) as {
        mcpServers?: Record<string, Record<string, unknown>>;
        servers?: Record<string, Record<string, unknown>>;
      };
      for (const [name, s] of Object.entries(cfg.mcpServers ?? cfg.servers ?? {})) {
        const where = `${b.heading} (${name})`;
        if (typeof s.command === "string") {
          stdio.push({
            where,
            command: s.command,
            args: (s.args as string[] | undefined) ?? [],
            env: (s.env as Record<string, string> | undefined) ?? {},
          });
        } else {
          http.push({ where, url: String(s.url), headers: (s.headers as Record<string, string>) ?? {} });
        }
      }
    }
    if (b.lang === "bash") {
      for (const line of b.body.split("\n").filter((l) => l.startsWith("claude mcp add "))) {
        const where = `${b.heading}: ${line}`;
        const c = claudeMcpAdd(line);
        expect(c.name, `${where}: the server name`).toBe("scout");
        if (c.command.length > 0) {
          stdio.push({ where, command: c.command[0]!, args: c.command.slice(1), env: c.env });
        } else {
          expect(c.url, `${where}: the URL`).toMatch(/^http:\/\//);
          http.push({ where, url: c.url!, headers: c.headers });
        }
      }
    }
  }
  return { stdio, http };
}

/** The doc's placeholders, filled in for the test server. */
function fill(s: string, port: number): string {
  return s
    .replace(/YOUR_API_KEY|\$\{input:scout-api-key\}/g, apiKey)
    .replace(/127\.0\.0\.1:8000/g, `127.0.0.1:${port}`);
}

async function tourWith(transport: Transport): Promise<string> {
  const client = new Client({ name: "docs-test", version: "1.0.0" });
  await client.connect(transport);
  try {
    const tools = await client.listTools();
    expect(tools.tools.map((t) => t.name)).toEqual(["scout"]);
    const r = (await client.callTool({ name: "scout", arguments: { target: "hosts" } })) as CallToolResult;
    return r.content.map((c) => (c.type === "text" ? c.text : "")).join("");
  } finally {
    await client.close();
  }
}

beforeAll(async () => {
  doc = await readFile(DOC, "utf8");
  lab = await startFleet({ hosts: 1, prefix: "docs" });
  // A home whose ~/.ssh holds the lab's config: the snippets' "~/.ssh/config" then means the lab.
  home = await mkdtemp(path.join(os.tmpdir(), "scout-docs-home-"));
  await mkdir(path.join(home, ".ssh"), { mode: 0o700 });
  await copyFile(lab.sshConfigPath, path.join(home, ".ssh", "config"));
  await copyFile(lab.knownHostsPath, path.join(home, ".ssh", "known_hosts"));
  // `scout-mcp` on PATH runs this checkout (the packaging check in .ci/run covers the installed bin).
  bin = path.join(home, "bin");
  await mkdir(bin);
  const tsx = path.join(REPO, "node_modules", "tsx", "dist", "loader.mjs");
  await writeFile(
    path.join(bin, "scout-mcp"),
    `#!/bin/sh\nexec "${process.execPath}" --import "file://${tsx}" "${MAIN}" "$@"\n`,
  );
  await chmod(path.join(bin, "scout-mcp"), 0o755);
  server = await serve(labSettings(lab, { apiKeys: [apiKey] }), {
    log: silentLogger(),
    installSignals: false,
  });
  openServer = await serve(labSettings(lab), { log: silentLogger(), installSignals: false });
});

afterAll(async () => {
  await server?.shutdown("test done");
  await openServer?.shutdown("test done");
  await lab?.stop();
  if (home) await rm(home, { recursive: true, force: true });
});

describe("docs/clients.md", () => {
  it("has a snippet for each client the issue names", () => {
    const { stdio, http } = snippets(doc);
    const where = [...stdio, ...http].map((s) => s.where).join("\n");
    for (const h of ["Claude Desktop", "Claude Code", "Cursor", "VS Code", "HTTP with an API key"]) {
      expect(where).toContain(h);
    }
    expect(stdio.length).toBeGreaterThanOrEqual(4);
    expect(http.length).toBeGreaterThanOrEqual(5);
    expect(doc).toContain("npx @modelcontextprotocol/inspector --config mcp.json --server scout");
  });

  it("every stdio snippet starts Scout with exactly its command, args and env", async () => {
    const { stdio } = snippets(doc);
    // Concurrently: each is a separate Scout process with its own client.
    await Promise.all(
      stdio.map(async (s) => {
        const text = await tourWith(
          new StdioClientTransport({
            command: s.command,
            args: s.args,
            // What a client adds: the snippet's env on top of a minimal environment of the user.
            env: { PATH: `${bin}:${process.env.PATH ?? "/usr/bin:/bin"}`, HOME: home, ...s.env },
            cwd: os.tmpdir(),
            stderr: "pipe",
          }),
        );
        expect(text, s.where).toContain(`[✓] ${lab.hosts[0]!.alias} (online)`);
      }),
    );
  }, 120_000);

  it("every HTTP snippet reaches Scout with its url and headers; without the key it is refused", async () => {
    const { http } = snippets(doc);
    for (const s of http) {
      // Snippets with a key go to the Scout with SCOUT_API_KEYS, the keyless ones to one without.
      const keyed = Object.keys(s.headers).length > 0;
      const port = (keyed ? server : openServer).http!.port;
      const headers = Object.fromEntries(Object.entries(s.headers).map(([k, v]) => [k, fill(v, port)]));
      const url = new URL(fill(s.url, port));
      if (keyed) {
        const refused = await fetch(url, {
          method: "POST",
          body: "{}",
          headers: { "content-type": "application/json" },
        });
        expect(refused.status, s.where).toBe(401);
      }
      const text = await tourWith(new StreamableHTTPClientTransport(url, { requestInit: { headers } }));
      expect(text, s.where).toContain(`[✓] ${lab.hosts[0]!.alias} (online)`);
    }
  });

  it("the curl check works as written", async () => {
    const curl = blocks(doc).find((b) => b.lang === "bash" && b.body.includes("curl -s"));
    expect(curl).toBeDefined();
    const script = fill(curl!.body, server.http!.port);
    const { stdout } = await new Promise<{ stdout: string }>((resolve, reject) =>
      execFile("/bin/sh", ["-c", script], (err, stdout) => (err ? reject(err) : resolve({ stdout }))),
    );
    expect(stdout.startsWith("OK\n")).toBe(true);
    expect(stdout).toMatch(/"serverInfo":\{"name":"scout/);
  });
});
