import { execFileSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { parse, stringify } from "yaml";
import { ScoutMetrics } from "../../src/observe/metrics.js";

const ALERTS = new URL("../../deploy/prometheus/alerts.yml", import.meta.url);
const ALERT_TESTS = new URL("../../deploy/prometheus/alerts.test.yml", import.meta.url);
const DASHBOARD = new URL("../../deploy/grafana/scout.json", import.meta.url);
const PROMTOOL = "/usr/bin/promtool";

interface Dashboard {
  title: string;
  templating: { list: Array<{ name: string }> };
  panels: Array<{ title: string; targets: Array<{ expr: string }> }>;
}

function dashboard(): Dashboard {
  return JSON.parse(readFileSync(DASHBOARD, "utf8")) as Dashboard;
}

async function exportedNames(): Promise<Set<string>> {
  const m = new ScoutMetrics({
    fleetStats: () => ({
      open: 1,
      maxPoolSize: 10,
      waitingForSlot: 0,
      // A connected host, so that the per-host RTT gauges have a series.
      hosts: [
        {
          alias: "h",
          connections: 1,
          connecting: 0,
          idle: 1,
          waiting: 0,
          rtt: {
            srttMs: 0.4,
            rttvarMs: 0.1,
            rtoMs: 1.4,
            minMs: 0.2,
            samples: 3,
            pipelined: false,
            openAhead: false,
            deadlineMs: 1000,
          },
        },
      ],
    }),
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

  it.runIf(existsSync(PROMTOOL))("passes promtool check rules", () => {
    const out = execFileSync(PROMTOOL, ["check", "rules", ALERTS.pathname], { encoding: "utf8" });
    expect(out).toMatch(/SUCCESS: \d+ rules found/);
  });

  it("has a promtool unit test that fires every alert", () => {
    const tests = parse(readFileSync(ALERT_TESTS, "utf8")) as {
      rule_files: string[];
      tests: Array<{ alert_rule_test?: Array<{ alertname: string; exp_alerts?: unknown[] }> }>;
    };
    expect(tests.rule_files).toEqual(["alerts.yml"]);
    const fired = new Set(
      tests.tests.flatMap((t) =>
        (t.alert_rule_test ?? []).filter((a) => (a.exp_alerts ?? []).length > 0).map((a) => a.alertname),
      ),
    );
    for (const r of rules) expect(fired, `no test fires ${r.alert}`).toContain(r.alert);
  });

  it.runIf(existsSync(PROMTOOL))("passes its promtool unit tests (promtool test rules)", () => {
    const out = execFileSync(PROMTOOL, ["test", "rules", ALERT_TESTS.pathname], { encoding: "utf8" });
    expect(out).toContain("SUCCESS");
  });
});

describe("deploy/grafana/scout.json", () => {
  it("is a dashboard whose queries name exported metrics", async () => {
    const dash = dashboard();
    expect(dash.title).toBe("Scout MCP");
    const names = await exportedNames();
    expect(dash.panels.length).toBeGreaterThanOrEqual(10);
    for (const p of dash.panels)
      for (const t of p.targets) for (const n of metricNamesIn(t.expr)) expect(names).toContain(n);
  });

  it("shows every scout_* metric and the process metrics the alerts watch, per instance", async () => {
    const dash = dashboard();
    const exprs = dash.panels.flatMap((p) => p.targets.map((t) => t.expr));
    const shown = new Set(exprs.flatMap(metricNamesIn).map((n) => n.replace(/_(bucket|count|sum)$/, "")));
    const families = [...(await exportedNames())]
      .filter((n) => n.startsWith("scout_"))
      .map((n) => n.replace(/_(bucket|count|sum)$/, ""));
    for (const f of [...families, "process_open_fds", "process_max_fds", "process_resident_memory_bytes"]) {
      expect(shown, f).toContain(f);
    }
    expect(dash.templating.list.map((v) => v.name)).toEqual(["datasource", "instance"]);
    for (const e of exprs) expect(e, e).toContain('instance=~"$instance"');
  });

  it.runIf(existsSync(PROMTOOL))("has only valid PromQL (promtool parses every query)", () => {
    const exprs = dashboard().panels.flatMap((p) => p.targets.map((t) => t.expr));
    const dir = mkdtempSync(join(tmpdir(), "scout-dash-"));
    try {
      const file = join(dir, "dashboard-queries.yml");
      const asRules = exprs.map((e, i) => ({
        record: `scout:dashboard_query_${i}`,
        expr: e.replaceAll("$instance", ".*"),
      }));
      writeFileSync(file, stringify({ groups: [{ name: "dashboard", rules: asRules }] }));
      const out = execFileSync(PROMTOOL, ["check", "rules", file], { encoding: "utf8" });
      expect(out).toContain(`SUCCESS: ${exprs.length} rules found`);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
