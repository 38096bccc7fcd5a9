/**
 * bench:job-after — what SCOUT_JOB_AFTER costs a short command: the foreground `echo hi` (the
 * same-run baseline) against the same command started as a job, followed until it ends and
 * removed from the host in its status exec (what a call answered inline does), direct and behind
 * the lab fault proxy at 30 ms RTT. Prints tables; never fails on numbers.
 */
import { settingsWith } from "../src/config/settings.js";
import { startFleet } from "../src/lab/index.js";
import { runCommand } from "../src/ops/exec.js";
import { followJob, startJob } from "../src/ops/jobs/jobs.js";
import { fmt, percentile, printTable } from "./lib.js";
import { engine } from "./support.js";

const N = Number(process.env.BENCH_N ?? 30);

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
      await runCommand(host, "true", limits, { cwd }); // warm: connection and SFTP up
      const asJob = async (command: string) => {
        const j = await startJob(host, limits, { command, cwd, capBytes: 1 << 20 });
        const f = await followJob(host, j.id, limits, { fromOffset: 0, maxMs: 10_000, removeEnded: true });
        if (f.job.state !== "exited") throw new Error(`job ${j.handle}: ${f.job.state}`);
      };
      await asJob("true");
      const fg = await sample(N, () => runCommand(host, "echo hi", limits, { cwd }));
      const job = await sample(N, () => asJob("echo hi"));
      const fgSleep = await sample(Math.min(N, 10), () => runCommand(host, "sleep 0.5", limits, { cwd }));
      const jobSleep = await sample(Math.min(N, 10), () => asJob("sleep 0.5"));
      printTable(
        `${alias === "direct" ? "Direct (loopback)" : "30 ms RTT (lab fault proxy)"}: ${N} sequential calls, warm connection, ms`,
        ["operation", "p50", "p99", "max", "vs foreground"],
        [
          row("foreground `echo hi` (baseline)", fg),
          row("SCOUT_JOB_AFTER: `echo hi` as a job, answered inline", job, fg),
          row("foreground `sleep 0.5`", fgSleep, fg),
          row("SCOUT_JOB_AFTER: `sleep 0.5` as a job, answered inline", jobSleep, fg),
        ],
      );
    }
  } finally {
    await app.close();
    await proxy.close();
    await lab.stop();
  }
}

await main();
