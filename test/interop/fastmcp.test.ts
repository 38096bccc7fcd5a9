/**
 * Scout through fastmcp's Client (`fastmcp` 4, installed by .ci/run next to `mcp`), over Streamable
 * HTTP in both eras it speaks: "legacy" (initialize + session) and "auto" (server/discover first,
 * which Scout answers: 2026-07-28). With SCOUT_CONFIRM_COMMANDS on, its elicitation handler answers
 * the confirmation (elicitation in 2025, MRTR in 2026-07-28). The checks run in
 * test/interop/python/fastmcp_client.py; this file starts the lab and Scout and asserts the report.
 * Without the package the suite is skipped locally, and fails under CI.
 */
import { execFile, execFileSync } from "node:child_process";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { serve, type RunningServer } from "../../src/cli/serve.js";
import { silentLogger } from "../../src/observe/log.js";
import { startFleet, type LabFleet } from "../fleet/index.js";
import { REPO } from "../cli/run-cli.js";
import { labSettings } from "../mcp/harness.js";

const SCRIPT = fileURLToPath(new URL("./python/fastmcp_client.py", import.meta.url));
const MiB = 1024 * 1024;

function pythonHasFastmcp(): boolean {
  try {
    execFileSync("python3", ["-c", "import fastmcp, anyio"], { stdio: "ignore" });
    return true;
  } catch {
    return false;
  }
}
const available = pythonHasFastmcp();
if (!available && process.env.CI)
  throw new Error("python3 with the fastmcp package is required (.ci/run installs it)");

interface Check {
  ok: boolean;
  error?: string;
  trace?: string;
  [k: string]: unknown;
}
interface Report {
  protocolVersion: string;
  asked: string[];
  stderr?: string;
  checks: Record<string, Check>;
}

function runPython(cfg: Record<string, unknown>): Promise<Report> {
  return new Promise((resolve, reject) => {
    execFile(
      "python3",
      [SCRIPT, JSON.stringify(cfg)],
      { cwd: REPO, timeout: 180_000, maxBuffer: 16 * MiB },
      (err, stdout, stderr) => {
        if (err) reject(new Error(`fastmcp client failed: ${err.message}\n${stderr.slice(-4000)}`));
        else
          resolve({
            ...(JSON.parse(stdout.trim().split("\n").at(-1)!) as Report),
            stderr: stderr.slice(-6000),
          });
      },
    );
  });
}

let lab: LabFleet;
let scout: RunningServer;
let host: string;
let root: string;

beforeAll(async () => {
  if (!available) return;
  lab = await startFleet({ hosts: 1 });
  host = lab.hosts[0]!.alias;
  root = lab.hosts[0]!.root;
  await lab.writeFile(join(root, "hello.txt"), "hello\n");
  await lab.writeFile(join(root, "big.log"), Buffer.alloc(50 * MiB, "log line 0123456789\n"));
  scout = await serve(labSettings(lab, { transport: "http", confirmCommands: true }), {
    log: silentLogger(),
    installSignals: false,
  });
}, 120_000);

afterAll(async () => {
  await scout?.shutdown("test done");
  await lab?.stop();
});

describe.skipIf(!available)("fastmcp's Client", () => {
  it.each([
    ["legacy", /^2025-/],
    ["auto", /^2026-07-28$/],
  ] as const)(
    "mode %s over Streamable HTTP: capped 50 MB reads and 1.5 MB of output fit its 1 MiB events; one confirmation",
    async (mode, version) => {
      const r = await runPython({ url: scout.http?.url, mode, host, root });
      const failed = Object.entries(r.checks).filter(([, c]) => !c.ok);
      expect(failed.map(([n, c]) => `${n}: ${c.error}\n${c.trace}\n${r.stderr ?? ""}`)).toEqual([]);
      expect(r.protocolVersion).toMatch(version);
      const c = r.checks;
      expect(c.tools!.tools).toEqual(["scout"]);
      expect(c.readSmall).toMatchObject({ text: "hello\n", isError: false, structured: { mode: "read" } });
      expect(c.listing!.links).toContain(`scout://${host}${root}/hello.txt`);
      expect(c.listing!.firstLink).not.toBe("");
      for (const name of ["read50MB", "command1500KB", "resource50MB"]) {
        expect(c[name]!.tail, name).toMatch(
          /\[cut to fit one MCP message: showing the first \d+ of \d+ bytes/,
        );
        expect(c[name]!.isError ?? false, name).toBe(false);
        expect(c[name]!.length as number, name).toBeGreaterThan(0.9 * MiB);
      }
      // The one command was confirmed through fastmcp's elicitation handler.
      expect(r.asked).toHaveLength(1);
      expect(r.asked[0]).toContain("head -c 1500000");
      expect(c.missing!.error).toMatch(/not found/i);
    },
    180_000,
  );
});
