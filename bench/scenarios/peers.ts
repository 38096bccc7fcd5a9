/**
 * Scenario 13: the peers users install today, side by side with Scout, same fleet, same run. Each
 * peer is installed from npm into a temp dir at bench time (never a dependency of this project),
 * started over stdio and driven by the SDK client, as Scout is. A warm 4 KB log file read and a
 * directory listing: p50/p99 sequentially and req/s at concurrency 1 and 8. A peer that cannot be
 * installed, refuses, answers wrongly or hangs is reported as such, never fatal.
 */
import { spawn } from "node:child_process";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import type { ChartEntry, Row } from "../report.js";
import {
  load,
  ms,
  rawExec,
  rawRead,
  rawReaddir,
  rawSsh,
  scoutStdio,
  stdioServer,
  withTimeout,
  type BenchContext,
  type McpUnderTest,
  type Scenario,
  type Stats,
} from "../support.js";

const CALL_TIMEOUT_MS = 20_000;
const PEERS = ["ssh-mcp", "mcp-ssh-manager"] as const;
type PeerName = (typeof PEERS)[number];

/** p50 from the peers survey (shared/reference/peers.md, 5.5 KB file, 20 sequential cats). */
const SURVEY: Record<string, number> = {
  "ssh-mcp read-command": 100.1,
  "ssh-mcp sftp-download": 12.8,
  "mcp-ssh-manager ssh_execute": 119.7,
  "raw ssh2 exec": 12.5,
  "raw ssh2 SFTP": 1.0,
};

export interface PeerPath {
  server: string;
  tool: string;
  op: "read" | "list";
  status: "ok" | string;
  p50?: number;
  p99?: number;
  rps1?: number;
  rps8?: number;
  survey?: number;
}

function run(cmd: string, args: string[], timeoutMs: number): Promise<{ code: number | null; out: string }> {
  return new Promise((resolve) => {
    const child = spawn(cmd, args, { stdio: ["ignore", "pipe", "pipe"] });
    let out = "";
    child.stdout.on("data", (d: Buffer) => (out += d.toString()));
    child.stderr.on("data", (d: Buffer) => (out += d.toString()));
    const timer = setTimeout(() => child.kill("SIGKILL"), timeoutMs);
    child.on("error", (e) => {
      clearTimeout(timer);
      resolve({ code: -1, out: String(e) });
    });
    child.on("close", (code) => {
      clearTimeout(timer);
      resolve({ code, out });
    });
  });
}

interface Installed {
  entry?: string;
  version?: string;
  why?: string;
}

function npmInstall(prefix: string, names: string[]): Promise<{ code: number | null; out: string }> {
  // Saved to the temp dir's own package.json, so that a second install does not prune the first.
  return run(
    "npm",
    [
      "install",
      "--prefix",
      prefix,
      "--no-audit",
      "--no-fund",
      "--prefer-offline",
      "--loglevel=error",
      ...names,
    ],
    240_000,
  );
}

/** The bin entry of an installed package, or undefined when it is not there. */
async function entryOf(prefix: string, name: string): Promise<Installed | undefined> {
  const pkgDir = path.join(prefix, "node_modules", name);
  try {
    const pkg = JSON.parse(await readFile(path.join(pkgDir, "package.json"), "utf8")) as {
      version: string;
      bin?: string | Record<string, string>;
      main?: string;
    };
    const bin = typeof pkg.bin === "string" ? pkg.bin : (pkg.bin?.[name] ?? pkg.main);
    if (!bin) return { why: "no bin entry in its package.json" };
    return { entry: path.join(pkgDir, bin), version: pkg.version };
  } catch {
    return undefined;
  }
}

/** Installs the peers into `prefix` (all at once; one by one if that fails). */
async function installPeers(prefix: string): Promise<Record<PeerName, Installed>> {
  const out = {} as Record<PeerName, Installed>;
  const all = await npmInstall(prefix, [...PEERS]);
  for (const name of PEERS) {
    let got = all.code === 0 ? await entryOf(prefix, name) : undefined;
    if (!got) {
      const one = await npmInstall(prefix, [name]);
      got = (await entryOf(prefix, name)) ?? {
        why: `npm install failed (exit ${one.code}): ${one.out.trim().split("\n").slice(-2).join(" ").slice(0, 160)}`,
      };
    }
    out[name] = got;
  }
  return out;
}

interface Path {
  server: string;
  tool: string;
  op: "read" | "list";
  call: () => Promise<{ text: string; isError: boolean }>;
  /** Text the answer must contain (a line of the file, a file name of the directory). */
  expect: string;
}

async function measurePath(ctx: BenchContext, p: Path, n: number): Promise<PeerPath> {
  const base = {
    server: p.server,
    tool: p.tool,
    op: p.op,
    ...(SURVEY[`${p.server} ${p.tool}`] ? { survey: SURVEY[`${p.server} ${p.tool}`] } : {}),
  };
  const once = async () => {
    const r = await withTimeout(`${p.server} ${p.tool}`, CALL_TIMEOUT_MS, p.call);
    if (r.isError) throw new Error(`error answer: ${r.text.slice(0, 120).replace(/\s+/g, " ")}`);
    if (!r.text.includes(p.expect))
      throw new Error(`wrong answer (expected text missing): ${r.text.slice(0, 80).replace(/\s+/g, " ")}`);
  };
  try {
    for (let i = 0; i < 3; i++) await once(); // warm: connection, session, JIT
  } catch (e) {
    const msg = e instanceof Error ? e.message : String(e);
    ctx.progress(`${p.server} ${p.tool}: ${msg}`);
    return {
      ...base,
      status: msg.includes("no answer within") ? `hung (> ${CALL_TIMEOUT_MS / 1000} s)` : `failed: ${msg}`,
    };
  }
  let firstError = "";
  const counted = () =>
    once().catch((e: unknown) => {
      firstError ||= e instanceof Error ? e.message : String(e);
      throw e;
    });
  const seq = await load(n, 1, counted);
  const conc = await load(Math.max(16, n), 8, counted);
  const errors = seq.errors + conc.errors;
  return {
    ...base,
    status: errors > 0 ? `ok, ${errors} failed calls (${firstError.slice(0, 100)})` : "ok",
    p50: seq.p50,
    p99: seq.p99,
    rps1: seq.perSecond,
    rps8: conc.perSecond,
  };
}

function rawStats(s: Stats): Pick<PeerPath, "p50" | "p99" | "rps1"> {
  return { p50: s.p50, p99: s.p99, rps1: s.perSecond };
}

export const peers: Scenario = {
  id: 13,
  key: "peers",
  title: "Peers over stdio",
  async run(ctx) {
    const n = ctx.quick ? 10 : 50;
    const lab = ctx.lab;
    const host = lab.hosts[0]!;
    const firstLine = (await readFile(ctx.file4k, "utf8")).split("\n")[0]!;
    const expectList = "app-49.log";
    const tmp = await mkdtemp(path.join(os.tmpdir(), "scout-bench-peers-"));
    const servers: McpUnderTest[] = [];
    const results: PeerPath[] = [];
    try {
      ctx.progress(`installing ${PEERS.join(", ")} from npm into ${tmp}`);
      const installed = await installPeers(tmp);

      // Scout over stdio.
      const scout = await scoutStdio(lab);
      servers.push(scout);
      const paths: Path[] = [
        {
          server: "Scout",
          tool: "scout (file)",
          op: "read",
          expect: firstLine,
          call: () => scout.call("scout", { target: `host-0:${ctx.file4k}` }),
        },
        {
          server: "Scout",
          tool: "scout (dir)",
          op: "list",
          expect: expectList,
          call: () => scout.call("scout", { target: `host-0:${ctx.dir50}` }),
        },
      ];

      const home = path.join(tmp, "home");
      const env = { HOME: home, XDG_CONFIG_HOME: path.join(home, ".config") };
      const sshMcp = installed["ssh-mcp"];
      let sshMcpVersion = "";
      if (sshMcp?.entry) {
        sshMcpVersion = sshMcp.version ?? "";
        try {
          const s = await withTimeout("starting ssh-mcp", 30_000, () =>
            stdioServer(
              process.execPath,
              [
                sshMcp.entry!,
                "--host=127.0.0.1",
                `--port=${host.port}`,
                `--user=${lab.user}`,
                `--key=${lab.clientKeyPath}`,
                "--group=dev",
              ],
              env,
              tmp,
            ),
          );
          servers.push(s);
          paths.push(
            {
              server: "ssh-mcp",
              tool: "sftp-download",
              op: "read",
              expect: firstLine,
              call: () => s.call("sftp-download", { remotePath: ctx.file4k }),
            },
            {
              server: "ssh-mcp",
              tool: "read-command",
              op: "read",
              expect: firstLine,
              call: () => s.call("read-command", { command: `cat ${ctx.file4k}` }),
            },
            {
              server: "ssh-mcp",
              tool: "sftp-list",
              op: "list",
              expect: expectList,
              call: () => s.call("sftp-list", { remotePath: ctx.dir50 }),
            },
            {
              server: "ssh-mcp",
              tool: "read-command ls",
              op: "list",
              expect: expectList,
              call: () => s.call("read-command", { command: `ls -la ${ctx.dir50}` }),
            },
          );
        } catch (e) {
          results.push({
            server: "ssh-mcp",
            tool: "(start)",
            op: "read",
            status: `failed to start: ${e instanceof Error ? e.message : e}`,
          });
        }
      } else {
        results.push({
          server: "ssh-mcp",
          tool: "(install)",
          op: "read",
          status: `unavailable: ${sshMcp?.why}`,
        });
      }

      const manager = installed["mcp-ssh-manager"];
      let managerVersion = "";
      if (manager?.entry) {
        managerVersion = manager.version ?? "";
        const envFile = path.join(tmp, "ssh-manager.env");
        await writeFile(
          envFile,
          [
            "SSH_SERVER_LOCAL_HOST=127.0.0.1",
            `SSH_SERVER_LOCAL_PORT=${host.port}`,
            `SSH_SERVER_LOCAL_USER=${lab.user}`,
            `SSH_SERVER_LOCAL_KEYPATH=${lab.clientKeyPath}`,
            "",
          ].join("\n"),
        );
        try {
          const s = await withTimeout("starting mcp-ssh-manager", 30_000, () =>
            stdioServer(process.execPath, [manager.entry!], { ...env, SSH_ENV_PATH: envFile }, tmp),
          );
          servers.push(s);
          paths.push(
            {
              server: "mcp-ssh-manager",
              tool: "ssh_execute",
              op: "read",
              expect: firstLine,
              call: () => s.call("ssh_execute", { server: "local", command: `cat ${ctx.file4k}` }),
            },
            {
              server: "mcp-ssh-manager",
              tool: "ssh_execute ls",
              op: "list",
              expect: expectList,
              call: () => s.call("ssh_execute", { server: "local", command: `ls -la ${ctx.dir50}` }),
            },
          );
        } catch (e) {
          results.push({
            server: "mcp-ssh-manager",
            tool: "(start)",
            op: "read",
            status: `failed to start: ${e instanceof Error ? e.message : e}`,
          });
        }
      } else {
        results.push({
          server: "mcp-ssh-manager",
          tool: "(install)",
          op: "read",
          status: `unavailable: ${manager?.why}`,
        });
      }

      for (const p of paths) {
        ctx.progress(`${p.server} ${p.tool}`);
        results.push(await measurePath(ctx, p, n));
      }

      // Raw ssh2 on the same host, same run: SFTP read, exec cat (TCP_NODELAY), readdir.
      const raw = await rawSsh(lab.connectConfig(0));
      await rawRead(raw.sftp, ctx.file4k);
      const rawSftp = await load(n, 1, () => rawRead(raw.sftp, ctx.file4k));
      const rawCat = await load(n, 1, () => rawExec(raw.client, `cat ${ctx.file4k}`));
      const rawLs = await load(n, 1, () => rawReaddir(raw.sftp, ctx.dir50));
      raw.close();
      results.push(
        {
          server: "raw ssh2",
          tool: "SFTP",
          op: "read",
          status: "ok",
          ...rawStats(rawSftp),
          survey: SURVEY["raw ssh2 SFTP"]!,
        },
        {
          server: "raw ssh2",
          tool: "exec",
          op: "read",
          status: "ok",
          ...rawStats(rawCat),
          survey: SURVEY["raw ssh2 exec"]!,
        },
        { server: "raw ssh2", tool: "readdir", op: "list", status: "ok", ...rawStats(rawLs) },
      );

      const scoutOf = (op: "read" | "list") => results.find((r) => r.server === "Scout" && r.op === op);
      const rows: Row[] = results.map((r) => {
        const ours = scoutOf(r.op);
        const label = `${r.op === "read" ? "4 KB log read" : "list 50 entries"}: ${r.server} ${r.tool}`;
        if (r.p50 === undefined) return { measure: label, ours: r.status };
        const row: Row = {
          measure: label + " p50",
          ours: ms(r.p50),
          note: `p99 ${r.p99!.toFixed(1)} ms, ${r.rps1!.toFixed(0)} req/s${r.rps8 !== undefined ? `, ${r.rps8.toFixed(0)} req/s at c=8` : ""}${r.status !== "ok" ? `; ${r.status}` : ""}`,
        };
        if (r.server !== "Scout" && ours?.p50 !== undefined)
          row.baseline = { name: "Scout stdio", value: ms(ours.p50) };
        if (r.server === "Scout" && r.op === "read")
          row.baseline = { name: "raw ssh2 SFTP", value: ms(rawSftp.p50) };
        if (r.server === "Scout" && r.op === "list")
          row.baseline = { name: "raw ssh2 readdir", value: ms(rawLs.p50) };
        if (r.survey !== undefined) row.reference = `survey p50 ${r.survey} ms`;
        return row;
      });

      const chart: ChartEntry[] = (["read", "list"] as const).map((op) => {
        const s = scoutOf(op);
        const rawRow = results.find((r) => r.server === "raw ssh2" && r.op === op);
        const others = results
          .filter(
            (r) => r.op === op && r.server !== "Scout" && r.server !== "raw ssh2" && r.p50 !== undefined,
          )
          .map((r) => ({ name: `${r.server} ${r.tool}`, p50: r.p50!, p99: r.p99!, rps: r.rps1! }));
        return {
          label: op === "read" ? "warm 4 KB log read (stdio)" : "list 50 entries (stdio)",
          ours: s?.p50 !== undefined ? { p50: s.p50, p99: s.p99!, rps: s.rps1! } : {},
          others,
          ...(rawRow?.p50 !== undefined
            ? {
                baseline: {
                  name: `raw ssh2 ${rawRow.tool}`,
                  p50: rawRow.p50,
                  p99: rawRow.p99!,
                  rps: rawRow.rps1!,
                },
              }
            : {}),
        };
      });
      return {
        rows,
        chart,
        extra: { versions: { "ssh-mcp": sshMcpVersion, "mcp-ssh-manager": managerVersion }, paths: results },
      };
    } finally {
      await Promise.allSettled(servers.map((s) => withTimeout("closing", 5000, () => s.close())));
      await rm(tmp, { recursive: true, force: true }).catch(() => {});
    }
  },
};
