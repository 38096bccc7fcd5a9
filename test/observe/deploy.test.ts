import { execFileSync } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { parse } from "yaml";
import { ScoutMetrics } from "../../src/observe/metrics.js";

const ALERTS = new URL("../../deploy/prometheus/alerts.yml", import.meta.url);
const DASHBOARD = new URL("../../deploy/grafana/scout.json", import.meta.url);

async function exportedNames(): Promise<Set<string>> {
  const m = new ScoutMetrics({
    fleetStats: () => ({ open: 0, maxPoolSize: 10, waitingForSlot: 0, hosts: [] }),
  });
  // Touch labelled series so that they appear in the exposition.
  m.requests.inc({ mode: "read", outcome: "ok" });
  m.requestDuration.observe({ mode: "read" }, 0.01);
  m.rejected.inc({ reason: "busy" });
  m.connectionFailures.inc({ host: "h", reason: "dns" });
  m.connectionCreation.observe({ host: "h" }, 0.1);
  m.poolWait.observe({ host: "h" }, 0.1);
  m.poolHits.inc({ host: "h" });
  m.poolMisses.inc({ host: "h" });
  m.poolEvictions.inc({ host: "h" });
  m.outputBytes.observe({ mode: "read" }, 10);
  m.hostUp.set({ host: "h" }, 1);
  const text = (await m.render()).body;
  const names = new Set<string>(["up"]);
  for (const line of text.split("\n")) {
    const match = /^([a-zA-Z_:][a-zA-Z0-9_:]*)[{ ]/.exec(line);
    if (match?.[1]) names.add(match[1]);
  }
  return names;
}

function metricNamesIn(expr: string): string[] {
  const withoutStrings = expr.replace(/"[^"]*"/g, '""').replace(/\{[^}]*\}/g, "{}");
  const idents = withoutStrings.match(/[a-zA-Z_:][a-zA-Z0-9_:]*/g) ?? [];
  const promql = new Set([
    "sum",
    "by",
    "rate",
    "histogram_quantile",
    "le",
    "mode",
    "scalar",
    "clamp_min",
    "count",
    "job",
    "reason",
    "instance",
    "without",
    "avg",
    "max",
    "min",
    "e",
    "state",
    "host",
    "outcome",
  ]);
  return idents.filter((i) => !promql.has(i) && !/^\d/.test(i) && (i.includes("_") || i === "up"));
}

describe("deploy/prometheus/alerts.yml", () => {
  const doc = parse(readFileSync(ALERTS, "utf8")) as {
    groups: Array<{
      name: string;
      rules: Array<{ alert: string; expr: string; labels: { severity: string } }>;
    }>;
  };
  const rules = doc.groups.flatMap((g) => g.rules);

  it("covers what operators need", () => {
    const exprs = rules.map((r) => r.expr).join("\n");
    for (const needle of [
      "scout_pool_max_connections", // pool near its cap
      "scout_connection_failures_total", // failure ratio
      "scout_request_duration_seconds_bucket", // p95 latency
      "scout_requests_rejected_total", // rejected calls
      "process_open_fds", // fds near the limit
      "process_resident_memory_bytes", // memory
    ]) {
      expect(exprs).toContain(needle);
    }
    for (const r of rules) expect(["critical", "warning", "info"]).toContain(r.labels.severity);
  });

  it("every expression names only metrics Scout exports", async () => {
    const names = await exportedNames();
    for (const r of rules) {
      for (const n of metricNamesIn(r.expr)) expect(names, `${r.alert}: ${n}`).toContain(n);
    }
  });

  it.runIf(existsSync("/usr/bin/promtool"))("passes promtool check rules", () => {
    const out = execFileSync("/usr/bin/promtool", ["check", "rules", ALERTS.pathname], { encoding: "utf8" });
    expect(out).toMatch(/SUCCESS: \d+ rules found/);
  });
});

describe("deploy/grafana/scout.json", () => {
  it("is a dashboard whose queries name exported metrics", async () => {
    const dash = JSON.parse(readFileSync(DASHBOARD, "utf8")) as {
      title: string;
      panels: Array<{ targets: Array<{ expr: string }> }>;
    };
    expect(dash.title).toBe("Scout MCP");
    const names = await exportedNames();
    expect(dash.panels.length).toBeGreaterThanOrEqual(10);
    for (const p of dash.panels)
      for (const t of p.targets) for (const n of metricNamesIn(t.expr)) expect(names).toContain(n);
  });
});
