/**
 * `scout-mcp demo`: see Scout work without owning a fleet. Starts three throwaway OpenSSH servers
 * on 127.0.0.1 (src/lab), seeds them with a small app, serves Scout over HTTP against them, and
 * walks a real MCP SDK client through a tour of the tool, printing each call and its answer. With
 * --keep the server stays up for your own client until Ctrl-C. Everything it started (sshds, temp
 * dirs, the server) is removed on exit, Ctrl-C included.
 */
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { Client, StreamableHTTPClientTransport, type CallToolResult } from "@modelcontextprotocol/client";
import { labSettings, startFleet, type LabFleet } from "../lab/index.js";
import { silentLogger } from "../observe/log.js";
import { VERSION } from "../version.js";
import { serve, type RunningServer } from "./serve.js";
import { ensureLabTools, installWithApt, missingTools } from "./sshd-setup.js";
import { styleFor, type Out, type Style } from "./term.js";

export interface DemoOptions {
  keep: boolean;
  install: boolean;
  /** HTTP port; default: a free one, or 8000 (if free) with --keep. */
  port?: number;
  out: Out;
  err: Out;
  /** Aborted on Ctrl-C / SIGTERM: the demo stops what it is doing and cleans up. */
  signal: AbortSignal;
  env?: NodeJS.ProcessEnv;
}

export interface TourStep {
  title: string;
  why: string;
  args: Record<string, unknown>;
  /** Text the answer must contain: the demo checks itself, so CI can rely on its exit code. */
  expect: string | RegExp;
}

const HOSTS = 3;
const MAX_ANSWER_LINES = 24;

class Interrupted extends Error {
  constructor() {
    super("interrupted");
  }
}

/** The files each demo host starts with: the same small app, configured a little differently. */
export async function seedFleet(lab: LabFleet): Promise<void> {
  const roles = ["web", "web", "db"];
  await Promise.all(
    lab.hosts.map(async (h, i) => {
      const app = path.join(h.root, "app");
      const errors = [2, 5, 0][i] ?? 0;
      const log = Array.from({ length: 40 }, (_, n) => {
        const ts = `2026-01-07T10:${String(n).padStart(2, "0")}:00Z`;
        return n % 8 === 5 && Math.floor(n / 8) < errors
          ? `${ts} ERROR upstream timed out (request ${1000 + n})`
          : `${ts} INFO served GET /api/items in ${3 + ((n * 7) % 40)} ms`;
      });
      await Promise.all([
        lab.writeFile(
          path.join(app, "config.yml"),
          [
            "service: shop",
            `role: ${roles[i]}`,
            "port: 8080",
            `workers: ${i === 1 ? 8 : 4}`,
            `log_level: ${i === 1 ? "debug" : "info"}`,
            "",
          ].join("\n"),
        ),
        lab.writeFile(path.join(app, "logs", "app.log"), log.join("\n") + "\n"),
        lab.writeFile(path.join(app, "src", "main.py"), 'from util import greet\n\nprint(greet("scout"))\n'),
        lab.writeFile(path.join(app, "src", "util.py"), 'def greet(name):\n    return f"hello {name}"\n'),
        lab.writeFile(path.join(app, "README.md"), `# shop (${lab.hosts[i]!.alias})\n`),
      ]);
    }),
  );
}

export function tourSteps(lab: LabFleet, beamFile: string): TourStep[] {
  const [h0, h1, h2] = lab.hosts.map((h) => ({ alias: h.alias, app: path.join(h.root, "app") }));
  if (!h0 || !h1 || !h2) throw new Error(`The demo needs ${HOSTS} hosts`);
  return [
    {
      title: "hosts",
      why: "the hosts of the ssh config, probed in parallel",
      args: { target: "hosts" },
      expect: `[✓] ${h0.alias} (online)`,
    },
    {
      title: "read",
      why: "a file, read over SFTP (no shell involved)",
      args: { target: `${h0.alias}:${h0.app}/config.yml` },
      expect: "role: web",
    },
    {
      title: "ls",
      why: "a directory, ls -la style",
      args: { target: `${h0.alias}:${h0.app}` },
      expect: "config.yml",
    },
    {
      title: "tree",
      why: "a directory as a tree",
      args: { target: `${h0.alias}:${h0.app}`, tree: true },
      expect: "main.py",
    },
    {
      title: "find",
      why: "files by name under a directory",
      args: { target: `${h0.alias}:${h0.app}`, find: "*.py" },
      expect: "util.py",
    },
    {
      title: "command",
      why: "a shell command, run with the target path as working directory",
      args: { target: `${h1.alias}:${h1.app}/logs`, query: "grep -c ERROR app.log" },
      expect: /^5$/,
    },
    {
      title: "diff",
      why: "the same file on two hosts, as a unified diff",
      args: { target: `${h0.alias}:${h0.app}/config.yml`, diff: `${h1.alias}:${h1.app}/config.yml` },
      expect: "+workers: 8",
    },
    {
      title: "broadcast",
      why: "one command on every host, concurrently",
      args: {
        targets: [h0, h1, h2].map((h) => `${h.alias}:${h.app}`),
        query: "grep role config.yml; echo errors: $(grep -c ERROR logs/app.log)",
      },
      expect: "3/3 hosts succeeded",
    },
    {
      title: "beam",
      why: "a local file uploaded to a host (a download when the local file does not exist)",
      args: { target: `${h2.alias}:${h2.app}/release-notes.txt`, beam: beamFile },
      expect: "Uploaded",
    },
  ];
}

/** `scout("web1:/x", tree=true)`, as the README writes calls. */
export function formatCall(args: Record<string, unknown>): string {
  const parts: string[] = [];
  if (typeof args.target === "string") parts.push(JSON.stringify(args.target));
  for (const [k, v] of Object.entries(args)) {
    if (k !== "target") parts.push(`${k}=${JSON.stringify(v)}`);
  }
  return `scout(${parts.join(", ")})`;
}

function textOf(r: CallToolResult): string {
  return r.content.map((c) => (c.type === "text" ? c.text : "")).join("");
}

function indentAnswer(text: string, style: Style): string {
  const lines = text.replace(/\n+$/, "").split("\n");
  const shown = lines.slice(0, MAX_ANSWER_LINES);
  const more = lines.length - shown.length;
  return (
    shown.map((l) => `  ${style.dim("│")} ${l}`).join("\n") +
    (more > 0 ? `\n  ${style.dim(`│ … ${more} more lines`)}` : "") +
    "\n"
  );
}

function portFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const srv = net.createServer();
    srv.once("error", () => resolve(false));
    srv.listen(port, "127.0.0.1", () => srv.close(() => resolve(true)));
  });
}

/** The client configuration snippets for a running demo. */
export function connectSnippets(url: string, lab: LabFleet): string {
  // dist/cli/main.js when installed; src/cli/main.ts (through tsx) in a source checkout.
  const self = fileURLToPath(import.meta.url);
  const main = path.join(path.dirname(self), `main${path.extname(self)}`);
  const stdio = {
    mcpServers: {
      "scout-demo": {
        command: process.execPath,
        args: [...(main.endsWith(".ts") ? ["--import", "tsx"] : []), main, "--stdio"],
        env: { SCOUT_SSH_CONFIG: lab.sshConfigPath, SCOUT_KNOWN_HOSTS: lab.knownHostsPath },
      },
    },
  };
  return [
    "Connect a client to it:",
    "",
    `  Claude Code:    claude mcp add --transport http scout-demo ${url}`,
    `  MCP Inspector:  npx @modelcontextprotocol/inspector   (Transport: Streamable HTTP, URL: ${url})`,
    "  Cursor / VS Code / any client with HTTP support (JSON config):",
    "",
    JSON.stringify({ mcpServers: { "scout-demo": { type: "http", url } } }, null, 2)
      .split("\n")
      .map((l) => `    ${l}`)
      .join("\n"),
    "",
    "  Claude Desktop (stdio; it starts its own Scout against this demo fleet):",
    "",
    JSON.stringify(stdio, null, 2)
      .split("\n")
      .map((l) => `    ${l}`)
      .join("\n"),
    "",
    "More clients: docs/clients.md. Your own fleet: run scout-mcp (it reads ~/.ssh/config).",
  ].join("\n");
}

export async function runDemo(opts: DemoOptions): Promise<number> {
  const env = opts.env ?? process.env;
  const style = styleFor(opts.out, env);
  const say = (s = "") => opts.out.write(s + "\n");
  const interrupted = new Promise<never>((_, reject) => {
    const fire = () => reject(new Interrupted());
    if (opts.signal.aborted) fire();
    else opts.signal.addEventListener("abort", fire, { once: true });
  });
  interrupted.catch(() => {}); // only awaited through race()
  const race = <T>(p: Promise<T>) => Promise.race([p, interrupted]);

  // A fresh machine: as root on Debian/Ubuntu what is missing is installed (one line says so);
  // otherwise the error says the one command to run. --install forces apt-get (root only).
  try {
    if (opts.install && (missingTools(env).sshd || missingTools(env).sshKeygen))
      await race(installWithApt(opts.err));
    await race(ensureLabTools(opts.err, env));
  } catch (e) {
    if (e instanceof Interrupted) throw e;
    opts.err.write(`Error: ${e instanceof Error ? e.message : String(e)}\n`);
    return 1;
  }

  let fleetP: Promise<LabFleet> | undefined;
  let server: RunningServer | undefined;
  let client: Client | undefined;
  let beamDir: string | undefined;
  const started = performance.now();
  try {
    say(style.bold(`Scout MCP ${VERSION} demo`));
    say(`Starting ${HOSTS} throwaway OpenSSH servers on 127.0.0.1…`);
    fleetP = startFleet({ hosts: HOSTS, prefix: "demo" });
    const lab = await race(fleetP);
    await race(seedFleet(lab));
    beamDir = await mkdtemp(path.join(os.tmpdir(), "scout-demo-beam-"));
    const beamFile = path.join(beamDir, "release-notes.txt");
    await writeFile(beamFile, "shop 1.4.2: faster item search, fewer upstream timeouts\n");
    for (const h of lab.hosts)
      say(`  ${h.alias}  ${lab.user}@127.0.0.1:${h.port}  files under ${h.root}/app`);
    say(style.dim(`  (ssh config ${lab.sshConfigPath}; known_hosts ${lab.knownHostsPath})`));

    let port = opts.port ?? 0;
    if (opts.port === undefined && opts.keep && (await portFree(8000))) port = 8000;
    const settings = labSettings(lab, { transport: "http", httpPort: port, beamDir });
    server = await race(serve(settings, { log: silentLogger(), installSignals: false }));
    const url = server.http?.url ?? "";
    client = new Client({ name: "scout-demo", version: VERSION });
    await race(client.connect(new StreamableHTTPClientTransport(new URL(url))));
    const tools = await race(client.listTools());
    say(
      `Scout serves MCP at ${url}; an MCP SDK client connected (tools: ${tools.tools.map((t) => t.name).join(", ")}).`,
    );

    const steps = tourSteps(lab, beamFile);
    let failed = 0;
    for (const [i, step] of steps.entries()) {
      say();
      say(`${style.bold(`[${i + 1}/${steps.length}] ${step.title}`)} ${style.dim(`— ${step.why}`)}`);
      say(`  ${style.cyan(formatCall(step.args))}`);
      const t0 = performance.now();
      const r = (await race(client.callTool({ name: "scout", arguments: step.args }))) as CallToolResult;
      const took = performance.now() - t0;
      const text = textOf(r);
      opts.out.write(indentAnswer(text, style));
      const good =
        !r.isError && (typeof step.expect === "string" ? text.includes(step.expect) : step.expect.test(text));
      if (!good) failed++;
      say(
        good
          ? style.dim(`  ${took.toFixed(1)} ms`)
          : style.red(`  ✗ unexpected answer (expected it to contain ${String(step.expect)})`),
      );
    }
    say();
    if (failed > 0) {
      say(style.red(`✗ ${failed} of ${steps.length} tour steps failed.`));
      return 1;
    }
    say(
      style.green(
        `✓ Tour complete: ${steps.length} calls in ${((performance.now() - started) / 1000).toFixed(1)} s.`,
      ),
    );

    if (!opts.keep) {
      say("Cleaning up (sshds, temp dirs). Run `scout-mcp demo --keep` to try it from your own client.");
      return 0;
    }
    await client.close();
    client = undefined;
    say();
    say(style.bold(`Scout keeps running at ${url} against the demo fleet. Ctrl-C stops everything.`));
    say();
    say(connectSnippets(url, lab));
    await race(new Promise<never>(() => {}));
    return 0;
  } catch (e) {
    if (e instanceof Interrupted) {
      say();
      say("Interrupted: cleaning up.");
      return opts.keep ? 0 : 130;
    }
    throw e;
  } finally {
    await client?.close().catch(() => {});
    await server?.shutdown("demo done").catch(() => {});
    await fleetP?.then((f) => f.stop()).catch(() => {});
    if (beamDir) await rm(beamDir, { recursive: true, force: true }).catch(() => {});
  }
}
