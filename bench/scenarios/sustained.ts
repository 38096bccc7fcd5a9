/**
 * Scenario 11: sustained load. Scout runs as a user runs it (a child process serving stdio) and
 * receives a fixed rate of mixed calls — reads, listings, commands — for `--duration` seconds.
 * Every second: the server's RSS and fds, its pool size (from its /metrics), and the p99 of the
 * calls that finished in that second. Drift = the last tenth of the run against the first tenth
 * after warm-up, which is the same-run baseline here.
 */
import path from "node:path";
import { findFreePort } from "../../src/lab/index.js";
import type { Row } from "../report.js";
import { fdCount, fig, ms, rssMB, scoutStdio, sleep, summarize, type Scenario } from "../support.js";

export interface Sample {
  second: number;
  rssMB: number;
  fds: number;
  pool: number;
  done: number;
  errors: number;
  inFlight: number;
  p99: number;
}

async function poolSize(port: number): Promise<number> {
  try {
    const body = await (
      await fetch(`http://127.0.0.1:${port}/metrics`, { signal: AbortSignal.timeout(2000) })
    ).text();
    let n = 0;
    for (const m of body.matchAll(/^scout_pool_connections\{state="(?:idle|active)"\} (\d+)/gm))
      n += Number(m[1]);
    return n;
  } catch {
    return NaN;
  }
}

function mean(xs: number[]): number {
  const f = xs.filter(Number.isFinite);
  return f.reduce((a, b) => a + b, 0) / Math.max(1, f.length);
}

/** Least-squares slope of y over x. */
function slope(xs: number[], ys: number[]): number {
  const n = xs.length;
  const mx = mean(xs);
  const my = mean(ys);
  let num = 0;
  let den = 0;
  for (let i = 0; i < n; i++) {
    num += (xs[i]! - mx) * (ys[i]! - my);
    den += (xs[i]! - mx) ** 2;
  }
  return den === 0 ? 0 : num / den;
}

export const sustained: Scenario = {
  id: 11,
  key: "sustained",
  title: "Sustained mixed load",
  async run(ctx) {
    const rate = ctx.quick ? 100 : 200;
    const seconds = ctx.durationSeconds;
    const metricsPort = await findFreePort();
    const scout = await scoutStdio(ctx.lab, { SCOUT_METRICS_PORT: String(metricsPort) });
    const pid = scout.pid;
    if (!pid) throw new Error("the Scout child process has no pid");
    const calls: Array<Record<string, unknown>> = [
      { target: `host-0:${ctx.file4k}` },
      { target: `host-1:${ctx.dir50}` },
      { target: `host-1:${ctx.file4k}` },
      { target: `host-0:${ctx.dir50}` },
      { target: `host-0:${path.dirname(ctx.file4k)}`, query: "tail -n 5 app.log | wc -c" },
    ];
    const mix = (i: number) => calls[i % 10 < 9 ? i % 4 : 4]!; // 90% reads/listings, 10% commands
    for (const c of calls) await scout.call("scout", c);

    const samples: Sample[] = [];
    let window: number[] = [];
    const all: number[] = [];
    let errors = 0;
    const errorKinds = new Map<string, number>();
    /** Errors grouped by their first words (numbers dropped), so that the table can say why. */
    const countError = (text: string) => {
      const kind = text.replace(/\d+(\.\d+)?/g, "N").slice(0, 70);
      errorKinds.set(kind, (errorKinds.get(kind) ?? 0) + 1);
    };
    let windowErrors = 0;
    let inFlight = 0;
    let issued = 0;
    const pending = new Set<Promise<void>>();
    const start = performance.now();
    let nextSample = 1;
    while (true) {
      const elapsed = (performance.now() - start) / 1000;
      if (elapsed >= seconds) break;
      const due = Math.floor(elapsed * rate) - issued;
      for (let k = 0; k < due; k++) {
        const args = mix(issued++);
        const t = performance.now();
        inFlight++;
        const p = scout
          .call("scout", args)
          .then(
            (r) => {
              if (r.isError) {
                errors++;
                windowErrors++;
                countError(r.text);
              } else {
                const d = performance.now() - t;
                window.push(d);
                all.push(d);
              }
            },
            (e: unknown) => {
              errors++;
              windowErrors++;
              countError(e instanceof Error ? e.message : String(e));
            },
          )
          .finally(() => {
            inFlight--;
            pending.delete(p);
          });
        pending.add(p);
      }
      if (elapsed >= nextSample) {
        const done = window.length;
        const p99 = summarize(window, 1).p99;
        window = [];
        const errs = windowErrors;
        windowErrors = 0;
        samples.push({
          second: nextSample,
          rssMB: rssMB(pid),
          fds: fdCount(pid),
          pool: await poolSize(metricsPort),
          done,
          errors: errs,
          inFlight,
          p99,
        });
        nextSample++;
      }
      await sleep(5);
    }
    await Promise.race([Promise.all(pending), sleep(30_000)]);
    const totalSeconds = (performance.now() - start) / 1000;
    await scout.close();

    // Drift: first tenth after a warm-up (at least 3 samples) against the last tenth.
    const warm = samples.filter((s) => s.second > Math.min(5, Math.floor(seconds / 5)));
    const tenth = Math.max(2, Math.floor(warm.length / 10));
    const first = warm.slice(0, tenth);
    const last = warm.slice(-tenth);
    const avg = (xs: Sample[], k: keyof Sample) => mean(xs.map((s) => s[k]));
    const st = summarize(all, totalSeconds, errors);
    const rssSlope = slope(
      warm.map((s) => s.second),
      warm.map((s) => s.rssMB),
    );
    const rows: Row[] = [
      {
        measure: `${seconds} s at ${rate} req/s (90% reads/listings, 10% commands): achieved`,
        ours: fig(st.count / seconds, "req/s"),
        note: `${st.count} ok, ${errors} errors`,
        reference: "not measured (analysis: 5 min)",
      },
      { measure: "  p50 / p99 over the run", ours: ms(st.p50), note: `p99 ${st.p99.toFixed(1)} ms` },
      ...[...errorKinds.entries()]
        .sort((a, b) => b[1] - a[1])
        .slice(0, 3)
        .map(([kind, count]): Row => ({ measure: `  errors: ${kind}`, ours: fig(count, "") })),
      {
        measure: "  server RSS, last tenth",
        ours: fig(avg(last, "rssMB"), "MB"),
        baseline: { name: "first tenth", value: fig(avg(first, "rssMB"), "MB") },
        note: `slope ${(rssSlope * 60).toFixed(2)} MB/min`,
      },
      {
        measure: "  server fds, last tenth",
        ours: fig(avg(last, "fds"), "fds"),
        baseline: { name: "first tenth", value: fig(avg(first, "fds"), "fds") },
      },
      {
        measure: "  pool size, last tenth",
        ours: fig(avg(last, "pool"), "conn"),
        baseline: { name: "first tenth", value: fig(avg(first, "pool"), "conn") },
      },
      {
        measure: "  p99 per second, last tenth",
        ours: ms(avg(last, "p99")),
        baseline: { name: "first tenth", value: ms(avg(first, "p99")) },
      },
    ];
    return {
      rows,
      chart: [
        {
          label: `sustained ${rate} req/s (stdio)`,
          ours: { p50: st.p50, p99: st.p99, rps: st.count / seconds },
        },
      ],
      extra: { rate, seconds, samples, errors: Object.fromEntries(errorKinds) },
    };
  },
};
