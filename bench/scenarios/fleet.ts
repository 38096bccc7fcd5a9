/**
 * Scenario 15: a fleet of 1,000 aliases plus 100 dead hosts, served by one Scout over Streamable
 * HTTP. The hosts answer (cached, whole and a subset, and hosts://list) beside a warm read in the
 * same run, interleaved, and beside the full one-line-per-host list (SCOUT_HOSTS_LIST_MAX above the
 * fleet: the layout before); a broadcast to the 1,000 hosts (time, peak RSS, answer size, progress);
 * the first call to a host warmed by SCOUT_WARM_HOSTS at 30 ms RTT beside a cold first call; and
 * memory per idle pooled connection and per configured host, from which the largest fleet one Scout
 * serves in 1 GB is extrapolated (an estimate from measured unit costs, not a run at that size).
 */
import { readFileSync } from "node:fs";
import os from "node:os";
import { findFreePort, startFleet, type LabFleet } from "../../src/lab/index.js";
import type { ChartEntry, Row } from "../report.js";
import {
  benchSettings,
  engine,
  fig,
  gc,
  logLines,
  ms,
  peakRss,
  rssMB,
  scoutHttp,
  sleep,
  summarize,
  type McpUnderTest,
  type Scenario,
  type Stats,
} from "../support.js";

/**
 * CPU the lab's sshds have used (ms): each listener's own time plus that of its reaped children
 * (one per connection: handshake, authentication, the session and its SFTP server).
 */
function sshdCpuMs(lab: LabFleet): number {
  let ticks = 0;
  for (const h of lab.hosts) {
    try {
      const stat = readFileSync(`/proc/${h.pid}/stat`, "utf8");
      const f = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
      // Fields 14–17 of proc(5) (utime stime cutime cstime) are 11–14 after "pid (comm)".
      for (const k of [11, 12, 13, 14]) ticks += Number(f[k]);
    } catch {
      /* not running */
    }
  }
  return ticks * 10; // USER_HZ is 100 on Linux
}

const heapMB = () => process.memoryUsage().heapUsed / 2 ** 20;

async function fleetConfig(lab: LabFleet, alive: number, dead: number, prefix = "web-"): Promise<string> {
  const entries: Array<{ alias: string; port: number }> = [];
  for (let i = 0; i < alive; i++) {
    entries.push({ alias: `${prefix}${String(i).padStart(4, "0")}`, port: lab.hosts[i % 2]!.port });
  }
  for (let i = 0; i < dead; i++)
    entries.push({ alias: `dead-${String(i).padStart(3, "0")}`, port: await findFreePort() });
  return lab.writeSshConfig(entries);
}

/** Interleaves the ops (one of each per round) so that machine load hits them alike. */
async function interleaved(rounds: number, ops: Array<() => Promise<unknown>>): Promise<Stats[]> {
  const lat = ops.map(() => [] as number[]);
  const started = performance.now();
  for (let r = 0; r < rounds; r++) {
    for (const [i, op] of ops.entries()) {
      const t = performance.now();
      await op();
      lat[i]!.push(performance.now() - t);
    }
  }
  const seconds = (performance.now() - started) / 1000;
  return lat.map((l) => summarize(l, seconds));
}

const p50p99 = (s: Stats) => `p50 ${s.p50.toFixed(2)} / p99 ${s.p99.toFixed(1)} / max ${s.max.toFixed(1)} ms`;

async function called(s: McpUnderTest, args: Record<string, unknown>): Promise<string> {
  const r = await s.call("scout", args);
  if (r.isError)
    throw new Error(`scout(${JSON.stringify(args).slice(0, 80)}) failed: ${r.text.slice(0, 200)}`);
  return r.text;
}

export const fleet: Scenario = {
  id: 15,
  key: "fleet",
  title: "1,000-host fleet: hosts answer, broadcast, warming, memory",
  async run(ctx) {
    const rows: Row[] = [];
    const chart: ChartEntry[] = [];
    const alive = ctx.quick ? 300 : 1000;
    const dead = ctx.quick ? 30 : 100;
    const rounds = ctx.quick ? 40 : 200;
    // Its own lab: a broadcast handshakes 32 hosts at once, past sshd's default MaxStartups 10.
    const lab = await startFleet({ hosts: 2, extraSshdConfig: ["MaxStartups 200:30:400"] });
    try {
      const file = await lab.writeFile("fleet/app.log", logLines(4096));
      const cfg = await fleetConfig(lab, alive, dead);
      const settings = benchSettings(lab, { sshConfigPath: cfg, statusCacheTtlMs: 600_000 });

      // ---- hosts answer -------------------------------------------------------------------
      ctx.progress(`hosts answer: ${alive} aliases + ${dead} dead`);
      const s = await scoutHttp(settings);
      const full = await scoutHttp({ ...settings, hostsListMax: 100_000 });
      try {
        const t = performance.now();
        const first = await called(s, { target: "hosts" });
        const firstMs = performance.now() - t;
        await called(full, { target: "hosts" });
        await called(s, { target: `web-0000:${file}` });
        await sleep(3000); // the probes' sshd sessions wind down before the timed part
        const [read, hosts, subset, list, fullList] = await interleaved(rounds, [
          () => called(s, { target: `web-0000:${file}` }),
          () => called(s, { target: "hosts" }),
          () => called(s, { target: "hosts:web-00*" }),
          () => s.client.readResource({ uri: "hosts://list" }),
          () => called(full, { target: "hosts" }),
        ]);
        const listBytes = JSON.stringify(await s.client.readResource({ uri: "hosts://list" })).length;
        const fullText = await called(full, { target: "hosts" });
        rows.push(
          {
            measure: `scout("hosts"), ${alive + dead} hosts, first call (probes)`,
            ours: ms(firstMs),
            note: `${Buffer.byteLength(first)} bytes of text`,
          },
          {
            measure: `scout("hosts") cached, p50`,
            ours: ms(hosts!.p50),
            baseline: { name: "warm 4 KB read, same server, interleaved", value: ms(read!.p50) },
            note: `${p50p99(hosts!)}; read ${p50p99(read!)}`,
          },
          {
            measure: `  the full ${alive + dead}-line list (layout before), p50`,
            ours: ms(fullList!.p50),
            baseline: { name: "warm 4 KB read", value: ms(read!.p50) },
            note: `${p50p99(fullList!)}; ${Buffer.byteLength(fullText)} bytes of text`,
          },
          {
            measure: `scout("hosts:web-00*") (100 hosts), p50`,
            ours: ms(subset!.p50),
            baseline: { name: "warm 4 KB read", value: ms(read!.p50) },
            note: p50p99(subset!),
          },
          {
            measure: `hosts://list, p50`,
            ours: ms(list!.p50),
            baseline: { name: "warm 4 KB read", value: ms(read!.p50) },
            note: `${p50p99(list!)}; ${listBytes} bytes`,
          },
        );
        chart.push(
          {
            label: "hosts (1,100), cached",
            ours: { p50: hosts!.p50, p99: hosts!.p99 },
            baseline: { name: "warm read", p50: read!.p50, p99: read!.p99 },
          },
          {
            label: "hosts://list (1,100)",
            ours: { p50: list!.p50, p99: list!.p99 },
            baseline: { name: "full list", p50: fullList!.p50, p99: fullList!.p99 },
          },
        );
      } finally {
        await full.close();
        await s.close();
      }
      gc();

      // ---- broadcast to every alive host ----------------------------------------------------
      ctx.progress(`broadcast to ${alive} hosts`);
      // On a loaded 2-core machine 1,000 handshakes take longer than the default 60 s deadline.
      const b = await scoutHttp({ ...settings, requestTimeoutMs: 900_000 });
      try {
        const one = performance.now();
        await called(b, { target: `web-0001:${file}` });
        const oneMs = performance.now() - one;
        let progress = 0;
        const cpu0 = process.cpuUsage();
        const sshd0 = sshdCpuMs(lab);
        const t = performance.now();
        const { value: r, peakMB } = await peakRss(() =>
          b.client.callTool({ name: "scout", arguments: { targets: [`web-*:${file}`] } }, undefined, {
            onprogress: () => progress++,
            timeout: 600_000,
            resetTimeoutOnProgress: true,
          }),
        );
        const seconds = (performance.now() - t) / 1000;
        const cpu = process.cpuUsage(cpu0);
        const scoutCpuMs = (cpu.user + cpu.system) / 1000;
        const sshdMs = sshdCpuMs(lab) - sshd0;
        const text = (r.content as Array<{ type: string; text?: string }>).map((c) => c.text ?? "").join("");
        if (r.isError) throw new Error(`the broadcast failed: ${text.slice(0, 200)}`);
        const footer = /─── (\d+)\/(\d+) hosts succeeded ───/.exec(text);
        rows.push(
          {
            measure: `broadcast read to ${alive} hosts (pool cap 100, 32 at once)`,
            ours: fig(seconds, "s"),
            baseline: { name: "one cold host, first read", value: ms(oneMs) },
            note: `${footer?.[1] ?? "?"}/${footer?.[2] ?? "?"} ok; ${(alive / seconds).toFixed(0)} hosts/s; ${progress} progress notifications`,
          },
          {
            measure: `  CPU per host: Scout (server + client, this process)`,
            ours: fig(scoutCpuMs / alive, "ms"),
            baseline: { name: "the lab's sshds (handshake, auth, session, SFTP)", value: ms(sshdMs / alive) },
            note: `${(scoutCpuMs / 1000).toFixed(1)} s + ${(sshdMs / 1000).toFixed(1)} s of CPU on ${os.cpus().length} cores in ${seconds.toFixed(1)} s`,
          },
          {
            measure: `  answer size / peak RSS growth during it`,
            ours: fig(Buffer.byteLength(text) / 1024, "KB"),
            note: `peak RSS +${peakMB.toFixed(0)} MB (server and client in this process); cap SCOUT_MAX_OUTPUT_SIZE 1024 KB`,
          },
        );
      } finally {
        await b.close();
      }
      gc();

      // ---- warming at 30 ms RTT ---------------------------------------------------------------
      ctx.progress("warming at 30 ms RTT");
      const proxy = await lab.proxy(0, { latencyMs: 15 });
      try {
        const cfg30 = await lab.writeSshConfig([
          { alias: "warm30", port: proxy.port },
          { alias: "cold30", port: proxy.port },
        ]);
        const w = await scoutHttp(benchSettings(lab, { sshConfigPath: cfg30, warmHosts: ["warm30"] }));
        try {
          const app = w.server!.app;
          for (let i = 0; i < 500 && !app.fleet.isConnected("warm30"); i++) await sleep(20);
          await sleep(500); // the warm connection's SFTP session opens right after it connects
          const warmFirst: number[] = [];
          const coldFirst: number[] = [];
          // The cold host first, so that the warm host's call does not pay for the server's own
          // first call (its code paths warming up).
          let t = performance.now();
          await called(w, { target: `cold30:${file}` });
          coldFirst.push(performance.now() - t);
          t = performance.now();
          await called(w, { target: `warm30:${file}` });
          warmFirst.push(performance.now() - t);
          t = performance.now();
          await called(w, { target: `warm30:${file}` });
          const again = performance.now() - t;
          rows.push({
            measure: "first call to a warmed host at 30 ms RTT (a path new to the session)",
            ours: fig(warmFirst[0]! / 30, "RTT"),
            baseline: {
              name: "first call to a cold host, same proxy",
              value: fig(coldFirst[0]! / 30, "RTT"),
            },
            // A path new to the session: read.ts opens it ahead of its stat at this RTT (SCOUT_OPEN_AHEAD_MIN_RTT).
            note: `${warmFirst[0]!.toFixed(0)} ms vs cold ${coldFirst[0]!.toFixed(0)} ms; the same read again (path known) ${(again / 30).toFixed(2)} RTT`,
          });
        } finally {
          await w.close();
        }
      } finally {
        await proxy.close();
      }
      gc();

      // ---- memory per unit ---------------------------------------------------------------------
      ctx.progress("memory per connection and per host");
      const conns = 100;
      const app = await engine({ ...settings, maxPoolSize: conns + 10 });
      try {
        gc();
        const h0 = heapMB();
        const r0 = rssMB();
        for (let i = 0; i < conns; i += 10) {
          await Promise.all(
            Array.from({ length: 10 }, (_, k) =>
              app.fleet.host(`web-${String(i + k).padStart(4, "0")}`).withSftp(() => Promise.resolve()),
            ),
          );
        }
        await sleep(200);
        gc();
        const perConnHeapKB = ((heapMB() - h0) * 1024) / conns;
        const perConnRssKB = ((rssMB() - r0) * 1024) / conns;
        // Per configured host: a registry of 10,000 aliases against one of 10.
        const big = 10_000;
        const cfgSmall = await fleetConfig(lab, 10, 0, "m-");
        const cfgBig = await fleetConfig(lab, big, 0, "m-");
        gc();
        const hs = heapMB();
        const small = await engine({ ...settings, sshConfigPath: cfgSmall });
        gc();
        const hSmall = heapMB();
        const large = await engine({ ...settings, sshConfigPath: cfgBig });
        gc();
        const perHostKB = ((heapMB() - hSmall - (hSmall - hs)) * 1024) / (big - 10);
        // A host that was used once keeps a small pool object (its connection reaped).
        gc();
        const hp = heapMB();
        for (let i = 0; i < 1000; i++) large.fleet.host(`m-${String(i).padStart(4, "0")}`);
        gc();
        const perPoolKB = ((heapMB() - hp) * 1024) / 1000;
        await large.close();
        await small.close();
        const base = rssMB();
        const cap = 100;
        const perHostTotalKB = perHostKB + perPoolKB;
        // RSS per connection is mostly noise at 100 connections; never count less than the heap.
        const perConnKB = Math.max(perConnHeapKB, perConnRssKB);
        const largest = ((1024 - base - (cap * perConnKB) / 1024) * 1024) / perHostTotalKB;
        rows.push(
          {
            measure: "memory per idle pooled connection (with SFTP session)",
            ours: fig(perConnHeapKB, "KB"),
            note: `JS heap; RSS ${perConnRssKB.toFixed(0)} KB per connection (${conns} connections)`,
          },
          {
            measure: "memory per configured host (registry) + per used host (pool)",
            ours: fig(perHostTotalKB, "KB"),
            note: `heap: ${perHostKB.toFixed(2)} KB in the registry (${big} aliases) + ${perPoolKB.toFixed(2)} KB per pool`,
          },
          {
            measure: "largest fleet in 1 GB (extrapolated), pool cap 100",
            ours: fig(Math.floor(largest / 1000) * 1000, ""),
            note: `(1024 MB − ${base.toFixed(0)} MB process RSS now − 100 × ${perConnKB.toFixed(0)} KB) ÷ ${perHostTotalKB.toFixed(2)} KB per host; an estimate from unit costs, heap only per host`,
          },
        );
      } finally {
        await app.close();
      }
    } finally {
      await lab.stop();
    }
    return { rows, chart };
  },
};
