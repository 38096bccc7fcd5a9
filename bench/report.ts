/**
 * The benchmark suite's result model and its renderings: the console/markdown table, the JSON
 * document (bench/results/latest.json) and a hand-written SVG chart (bench/results/latest.svg).
 */
import os from "node:os";

export type Unit =
  | "ms"
  | "µs"
  | "req/s"
  | "conn"
  | "KB"
  | "MB"
  | "fds"
  | "RTT"
  | "×"
  | "MB/s"
  | "bytes"
  | "s"
  | "entries"
  | "hosts/s"
  | "";

export interface Figure {
  value: number;
  unit: Unit;
}

export interface Row {
  measure: string;
  /** Our figure, or a text such as "failed: …" / "unavailable" when there is no number. */
  ours: Figure | string;
  /** A figure measured in the same run on the same machine (raw ssh2, a minimal MCP server, …). */
  baseline?: { name: string; value: Figure };
  /** The Python Scout's published figure (or the peers survey's), as text. */
  reference?: string;
  note?: string;
}

/** Latency (p50/p99 ms) and/or throughput of one path, for the chart. */
export interface Series {
  p50?: number;
  p99?: number;
  rps?: number;
}

export interface ChartEntry {
  label: string;
  ours: Series;
  baseline?: Series & { name: string };
  /** Python Scout (or a peer) figure from the reference. */
  reference?: Series & { name: string };
  /** Extra bars (scenario 13: the peers measured in this run). */
  others?: Array<Series & { name: string }>;
}

export interface ScenarioResult {
  id: number;
  key: string;
  title: string;
  rows: Row[];
  chart: ChartEntry[];
  seconds: number;
  extra?: unknown;
  /** Set when the scenario threw: reported, never fatal. */
  error?: string;
}

export interface SuiteResult {
  date: string;
  machine: { cpus: number; cpuModel: string; memoryGB: number; node: string; os: string };
  options: { quick: boolean; durationSeconds: number; only: string[] };
  totalSeconds: number;
  scenarios: ScenarioResult[];
}

export function machineInfo(): SuiteResult["machine"] {
  const cpus = os.cpus();
  return {
    cpus: cpus.length,
    cpuModel: cpus[0]?.model.trim() ?? "unknown",
    memoryGB: Math.round(os.totalmem() / 2 ** 30),
    node: process.version,
    os: `${os.type()} ${os.release()}`,
  };
}

// ---- formatting -------------------------------------------------------------------------------

export function num(n: number): string {
  if (!Number.isFinite(n)) return "—";
  const a = Math.abs(n);
  if (a >= 1000 || (Number.isInteger(n) && a >= 1)) return Math.round(n).toLocaleString("en-US");
  if (a >= 100) return n.toFixed(0);
  if (a >= 10) return n.toFixed(1);
  if (a >= 1) return n.toFixed(2);
  if (a === 0) return "0";
  if (a >= 0.01) return n.toFixed(3);
  return n.toPrecision(2);
}

export function figure(f: Figure | string): string {
  if (typeof f === "string") return f;
  const v = num(f.value);
  if (f.unit === "") return v;
  if (f.unit === "×") return `${v}×`;
  return `${v} ${f.unit}`;
}

/** ours ÷ baseline when both are numbers in the same unit. */
export function ratio(row: Row): number | undefined {
  if (typeof row.ours === "string" || !row.baseline) return undefined;
  if (row.ours.unit !== row.baseline.value.unit || row.baseline.value.value === 0) return undefined;
  return row.ours.value / row.baseline.value.value;
}

/** "measured" is Scout's figure, except in scenario 13's peer and raw rows, which name their server. */
const TABLE_HEADER = [
  "#",
  "scenario",
  "measure",
  "measured",
  "baseline (same run)",
  "ratio",
  "Python / reference",
];

function tableRows(result: SuiteResult): string[][] {
  const rows: string[][] = [];
  for (const s of result.scenarios) {
    if (s.error) {
      rows.push([String(s.id), s.title, "—", `failed: ${s.error}`, "", "", ""]);
    }
    s.rows.forEach((r, i) => {
      const q = ratio(r);
      rows.push([
        i === 0 && !s.error ? String(s.id) : "",
        i === 0 && !s.error ? s.title : "",
        r.measure + (r.note ? ` (${r.note})` : ""),
        figure(r.ours),
        r.baseline ? `${figure(r.baseline.value)} ${r.baseline.name}` : "",
        q === undefined ? "" : `${num(q)}×`,
        r.reference ?? "",
      ]);
    });
  }
  return rows;
}

const cell = (s: string) => s.replace(/\|/g, "\\|");

export function markdownTable(result: SuiteResult): string {
  const lines = [
    `| ${TABLE_HEADER.join(" | ")} |`,
    `|${TABLE_HEADER.map(() => "---").join("|")}|`,
    ...tableRows(result).map((r) => `| ${r.map(cell).join(" | ")} |`),
  ];
  return lines.join("\n") + "\n";
}

export function consoleTable(result: SuiteResult): string {
  const rows = tableRows(result);
  const widths = TABLE_HEADER.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? "").length)));
  const line = (cells: string[]) => "| " + cells.map((c, i) => c.padEnd(widths[i] ?? 0)).join(" | ") + " |";
  return [
    line(TABLE_HEADER),
    "|" + widths.map((w) => "-".repeat(w + 2)).join("|") + "|",
    ...rows.map(line),
  ].join("\n");
}

export function describeRun(result: SuiteResult): string {
  const m = result.machine;
  return (
    `${result.date.slice(0, 16).replace("T", " ")} UTC · ${m.cpus} × ${m.cpuModel} · ${m.memoryGB} GB · ` +
    `Node ${m.node} · ${m.os}` +
    (result.options.quick ? " · --quick" : "") +
    ` · suite ${num(result.totalSeconds)} s`
  );
}

interface PeerPathLike {
  server: string;
  tool: string;
  op: string;
  status: string;
  p50?: number;
  p99?: number;
  rps1?: number;
  rps8?: number;
  survey?: number;
}

/** Scenario 13 as its own table: one line per server and tool. */
export function peersTable(result: SuiteResult): string {
  const s = result.scenarios.find((x) => x.key === "peers");
  const extra = s?.extra as { paths?: PeerPathLike[]; versions?: Record<string, string> } | undefined;
  if (!extra?.paths) return "";
  const v = extra.versions ?? {};
  const lines = [
    `Peers (scenario 13), each over stdio from the SDK client, same fleet, same run` +
      (Object.keys(v).length
        ? ` (${Object.entries(v)
            .map(([k, x]) => `${k} ${x || "n/a"}`)
            .join(", ")})`
        : "") +
      ":",
    "",
    "| operation | server | tool | p50 ms | p99 ms | req/s (c=1) | req/s (c=8) | status | survey p50 ms |",
    "|---|---|---|---|---|---|---|---|---|",
  ];
  for (const p of extra.paths) {
    const op = p.op === "read" ? "4 KB log read" : "list 50 entries";
    const n = (x: number | undefined) => (x === undefined ? "" : num(x));
    lines.push(
      `| ${op} | ${cell(p.server)} | ${cell(p.tool)} | ${n(p.p50)} | ${n(p.p99)} | ${n(p.rps1)} | ${n(p.rps8)} | ${cell(p.status)} | ${n(p.survey)} |`,
    );
  }
  return lines.join("\n") + "\n";
}

export function markdownReport(result: SuiteResult): string {
  return [
    "# Benchmark results",
    "",
    `Run: ${describeRun(result)}.`,
    "",
    "Generated by `npm run bench` (bench/suite.ts); see docs/benchmarks.md for what each row measures.",
    "Ratio = Scout ÷ baseline (for latencies lower is better, for req/s higher is better). The Python",
    "figures come from its own benchmarks, which mocked SSH with `asyncio.sleep` (see the docs).",
    "",
    markdownTable(result),
    peersTable(result),
  ].join("\n");
}

// ---- SVG chart ----------------------------------------------------------------------------------

const esc = (s: string) => s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");

interface Bar {
  name: string;
  color: string;
  light: string;
  series: Series;
}

const COLORS = {
  scout: ["#1d4ed8", "#93c5fd"],
  baseline: ["#4b5563", "#d1d5db"],
  reference: ["#c2410c", "#fdba74"],
  other: ["#7e22ce", "#d8b4fe"],
} as const;

function barsOf(e: ChartEntry): Bar[] {
  const bars: Bar[] = [{ name: "Scout", color: COLORS.scout[0], light: COLORS.scout[1], series: e.ours }];
  for (const o of e.others ?? [])
    bars.push({ name: o.name, color: COLORS.other[0], light: COLORS.other[1], series: o });
  if (e.baseline)
    bars.push({
      name: e.baseline.name,
      color: COLORS.baseline[0],
      light: COLORS.baseline[1],
      series: e.baseline,
    });
  if (e.reference)
    bars.push({
      name: e.reference.name,
      color: COLORS.reference[0],
      light: COLORS.reference[1],
      series: e.reference,
    });
  return bars;
}

/** A log-scale horizontal axis from 10^lo to 10^hi mapped onto [x0, x1]. */
function logScale(lo: number, hi: number, x0: number, x1: number) {
  return (v: number) => {
    const c = Math.min(hi, Math.max(lo, Math.log10(Math.max(v, 10 ** lo))));
    return x0 + ((c - lo) / (hi - lo)) * (x1 - x0);
  };
}

interface Panel {
  title: string;
  entries: Array<{ scenario: ScenarioResult; entry: ChartEntry; bars: Bar[] }>;
  kind: "latency" | "throughput";
}

export function renderSvg(result: SuiteResult): string {
  const W = 1200;
  const LABEL_W = 330;
  const PLOT_X0 = LABEL_W + 10;
  const PLOT_X1 = W - 300;
  const BAR_H = 11;
  const GAP = 4;
  const ENTRY_PAD = 12;

  const latency: Panel = {
    title: "Latency per request (ms, log scale): dark = p50, light = p99",
    entries: [],
    kind: "latency",
  };
  const throughput: Panel = { title: "Throughput (req/s, log scale)", entries: [], kind: "throughput" };
  for (const s of result.scenarios) {
    for (const entry of s.chart) {
      const all = barsOf(entry);
      const lat = all.filter((b) => b.series.p50 !== undefined || b.series.p99 !== undefined);
      const thr = all.filter((b) => b.series.rps !== undefined);
      if (lat.length > 0) latency.entries.push({ scenario: s, entry, bars: lat });
      if (thr.length > 0) throughput.entries.push({ scenario: s, entry, bars: thr });
    }
  }

  const out: string[] = [];
  let y = 20;
  const text = (x: number, yy: number, s: string, attrs = "") =>
    out.push(`<text x="${x.toFixed(1)}" y="${yy.toFixed(1)}" ${attrs}>${esc(s)}</text>`);

  text(
    W / 2,
    y + 8,
    "Scout MCP benchmark suite: Scout vs same-run baselines vs the Python Scout's figures",
    'text-anchor="middle" font-size="17" font-weight="bold"',
  );
  y += 28;
  text(W / 2, y, describeRun(result), 'text-anchor="middle" font-size="12" fill="#374151"');
  y += 22;
  // Legend.
  const legend: Array<[string, string]> = [
    ["Scout (this project)", COLORS.scout[0]],
    ["Peer MCP server (same run)", COLORS.other[0]],
    ["Baseline (same run: raw ssh2 / minimal MCP server)", COLORS.baseline[0]],
    ["Python Scout / survey reference (published)", COLORS.reference[0]],
  ];
  let lx = 40;
  for (const [name, color] of legend) {
    out.push(`<rect x="${lx}" y="${y - 10}" width="14" height="11" fill="${color}"/>`);
    text(lx + 20, y, name, 'font-size="12"');
    lx += 20 + name.length * 6.6 + 24;
  }
  y += 20;

  for (const panel of [latency, throughput]) {
    if (panel.entries.length === 0) continue;
    const values = panel.entries.flatMap((e) =>
      e.bars.flatMap((b) => (panel.kind === "latency" ? [b.series.p50, b.series.p99] : [b.series.rps])),
    );
    const finite = values.filter((v): v is number => v !== undefined && Number.isFinite(v) && v > 0);
    const lo = Math.floor(Math.log10(Math.min(...finite)));
    const hi = Math.ceil(Math.log10(Math.max(...finite)));
    const x = logScale(lo, hi === lo ? lo + 1 : hi, PLOT_X0, PLOT_X1);
    y += 14;
    text(20, y, panel.title, 'font-size="15" font-weight="bold"');
    y += 14;
    const top = y;
    // Decade grid lines with labels.
    const height = panel.entries.reduce((h, e) => h + e.bars.length * (BAR_H + GAP) + ENTRY_PAD, 0);
    for (let d = lo; d <= (hi === lo ? lo + 1 : hi); d++) {
      const gx = x(10 ** d);
      out.push(
        `<line x1="${gx.toFixed(1)}" y1="${top}" x2="${gx.toFixed(1)}" y2="${top + height}" stroke="#e5e7eb"/>`,
      );
      text(gx, top + height + 13, num(10 ** d), 'text-anchor="middle" font-size="10" fill="#6b7280"');
    }
    for (const { scenario, entry, bars } of panel.entries) {
      const blockH = bars.length * (BAR_H + GAP);
      const label = `${scenario.id}. ${entry.label}`;
      text(LABEL_W, y + blockH / 2 + 3, label, 'text-anchor="end" font-size="12"');
      for (const b of bars) {
        const by = y;
        if (panel.kind === "latency") {
          const p50 = b.series.p50;
          const p99 = b.series.p99;
          if (p99 !== undefined)
            out.push(
              `<rect x="${PLOT_X0}" y="${by}" width="${(x(p99) - PLOT_X0).toFixed(1)}" height="${BAR_H}" fill="${b.light}"/>`,
            );
          if (p50 !== undefined)
            out.push(
              `<rect x="${PLOT_X0}" y="${by}" width="${(x(p50) - PLOT_X0).toFixed(1)}" height="${BAR_H}" fill="${b.color}"/>`,
            );
          const end = x(Math.max(p50 ?? 0, p99 ?? 0));
          const parts = [
            p50 !== undefined ? `p50 ${num(p50)}` : "",
            p99 !== undefined ? `p99 ${num(p99)}` : "",
          ].filter(Boolean);
          text(
            end + 4,
            by + BAR_H - 2,
            `${b.name}: ${parts.join(" / ")} ms`,
            `font-size="10" fill="${b.color}"`,
          );
        } else {
          const rps = b.series.rps ?? 0;
          out.push(
            `<rect x="${PLOT_X0}" y="${by}" width="${(x(rps) - PLOT_X0).toFixed(1)}" height="${BAR_H}" fill="${b.color}"/>`,
          );
          text(
            x(rps) + 4,
            by + BAR_H - 2,
            `${b.name}: ${num(rps)} req/s`,
            `font-size="10" fill="${b.color}"`,
          );
        }
        y += BAR_H + GAP;
      }
      y += ENTRY_PAD;
    }
    y = top + height + 24;
  }
  y = timelines(result, out, y, W);
  const H = y + 10;
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="Helvetica, Arial, sans-serif">`,
    `<rect width="${W}" height="${H}" fill="#ffffff"/>`,
    ...out,
    "</svg>",
    "",
  ].join("\n");
}

interface SampleLike {
  second: number;
  rssMB: number;
  fds: number;
  pool: number;
  p99: number;
}

/** Scenario 11's per-second samples as small line charts: server RSS, fds, pool size, p99. */
function timelines(result: SuiteResult, out: string[], y0: number, W: number): number {
  const s = result.scenarios.find((x) => x.key === "sustained");
  const extra = s?.extra as { samples?: SampleLike[]; rate?: number } | undefined;
  const samples = extra?.samples ?? [];
  if (samples.length < 2) return y0;
  let y = y0 + 14;
  out.push(
    `<text x="20" y="${y}" font-size="15" font-weight="bold">${esc(
      `11. Sustained load, ${extra?.rate ?? "?"} req/s for ${samples.length} s: the server process, sampled every second`,
    )}</text>`,
  );
  y += 14;
  const series: Array<[string, keyof SampleLike, string]> = [
    ["RSS (MB)", "rssMB", "#1d4ed8"],
    ["open fds", "fds", "#4b5563"],
    ["pool connections", "pool", "#7e22ce"],
    ["p99 of the second (ms)", "p99", "#c2410c"],
  ];
  const cw = (W - 40 - 3 * 30) / 4;
  const ch = 110;
  const maxT = samples[samples.length - 1]!.second;
  series.forEach(([title, key, color], i) => {
    const x0 = 20 + i * (cw + 30) + 30;
    const w = cw - 30;
    const vals = samples.map((p) => p[key]).filter(Number.isFinite);
    const max = Math.max(1, ...vals) * 1.1;
    out.push(
      `<rect x="${x0}" y="${y + 16}" width="${w.toFixed(1)}" height="${ch}" fill="none" stroke="#d1d5db"/>`,
    );
    out.push(`<text x="${x0}" y="${y + 10}" font-size="12" fill="${color}">${esc(title)}</text>`);
    out.push(
      `<text x="${x0 - 4}" y="${y + 24}" font-size="10" text-anchor="end" fill="#6b7280">${num(max)}</text>`,
    );
    out.push(
      `<text x="${x0 - 4}" y="${y + 16 + ch}" font-size="10" text-anchor="end" fill="#6b7280">0</text>`,
    );
    out.push(
      `<text x="${x0 + w}" y="${y + 28 + ch}" font-size="10" text-anchor="end" fill="#6b7280">${maxT} s</text>`,
    );
    const pts = samples
      .filter((p) => Number.isFinite(p[key]))
      .map(
        (p) => `${(x0 + (p.second / maxT) * w).toFixed(1)},${(y + 16 + ch - (p[key] / max) * ch).toFixed(1)}`,
      );
    out.push(`<polyline points="${pts.join(" ")}" fill="none" stroke="${color}" stroke-width="1.5"/>`);
  });
  return y + ch + 44;
}
