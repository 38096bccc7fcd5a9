/**
 * bench:soak — steady mixed load against a lab fleet through the real HTTP server and a real SDK
 * client, while hosts fail and recover (refused, blackholed, cut, slow, sshd restarted). Every few
 * seconds it prints RSS, heap, open fds, SSH pool size, MCP sessions, processes under the lab
 * sshds (sessions and their commands: orphans would pile up here) and the calls/errors of that
 * window; at the end a drift summary compares the first and last thirds. Server, client and lab
 * share this process, so RSS and fds include the fault proxies (and a sample taken while an sshd
 * restarts sees the lab's /proc scan). Minutes long, not in CI, never fails on numbers.
 *
 *   npm run bench:soak -- --duration 120 --hosts 4 --concurrency 8 --interval 5
 */
import { readdirSync } from "node:fs";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import type { CallToolResult } from "@modelcontextprotocol/sdk/types.js";
import { startFleet, type FaultProxy } from "../src/lab/index.js";
import { settingsWith } from "../src/config/settings.js";
import { serve } from "../src/cli/serve.js";
import { silentLogger } from "../src/observe/log.js";
import { fmt, percentile, printTable } from "./lib.js";
import { descendantsOf } from "../src/lab/processes.js";

const { values: opts } = parseArgs({
  options: {
    duration: { type: "string", default: "120" },
    hosts: { type: "string", default: "4" },
    concurrency: { type: "string", default: "8" },
    interval: { type: "string", default: "5" },
    warmup: { type: "string", default: "10" },
  },
});
const DURATION_S = Number(opts.duration);
const HOSTS = Math.max(2, Number(opts.hosts));
const CONCURRENCY = Number(opts.concurrency);
const INTERVAL_S = Number(opts.interval);
const WARMUP_S = Number(opts.warmup);

interface Sample {
  t: number;
  rssMb: number;
  heapMb: number;
  fds: number;
  pool: number;
  sessions: number;
  labProcs: number;
  calls: number;
  errors: Record<string, number>;
  p95: number;
}

function openFds(): number {
  return readdirSync("/proc/self/fd").length;
}

function gc(): void {
  (globalThis as { gc?: () => void }).gc?.();
}

async function main(): Promise<void> {
  const lab = await startFleet({ hosts: HOSTS });
  const proxies: FaultProxy[] = [];
  for (let i = 0; i < HOSTS; i++) {
    await lab.writeFile(join(lab.hosts[i]!.root, "app.log"), "line\n".repeat(2000));
    await lab.writeFile(join(lab.hosts[i]!.root, "etc/conf.yaml"), `host: ${i}\n`);
    proxies.push(await lab.proxy(i));
  }
  const config = await lab.writeSshConfig(proxies.map((p, i) => ({ alias: `soak-${i}`, port: p.port })));
  const server = await serve(
    settingsWith({
      sshConfigPath: config,
      knownHostsPath: lab.knownHostsPath,
      transport: "http",
      httpHost: "127.0.0.1",
      httpPort: 0,
      logLevel: "silent",
      statusCacheTtlMs: 2000,
      connectTimeoutMs: 2000,
      commandTimeoutMs: 2000,
      requestTimeoutMs: 8000,
      idleTimeoutMs: 20_000,
      keepaliveIntervalMs: 5000,
    }),
    { log: silentLogger(), installSignals: false },
  );
  const client = new Client({ name: "soak", version: "1.0.0" });
  await client.connect(new StreamableHTTPClientTransport(new URL(server.http!.url)));

  const aliases = proxies.map((_, i) => `soak-${i}`);
  const root = (i: number) => lab.hosts[i]!.root;
  const rand = (n: number) => Math.floor(Math.random() * n);
  const ops: Array<[number, () => Record<string, unknown>]> = [
    [35, () => ((i) => ({ target: `${aliases[i]}:${root(i)}/etc/conf.yaml` }))(rand(HOSTS))],
    [10, () => ((i) => ({ target: `${aliases[i]}:${root(i)}/app.log`, tail: 20 }))(rand(HOSTS))],
    [10, () => ((i) => ({ target: `${aliases[i]}:${root(i)}` }))(rand(HOSTS))],
    [
      20,
      () =>
        ((i) => ({ target: `${aliases[i]}:${root(i)}`, query: "grep -c line app.log; uname -s" }))(
          rand(HOSTS),
        ),
    ],
    [8, () => ((i) => ({ target: `${aliases[i]}:${root(i)}`, find: "*.yaml" }))(rand(HOSTS))],
    [10, () => ({ targets: aliases.map((a, i) => `${a}:${root(i)}/etc/conf.yaml`) })],
    [4, () => ({ target: "hosts" })],
    // Outlives SCOUT_COMMAND_TIMEOUT: its process group must be killed every time.
    [3, () => ((i) => ({ target: `${aliases[i]}:/tmp`, query: "sleep 7.5" }))(rand(HOSTS))],
  ];
  const totalWeight = ops.reduce((n, [w]) => n + w, 0);
  const pickOp = () => {
    let r = Math.random() * totalWeight;
    for (const [w, f] of ops) if ((r -= w) < 0) return f();
    return ops[0]![1]();
  };

  let window = { calls: 0, errors: {} as Record<string, number>, latencies: [] as number[] };
  const totals = { calls: 0, errors: {} as Record<string, number> };
  let stop = false;
  const worker = async () => {
    while (!stop) {
      const args = pickOp();
      const t = performance.now();
      let kind = "ok";
      try {
        const r = (await client.callTool({ name: "scout", arguments: args })) as CallToolResult;
        const sc = r.structuredContent as { error?: { code?: string }; timedOut?: boolean } | undefined;
        if (r.isError) {
          kind = sc?.error?.code ?? "error";
        } else if (sc?.timedOut) {
          kind = "command-timeout (expected)";
        } else if (String((r.content[0] as { text?: string } | undefined)?.text ?? "").includes("[FAILED]")) {
          kind = "broadcast-partial";
        }
      } catch (e) {
        kind = `threw:${(e as Error).message.slice(0, 40)}`;
      }
      window.calls++;
      totals.calls++;
      window.latencies.push(performance.now() - t);
      if (kind !== "ok") {
        window.errors[kind] = (window.errors[kind] ?? 0) + 1;
        totals.errors[kind] = (totals.errors[kind] ?? 0) + 1;
      }
    }
  };

  // Faults: every 12 s one host (round robin) misbehaves for 6 s, cycling through the kinds.
  const faults = ["refuse", "blackhole", "cut", "restart", "slow"] as const;
  const faultLog: string[] = [];
  let faultN = 0;
  const injectFault = () => {
    const i = faultN % HOSTS;
    const kind = faults[faultN % faults.length]!;
    faultN++;
    const p = proxies[i]!;
    const at = ((performance.now() - started) / 1000).toFixed(0);
    faultLog.push(`${at}s ${aliases[i]} ${kind}`);
    // The host goes down: live connections die, new ones are refused or never answered.
    if (kind === "refuse" || kind === "blackhole") p.cutAll("reset");
    if (kind === "refuse") p.refuse = true;
    if (kind === "blackhole") p.blackhole = true;
    if (kind === "slow") p.latencyMs = 100;
    if (kind === "cut") p.cutAll("reset");
    if (kind === "restart") void lab.hosts[i]!.restart().catch(() => {});
    setTimeout(() => {
      p.refuse = false;
      p.blackhole = false;
      p.latencyMs = 0;
    }, 6000).unref();
  };

  const samples: Sample[] = [];
  let started = performance.now();
  const sample = () => {
    gc();
    const mem = process.memoryUsage();
    const lat = window.latencies.sort((a, b) => a - b);
    const s: Sample = {
      t: (performance.now() - started) / 1000,
      rssMb: mem.rss / 2 ** 20,
      heapMb: mem.heapUsed / 2 ** 20,
      fds: openFds(),
      pool: server.app.fleet.stats().open,
      sessions: server.http?.sessions() ?? 0,
      labProcs: descendantsOf(lab.hosts.map((h) => h.pid).filter((p): p is number => p !== undefined)).length,
      calls: window.calls,
      errors: window.errors,
      p95: percentile(lat, 95),
    };
    samples.push(s);
    const errs = Object.entries(s.errors)
      .sort((a, b) => b[1] - a[1])
      .map(([k, v]) => `${k}=${v}`)
      .join(" ");
    process.stdout.write(
      `${fmt(s.t, 0).padStart(5)}s  rss ${fmt(s.rssMb, 1)} MB  heap ${fmt(s.heapMb, 1)} MB  fds ${s.fds}  pool ${s.pool}  ` +
        `sessions ${s.sessions}  remote procs ${s.labProcs}  calls ${s.calls} (${fmt(s.calls / INTERVAL_S, 0)}/s, p95 ${fmt(s.p95, 0)} ms)  errors ${errs || "-"}\n`,
    );
    window = { calls: 0, errors: {}, latencies: [] };
  };

  process.stdout.write(
    `bench:soak: ${HOSTS} hosts behind fault proxies, ${CONCURRENCY} concurrent calls, ${WARMUP_S} s warm-up then ${DURATION_S} s, sample every ${INTERVAL_S} s, a fault every 12 s lasting 6 s\n`,
  );
  const workers = Array.from({ length: CONCURRENCY }, worker);
  // Warm up (connections, JIT, buffers) before the first sample and the first fault.
  await new Promise((r) => setTimeout(r, WARMUP_S * 1000));
  started = performance.now();
  window = { calls: 0, errors: {}, latencies: [] };
  for (const k of Object.keys(totals.errors)) delete totals.errors[k];
  totals.calls = 0;
  const faultTimer = setInterval(injectFault, 12_000);
  const sampler = setInterval(sample, INTERVAL_S * 1000);
  await new Promise((r) => setTimeout(r, DURATION_S * 1000));
  stop = true;
  clearInterval(faultTimer);
  clearInterval(sampler);
  for (const p of proxies) {
    p.refuse = false;
    p.blackhole = false;
    p.latencyMs = 0;
  }
  await Promise.all(workers);
  // Let killed commands and idle connections settle, then one last look.
  await new Promise((r) => setTimeout(r, 3000));
  sample();

  // Drift: first third vs last third of the run (the final settled sample excluded).
  const run = samples.slice(0, -1);
  const third = Math.max(1, Math.floor(run.length / 3));
  const avg = (xs: Sample[], f: (s: Sample) => number) => xs.reduce((n, s) => n + f(s), 0) / xs.length;
  const first = run.slice(0, third);
  const last = run.slice(-third);
  const rows = (
    [
      ["RSS (MB)", (s: Sample) => s.rssMb],
      ["heap used (MB)", (s: Sample) => s.heapMb],
      ["open fds", (s: Sample) => s.fds],
      ["SSH pool (open)", (s: Sample) => s.pool],
      ["MCP sessions", (s: Sample) => s.sessions],
      ["remote processes", (s: Sample) => s.labProcs],
      ["calls per window", (s: Sample) => s.calls],
    ] as Array<[string, (s: Sample) => number]>
  ).map(([name, f]) => {
    const a = avg(first, f);
    const b = avg(last, f);
    const end = f(samples.at(-1)!);
    return [
      name,
      fmt(a, 1),
      fmt(b, 1),
      `${b >= a ? "+" : ""}${fmt(b - a, 1)}`,
      a ? `${fmt(((b - a) / a) * 100, 1)}%` : "—",
      fmt(end, 1),
    ];
  });
  printTable(
    `Drift over ${fmt(DURATION_S, 0)} s (${totals.calls} calls; first third vs last third; "settled" = 3 s after the load stopped)`,
    ["metric", "first third", "last third", "Δ", "Δ %", "settled"],
    rows,
  );
  const errTotal = Object.values(totals.errors).reduce((a, b) => a + b, 0);
  process.stdout.write(
    `\nTotals: ${totals.calls} calls, ${totals.calls - errTotal} ok, ` +
      `${Object.entries(totals.errors)
        .sort((a, b) => b[1] - a[1])
        .map(([k, v]) => `${k}=${v}`)
        .join(", ")}\nFaults injected: ${faultLog.join("; ")}\n`,
  );

  await client.close();
  await server.shutdown("soak done");
  await lab.stop();
}

main().catch((e: unknown) => {
  console.error(e);
  process.exit(1);
});
