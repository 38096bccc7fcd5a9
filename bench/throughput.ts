/**
 * bench:throughput — warm 4 KB reads at concurrency 32 (and 1), through the engine as the server
 * composes it (createApp) and through a hand-rolled Fleet, next to raw ssh2 SFTP, in rounds that
 * alternate the paths so that a shared machine's load hits them alike. With `--baseline DIR` (a
 * checkout of another commit with node_modules, e.g. `git worktree add /tmp/base fdef75d && (cd
 * /tmp/base && npm ci)`), each round also runs this same script in that tree, in its own process,
 * alternating with this tree: the same-run baseline for "not slower than before".
 *
 *   npm run bench:throughput -- [--rounds 5] [--n 4000] [--baseline /tmp/base]
 *
 * Prints median req/s per path and the latency p50/p99/max over all rounds. Never fails on numbers.
 * For a CPU profile of one path: `node --cpu-prof --import tsx bench/throughput.ts --child app`.
 */
import { execFileSync, spawn } from "node:child_process";
import { copyFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { createApp } from "../src/app.js";
import { HostRegistry } from "../src/config/registry.js";
import { settingsWith } from "../src/config/settings.js";
import { startFleet } from "../src/lab/index.js";
import { silentLogger } from "../src/observe/log.js";
import { limitsFrom } from "../src/ops/limits.js";
import { readFile } from "../src/ops/read.js";
import { Fleet } from "../src/ssh/fleet.js";
import { createConnectionDeps } from "../src/ssh/trust.js";
import { fmt, percentile, printTable } from "./lib.js";
import { rawRead, rawSsh } from "./support.js";

/** One path's numbers from one round. */
interface Sample {
  tree: string;
  path: string;
  conc: number;
  perSecond: number;
  /** This process's CPU per read (µs): less sensitive to the machine's load than req/s. */
  cpuUs: number;
  latencies: number[];
}

const PATHS = ["app", "fleet", "raw"] as const;
type PathName = (typeof PATHS)[number];

async function timed(n: number, conc: number, op: () => Promise<unknown>) {
  const latencies: number[] = [];
  let next = 0;
  const cpu0 = process.cpuUsage();
  const t = performance.now();
  await Promise.all(
    Array.from({ length: conc }, async () => {
      while (next < n) {
        next++;
        const s = performance.now();
        await op();
        latencies.push(performance.now() - s);
      }
    }),
  );
  const perSecond = n / ((performance.now() - t) / 1000);
  const cpu = process.cpuUsage(cpu0);
  return { perSecond, cpuUs: (cpu.user + cpu.system) / n, latencies };
}

/** One process: a lab host, the paths warmed, then each path once per concurrency, in turn. */
async function child(paths: PathName[], n: number, concs: number[], tree: string): Promise<Sample[]> {
  const lab = await startFleet({ hosts: 1 });
  try {
    const file = await lab.writeFile(
      "tp-4k.txt",
      "log line 0123456789 abcdefghij\n".repeat(132).slice(0, 4096),
    );
    const cfg = await lab.writeSshConfig([{ alias: "direct", port: lab.hosts[0]!.port }]);
    const settings = settingsWith({
      sshConfigPath: cfg,
      knownHostsPath: lab.knownHostsPath,
      statusCacheTtlMs: 0,
      logLevel: "silent",
    });
    const app = await createApp(settings, { log: silentLogger(), watch: false });
    const registry = await HostRegistry.open(settings, { watch: false });
    const fleet = new Fleet({
      settings,
      lookupHost: (a) => registry.require(a),
      connectionDeps: await createConnectionDeps(settings, () => {}),
    });
    const limits = limitsFrom(settings);
    const raw = await rawSsh(lab.connectConfig(0));
    const ops: Record<PathName, () => Promise<unknown>> = {
      app: () => readFile(app.fleet.host("direct"), file, app.limits),
      fleet: () => readFile(fleet.host("direct"), file, limits),
      raw: () => rawRead(raw.sftp, file),
    };
    try {
      // Warm: connections, SFTP sessions, and the JIT at full concurrency (a path measured first
      // after too short a warm-up paid for it: that looked like a 15–18 % gap between paths).
      for (let w = 0; w < 2; w++) for (const p of paths) await timed(1000, 32, ops[p]);
      const out: Sample[] = [];
      for (const conc of concs) {
        // Each path twice, in both orders (a b c c b a), so none always goes first.
        for (const p of [...paths, ...[...paths].reverse()]) {
          out.push({ tree, path: p, conc, ...(await timed(Math.ceil(n / 2), conc, ops[p])) });
        }
      }
      return out;
    } finally {
      raw.client.end();
      await app.close();
      await fleet.close();
      registry.close();
    }
  } finally {
    await lab.stop();
  }
}

function runChild(dir: string, args: string[], tree: string): Promise<Sample[]> {
  return new Promise((resolve, reject) => {
    const script = path.join(dir, "bench", "throughput.ts");
    const p = spawn(process.execPath, ["--import", "tsx", script, "--child", ...args, "--tree", tree], {
      cwd: dir,
      stdio: ["ignore", "pipe", "inherit"],
    });
    let out = "";
    p.stdout.on("data", (d: Buffer) => (out += d.toString()));
    p.on("error", reject);
    p.on("close", (code) => {
      if (code !== 0) return reject(new Error(`${tree}: child exited ${code}`));
      resolve(JSON.parse(out.slice(out.indexOf("\u001e") + 1)) as Sample[]);
    });
  });
}

function load(): string {
  return os
    .loadavg()
    .map((x) => x.toFixed(2))
    .join(" ");
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      child: { type: "string" },
      tree: { type: "string", default: "this" },
      rounds: { type: "string", default: "5" },
      n: { type: "string", default: process.env.BENCH_N ?? "4000" },
      conc: { type: "string", default: "32,1" },
      baseline: { type: "string" },
    },
  });
  const n = Number(values.n);
  const concs = values.conc!.split(",").map(Number);
  if (values.child !== undefined) {
    const paths = values.child
      .split(",")
      .filter((p): p is PathName => (PATHS as readonly string[]).includes(p));
    const samples = await child(paths, n, concs, values.tree!);
    process.stdout.write("\u001e" + JSON.stringify(samples));
    return;
  }
  const here = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
  const trees: Array<{ name: string; dir: string }> = [{ name: "this", dir: here }];
  if (values.baseline) {
    const dir = path.resolve(values.baseline);
    // The same script in the baseline tree (it may predate it).
    copyFileSync(fileURLToPath(import.meta.url), path.join(dir, "bench", "throughput.ts"));
    const rev = execFileSync("git", ["-C", dir, "rev-parse", "--short", "HEAD"], { encoding: "utf8" }).trim();
    trees.push({ name: `baseline ${rev}`, dir });
  }
  const loadStart = load();
  const samples: Sample[] = [];
  const rounds = Number(values.rounds);
  for (let r = 0; r < rounds; r++) {
    // Alternate which tree goes first, so that neither always runs on a warmer machine.
    const order = r % 2 === 0 ? trees : [...trees].reverse();
    for (const t of order) {
      const paths = t.name === "this" ? "app,fleet,raw" : "app,fleet";
      samples.push(...(await runChild(t.dir, [paths, "--n", String(n), "--conc", concs.join(",")], t.name)));
      process.stderr.write(`[throughput] round ${r + 1}/${rounds} ${t.name} done (load ${load()})\n`);
    }
  }
  const rows: string[][] = [];
  const keys = [...new Set(samples.map((s) => `${s.conc}\u0000${s.tree}\u0000${s.path}`))];
  for (const k of keys) {
    const [conc, tree, p] = k.split("\u0000");
    const mine = samples.filter((s) => `${s.conc}\u0000${s.tree}\u0000${s.path}` === k);
    const rates = mine.map((s) => s.perSecond).sort((a, b) => a - b);
    const lat = mine.flatMap((s) => s.latencies).sort((a, b) => a - b);
    rows.push([
      conc!,
      tree!,
      p === "app" ? "createApp engine" : p === "fleet" ? "hand-rolled Fleet" : "raw ssh2 SFTP",
      fmt(rates[Math.floor(rates.length / 2)]!, 0),
      rates.map((x) => x.toFixed(0)).join(" "),
      fmt(mine.map((s) => s.cpuUs).sort((a, b) => a - b)[Math.floor(mine.length / 2)]!, 0),
      fmt(percentile(lat, 50), 3),
      fmt(percentile(lat, 99), 3),
      fmt(lat[lat.length - 1]!, 2),
    ]);
  }
  printTable(
    `Warm 4 KB reads, ${n} per path per round, ${rounds} rounds alternating; load ${loadStart} → ${load()} on ${os.cpus().length} CPUs`,
    ["conc", "tree", "path", "median req/s", "each run", "CPU µs/read", "p50 ms", "p99 ms", "max ms"],
    rows,
  );
}

main().catch((e: unknown) => {
  console.error(e);
  process.exit(1);
});
