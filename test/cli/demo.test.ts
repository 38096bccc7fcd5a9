/**
 * `scout-mcp demo` end to end: the real CLI starts real sshds, serves Scout, tours it with an SDK
 * client, and leaves nothing behind, whether it ends by itself or by Ctrl-C (--keep).
 */
import { spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { mkdtemp, readFile, readdir, rm, symlink } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import type { CallToolResult } from "@modelcontextprotocol/sdk/types.js";
import { describe, expect, it } from "vitest";
import { MAIN, REPO, cleanEnv, runCli } from "./run-cli.js";

/** The lab's temp dir, as the demo prints it. */
function labDirOf(stdout: string): string {
  const m = /\(ssh config (\/\S+)\/ssh_config;/.exec(stdout);
  if (!m?.[1]) throw new Error(`No lab dir in:\n${stdout}`);
  return m[1];
}

/** sshd processes still running with a config from `dir`. */
async function sshdsUnder(dir: string): Promise<number> {
  let n = 0;
  for (const pid of await readdir("/proc").catch(() => [] as string[])) {
    if (!/^\d+$/.test(pid)) continue;
    const cmd = await readFile(`/proc/${pid}/cmdline`, "utf8").catch(() => "");
    if (cmd.includes("sshd") && cmd.includes(dir)) n++;
  }
  return n;
}

describe("scout-mcp demo", () => {
  it("tours hosts, read, ls, tree, find, command, diff, broadcast and beam, then cleans up", async () => {
    const r = await runCli(["demo"]);
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    const out = r.stdout;
    const titles = ["hosts", "read", "ls", "tree", "find", "command", "diff", "broadcast", "beam"];
    titles.forEach((t, i) => expect(out).toMatch(new RegExp(`^\\[${i + 1}/9\\] ${t} — `, "m")));
    // Each call is printed, then its answer.
    expect(out).toContain('  scout("hosts")\n');
    for (const h of ["demo-0", "demo-1", "demo-2"]) {
      expect(out).toMatch(new RegExp(`│   \\[✓\\] ${h} \\(online\\) -> \\S+@127\\.0\\.0\\.1:\\d+`));
    }
    expect(out).toMatch(
      /scout\("demo-0:\/\S+\/demo-0\/app\/config\.yml"\)\n {2}│ service: shop\n {2}│ role: web\n/,
    );
    expect(out).toMatch(/│ -rw-r--r-- .* config\.yml\n/);
    expect(out).toMatch(/tree=true\)\n {2}│ \/\S+\/app\n {2}│ ├── README\.md\n/);
    expect(out).toContain("│ 2 directories, 5 files");
    expect(out).toMatch(
      /find="\*\.py"\)\n {2}│ \/\S+\/demo-0\/app\/src\/main\.py\n {2}│ \/\S+\/app\/src\/util\.py\n/,
    );
    expect(out).toMatch(/query="grep -c ERROR app\.log"\)\n {2}│ 5\n/);
    expect(out).toContain("│ -workers: 4\n  │ -log_level: info\n  │ +workers: 8\n  │ +log_level: debug\n");
    expect(out).toMatch(/│ ═══ demo-2:\S+ ═+\n {2}│ role: db\n {2}│ errors: 0\n/);
    expect(out).toContain("│ ─── 3/3 hosts succeeded ───");
    expect(out).toMatch(
      /│ ✓ Uploaded \/\S+\/release-notes\.txt → demo-2:\/\S+\/demo-2\/app\/release-notes\.txt/,
    );
    expect(out).toMatch(/✓ Tour complete: 9 calls in [\d.]+ s\./);
    expect(out).not.toContain("✗");
    const labDir = labDirOf(out);
    expect(existsSync(labDir)).toBe(false);
    expect(await sshdsUnder(labDir)).toBe(0);
    const beamDir = /beam="(\/\S+)\/release-notes\.txt"/.exec(out)?.[1];
    expect(beamDir && existsSync(beamDir)).toBe(false);
  }, 120_000);

  it("--keep leaves Scout up for another client and prints its config; Ctrl-C removes everything", async () => {
    const child = spawn(process.execPath, ["--import", "tsx", MAIN, "demo", "--keep", "--port", "0"], {
      cwd: REPO,
      env: cleanEnv(),
      stdio: ["ignore", "pipe", "pipe"],
    });
    let out = "";
    child.stdout.on("data", (d: Buffer) => (out += d.toString()));
    child.stderr.on("data", (d: Buffer) => (out += d.toString()));
    const exited = new Promise<number | null>((resolve) => child.on("close", (code) => resolve(code)));
    try {
      const url = await new Promise<string>((resolve, reject) => {
        const t = setInterval(() => {
          const m = /Scout keeps running at (http:\/\/127\.0\.0\.1:\d+\/mcp)/.exec(out);
          if (m?.[1] && out.includes("docs/clients.md")) {
            clearInterval(t);
            resolve(m[1]);
          }
        }, 50);
        void exited.then(() => {
          clearInterval(t);
          reject(new Error(`demo exited early:\n${out}`));
        });
      });
      expect(out).toContain(`claude mcp add --transport http scout-demo ${url}`);
      // The printed JSON snippets parse, and the HTTP one points at the running server.
      const blocks = [...out.matchAll(/^ {4}\{\n[\s\S]*?^ {4}\}$/gm)].map((m) => JSON.parse(m[0]) as unknown);
      expect(blocks).toContainEqual({ mcpServers: { "scout-demo": { type: "http", url } } });
      expect(blocks).toContainEqual({
        mcpServers: {
          "scout-demo": expect.objectContaining({ command: process.execPath }) as unknown,
        },
      });

      const client = new Client({ name: "keep-test", version: "1.0.0" });
      await client.connect(new StreamableHTTPClientTransport(new URL(url)));
      const r = (await client.callTool({ name: "scout", arguments: { target: "hosts" } })) as CallToolResult;
      const text = r.content.map((c) => (c.type === "text" ? c.text : "")).join("");
      expect(text).toMatch(/\[✓\] demo-0 \(online\)[\s\S]*\[✓\] demo-2 \(online\)/);
      await client.close();

      const labDir = labDirOf(out);
      expect(existsSync(labDir)).toBe(true);
      expect(await sshdsUnder(labDir)).toBe(3);
      child.kill("SIGINT");
      expect(await exited).toBe(0);
      expect(out).toContain("Interrupted: cleaning up.");
      expect(existsSync(labDir)).toBe(false);
      expect(await sshdsUnder(labDir)).toBe(0);
    } finally {
      child.kill("SIGKILL");
    }
  }, 120_000);

  it("says how to install what is missing instead of failing obscurely", async () => {
    // A PATH with apt-get but without ssh-keygen.
    const bin = await mkdtemp(path.join(os.tmpdir(), "scout-demo-path-"));
    try {
      if (existsSync("/usr/bin/apt-get")) await symlink("/usr/bin/apt-get", path.join(bin, "apt-get"));
      // SCOUT_LAB_INSTALL=0: as root the demo would otherwise install what is missing.
      const r = await runCli(["demo"], { env: { ...cleanEnv(), PATH: bin, SCOUT_LAB_INSTALL: "0" } });
      expect(r.code).toBe(1);
      expect(r.stdout).toBe("");
      expect(r.stderr).toMatch(/^Error: ssh-keygen not found\.\nThe demo runs real OpenSSH servers/);
      if (existsSync("/usr/bin/apt-get")) {
        const sudo = process.getuid?.() === 0 ? "" : "sudo ";
        expect(r.stderr).toContain(`  ${sudo}apt-get install -y openssh-server\n`);
        expect(r.stderr).toMatch(/install it themselves/);
      }
    } finally {
      await rm(bin, { recursive: true, force: true });
    }
  });
});
