/** The benchmark suite's renderings (pure logic): ratios, the markdown table, the peers table, the SVG. */
import { describe, expect, it } from "vitest";
import {
  figure,
  markdownReport,
  markdownTable,
  num,
  peersTable,
  ratio,
  renderSvg,
  type SuiteResult,
} from "../../bench/report.js";

const result: SuiteResult = {
  date: "2026-11-25T02:02:00.000Z",
  machine: { cpus: 2, cpuModel: "Test CPU", memoryGB: 24, node: "v20.20.2", os: "Linux 6" },
  options: { quick: false, durationSeconds: 60, only: [] },
  totalSeconds: 369,
  scenarios: [
    {
      id: 2,
      key: "warm-latency",
      title: "Warm read latency",
      seconds: 15,
      rows: [
        {
          measure: "warm 4 KB read via pool, p50",
          ours: { value: 0.5, unit: "ms" },
          baseline: { name: "raw ssh2 sftp.readFile", value: { value: 0.75, unit: "ms" } },
          reference: "0.08 ms | dict",
        },
        {
          measure: "mixed units",
          ours: { value: 3, unit: "conn" },
          baseline: { name: "x", value: { value: 2, unit: "ms" } },
        },
      ],
      chart: [
        {
          label: "warm read <engine>",
          ours: { p50: 0.5, p99: 3.8 },
          baseline: { name: "raw", p50: 0.75, p99: 11 },
          reference: { name: "Python", p50: 10.6, p99: 11 },
        },
        { label: "throughput", ours: { rps: 9928 }, baseline: { name: "raw", rps: 7680 } },
      ],
    },
    { id: 13, key: "peers", title: "Peers", seconds: 1, rows: [], chart: [], error: "npm refused" },
  ],
};

describe("bench report", () => {
  it("formats numbers and figures for people", () => {
    expect(num(9928.4)).toBe("9,928");
    expect(num(100)).toBe("100");
    expect(num(0.514)).toBe("0.514");
    expect(num(12.34)).toBe("12.3");
    expect(num(NaN)).toBe("—");
    expect(figure({ value: 2.17, unit: "RTT" })).toBe("2.17 RTT");
    expect(figure({ value: 2.5, unit: "×" })).toBe("2.50×");
    expect(figure("unavailable")).toBe("unavailable");
  });

  it("computes ratios only between figures of the same unit", () => {
    expect(ratio(result.scenarios[0]!.rows[0]!)).toBeCloseTo(0.5 / 0.75);
    expect(ratio(result.scenarios[0]!.rows[1]!)).toBeUndefined();
  });

  it("prints one markdown row per measure, escapes pipes, and reports failed scenarios", () => {
    const table = markdownTable(result);
    const lines = table.trim().split("\n");
    expect(lines).toHaveLength(2 + 2 + 1);
    expect(lines[2]).toContain("| 2 | Warm read latency | warm 4 KB read via pool, p50 | 0.500 ms |");
    expect(lines[2]).toContain("0.667×");
    expect(lines[2]).toContain("0.08 ms \\| dict");
    expect(lines[4]).toContain("failed: npm refused");
    expect(markdownReport(result)).toContain("2026-11-25 02:02 UTC · 2 × Test CPU");
  });

  it("renders the peers table from scenario 13's raw data", () => {
    expect(peersTable(result)).toBe("");
    const withPeers: SuiteResult = {
      ...result,
      scenarios: [
        {
          ...result.scenarios[1]!,
          error: undefined,
          extra: {
            versions: { "ssh-mcp": "2.11.0" },
            paths: [
              {
                server: "ssh-mcp",
                tool: "sftp-download",
                op: "read",
                status: "ok",
                p50: 18.6,
                p99: 35,
                rps1: 48,
                rps8: 62,
              },
              { server: "mcp-ssh-manager", tool: "(install)", op: "read", status: "unavailable: E404" },
            ],
          },
        },
      ],
    };
    const t = peersTable(withPeers);
    expect(t).toContain("ssh-mcp 2.11.0");
    expect(t).toContain("| 4 KB log read | ssh-mcp | sftp-download | 18.6 | 35 | 48 | 62 | ok |  |");
    expect(t).toContain("| mcp-ssh-manager | (install) |  |  |  |  | unavailable: E404 |");
  });

  it("renders a well-formed SVG with a bar and a label per series, text escaped", () => {
    const svg = renderSvg(result);
    expect(svg.startsWith("<svg ")).toBe(true);
    expect(svg.trim().endsWith("</svg>")).toBe(true);
    expect(svg).toContain("2. warm read &lt;engine&gt;");
    expect(svg).toContain("Scout: p50 0.500 / p99 3.80 ms");
    expect(svg).toContain("Python: p50 10.6 / p99 11 ms");
    expect(svg).toContain("Scout: 9,928 req/s");
    // Every opened element is closed (no stray "<" from unescaped labels).
    const opened = (svg.match(/<(rect|line|polyline)\b[^>]*\/>/g) ?? []).length;
    expect(opened).toBeGreaterThan(6);
    expect((svg.match(/<text\b/g) ?? []).length).toBe((svg.match(/<\/text>/g) ?? []).length);
  });
});
