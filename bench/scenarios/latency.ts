/**
 * Scenarios 1, 2, 3, 12 and 14: cold start, warm latency, concurrency on one host, round trips at
 * 30/100 ms RTT, and the latency distribution at concurrency 1 (the tail) — through the engine
 * (pool + ops) and end to end through the real MCP server.
 */
import os from "node:os";
import { fileURLToPath } from "node:url";
import type { SFTPWrapper, Stats } from "ssh2";
import { readFile } from "../../src/ops/read.js";
import { percentile } from "../lib.js";
import type { ChartEntry, Row } from "../report.js";
import {
  benchSettings,
  countingObserver,
  engine,
  fig,
  load,
  median,
  minimalHttpMcp,
  ms,
  rawRead,
  rawSsh,
  scoutHttp,
  logLines,
  scoutStdio,
  sleep,
  stdioServer,
  summarize,
  type BenchContext,
  type McpUnderTest,
  type Scenario,
  type Stats as LatencyStats,
} from "../support.js";

const HOST = "host-0";

export const coldStart: Scenario = {
  id: 1,
  key: "cold-start",
  title: "Cold start",
  async run(ctx) {
    const reps = ctx.quick ? 3 : 10;
    const total: number[] = [];
    const connect: number[] = [];
    for (let i = 0; i < reps; i++) {
      let connectSeconds = NaN;
      const app = await engine(benchSettings(ctx.lab), { connected: (_h, s) => (connectSeconds = s) });
      const t = performance.now();
      await readFile(app.fleet.host(HOST), ctx.file4k, app.limits);
      total.push(performance.now() - t);
      connect.push(connectSeconds * 1000);
      await app.close();
    }
    const raw = {
      total: [] as number[],
      connect: [] as number[],
      sftp: [] as number[],
      read: [] as number[],
    };
    for (let i = 0; i < reps; i++) {
      const t = performance.now();
      const r = await rawSsh(ctx.lab.connectConfig(0));
      const t1 = performance.now();
      await rawRead(r.sftp, ctx.file4k);
      raw.read.push(performance.now() - t1);
      raw.total.push(performance.now() - t);
      raw.connect.push(r.connectMs);
      raw.sftp.push(r.sftpMs);
      r.close();
    }
    // End to end: a fresh server per sample, the client connected, then the first tool call.
    const e2e: number[] = [];
    for (let i = 0; i < (ctx.quick ? 2 : 5); i++) {
      const scout = await scoutHttp(benchSettings(ctx.lab));
      const t = performance.now();
      const r = await scout.call("scout", { target: `${HOST}:${ctx.file4k}` });
      e2e.push(performance.now() - t);
      if (r.isError) throw new Error(`cold read through MCP failed: ${r.text}`);
      await scout.close();
    }
    const ours = { total: median(total), connect: median(connect) };
    const rows: Row[] = [
      {
        measure: "first read on a new host, engine (median)",
        ours: ms(ours.total),
        baseline: { name: "raw ssh2 connect+sftp+read", value: ms(median(raw.total)) },
        reference: "10–50 ms (10.47 ms, mocked 10 ms connect)",
      },
      {
        measure: "  of which TCP+handshake+auth",
        ours: ms(ours.connect),
        baseline: { name: "raw ssh2", value: ms(median(raw.connect)) },
      },
      {
        measure: "  of which SFTP open + home + read",
        ours: ms(ours.total - ours.connect),
        baseline: {
          name: `raw: sftp ${median(raw.sftp).toFixed(2)} + read ${median(raw.read).toFixed(2)}`,
          value: ms(median(raw.sftp) + median(raw.read)),
        },
      },
      {
        measure: "first scout call end to end (MCP over HTTP)",
        ours: ms(median(e2e)),
        baseline: { name: "raw ssh2 connect+sftp+read", value: ms(median(raw.total)) },
        reference: "16.1 ms end to end (mocked)",
      },
    ];
    const chart: ChartEntry[] = [
      {
        label: "cold first read (engine)",
        ours: { p50: ours.total, p99: Math.max(...total) },
        baseline: { name: "raw ssh2", p50: median(raw.total), p99: Math.max(...raw.total) },
        reference: { name: "Python (mocked)", p50: 10.47 },
      },
      {
        label: "cold first call (MCP e2e)",
        ours: { p50: median(e2e), p99: Math.max(...e2e) },
        reference: { name: "Python (mocked)", p50: 16.1 },
      },
    ];
    return { rows, chart };
  },
};

export const warmLatency: Scenario = {
  id: 2,
  key: "warm-latency",
  title: "Warm read latency",
  async run(ctx) {
    const n = ctx.quick ? 300 : 2000;
    const app = await engine(benchSettings(ctx.lab));
    const host = app.fleet.host(HOST);
    await readFile(host, ctx.file4k, app.limits);
    const acquire = await load(ctx.quick ? 1000 : 5000, 1, () => host.withSftp(() => Promise.resolve()));
    const raw = await rawSsh(ctx.lab.connectConfig(0));
    await rawRead(raw.sftp, ctx.file4k);
    const rawStats = await load(n, 1, () => rawRead(raw.sftp, ctx.file4k));
    const pool = await load(n, 1, () => readFile(host, ctx.file4k, app.limits));
    raw.close();
    await app.close();

    const e2eN = ctx.quick ? 200 : 1000;
    const scout = await scoutHttp(benchSettings(ctx.lab));
    const minimal = await minimalHttpMcp();
    const target = `${HOST}:${ctx.file4k}`;
    await scout.call("scout", { target });
    await minimal.call("constant", {});
    const base = await load(e2eN, 1, () => minimal.call("constant", {}));
    const e2e = await load(e2eN, 1, () => scout.call("scout", { target }));
    await scout.close();
    await minimal.close();

    const rows: Row[] = [
      {
        measure: "pool acquire, warm (no I/O), p50",
        ours: ms(acquire.p50),
        reference: "0.08 ms (dict lookup)",
      },
      {
        measure: "warm 4 KB read via pool, p50",
        ours: ms(pool.p50),
        baseline: { name: "raw ssh2 sftp.readFile", value: ms(rawStats.p50) },
      },
      { measure: "  p95", ours: ms(pool.p95), baseline: { name: "raw", value: ms(rawStats.p95) } },
      { measure: "  p99", ours: ms(pool.p99), baseline: { name: "raw", value: ms(rawStats.p99) } },
      {
        measure: "warm read end to end (MCP/HTTP), mean",
        ours: ms(e2e.mean),
        baseline: { name: "minimal SDK server", value: ms(base.mean) },
        reference: "10.6 ms avg (mocked 5 ms stat + 5 ms head)",
      },
      { measure: "  p50", ours: ms(e2e.p50), baseline: { name: "minimal", value: ms(base.p50) } },
      {
        measure: "  p95",
        ours: ms(e2e.p95),
        baseline: { name: "minimal", value: ms(base.p95) },
        reference: "11 ms",
      },
      { measure: "  p99", ours: ms(e2e.p99), baseline: { name: "minimal", value: ms(base.p99) } },
    ];
    const chart: ChartEntry[] = [
      {
        label: "warm 4 KB read (engine)",
        ours: { p50: pool.p50, p99: pool.p99 },
        baseline: { name: "raw ssh2 SFTP", p50: rawStats.p50, p99: rawStats.p99 },
      },
      {
        label: "warm read e2e (MCP/HTTP)",
        ours: { p50: e2e.p50, p99: e2e.p99 },
        baseline: { name: "minimal MCP", p50: base.p50, p99: base.p99 },
        reference: { name: "Python avg/p95", p50: 10.6, p99: 11 },
      },
    ];
    return { rows, chart };
  },
};

export const concurrency: Scenario = {
  id: 3,
  key: "concurrency",
  title: "Concurrent requests, one host",
  async run(ctx) {
    const obs = countingObserver();
    const app = await engine(benchSettings(ctx.lab), obs);
    const host = app.fleet.host(HOST);
    // 100 concurrent first requests on a cold host: how many connections does that create?
    const burstStart = performance.now();
    await Promise.all(Array.from({ length: 100 }, () => readFile(host, ctx.file4k, app.limits)));
    const burstMs = performance.now() - burstStart;
    const n = ctx.quick ? 1000 : 5000;
    const raw = await rawSsh(ctx.lab.connectConfig(0));
    await rawRead(raw.sftp, ctx.file4k);
    const rawStats = await load(n, 100, () => rawRead(raw.sftp, ctx.file4k));
    const ours = await load(n, 100, () => readFile(host, ctx.file4k, app.limits));
    const connections = obs.connects;
    raw.close();
    await app.close();

    const e2eN = ctx.quick ? 300 : 1500;
    const scout = await scoutHttp(benchSettings(ctx.lab));
    const minimal = await minimalHttpMcp();
    const target = `${HOST}:${ctx.file4k}`;
    await scout.call("scout", { target });
    await minimal.call("constant", {});
    const base = await load(e2eN, 50, () => minimal.call("constant", {}));
    const e2e = await load(e2eN, 50, () => scout.call("scout", { target }));
    await scout.close();
    await minimal.close();

    const rows: Row[] = [
      {
        measure: "100 concurrent reads: throughput",
        ours: fig(ours.perSecond, "req/s"),
        baseline: { name: "raw ssh2 SFTP, 1 session", value: fig(rawStats.perSecond, "req/s") },
        reference: "192 req/s (mocked)",
      },
      { measure: "  p50", ours: ms(ours.p50), baseline: { name: "raw", value: ms(rawStats.p50) } },
      { measure: "  p95", ours: ms(ours.p95), baseline: { name: "raw", value: ms(rawStats.p95) } },
      {
        measure: "  p99",
        ours: ms(ours.p99),
        baseline: { name: "raw", value: ms(rawStats.p99) },
        reference: "1.85 ms",
      },
      {
        measure: "  connections created (cold burst of 100 + load)",
        ours: fig(connections, "conn"),
        reference: "1 connection",
        note: `cold burst ${burstMs.toFixed(0)} ms`,
      },
      {
        measure: "50 concurrent end to end (MCP/HTTP): throughput",
        ours: fig(e2e.perSecond, "req/s"),
        baseline: { name: "minimal SDK server", value: fig(base.perSecond, "req/s") },
        reference: "195 req/s (mocked)",
      },
      { measure: "  p50", ours: ms(e2e.p50), baseline: { name: "minimal", value: ms(base.p50) } },
      {
        measure: "  p95",
        ours: ms(e2e.p95),
        baseline: { name: "minimal", value: ms(base.p95) },
        reference: "8.2 ms",
      },
      { measure: "  p99", ours: ms(e2e.p99), baseline: { name: "minimal", value: ms(base.p99) } },
    ];
    if (ours.errors + e2e.errors > 0)
      rows.push({ measure: "  errors", ours: fig(ours.errors + e2e.errors, "") });
    const chart: ChartEntry[] = [
      {
        label: "100 concurrent reads (engine)",
        ours: { p50: ours.p50, p99: ours.p99, rps: ours.perSecond },
        baseline: { name: "raw ssh2 SFTP", p50: rawStats.p50, p99: rawStats.p99, rps: rawStats.perSecond },
        reference: { name: "Python (mocked)", p99: 1.85, rps: 192 },
      },
      {
        label: "50 concurrent e2e (MCP/HTTP)",
        ours: { p50: e2e.p50, p99: e2e.p99, rps: e2e.perSecond },
        baseline: { name: "minimal MCP", p50: base.p50, p99: base.p99, rps: base.perSecond },
        reference: { name: "Python p95 (mocked)", p99: 8.2, rps: 195 },
      },
    ];
    return { rows, chart };
  },
};

export const roundTrips: Scenario = {
  id: 12,
  key: "rtt",
  title: "Warm read at 30/100 ms RTT",
  async run(ctx) {
    const rows: Row[] = [];
    const chart: ChartEntry[] = [];
    const proxies = await Promise.all([
      ctx.lab.proxy(0, { latencyMs: 15 }),
      ctx.lab.proxy(0, { latencyMs: 50 }),
    ]);
    const rtts = [30, 100];
    const cfg = await ctx.lab.writeSshConfig(
      rtts.map((rtt, i) => ({ alias: `rtt${rtt}`, port: proxies[i]!.port })),
    );
    const settings = benchSettings(ctx.lab, { sshConfigPath: cfg });
    const app = await engine(settings);
    const scout = await scoutHttp(settings);
    try {
      for (const [i, rtt] of rtts.entries()) {
        const samples = ctx.quick ? 4 : rtt > 50 ? 10 : 20;
        const host = app.fleet.host(`rtt${rtt}`);
        await readFile(host, ctx.file4k, app.limits);
        const ours = await load(samples, 1, () => readFile(host, ctx.file4k, app.limits));
        const raw = await rawSsh({ ...ctx.lab.connectConfig(0), port: proxies[i]!.port });
        await rawRead(raw.sftp, ctx.file4k);
        const rawStats = await load(samples, 1, () => rawRead(raw.sftp, ctx.file4k));
        raw.close();
        const target = `rtt${rtt}:${ctx.file4k}`;
        await scout.call("scout", { target });
        const e2e = await load(samples, 1, () => scout.call("scout", { target }));
        rows.push(
          {
            measure: `warm read at ${rtt} ms RTT, engine (p50 in RTT)`,
            ours: fig(ours.p50 / rtt, "RTT"),
            baseline: { name: "raw ssh2 sftp.readFile", value: fig(rawStats.p50 / rtt, "RTT") },
            reference: "stat + head: 2 exec channels (not measured)",
            note: `${ours.p50.toFixed(1)} ms`,
          },
          {
            measure: `  end to end (MCP/HTTP) at ${rtt} ms RTT`,
            ours: fig(e2e.p50 / rtt, "RTT"),
            baseline: { name: "raw ssh2 sftp.readFile", value: fig(rawStats.p50 / rtt, "RTT") },
            note: `${e2e.p50.toFixed(1)} ms`,
          },
        );
        chart.push({
          label: `warm read @ ${rtt} ms RTT (e2e)`,
          ours: { p50: e2e.p50, p99: e2e.p99 },
          baseline: { name: "raw ssh2 SFTP", p50: rawStats.p50, p99: rawStats.p99 },
        });
      }
      rows.push(...(await newPathReads(ctx, cfg, 30)));
    } finally {
      await scout.close();
      await app.close();
      await Promise.all(proxies.map((p) => p.close()));
    }
    return { rows, chart };
  },
};

/**
 * The first read of a path new to the session, on a warmed connection (SCOUT_WARM_HOSTS) at `rtt`
 * ms: open ahead (the default, SCOUT_OPEN_AHEAD_MIN_RTT 10 ms) against stat first (the setting
 * above any RTT), end to end over HTTP and through the engine, alternating between the two so that
 * load hits both alike; each call reads a file neither has seen.
 */
async function newPathReads(ctx: BenchContext, cfg: string, rtt: number): Promise<Row[]> {
  const n = ctx.quick ? 6 : 30;
  const alias = `rtt${rtt}`;
  const files = await Promise.all(
    Array.from({ length: 4 * n }, (_, i) => ctx.lab.writeFile(`newpath/f${i}.log`, logLines(4096))),
  );
  const variants = [
    { name: "open ahead", over: {} },
    { name: "stat first", over: { openAheadMinRttMs: 100_000 } },
  ];
  const servers = await Promise.all(
    variants.map((v) =>
      scoutHttp(benchSettings(ctx.lab, { sshConfigPath: cfg, warmHosts: [alias], ...v.over })),
    ),
  );
  const engines = await Promise.all(
    variants.map((v) => engine(benchSettings(ctx.lab, { sshConfigPath: cfg, ...v.over }))),
  );
  try {
    // Warmed, and each server's own first call (its code paths warming up) done on a known file.
    for (const s of servers) {
      for (let i = 0; i < 250 && !s.server!.app.fleet.isConnected(alias); i++) await sleep(20);
      await s.call("scout", { target: `${alias}:${ctx.file4k}` });
    }
    for (const e of engines) await readFile(e.fleet.host(alias), ctx.file4k, e.limits);
    const e2e = variants.map(() => [] as number[]);
    const eng = variants.map(() => [] as number[]);
    let next = 0;
    for (let i = 0; i < n; i++) {
      for (const [k, s] of servers.entries()) {
        const t = performance.now();
        const r = await s.call("scout", { target: `${alias}:${files[next++]!}` });
        if (r.isError) throw new Error(`new-path read failed: ${r.text.slice(0, 200)}`);
        e2e[k]!.push(performance.now() - t);
      }
      for (const [k, e] of engines.entries()) {
        const t = performance.now();
        await readFile(e.fleet.host(alias), files[next++]!, e.limits);
        eng[k]!.push(performance.now() - t);
      }
    }
    const st = (xs: number[]) => summarize(xs, 1);
    const [aheadE2e, statE2e] = e2e.map(st) as [LatencyStats, LatencyStats];
    const [aheadEng, statEng] = eng.map(st) as [LatencyStats, LatencyStats];
    const spread = (x: LatencyStats) =>
      `p50 ${(x.p50 / rtt).toFixed(2)} / p99 ${(x.p99 / rtt).toFixed(2)} / max ${(x.max / rtt).toFixed(2)} RTT`;
    return [
      {
        measure: `first read of a new path, warmed host, ${rtt} ms RTT, end to end (MCP/HTTP), p50`,
        ours: fig(aheadE2e.p50 / rtt, "RTT"),
        baseline: {
          name: "stat first (SCOUT_OPEN_AHEAD_MIN_RTT=100000)",
          value: fig(statE2e.p50 / rtt, "RTT"),
        },
        note: `${n} new paths each, alternating; open ahead ${spread(aheadE2e)}; stat first ${spread(statE2e)}`,
      },
      {
        measure: `  engine readFile, new path, ${rtt} ms RTT, p50`,
        ours: fig(aheadEng.p50 / rtt, "RTT"),
        baseline: { name: "stat first", value: fig(statEng.p50 / rtt, "RTT") },
        note: `open ahead ${spread(aheadEng)}; stat first ${spread(statEng)}`,
      },
    ];
  } finally {
    await Promise.all([...servers.map((s) => s.close()), ...engines.map((e) => e.close())]);
  }
}

// ---- scenario 14: the latency distribution at concurrency 1 -------------------------------------

/** What a tail is made of: a distribution summary with the count over 20 ms. */
interface Dist {
  n: number;
  p50: number;
  p90: number;
  p99: number;
  max: number;
  over20: number;
}

function dist(latencies: number[]): Dist {
  const sorted = [...latencies].sort((a, b) => a - b);
  return {
    n: sorted.length,
    p50: percentile(sorted, 50),
    p90: percentile(sorted, 90),
    p99: percentile(sorted, 99),
    max: sorted[sorted.length - 1] ?? NaN,
    over20: sorted.filter((x) => x > 20).length,
  };
}

/**
 * Runs every path `rounds` times in turn, `perRound` sequential calls each, so that a machine
 * whose load drifts (it is shared) weighs on every path alike.
 */
async function interleaved<K extends string>(
  paths: Record<K, () => Promise<unknown>>,
  total: number,
  rounds: number,
): Promise<Record<K, number[]>> {
  const out = Object.fromEntries(Object.keys(paths).map((k) => [k, [] as number[]])) as Record<K, number[]>;
  const perRound = Math.ceil(total / rounds);
  for (let r = 0; r < rounds; r++) {
    for (const name of Object.keys(paths) as K[]) {
      for (let i = 0; i < perRound; i++) {
        const t = performance.now();
        await paths[name]();
        out[name].push(performance.now() - t);
      }
    }
  }
  return out;
}

const sftpP = <T>(fn: (cb: (err: Error | null | undefined, v: T) => void) => void): Promise<T> =>
  new Promise<T>((resolve, reject) => fn((err, v) => (err ? reject(err) : resolve(v))));

/** Raw ssh2 SFTP read of a small file the way Scout reads it: stat, open, read, close. */
function rawSftpRead(sftp: SFTPWrapper, path: string, pipelined: boolean): () => Promise<void> {
  const buf = Buffer.alloc(64 * 1024);
  return async () => {
    const stat = sftpP<Stats>((cb) => sftp.stat(path, cb));
    const open = pipelined ? sftpP<Buffer>((cb) => sftp.open(path, "r", cb)) : undefined;
    await stat;
    const handle = await (open ?? sftpP<Buffer>((cb) => sftp.open(path, "r", cb)));
    await sftpP<number>((cb) => sftp.read(handle, buf, 0, buf.length, 0, (e, n) => cb(e, n)));
    await sftpP<void>((cb) => sftp.close(handle, (e) => cb(e, undefined)));
  };
}

const MIN_STDIO = fileURLToPath(new URL("../min-sdk-stdio.mjs", import.meta.url));

export const latencyTail: Scenario = {
  id: 14,
  key: "latency-tail",
  title: "Warm read latency distribution, concurrency 1",
  async run(ctx) {
    const n = ctx.quick ? 300 : 2000;
    const rounds = ctx.quick ? 3 : 10;
    const load0 = os.loadavg()[0] ?? NaN;
    const target = `${HOST}:${ctx.file4k}`;
    // The alternative: reads alone on a session send one request at a time (what
    // SCOUT_PIPELINE_MIN_RTT above the link's RTT gives); the default pipelines everywhere.
    const before = { pipelineMinRttMs: 1000 };
    const appNew = await engine(benchSettings(ctx.lab));
    const appOld = await engine(benchSettings(ctx.lab, before));
    const raw = await rawSsh(ctx.lab.connectConfig(0));
    const httpNew = await scoutHttp(benchSettings(ctx.lab));
    const httpOld = await scoutHttp(benchSettings(ctx.lab, before));
    const minHttp = await minimalHttpMcp();
    const stdioNew = await scoutStdio(ctx.lab);
    const stdioOld = await scoutStdio(ctx.lab, { SCOUT_PIPELINE_MIN_RTT: "1000" });
    const minStdio = await stdioServer(process.execPath, [MIN_STDIO], {});
    try {
      const hostNew = appNew.fleet.host(HOST);
      const hostOld = appOld.fleet.host(HOST);
      const call = (m: McpUnderTest, name: string, args: Record<string, unknown>) => async () => {
        const r = await m.call(name, args);
        if (r.isError) throw new Error(`${name} failed: ${r.text.slice(0, 200)}`);
      };
      const paths = {
        rawSeq: rawSftpRead(raw.sftp, ctx.file4k, false),
        rawPipe: rawSftpRead(raw.sftp, ctx.file4k, true),
        engineNew: () => readFile(hostNew, ctx.file4k, appNew.limits),
        engineOld: () => readFile(hostOld, ctx.file4k, appOld.limits),
        minHttp: call(minHttp, "constant", {}),
        httpNew: call(httpNew, "scout", { target }),
        httpOld: call(httpOld, "scout", { target }),
        minStdio: call(minStdio, "constant", {}),
        stdioNew: call(stdioNew, "scout", { target }),
        stdioOld: call(stdioOld, "scout", { target }),
      };
      for (const op of Object.values(paths)) for (let i = 0; i < 20; i++) await op(); // warm up
      ctx.progress(`${n} sequential calls on each of ${Object.keys(paths).length} paths, interleaved`);
      const lat = await interleaved(paths, n, rounds);
      const d = Object.fromEntries(Object.entries(lat).map(([k, v]) => [k, dist(v)])) as Record<
        keyof typeof paths,
        Dist
      >;
      // Concurrency 32 through the engine: throughput with the default and one request at a time.
      const c32n = ctx.quick ? 1000 : 5000;
      const c32 = { new: [] as number[], old: [] as number[] };
      for (let r = 0; r < 3; r++) {
        c32.new.push((await load(c32n, 32, paths.engineNew)).perSecond);
        c32.old.push((await load(c32n, 32, paths.engineOld)).perSecond);
      }
      const load1 = os.loadavg()[0] ?? NaN;

      const rows: Row[] = [];
      const distRows = (label: string, ours: Dist, base: Dist, baseName: string, old?: Dist) => {
        rows.push(
          { measure: `${label}: p50`, ours: ms(ours.p50), baseline: { name: baseName, value: ms(base.p50) } },
          { measure: "  p90", ours: ms(ours.p90), baseline: { name: baseName, value: ms(base.p90) } },
          { measure: "  p99", ours: ms(ours.p99), baseline: { name: baseName, value: ms(base.p99) } },
          { measure: "  max", ours: ms(ours.max), baseline: { name: baseName, value: ms(base.max) } },
          {
            measure: `  calls over 20 ms (of ${ours.n})`,
            ours: fig(ours.over20, ""),
            baseline: { name: baseName, value: fig(base.over20, "") },
          },
        );
        if (old)
          rows.push({
            measure: "  one request at a time (SCOUT_PIPELINE_MIN_RTT=1000): p99",
            ours: ms(old.p99),
            baseline: { name: "default", value: ms(ours.p99) },
            note: `${old.over20} over 20 ms, p90 ${old.p90.toFixed(2)} ms`,
          });
      };
      distRows("Scout over HTTP", d.httpNew, d.minHttp, "minimal SDK server, HTTP", d.httpOld);
      distRows("Scout over stdio", d.stdioNew, d.minStdio, "minimal SDK server, stdio", d.stdioOld);
      distRows("engine readFile", d.engineNew, d.rawSeq, "raw ssh2 SFTP, sequential", d.engineOld);
      distRows("raw ssh2 SFTP, stat+open pipelined", d.rawPipe, d.rawSeq, "raw ssh2 SFTP, sequential");
      rows.push(
        {
          measure: "target: HTTP p99 ≤ 3 × (minimal SDK p99 + raw sequential p99)",
          ours: ms(d.httpNew.p99),
          baseline: { name: "bound", value: ms(3 * (d.minHttp.p99 + d.rawSeq.p99)) },
          note: `over 20 ms: ${((100 * d.httpNew.over20) / d.httpNew.n).toFixed(2)} % (target ≤ 1 %)`,
        },
        {
          measure: "target: stdio p99 ≤ 3 × (minimal SDK p99 + raw sequential p99)",
          ours: ms(d.stdioNew.p99),
          baseline: { name: "bound", value: ms(3 * (d.minStdio.p99 + d.rawSeq.p99)) },
          note: `over 20 ms: ${((100 * d.stdioNew.over20) / d.stdioNew.n).toFixed(2)} % (target ≤ 1 %)`,
        },
        {
          measure: "32 concurrent reads (engine): throughput, median of 3",
          ours: fig(median(c32.new), "req/s"),
          baseline: { name: "one request at a time", value: fig(median(c32.old), "req/s") },
          note: `default ${c32.new.map((x) => x.toFixed(0)).join("/")}, one at a time ${c32.old.map((x) => x.toFixed(0)).join("/")}`,
        },
        {
          measure: "machine load (1-min load average, start → end)",
          ours: fig(load1, ""),
          note: `${load0.toFixed(1)} → ${load1.toFixed(1)} on ${os.cpus().length} CPUs (shared machine)`,
        },
      );
      const chart: ChartEntry[] = [
        {
          label: "warm read c=1 (MCP/HTTP)",
          ours: { p50: d.httpNew.p50, p99: d.httpNew.p99 },
          baseline: { name: "minimal MCP", p50: d.minHttp.p50, p99: d.minHttp.p99 },
        },
        {
          label: "warm read c=1 (MCP/stdio)",
          ours: { p50: d.stdioNew.p50, p99: d.stdioNew.p99 },
          baseline: { name: "minimal MCP", p50: d.minStdio.p50, p99: d.minStdio.p99 },
        },
        {
          label: "warm read c=1 (engine)",
          ours: { p50: d.engineNew.p50, p99: d.engineNew.p99 },
          baseline: { name: "raw SFTP seq.", p50: d.rawSeq.p50, p99: d.rawSeq.p99 },
          others: [{ name: "raw SFTP pipelined", p50: d.rawPipe.p50, p99: d.rawPipe.p99 }],
        },
      ];
      return { rows, chart, extra: { distributions: d, concurrency32: c32, loadAverage: [load0, load1] } };
    } finally {
      raw.close();
      await Promise.allSettled([
        appNew.close(),
        appOld.close(),
        httpNew.close(),
        httpOld.close(),
        minHttp.close(),
        stdioNew.close(),
        stdioOld.close(),
        minStdio.close(),
      ]);
    }
  },
};
