/**
 * `npm run bench`: every scenario of the Python Scout's performance analysis, plus peers, against a
 * real-sshd lab fleet. Prints one table and writes bench/results/latest.{json,svg,md}. A script, not
 * a test: it never fails because the machine was slow; a scenario that breaks is reported as such.
 *
 *   npm run bench -- [--quick] [--only 2,cold-start,...] [--merge] [--duration 300] [--out DIR]
 *   npm run bench:latency   (scenarios 12 and 14, merged into latest.*)
 */
import { setMaxListeners } from "node:events";
import { mkdir, readFile, writeFile } from "node:fs/promises";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { startFleet } from "../src/lab/index.js";
import {
  consoleTable,
  machineInfo,
  markdownReport,
  renderSvg,
  type ScenarioResult,
  type SuiteResult,
} from "./report.js";
import { coldStart, concurrency, latencyTail, roundTrips, warmLatency } from "./scenarios/latency.js";
import { configParsing } from "./scenarios/config.js";
import { coldHosts, herd, idleCleanup, poolMemory, staleReconnect } from "./scenarios/pool.js";
import { largeOutput } from "./scenarios/large.js";
import { sustained } from "./scenarios/sustained.js";
import { peers } from "./scenarios/peers.js";
import { fleet } from "./scenarios/fleet.js";
import { gc, logLines, type BenchContext, type Scenario } from "./support.js";

const SCENARIOS: Scenario[] = [
  coldStart,
  warmLatency,
  concurrency,
  coldHosts,
  poolMemory,
  staleReconnect,
  idleCleanup,
  configParsing,
  herd,
  largeOutput,
  sustained,
  roundTrips,
  peers,
  latencyTail,
  fleet,
];

const USAGE = `Usage: npm run bench -- [options]
  --quick            small sample sizes (development; numbers are indicative only)
  --only LIST        comma-separated scenario numbers or keys (${SCENARIOS.map((s) => `${s.id}=${s.key}`).join(", ")})
  --duration SECONDS scenario 11's sustained-load duration (default 60; the analysis used 300)
  --merge            keep the other scenarios of the existing latest.json (with --only: update just those)
  --out DIR          where to write latest.json/.svg/.md (default bench/results)
  --render FILE      no run: re-render latest.svg/.md from a results JSON (e.g. after a chart change)
`;

function selected(only: string | undefined): Scenario[] {
  if (!only) return SCENARIOS;
  const wanted = only
    .split(",")
    .map((s) => s.trim().toLowerCase())
    .filter(Boolean);
  const picked = SCENARIOS.filter((s) => wanted.includes(String(s.id)) || wanted.includes(s.key));
  const unknown = wanted.filter((w) => !SCENARIOS.some((s) => String(s.id) === w || s.key === w));
  if (unknown.length > 0) throw new Error(`Unknown scenario(s): ${unknown.join(", ")}\n${USAGE}`);
  return picked;
}

async function main(): Promise<void> {
  // The SDK's HTTP client transport adds an abort listener per request to one long-lived signal,
  // freed only when the request is collected: thousands of calls in a row trip the leak warning.
  setMaxListeners(100_000);
  const { values } = parseArgs({
    options: {
      quick: { type: "boolean", default: false },
      only: { type: "string" },
      duration: { type: "string" },
      out: { type: "string" },
      render: { type: "string" },
      merge: { type: "boolean", default: false },
      help: { type: "boolean", short: "h" },
    },
  });
  if (values.help) {
    process.stdout.write(USAGE);
    return;
  }
  const outDir = path.resolve(values.out ?? fileURLToPath(new URL("./results", import.meta.url)));
  if (values.render) {
    const result = JSON.parse(await readFile(values.render, "utf8")) as SuiteResult;
    await mkdir(outDir, { recursive: true });
    await writeFile(path.join(outDir, "latest.svg"), renderSvg(result));
    await writeFile(path.join(outDir, "latest.md"), markdownReport(result));
    process.stdout.write(consoleTable(result) + "\n");
    return;
  }
  const durationSeconds = values.duration !== undefined ? Number(values.duration) : values.quick ? 10 : 60;
  if (!Number.isFinite(durationSeconds) || durationSeconds <= 0)
    throw new Error(`--duration must be a positive number of seconds, got ${values.duration}`);
  const scenarios = selected(values.only);

  const started = performance.now();
  const log = (msg: string) =>
    process.stderr.write(
      `[bench ${((performance.now() - started) / 1000).toFixed(0).padStart(4)} s] ${msg}\n`,
    );
  log(`starting the lab fleet (2 real sshds on 127.0.0.1)`);
  const lab = await startFleet({ hosts: 2 });
  const results: ScenarioResult[] = [];
  try {
    const file4k = await lab.writeFile("bench/app.log", logLines(4096));
    const dir50 = path.join(lab.hosts[0]!.root, "bench/logs");
    for (let i = 0; i < 50; i++)
      await lab.writeFile(`bench/logs/app-${String(i).padStart(2, "0")}.log`, logLines(512));
    const ctx: BenchContext = {
      lab,
      quick: values.quick ?? false,
      durationSeconds,
      file4k,
      dir50,
      progress: (msg) => log(`  ${msg}`),
    };
    for (const s of scenarios) {
      log(`scenario ${s.id}: ${s.title}`);
      const t = performance.now();
      try {
        const out = await s.run(ctx);
        results.push({
          id: s.id,
          key: s.key,
          title: s.title,
          rows: out.rows,
          chart: out.chart ?? [],
          seconds: (performance.now() - t) / 1000,
          ...(out.extra !== undefined ? { extra: out.extra } : {}),
        });
      } catch (e) {
        const msg = e instanceof Error ? e.message : String(e);
        log(`  scenario ${s.id} failed: ${msg}`);
        results.push({
          id: s.id,
          key: s.key,
          title: s.title,
          rows: [],
          chart: [],
          seconds: (performance.now() - t) / 1000,
          error: msg.split("\n")[0]!.slice(0, 200),
        });
      }
      gc();
      log(`  done in ${((performance.now() - t) / 1000).toFixed(1)} s`);
    }
  } finally {
    await lab.stop();
  }

  let result: SuiteResult = {
    date: new Date().toISOString(),
    machine: machineInfo(),
    options: { quick: values.quick ?? false, durationSeconds, only: scenarios.map((s) => s.key) },
    totalSeconds: (performance.now() - started) / 1000,
    scenarios: results,
  };
  if (values.merge) result = await mergeInto(path.join(outDir, "latest.json"), result);
  process.stdout.write("\n" + consoleTable(result) + "\n\n");
  await mkdir(outDir, { recursive: true });
  await Promise.all([
    writeFile(path.join(outDir, "latest.json"), JSON.stringify(result, null, 2) + "\n"),
    writeFile(path.join(outDir, "latest.svg"), renderSvg(result)),
    writeFile(path.join(outDir, "latest.md"), markdownReport(result)),
  ]);
  log(
    `wrote ${path.relative(process.cwd(), outDir) || "."}/latest.{json,svg,md} in ${result.totalSeconds.toFixed(0)} s total`,
  );
}

/** The previous results with this run's scenarios replaced (or added), in suite order. */
async function mergeInto(file: string, run: SuiteResult): Promise<SuiteResult> {
  let previous: SuiteResult;
  try {
    previous = JSON.parse(await readFile(file, "utf8")) as SuiteResult;
  } catch {
    return run; // nothing to merge into
  }
  const fresh = new Set(run.scenarios.map((s) => s.key));
  const scenarios = [...previous.scenarios.filter((s) => !fresh.has(s.key)), ...run.scenarios].sort(
    (a, b) => a.id - b.id,
  );
  return { ...run, options: { ...run.options, only: [] }, scenarios };
}

main().then(
  // Lingering sockets of a misbehaving peer must not keep the suite alive.
  () => process.exit(0),
  (e: unknown) => {
    console.error(e instanceof Error ? e.message : e);
    process.exit(1);
  },
);
