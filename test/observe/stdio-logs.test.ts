/**
 * The real CLI over stdio, as an MCP client launches it: JSON log lines on stderr (one per call,
 * slow ones at warn, no secrets), and /metrics on SCOUT_METRICS_PORT.
 */
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StdioClientTransport } from "@modelcontextprotocol/sdk/client/stdio.js";
import type { CallToolResult } from "@modelcontextprotocol/sdk/types.js";
import { spawn, spawnSync } from "node:child_process";
import { createServer } from "node:net";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { findFreePort, startFleet, type LabFleet } from "../fleet/index.js";
import { cliArgs, labEnv, spawnCli } from "../cli/run-cli.js";
import { scrape } from "./scrape.js";

const SECRET_KEY = "sk-observe-test-0123456789-do-not-log";

let lab: LabFleet;
let h0: string;
let root0: string;

interface LogLine {
  level: string;
  msg: string;
  time: string;
  [k: string]: unknown;
}

interface CliRun {
  call(args: Record<string, unknown>): Promise<CallToolResult & { text: string }>;
  /** Closes stdin (the client going away) and resolves with all of stderr once the process exited. */
  stop(): Promise<string>;
}

async function startCli(env: Record<string, string>): Promise<CliRun> {
  const transport = new StdioClientTransport({
    command: process.execPath,
    args: cliArgs(["--stdio"]),
    env: labEnv(lab, env),
    stderr: "pipe",
  });
  let stderr = "";
  const stream = transport.stderr;
  if (!stream) throw new Error("stderr is not piped");
  stream.on("data", (chunk: Buffer) => (stderr += chunk.toString("utf8")));
  const ended = new Promise<void>((resolve) => stream.once("end", () => resolve()));
  const client = new Client({ name: "observe-test", version: "1.0.0" });
  await client.connect(transport);
  return {
    call: async (args) => {
      const r = (await client.callTool({ name: "scout", arguments: args })) as CallToolResult;
      return { ...r, text: r.content.map((c) => (c.type === "text" ? c.text : "")).join("") };
    },
    stop: async () => {
      await client.close();
      await ended;
      return stderr;
    },
  };
}

/** Every stderr line must be a JSON object (stdout is the protocol; stderr is for machines too). */
function jsonLines(stderr: string): LogLine[] {
  return stderr
    .split("\n")
    .filter((l) => l.trim() !== "")
    .map((l) => {
      try {
        return JSON.parse(l) as LogLine;
      } catch {
        throw new Error(`stderr line is not JSON: ${l}`);
      }
    });
}

beforeAll(async () => {
  lab = await startFleet({ hosts: 1 });
  h0 = lab.hosts[0]!.alias;
  root0 = lab.hosts[0]!.root;
  await lab.writeFile(join(root0, "hello.txt"), "hello\n");
});

afterAll(async () => {
  await lab?.stop();
});

describe("scout-mcp --stdio", () => {
  it("logs one JSON line per tool call with duration and outcome, slow calls at warn, and serves SCOUT_METRICS_PORT", async () => {
    const metricsPort = await findFreePort();
    const cli = await startCli({
      // SCOUT_LOG_LEVEL unset: the default is info.
      SCOUT_SLOW_THRESHOLD_MS: "400",
      SCOUT_METRICS_PORT: String(metricsPort),
      // Not used over stdio, but present in the environment: it must never reach a log line.
      SCOUT_API_KEYS: SECRET_KEY,
    });
    let stderr = "";
    try {
      expect((await cli.call({ target: `${h0}:${root0}/hello.txt` })).text).toBe("hello\n");
      expect((await cli.call({ target: `${h0}:${root0}/missing.txt` })).isError).toBe(true);
      expect((await cli.call({ target: `${h0}:${root0}`, query: "sleep 0.6; echo slept" })).text).toContain(
        "slept",
      );
      expect((await cli.call({ target: "hosts" })).isError).toBeFalsy();

      const m = await scrape(`http://127.0.0.1:${metricsPort}/metrics`);
      expect(m.value("scout_requests_total", { mode: "read", outcome: "ok" })).toBe(1);
      expect(m.value("scout_requests_total", { mode: "read", outcome: "error" })).toBe(1);
      expect(m.value("scout_requests_total", { mode: "command", outcome: "ok" })).toBe(1);
      expect(m.value("scout_requests_total", { mode: "hosts", outcome: "ok" })).toBe(1);
      expect(m.value("scout_connection_creation_seconds_count", { host: h0 })).toBe(1);
      expect(m.value("scout_host_up", { host: h0 })).toBe(1);
      expect(m.has("process_resident_memory_bytes")).toBe(true);
      expect((await fetch(`http://127.0.0.1:${metricsPort}/nope`)).status).toBe(404);
      const plain = await fetch(`http://127.0.0.1:${metricsPort}/health`);
      expect(await plain.text()).toBe("OK");
      const verbose = (await (await fetch(`http://127.0.0.1:${metricsPort}/health?verbose=1`)).json()) as {
        status: string;
        version: string;
        pool: { open: number; hosts: Array<{ alias: string }> };
        inFlight: number;
        queued: number;
      };
      expect(verbose).toMatchObject({ status: "ok", inFlight: 0, queued: 0 });
      expect(verbose.version).toMatch(/^\d+\.\d+\.\d+/);
      expect(verbose.pool.open).toBe(1);
    } finally {
      stderr = await cli.stop();
    }

    const lines = jsonLines(stderr);
    for (const l of lines) {
      expect(l).toMatchObject({ name: "scout" });
      expect(typeof l.level).toBe("string");
      expect(Date.parse(l.time)).not.toBeNaN();
    }
    const calls = lines.filter((l) => /tool call$/.test(l.msg));
    expect(calls.map((l) => [l.mode, l.outcome])).toEqual([
      ["read", "ok"],
      ["read", "error"],
      ["command", "ok"],
      ["hosts", "ok"],
    ]);
    for (const l of calls) {
      expect(typeof l.durationMs).toBe("number");
      expect(l.client).toBe("stdio");
      // Slow means over the threshold, whatever else the machine is doing.
      const slow = (l.durationMs as number) > 400;
      expect([l.level, l.msg]).toEqual(slow ? ["warn", "slow tool call"] : ["info", "tool call"]);
    }
    expect(calls[2]!.level).toBe("warn");
    expect(calls[0]).toMatchObject({ host: h0, path: `${root0}/hello.txt`, bytes: 6 });
    const started = lines.find((l) => l.msg === "serving MCP on stdio");
    expect(started).toMatchObject({ level: "info", metrics: `http://127.0.0.1:${metricsPort}/metrics` });
    expect(lines.some((l) => l.msg === "stopped")).toBe(true);
    expect(stderr).not.toContain(SECRET_KEY);
  });

  it("honours SCOUT_LOG_LEVEL=warn: only slow calls are logged", async () => {
    const cli = await startCli({ SCOUT_LOG_LEVEL: "warn", SCOUT_SLOW_THRESHOLD_MS: "300" });
    let stderr = "";
    try {
      expect((await cli.call({ target: `${h0}:${root0}/hello.txt` })).text).toBe("hello\n");
      expect((await cli.call({ target: `${h0}:${root0}`, query: "sleep 0.5" })).isError).toBeFalsy();
    } finally {
      stderr = await cli.stop();
    }
    const lines = jsonLines(stderr);
    expect(lines.every((l) => l.level === "warn" || l.level === "error")).toBe(true);
    const slow = lines.filter((l) => l.msg === "slow tool call");
    expect(slow.map((l) => l.mode)).toContain("command");
    for (const l of slow) expect(l.durationMs).toBeGreaterThan(300);
    // The fast call's info line is below the level: gone.
    expect(lines.some((l) => l.msg === "tool call")).toBe(false);
  });
});

describe("SCOUT_METRICS_PORT", () => {
  it("already in use: the CLI refuses to start with a clear error instead of serving blind", async () => {
    const blocker = createServer();
    await new Promise<void>((r) => blocker.listen(0, "127.0.0.1", () => r()));
    const port = (blocker.address() as { port: number }).port;
    try {
      const child = spawnCli(["--stdio"], labEnv(lab, { SCOUT_METRICS_PORT: String(port) }));
      let stderr = "";
      child.stderr.setEncoding("utf8").on("data", (c: string) => (stderr += c));
      const code = await new Promise<number | null>((resolve) => child.once("exit", (c) => resolve(c)));
      expect(code).toBe(1);
      expect(stderr).toContain(`SCOUT_METRICS_PORT ${port} on 127.0.0.1 is already in use`);
    } finally {
      blocker.close();
    }
  });
});

describe("log format", () => {
  it("batches lines but never holds one back for long: a lone line reaches stderr while the process runs", async () => {
    const logModule = fileURLToPath(new URL("../../src/observe/log.ts", import.meta.url));
    const program = [
      `const { createLogger } = await import(${JSON.stringify(logModule)});`,
      `const log = createLogger({ level: "info", pretty: false });`,
      `log.info({ mode: "read" }, "lone line");`,
      // Never exits on its own: a logger that held the line until exit would never deliver it.
      `setInterval(() => {}, 60_000);`,
    ].join(" ");
    const child = spawn(process.execPath, ["--import", "tsx", "--input-type=module", "-e", program], {
      cwd: fileURLToPath(new URL("../..", import.meta.url)),
      stdio: ["ignore", "ignore", "pipe"],
    });
    try {
      const line = await new Promise<string>((resolve, reject) => {
        let seen = "";
        child.stderr.setEncoding("utf8").on("data", (c: string) => {
          seen += c;
          if (seen.includes("\n")) resolve(seen);
        });
        child.once("exit", () => reject(new Error(`exited first; stderr: ${seen}`)));
      });
      expect(JSON.parse(line.trim())).toMatchObject({ level: "info", msg: "lone line", mode: "read" });
    } finally {
      child.kill("SIGKILL");
    }
  }, 30_000);

  it("is human-readable (pino-pretty), not JSON, when stderr is a terminal", () => {
    // `script` gives the child a real pseudo-terminal; the logger must notice on its own.
    const logModule = fileURLToPath(new URL("../../src/observe/log.ts", import.meta.url));
    const program = [
      `const { createLogger } = await import(${JSON.stringify(logModule)});`,
      `const log = createLogger({ level: "info" });`,
      `log.info({ mode: "read", durationMs: 1.5 }, "tool call");`,
      `log.flush();`,
      `setTimeout(() => process.exit(0), 500);`,
    ].join(" ");
    const cmd = [process.execPath, "--import", "tsx", "--input-type=module", "-e", program]
      .map((a) => `'${a.replace(/'/g, "'\\''")}'`)
      .join(" ");
    const r = spawnSync("script", ["-qec", cmd, "/dev/null"], {
      encoding: "utf8",
      timeout: 30_000,
      cwd: fileURLToPath(new URL("../..", import.meta.url)),
    });
    expect(r.status, r.stderr).toBe(0);
    // Strip the terminal colour codes.
    const out = r.stdout.replace(/\u001b\[[0-9;]*m/g, "");
    expect(out).toMatch(/INFO.*tool call/);
    expect(out).toContain("durationMs: 1.5");
    expect(out).not.toContain('{"level"');
  });
});
