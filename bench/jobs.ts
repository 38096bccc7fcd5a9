/**
 * bench:jobs — what a background job costs next to a foreground command, on a warm connection,
 * direct and behind the lab fault proxy at 30 ms RTT: the foreground `true` (the same-run baseline)
 * against starting `true` as a job (answer with its handle), reading its status, and waiting for
 * it. Then listing 1,000 jobs on one host: latency and the heap it takes. Prints tables; never
 * fails on numbers.
 */
import { writeFile } from "node:fs/promises";
import os from "node:os";
import { fileURLToPath } from "node:url";
import { settingsWith } from "../src/config/settings.js";
import { startFleet } from "../src/lab/index.js";
import { runCommand } from "../src/ops/exec.js";
import { jobStatus, listJobs, newJobId, startJob, waitJob } from "../src/ops/jobs/jobs.js";
import { fmt, percentile, printTable } from "./lib.js";
import { benchSettings, engine, peakRss, scoutHttp } from "./support.js";

const N = Number(process.env.BENCH_N ?? 30);
const LISTED = Number(process.env.BENCH_JOBS ?? 1000);

/** Sequential samples of `op` (ms), sorted. */
async function sample(n: number, op: () => Promise<unknown>): Promise<number[]> {
  const out: number[] = [];
  for (let i = 0; i < n; i++) {
    const t = performance.now();
    await op();
    out.push(performance.now() - t);
  }
  return out.sort((a, b) => a - b);
}

const row = (what: string, xs: number[], base?: number[]): string[] => [
  what,
  fmt(percentile(xs, 50)),
  fmt(percentile(xs, 99)),
  fmt(xs.at(-1) ?? NaN),
  base ? `${fmt(percentile(xs, 50) / percentile(base, 50))}×` : "baseline",
];

async function main(): Promise<void> {
  const lab = await startFleet({ hosts: 1 });
  const proxy = await lab.proxy(0, { latencyMs: 15 });
  const cfgPath = await lab.writeSshConfig([
    { alias: "direct", port: lab.hosts[0]!.port },
    { alias: "rtt30", port: proxy.port },
  ]);
  const settings = settingsWith({ sshConfigPath: cfgPath, knownHostsPath: lab.knownHostsPath });
  const app = await engine(settings);
  const { fleet, limits } = app;
  const cwd = lab.hosts[0]!.root;
  try {
    for (const alias of ["direct", "rtt30"]) {
      const host = fleet.host(alias);
      await runCommand(host, "true", limits, { cwd }); // warm: connection up
      const fg = await sample(N, () => runCommand(host, "true", limits, { cwd }));
      const ids: string[] = [];
      const start = await sample(N, async () => {
        const j = await startJob(host, limits, { command: "true", cwd, capBytes: 1 << 20 });
        ids.push(j.id);
      });
      let k = 0;
      const status = await sample(N, () => jobStatus(host, ids[k++]!, limits));
      k = 0;
      const wait = await sample(N, () => waitJob(host, ids[k++]!, limits, { maxMs: 10_000 }));
      const fgSleep = await sample(Math.min(N, 10), () => runCommand(host, "sleep 0.5", limits, { cwd }));
      const startSleep = await sample(Math.min(N, 10), () =>
        startJob(host, limits, { command: "sleep 0.5", cwd, capBytes: 1 << 20 }),
      );
      printTable(
        `${alias === "direct" ? "Direct (loopback)" : "30 ms RTT (lab fault proxy)"}: ${N} sequential calls, warm connection, ms`,
        ["operation", "p50", "p99", "max", "vs foreground"],
        [
          row("foreground command `true` (baseline)", fg),
          row("start job `true` (answer with handle)", start, fg),
          row("job status", status, fg),
          row("wait for a finished job", wait, fg),
          row("foreground `sleep 0.5`", fgSleep, fg),
          row("start job `sleep 0.5`", startSleep, fg),
        ],
      );
    }

    // 1,000 jobs on one host: copies of one finished job's directory under fresh ids.
    const host = fleet.host("direct");
    const seed = await startJob(host, limits, { command: "echo seeded", cwd, capBytes: 1 << 20 });
    await waitJob(host, seed.id, limits, { maxMs: 10_000 });
    const fresh = Array.from({ length: LISTED }, () => newJobId()).join(" ");
    await runCommand(
      host,
      `cd ~/.cache/scout-jobs && for i in ${fresh}; do cp -R ${seed.id} "bench-$i" && mv "bench-$i" "$i"; done`,
      { ...limits, commandTimeoutMs: 120_000 },
    );
    globalThis.gc?.();
    const heap0 = process.memoryUsage().heapUsed;
    let listed = 0;
    const lists = await sample(5, async () => {
      const r = await listJobs(host, { ...limits, maxOutputSize: 16 << 20 }, { retentionS: 0 });
      listed = r.jobs.length;
    });
    const heap1 = process.memoryUsage().heapUsed;
    printTable(
      `Listing ${listed} jobs on one host (direct), 5 runs`,
      ["measure", "p50", "max"],
      [
        ["list latency, ms", fmt(percentile(lists, 50)), fmt(lists.at(-1) ?? NaN)],
        ["heap growth while listing, MiB (no gc in between)", fmt((heap1 - heap0) / 1048576), ""],
      ],
    );
    await runCommand(host, `cd ~/.cache/scout-jobs && rm -rf ${fresh} ${seed.id}`, limits);

    await fleetListing(lab, host, limits, cwd);
  } finally {
    await app.close();
    await proxy.close();
    await lab.stop();
  }
}

/**
 * `scout(job="fleet-*")` through the MCP server over HTTP: FLEET_HOSTS aliases (on the lab's
 * sshds, whose login user shares one home, so one spool) × FLEET_JOBS jobs each listed. Memory of
 * the server (this process) before, at its peak and after; the answer's size.
 */
async function fleetListing(
  lab: Awaited<ReturnType<typeof startFleet>>,
  host: ReturnType<Awaited<ReturnType<typeof engine>>["fleet"]["host"]>,
  limits: Awaited<ReturnType<typeof engine>>["limits"],
  cwd: string,
): Promise<void> {
  const hosts = Number(process.env.BENCH_FLEET_HOSTS ?? 20);
  const perHost = Number(process.env.BENCH_FLEET_JOBS ?? 50);
  const seed = await startJob(host, limits, { command: "echo seeded && sleep 0", cwd, capBytes: 1 << 20 });
  await waitJob(host, seed.id, limits, { maxMs: 10_000 });
  const fresh = Array.from({ length: perHost - 1 }, () => newJobId()).join(" ");
  await runCommand(host, `cd ~/.cache/scout-jobs && for i in ${fresh}; do cp -R ${seed.id} "$i"; done`, {
    ...limits,
    commandTimeoutMs: 120_000,
  });
  const aliases = Array.from({ length: hosts }, (_, i) => ({
    alias: `fleet-${String(i).padStart(2, "0")}`,
    port: lab.hosts[i % lab.hosts.length]!.port,
  }));
  const cfg = await lab.writeSshConfig(aliases);
  const scout = await scoutHttp(benchSettings(lab, { sshConfigPath: cfg, maxOutputSize: 16 << 20 }));
  try {
    const listOnce = async () => {
      const r = await scout.call("scout", { job: "fleet-*" });
      if (r.isError) throw new Error(`listing failed: ${r.text.slice(0, 200)}`);
      return r.text;
    };
    await listOnce(); // connections up
    globalThis.gc?.();
    const before = process.memoryUsage();
    let text = "";
    const { value: lat, peakMB } = await peakRss(() =>
      sample(5, async () => {
        text = await listOnce();
      }),
    );
    const during = process.memoryUsage();
    globalThis.gc?.();
    const after = process.memoryUsage();
    const mb = (x: number) => fmt(x / 1048576);
    const jobLines = new Set(text.match(/fleet-\d+\/\d{8}-\d{6}-[0-9a-f]{6}/g) ?? []).size;
    printTable(
      `Listing ${jobLines} jobs across ${hosts} hosts (${perHost} seeded per host; the lab user's spool also holds other runs' jobs), scout(job="fleet-*") over MCP/HTTP, 5 runs`,
      ["measure", "value"],
      [
        ["list latency p50 / max, ms", `${fmt(percentile(lat, 50))} / ${fmt(lat.at(-1) ?? NaN)}`],
        ["distinct job handles in the answer", String(jobLines)],
        ["answer size, KiB", fmt(Buffer.byteLength(text) / 1024)],
        ["server RSS before → after (gc), MiB", `${mb(before.rss)} → ${mb(after.rss)}`],
        ["peak RSS growth during the 5 listings, MiB", fmt(peakMB)],
        [
          "heap before → right after (no gc) → after gc, MiB",
          `${mb(before.heapUsed)} → ${mb(during.heapUsed)} → ${mb(after.heapUsed)}`,
        ],
      ],
    );
  } finally {
    await scout.close();
    await runCommand(host, `cd ~/.cache/scout-jobs && rm -rf ${fresh} ${seed.id}`, limits);
  }
}

/** Everything printed also goes to bench/results/jobs.md, headed by the date, machine and load. */
const printed: string[] = [];
const write = process.stdout.write.bind(process.stdout);
process.stdout.write = ((chunk: string | Uint8Array, ...rest: unknown[]) => {
  printed.push(typeof chunk === "string" ? chunk : Buffer.from(chunk).toString());
  return (write as (c: string | Uint8Array, ...r: unknown[]) => boolean)(chunk, ...rest);
}) as typeof process.stdout.write;
const load0 = os.loadavg()[0]!;
await main();
const out = fileURLToPath(new URL("./results/jobs.md", import.meta.url));
await writeFile(
  out,
  `# bench:jobs\n\nRun: ${new Date().toISOString().slice(0, 16).replace("T", " ")} UTC · ${os.cpus().length} × ${os.cpus()[0]?.model.trim() ?? "?"} · Node ${process.version} · 1-min load average ${load0.toFixed(1)} → ${os.loadavg()[0]!.toFixed(1)}.\n\nGenerated by \`npm run bench:jobs\` (bench/jobs.ts); the foreground command is the same-run baseline.\n${printed.join("")}`,
);
process.stderr.write(`wrote ${out}\n`);
