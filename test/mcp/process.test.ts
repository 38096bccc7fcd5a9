/**
 * The real CLI as a process: graceful shutdown on SIGTERM/SIGINT during a running command, and
 * stdio purity (nothing but JSON-RPC on stdout, logs on stderr).
 */
import type { ChildProcess } from "node:child_process";
import { join } from "node:path";
import net from "node:net";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startFleet, type LabFleet } from "../fleet/index.js";
import { labEnv, spawnCli } from "../cli/run-cli.js";
import { descendantsOf, initializeRequest, processesMatching, uniqueSleep, waitUntil } from "./harness.js";

let lab: LabFleet;
let h0: string;
let root0: string;

beforeAll(async () => {
  lab = await startFleet({ hosts: 1 });
  h0 = lab.hosts[0]!.alias;
  root0 = lab.hosts[0]!.root;
  await lab.writeFile(join(root0, "hello.txt"), "hello\n");
});

afterAll(async () => {
  await lab?.stop();
});

function startCli(args: string[], env: Record<string, string> = {}): ChildProcess {
  return spawnCli(args, labEnv(lab, env));
}

/** Collects a stream's complete lines. */
function lines(stream: NodeJS.ReadableStream): {
  all: string[];
  next(pred: (l: string) => boolean, ms: number): Promise<string>;
} {
  const all: string[] = [];
  let buf = "";
  const waiters: Array<() => void> = [];
  stream.on("data", (d: Buffer) => {
    buf += d.toString("utf8");
    const parts = buf.split("\n");
    buf = parts.pop() ?? "";
    all.push(...parts);
    for (const w of waiters.splice(0)) w();
  });
  return {
    all,
    next: async (pred, ms) => {
      const deadline = performance.now() + ms;
      for (;;) {
        const hit = all.find(pred);
        if (hit !== undefined) return hit;
        if (performance.now() > deadline)
          throw new Error(`no matching line within ${ms} ms; got:\n${all.join("\n")}`);
        await new Promise<void>((r) => {
          waiters.push(r);
          setTimeout(r, 100);
        });
      }
    },
  };
}

function exited(child: ChildProcess): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
  return new Promise((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null)
      resolve({ code: child.exitCode, signal: child.signalCode });
    else child.once("exit", (code, signal) => resolve({ code, signal }));
  });
}

function portRefuses(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.connect({ port, host: "127.0.0.1" });
    s.once("connect", () => {
      s.destroy();
      resolve(false);
    });
    s.once("error", () => resolve(true));
  });
}

describe("graceful shutdown of the real CLI", () => {
  it.each(["SIGTERM", "SIGINT"] as const)(
    "%s during a running query: exits promptly, the remote process is killed, SSH closed",
    async (sig) => {
      const child = startCli(["--http", "--port", "0"], { SCOUT_LOG_LEVEL: "info" });
      const stderr = lines(child.stderr!);
      try {
        const ready = await stderr.next((l) => l.includes("serving MCP over Streamable HTTP"), 20_000);
        const url = (JSON.parse(ready) as { url: string }).url;
        expect(url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/mcp$/);
        const client = new Client({ name: "sig-test", version: "1.0.0" });
        await client.connect(new StreamableHTTPClientTransport(new URL(url)));
        const cmd = uniqueSleep();
        const call = client.callTool({ name: "scout", arguments: { target: `${h0}:${root0}`, query: cmd } });
        call.catch(() => {});
        await waitUntil(() => processesMatching(cmd).length > 0, 10_000, `'${cmd}' to start`);

        const t = performance.now();
        child.kill(sig);
        const { code } = await exited(child);
        const exitMs = performance.now() - t;
        expect(code).toBe(0);
        // "Within a few seconds": at most 3 s for calls plus 2 s for remote kills; far less when
        // the machine is not loaded. Generous for a loaded 2-core machine.
        expect(exitMs).toBeLessThan(8000);
        // The call in flight was cancelled and its answer still reached the client.
        const r = await call;
        expect(r.isError).toBe(true);
        expect((r.content as Array<{ text: string }>)[0]!.text).toBe(
          "Error: Scout is shutting down. Retry the call later",
        );
        await waitUntil(() => processesMatching(cmd).length === 0, 3000, `'${cmd}' to be killed`);
        expect(await portRefuses(Number(new URL(url).port))).toBe(true);
        expect(stderr.all.some((l) => l.includes('"msg":"stopped"'))).toBe(true);
        // No SSH session of ours is left on the host.
        await waitUntil(
          () => descendantsOf(lab.hosts[0]!.pid!).length === 0,
          3000,
          "the SSH sessions to end",
        );
        await client.close().catch(() => {});
      } finally {
        child.kill("SIGKILL");
      }
    },
    30_000,
  );
});

describe("the HTTP URL", () => {
  it("is printed on stdout even when logging is silent, so --port 0 can be used", async () => {
    const child = startCli(["--http", "--port", "0"], { SCOUT_LOG_LEVEL: "silent" });
    const stdout = lines(child.stdout!);
    try {
      const line = await stdout.next((l) => l.startsWith("scout-mcp: serving MCP at "), 20_000);
      const url = line.slice("scout-mcp: serving MCP at ".length);
      expect(url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/mcp$/);
      const health = await fetch(new URL("/health", url));
      expect(await health.text()).toBe("OK");
    } finally {
      child.kill("SIGTERM");
      await exited(child);
    }
    expect(stdout.all.filter((l) => l.trim() !== "")).toHaveLength(1);
  }, 30_000);
});

describe("stdio", () => {
  it("writes nothing but JSON-RPC to stdout, even with debug logging", async () => {
    const child = startCli(["--stdio"], { SCOUT_LOG_LEVEL: "debug", SCOUT_STATUS_CACHE_TTL: "0" });
    const stdout = lines(child.stdout!);
    const stderr = lines(child.stderr!);
    const send = (m: object) => child.stdin!.write(JSON.stringify(m) + "\n");
    try {
      send(initializeRequest());
      await stdout.next((l) => l.includes('"id":1'), 20_000);
      send({ jsonrpc: "2.0", method: "notifications/initialized" });
      const calls: Array<[number, string, object]> = [
        [2, "tools/list", {}],
        [3, "tools/call", { name: "scout", arguments: { target: "hosts" } }],
        [4, "tools/call", { name: "scout", arguments: { target: `${h0}:${root0}/hello.txt` } }],
        [
          5,
          "tools/call",
          { name: "scout", arguments: { target: `${h0}:${root0}`, query: "echo out; echo err >&2" } },
        ],
        [6, "tools/call", { name: "scout", arguments: { target: "nohost:/x" } }],
        [7, "resources/read", { uri: "hosts://list" }],
        [8, "tools/call", { name: "scout", arguments: { target: 42 } }],
      ];
      for (const [id, method, params] of calls) send({ jsonrpc: "2.0", id, method, params });
      for (const [id] of calls)
        await stdout.next((l) => l.includes(`"id":${id},`) || l.endsWith(`"id":${id}}`), 20_000);

      expect(stdout.all.length).toBeGreaterThanOrEqual(8);
      for (const line of stdout.all) {
        const msg = JSON.parse(line) as { jsonrpc?: string; id?: number; method?: string };
        expect(msg.jsonrpc).toBe("2.0");
        expect(msg.id !== undefined || msg.method !== undefined).toBe(true);
      }
      const byId = new Map(
        stdout.all
          .map((l) => JSON.parse(l) as { id?: number; result?: { content?: Array<{ text: string }> } })
          .map((m) => [m.id, m]),
      );
      expect(byId.get(4)?.result?.content?.[0]?.text).toBe("hello\n");
      expect(byId.get(5)?.result?.content?.[0]?.text).toContain("[stderr]\nerr");
      // Logs went to stderr instead (JSON lines from pino, batched: flushed within 200 ms).
      const logged = await stderr.next((l) => l.includes('"msg":"tool call"'), 5000);
      expect(JSON.parse(logged)).toMatchObject({ level: "info", msg: "tool call" });
    } finally {
      child.stdin!.end();
    }
    const { code } = await Promise.race([
      exited(child),
      new Promise<{ code: number }>((r) => setTimeout(() => r({ code: -1 }), 10_000)),
    ]);
    expect(code).toBe(0); // closing stdin shuts the server down cleanly
    child.kill("SIGKILL");
  });
});
