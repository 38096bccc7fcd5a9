/**
 * `subscriptions/listen` through a client that is not the TypeScript SDK: the Python MCP SDK
 * (`mcp` 2.3, which implements listen in the 2026-07-28 era), over Streamable HTTP and stdio, against
 * the lab fleet. The client runs test/interop/python/listen_client.py; this file asserts its report.
 * Skipped without the package locally; under CI (.ci/run installs it) its absence fails.
 */
import { execFile, execFileSync } from "node:child_process";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startFleet, type LabFleet } from "../fleet/index.js";
import { cliArgs, labEnv, REPO } from "../cli/run-cli.js";
import { startHttpScout, type ScoutUnderTest } from "../mcp/harness.js";

const SCRIPT = fileURLToPath(new URL("./python/listen_client.py", import.meta.url));

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

interface Report {
  protocolVersion: string;
  honored?: Record<string, unknown>;
  updated?: string;
  listenError?: string;
  refused?: { code: number; message: string } | null;
  stderr?: string;
}

function runPython(cfg: Record<string, unknown>): Promise<Report> {
  return new Promise((resolve, reject) => {
    execFile(
      "python3",
      [SCRIPT, JSON.stringify(cfg)],
      { cwd: REPO, timeout: 120_000 },
      (err, stdout, stderr) => {
        if (err) reject(new Error(`python client failed: ${err.message}\n${stderr.slice(-4000)}`));
        else
          resolve({
            ...(JSON.parse(stdout.trim().split("\n").at(-1)!) as Report),
            stderr: stderr.slice(-4000),
          });
      },
    );
  });
}

let lab: LabFleet;
let host: string;
let root: string;

beforeAll(async () => {
  if (!available) return;
  lab = await startFleet({ hosts: 1 });
  host = lab.hosts[0]!.alias;
  root = lab.hosts[0]!.root;
}, 120_000);

afterAll(async () => {
  await lab?.stop();
});

async function listenCase(transport: "http" | "stdio", target: Record<string, unknown>): Promise<void> {
  const log = await lab.writeFile(join(root, `py-listen-${transport}.log`), "first\n");
  const uri = `scout://${host}${log}`;
  const r = await runPython({
    transport,
    ...target,
    uri,
    append: `printf 'second line\\n' >> '${log}'`,
    badUri: "scout://nohost/etc/hosts",
  });
  expect(r.listenError, r.stderr).toBeUndefined();
  expect(r.protocolVersion).toBe("2026-07-28");
  // The tool list never changes, so only the resource list and the file are acknowledged.
  expect(r.honored).toEqual({ resourcesListChanged: true, resourceSubscriptions: [uri] });
  expect(r.updated).toBe(uri);
  expect(r.refused).toMatchObject({
    code: -32602,
    message: expect.stringMatching(/Unknown host 'nohost'/) as unknown,
  });
}

describe.skipIf(!available)("subscriptions/listen through the Python MCP SDK", () => {
  let scout: ScoutUnderTest;
  beforeAll(async () => {
    scout = await startHttpScout(lab);
  });
  afterAll(async () => {
    await scout?.close();
  });

  it("over Streamable HTTP: acknowledged, a log append arrives as a resource update, a bad URI is -32602", async () => {
    await listenCase("http", { url: scout.url });
  }, 120_000);

  it("over stdio: the same", async () => {
    const env = labEnv(lab, { SCOUT_LOG_LEVEL: "warn" });
    await listenCase("stdio", { command: process.execPath, args: cliArgs(["--stdio"]), env });
  }, 120_000);
});
