/**
 * Scout through a client that is not the TypeScript SDK: the Python SDK (`mcp` 2.3, installed by
 * .ci/run), over stdio and Streamable HTTP, in the 2025 era (initialize handshake). The checks run
 * in test/interop/python/scout_client.py; this file starts the lab and Scout and asserts the report.
 * Without the package the suite is skipped locally, and fails under CI (where .ci/run installs it).
 */
import { execFile, execFileSync } from "node:child_process";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startFleet, type LabFleet } from "../fleet/index.js";
import { cliArgs, labEnv, REPO } from "../cli/run-cli.js";
import { startHttpScout, type ScoutUnderTest } from "../mcp/harness.js";

const SCRIPT = fileURLToPath(new URL("./python/scout_client.py", import.meta.url));
const MiB = 1024 * 1024;

function pythonHasMcp(): boolean {
  try {
    execFileSync("python3", ["-c", "import mcp, anyio"], { stdio: "ignore" });
    return true;
  } catch {
    return false;
  }
}
const available = pythonHasMcp();
if (!available && process.env.CI)
  throw new Error("python3 with the mcp package is required (.ci/run installs it)");

interface Check {
  ok: boolean;
  error?: string;
  trace?: string;
  seconds: number;
  [k: string]: unknown;
}
interface Report {
  protocolVersion: string;
  /** The client's stderr (over stdio, the server's too): shown when a check failed. */
  stderr?: string;
  checks: Record<string, Check>;
}

function runPython(cfg: Record<string, unknown>): Promise<Report> {
  return new Promise((resolve, reject) => {
    execFile(
      "python3",
      [SCRIPT, JSON.stringify(cfg)],
      { cwd: REPO, timeout: 240_000, maxBuffer: 16 * MiB },
      (err, stdout, stderr) => {
        if (err) reject(new Error(`python client failed: ${err.message}\n${stderr.slice(-4000)}`));
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
let config: string;
let host: string;
let root: string;

beforeAll(async () => {
  if (!available) return;
  lab = await startFleet({ hosts: 1 });
  host = lab.hosts[0]!.alias;
  root = lab.hosts[0]!.root;
  const port = lab.hosts[0]!.port;
  await lab.writeFile(join(root, "hello.txt"), "hello\n");
  await lab.writeFile(join(root, "newlines.txt"), "\n".repeat(600 * 1024));
  await lab.writeFile(join(root, "big.log"), Buffer.alloc(50 * MiB, "log line 0123456789\n"));
  // The lab host, the same sshd under a capitalised alias, and 600 more for the paged list.
  const fillers = Array.from({ length: 600 }, (_, i) => ({ alias: `filler${i}`, port }));
  config = await lab.writeSshConfig([{ alias: host, port }, { alias: "Web1", port }, ...fillers]);
}, 120_000);

afterAll(async () => {
  await lab?.stop();
});

function expectReport(r: Report): void {
  const failed = Object.entries(r.checks).filter(([, c]) => !c.ok);
  expect(failed.map(([n, c]) => `${n}: ${c.error}\n${c.trace}\n${r.stderr ?? ""}`)).toEqual([]);
  const c = r.checks;
  expect(c.tools!.tools).toEqual(["scout"]);
  expect(c.readSmall).toMatchObject({ text: "hello\n", isError: false, structured: { mode: "read" } });
  for (const name of ["readNewlines", "read50MB", "command1500KB", "commandNewlines", "resource50MB"]) {
    expect(c[name]!.tail, name).toMatch(/\[cut to fit one MCP message: showing the first \d+ of \d+ bytes/);
    expect(c[name]!.isError ?? false, name).toBe(false);
  }
  expect(c.readNewlines!.tail).toMatch(/read on with offset=\d+\]$/);
  expect(c.read50MB!.length as number).toBeGreaterThan(0.9 * MiB);
  expect(c.capitalHost).toMatchObject({ text: "hello\n" });
  expect(c.complete).toMatchObject({ hosts: ["Web1"], paths: [`${root.slice(1)}/hello.txt`] });
  expect(c.pages).toMatchObject({ resources: 1 + 602 * 5, pages: 7, templates: 7 });
  expect(c.cancels).toMatchObject({ cancelled: 100, after: "hello\n" });
}

describe.skipIf(!available)("the Python MCP SDK as the client", () => {
  let scout: ScoutUnderTest;
  beforeAll(async () => {
    scout = await startHttpScout(lab, { sshConfigPath: config });
  });
  afterAll(async () => {
    await scout?.close();
  });

  it("over Streamable HTTP: big answers fit its 1 MiB SSE events, 100 cancels don't stall it", async () => {
    const r = await runPython({
      transport: "http",
      url: scout.url,
      mode: "legacy",
      host,
      root,
      capitalHost: "Web1",
      bigHost: true,
    });
    expect(r.protocolVersion).toMatch(/^2025-/);
    expectReport(r);
  }, 240_000);

  it("in auto mode (server/discover first, the initialize handshake when that is refused) over HTTP", async () => {
    // Python SDK 2.3 speaks 2026-07-28 too: once Scout answers server/discover, this runs modern.
    const r = await runPython({
      transport: "http",
      url: scout.url,
      mode: "auto",
      host,
      root,
      capitalHost: "Web1",
      bigHost: true,
    });
    expect(r.protocolVersion).toMatch(/^20\d\d-\d\d-\d\d$/);
    expectReport(r);
  }, 240_000);

  it("over stdio", async () => {
    const env = labEnv(
      { sshConfigPath: config, knownHostsPath: lab.knownHostsPath },
      { SCOUT_LOG_LEVEL: "warn" },
    );
    const r = await runPython({
      transport: "stdio",
      command: process.execPath,
      args: cliArgs(["--stdio"]),
      env,
      mode: "legacy",
      host,
      root,
      capitalHost: "Web1",
      bigHost: true,
    });
    expectReport(r);
  }, 240_000);
});
