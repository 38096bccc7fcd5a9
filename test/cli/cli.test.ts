/** The `scout-mcp` command line: --help completeness, --version, config, usage errors. */
import { mkdtemp, readFile, readdir, rm, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { SETTING_SPECS } from "../../src/config/settings.js";
import { COMMANDS, FLAGS, helpText } from "../../src/cli/help.js";
import { REPO, cleanEnv, runCli } from "./run-cli.js";

let dir: string;

beforeAll(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), "scout-cli-test-"));
});

afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function sourceFiles(d: string): Promise<string[]> {
  const out: string[] = [];
  for (const e of await readdir(d, { withFileTypes: true })) {
    const p = path.join(d, e.name);
    if (e.isDirectory()) out.push(...(await sourceFiles(p)));
    else if (e.name.endsWith(".ts")) out.push(p);
  }
  return out;
}

describe("scout-mcp --help", () => {
  it("prints the help built from the flag and setting tables", async () => {
    const r = await runCli(["--help"]);
    expect(r.code).toBe(0);
    expect(r.stdout).toBe(helpText());
  });

  it("names every subcommand and every flag with the subcommands it applies to", () => {
    const help = helpText();
    for (const c of COMMANDS) expect(help).toMatch(new RegExp(`scout-mcp (\\[)?${c}`));
    for (const f of FLAGS) {
      expect(help).toContain(`--${f.name}`);
      if (f.short) expect(help).toContain(`-${f.short}, --${f.name}`);
    }
    expect(help).toContain("scout-mcp demo [--keep] [--install] [--port N]");
    expect(help).toContain("scout-mcp doctor [HOST…]");
  });

  it("lists every environment variable the source reads, aliases and defaults included", async () => {
    const help = helpText();
    for (const s of SETTING_SPECS) {
      expect(help).toContain(s.env);
      for (const a of s.aliases ?? []) expect(help).toContain(a);
      expect(help).toContain(`(default: ${s.defaultText})`);
    }
    // Every SCOUT_*/MCP_CAT_* name in src/, except constants that merely share the prefix.
    const texts = await Promise.all(
      (await sourceFiles(path.join(REPO, "src"))).map((f) => readFile(f, "utf8")),
    );
    const all = texts.join("\n");
    const names = new Set(all.match(/\b(?:SCOUT|MCP_CAT)_[A-Z0-9_]+\b/g) ?? []);
    const envNames = [...names].filter((n) => !new RegExp(`\\b(?:const|let|var)\\s+${n}\\b`).test(all));
    expect(envNames.length).toBeGreaterThan(30);
    expect(envNames.filter((n) => !help.includes(n))).toEqual([]);
    expect(help).toContain("SSH_AUTH_SOCK");
  });
});

describe("README quick start", () => {
  it("is exactly two commands: install + demo, install + tests (.ci/quickstart-check runs the first)", async () => {
    const readme = await readFile(path.join(REPO, "README.md"), "utf8");
    const section = readme.split(/^## Quick start$/m)[1]?.split(/^## /m)[0] ?? "";
    const block = /^```bash\n([\s\S]*?)^```$/m.exec(section)?.[1] ?? "";
    const commands = block.split("\n").filter((l) => l.trim() !== "" && !l.startsWith("#"));
    expect(commands).toEqual(["npm ci && npm run demo", "npm ci && npm test"]);
    const pkg = JSON.parse(await readFile(path.join(REPO, "package.json"), "utf8")) as {
      scripts: Record<string, string>;
    };
    expect(pkg.scripts.demo).toBe("npm run build && node dist/cli/main.js demo");
  });
});

describe("scout-mcp --version", () => {
  it("prints the package version", async () => {
    const pkg = JSON.parse(await readFile(path.join(REPO, "package.json"), "utf8")) as { version: string };
    const r = await runCli(["--version"]);
    expect(r).toMatchObject({ code: 0, stdout: `${pkg.version}\n`, stderr: "" });
  });
});

describe("scout-mcp config", () => {
  it("prints each effective value in the variable's own units and where it came from", async () => {
    const sshConfig = path.join(dir, "ssh_config");
    await writeFile(sshConfig, "Host web1\n  HostName 10.0.0.5\n\nHost db1\n  HostName 10.0.0.9\n");
    const r = await runCli(["config", "--port", "9001"], {
      env: cleanEnv({
        SCOUT_SSH_CONFIG: sshConfig,
        SCOUT_KNOWN_HOSTS: path.join(dir, "known_hosts"),
        SCOUT_CONNECT_TIMEOUT: "5",
        MCP_CAT_IDLE_TIMEOUT: "30",
        SCOUT_API_KEYS: "secret-one,secret-two",
        SCOUT_DENY_HOSTS: "db*,test*",
      }),
    });
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    const row = (env: string) => {
      const line = r.stdout.split("\n").find((l) => l.startsWith(env + " "));
      return line?.split(/\s{2,}/);
    };
    expect(row("VARIABLE")).toEqual(["VARIABLE", "VALUE", "SOURCE"]);
    expect(row("SCOUT_SSH_CONFIG")).toEqual(["SCOUT_SSH_CONFIG", sshConfig, "environment"]);
    expect(row("SCOUT_CONNECT_TIMEOUT")).toEqual(["SCOUT_CONNECT_TIMEOUT", "5", "environment"]);
    expect(row("SCOUT_IDLE_TIMEOUT")).toEqual([
      "SCOUT_IDLE_TIMEOUT",
      "30",
      "environment (MCP_CAT_IDLE_TIMEOUT)",
    ]);
    expect(row("SCOUT_HTTP_PORT")).toEqual(["SCOUT_HTTP_PORT", "9001", "--port"]);
    expect(row("SCOUT_MAX_POOL_SIZE")).toEqual(["SCOUT_MAX_POOL_SIZE", "100", "default"]);
    expect(row("SCOUT_SLOW_THRESHOLD_MS")).toEqual(["SCOUT_SLOW_THRESHOLD_MS", "1000", "default"]);
    expect(row("SCOUT_DENY_HOSTS")).toEqual(["SCOUT_DENY_HOSTS", "db*,test*", "environment"]);
    expect(row("SCOUT_API_KEYS")).toEqual(["SCOUT_API_KEYS", "(2 keys, hidden)", "environment"]);
    expect(r.stdout).not.toContain("secret-one");
    for (const s of SETTING_SPECS) expect(row(s.env)).toBeDefined();
    // db1 is denied: only what Scout would really serve is listed.
    expect(r.stdout).toContain(`ssh config ${sshConfig}: 1 host served: web1`);
    expect(r.stdout).toContain(`known_hosts ${path.join(dir, "known_hosts")} (does not exist yet)`);
  });

  it("refuses a bad value with the variable's name and exit status 2", async () => {
    const r = await runCli(["config"], { env: cleanEnv({ SCOUT_MAX_POOL_SIZE: "lots" }) });
    expect(r.code).toBe(2);
    expect(r.stdout).toBe("");
    expect(r.stderr).toBe('Error: SCOUT_MAX_POOL_SIZE="lots" is not a valid positive integer\n');
  });
});

describe("usage errors", () => {
  it("names an unknown command, a misplaced flag, a bad port and an unknown flag (exit 2)", async () => {
    const [unknown, misplaced, badPort, badFlag] = await Promise.all([
      runCli(["frobnicate"]),
      runCli(["serve", "--keep"]),
      runCli(["demo", "--port", "http"]),
      runCli(["--frob"]),
    ]);
    expect(unknown).toMatchObject({
      code: 2,
      stderr:
        "Error: Unknown command 'frobnicate'. Commands: serve, config, demo, doctor, resolve (see scout-mcp --help)\n",
    });
    expect(misplaced).toMatchObject({
      code: 2,
      stderr: "Error: --keep does not apply to 'serve' (it is for: demo)\n",
    });
    expect(badPort).toMatchObject({ code: 2, stderr: "Error: --port http is not a port (0-65535)\n" });
    expect(badFlag.code).toBe(2);
    expect(badFlag.stderr).toMatch(/^Error: Unknown option '--frob'/);
  });
});
