/**
 * Prometheus metrics (prom-client). One registry per app so tests can run several servers in one
 * process. Host labels only ever carry configured aliases (bounded cardinality).
 */
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from "prom-client";
import type { ConnectionRtt } from "../ssh/connection.js";
import type { FleetObserver, FleetStats } from "../ssh/fleet.js";

export const REQUEST_MODES = [
  "hosts",
  "read",
  "list",
  "tree",
  "find",
  "command",
  "diff",
  "broadcast",
  "beam",
  "resource",
] as const;

export const REJECT_REASONS = ["busy", "rate", "auth", "policy", "timeout", "origin"] as const;
export type RejectReason = (typeof REJECT_REASONS)[number];

export const REQUEST_OUTCOMES = ["ok", "error", "rejected"] as const;

export class ScoutMetrics {
  readonly registry = new Registry();
  readonly poolConnections: Gauge<"state">;
  readonly poolHits: Counter<"host">;
  readonly poolMisses: Counter<"host">;
  readonly poolEvictions: Counter<"host">;
  readonly poolWait: Histogram<"host">;
  readonly connectionCreation: Histogram<"host">;
  readonly connectionFailures: Counter<"host" | "reason">;
  readonly requestDuration: Histogram<"mode">;
  readonly requests: Counter<"mode" | "outcome">;
  readonly inFlight: Gauge;
  readonly queued: Gauge;
  readonly rejected: Counter<"reason">;
  readonly outputBytes: Histogram<"mode">;
  readonly hostUp: Gauge<"host">;

  constructor(opts: { defaultMetrics?: boolean; fleetStats?: () => FleetStats } = {}) {
    const registers = [this.registry];
    if (opts.defaultMetrics ?? true) collectDefaultMetrics({ register: this.registry });
    const fleetStats = opts.fleetStats;
    this.poolConnections = new Gauge({
      name: "scout_pool_connections",
      help: "Open SSH connections by state",
      labelNames: ["state"],
      registers,
      collect() {
        if (!fleetStats) return;
        const s = fleetStats();
        let idle = 0;
        let active = 0;
        let connecting = 0;
        for (const h of s.hosts) {
          idle += h.idle;
          active += h.connections - h.idle;
          connecting += h.connecting;
        }
        this.set({ state: "idle" }, idle);
        this.set({ state: "active" }, active);
        this.set({ state: "connecting" }, connecting);
      },
    });
    new Gauge({
      name: "scout_pool_max_connections",
      help: "The configured cap on open SSH connections (SCOUT_MAX_POOL_SIZE)",
      registers,
      collect() {
        if (fleetStats) this.set(fleetStats().maxPoolSize);
      },
    });
    // Per host, from its most recently used connection (series exist while it is connected).
    const rttGauge = (name: string, help: string, value: (r: ConnectionRtt) => number | undefined) =>
      new Gauge({
        name,
        help,
        labelNames: ["host"],
        registers,
        collect() {
          this.reset();
          if (!fleetStats) return;
          for (const h of fleetStats().hosts) {
            const v = h.rtt ? value(h.rtt) : undefined;
            if (v !== undefined) this.set({ host: h.alias }, v);
          }
        },
      });
    rttGauge(
      "scout_connection_rtt_seconds",
      "Smoothed SSH round-trip time (RFC 6298 SRTT) from keepalive replies and lone SFTP requests",
      (r) => (r.srttMs === undefined ? undefined : r.srttMs / 1000),
    );
    rttGauge(
      "scout_connection_rtt_min_seconds",
      "Lowest SSH round trip seen on the connection (decides SFTP pipelining)",
      (r) => (r.minMs === undefined ? undefined : r.minMs / 1000),
    );
    rttGauge(
      "scout_connection_reply_deadline_seconds",
      "Keepalive/overdue-reply deadline derived from the RTT (4 RTOs within SCOUT_RTT_DEADLINE_MIN..MAX)",
      (r) => r.deadlineMs / 1000,
    );
    rttGauge(
      "scout_connection_pipelined",
      "1 when reads pipeline their SFTP requests on the host's connection (RTT at least SCOUT_PIPELINE_MIN_RTT)",
      (r) => (r.pipelined ? 1 : 0),
    );
    this.poolHits = new Counter({
      name: "scout_pool_hits_total",
      help: "Requests served at once by an open connection",
      labelNames: ["host"],
      registers,
    });
    this.poolMisses = new Counter({
      name: "scout_pool_misses_total",
      help: "Requests that had to wait for a connection or channel",
      labelNames: ["host"],
      registers,
    });
    this.poolEvictions = new Counter({
      name: "scout_pool_evictions_total",
      help: "Idle connections closed to make room under the pool cap",
      labelNames: ["host"],
      registers,
    });
    this.poolWait = new Histogram({
      name: "scout_pool_wait_seconds",
      help: "Time spent waiting for a connection or channel",
      labelNames: ["host"],
      buckets: [0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5, 10, 30],
      registers,
    });
    this.connectionCreation = new Histogram({
      name: "scout_connection_creation_seconds",
      help: "Time to open an SSH connection (TCP, handshake, auth)",
      labelNames: ["host"],
      buckets: [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
      registers,
    });
    this.connectionFailures = new Counter({
      name: "scout_connection_failures_total",
      help: "Failed SSH connection attempts by reason",
      labelNames: ["host", "reason"],
      registers,
    });
    this.requestDuration = new Histogram({
      name: "scout_request_duration_seconds",
      help: "Tool call and resource read duration by mode",
      labelNames: ["mode"],
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60],
      registers,
    });
    this.requests = new Counter({
      name: "scout_requests_total",
      help: "Tool calls and resource reads by mode and outcome",
      labelNames: ["mode", "outcome"],
      registers,
    });
    this.inFlight = new Gauge({ name: "scout_requests_in_flight", help: "Calls running now", registers });
    this.queued = new Gauge({ name: "scout_requests_queued", help: "Calls waiting for a slot", registers });
    this.rejected = new Counter({
      name: "scout_requests_rejected_total",
      help: "Calls refused before running, by reason",
      labelNames: ["reason"],
      registers,
    });
    this.outputBytes = new Histogram({
      name: "scout_output_bytes",
      help: "Bytes of text returned per call",
      labelNames: ["mode"],
      buckets: [64, 512, 4096, 32768, 262144, 1048576, 4194304],
      registers,
    });
    this.hostUp = new Gauge({
      name: "scout_host_up",
      help: "1 when the host answered its last probe (or has a live connection), else 0",
      labelNames: ["host"],
      registers,
    });
    // Counters exist at 0 from the start: rate() and increase() miss the first increment of a
    // series that appears out of nowhere, and dashboards show 0 instead of "no data".
    for (const reason of REJECT_REASONS) this.rejected.inc({ reason }, 0);
    for (const mode of REQUEST_MODES)
      for (const outcome of REQUEST_OUTCOMES) this.requests.inc({ mode, outcome }, 0);
  }

  /** Watched files and open 2026-07-28 listen streams, read at scrape time. */
  observeWatches(read: () => { watches: number; listenStreams: number }): void {
    const registers = [this.registry];
    new Gauge({
      name: "scout_watches",
      help: "Watched files (2025 resources/subscribe and 2026-07-28 listen resourceSubscriptions)",
      registers,
      collect() {
        this.set(read().watches);
      },
    });
    new Gauge({
      name: "scout_listen_streams",
      help: "Open subscriptions/listen streams (2026-07-28)",
      registers,
      collect() {
        this.set(read().listenStreams);
      },
    });
  }

  /** A FleetObserver that feeds the pool metrics. */
  fleetObserver(): FleetObserver {
    return {
      hit: (host) => this.poolHits.inc({ host }),
      miss: (host) => this.poolMisses.inc({ host }),
      waited: (host, seconds) => this.poolWait.observe({ host }, seconds),
      connected: (host, seconds) => this.connectionCreation.observe({ host }, seconds),
      connectFailed: (host, reason) => this.connectionFailures.inc({ host, reason }),
      evicted: (host) => this.poolEvictions.inc({ host }),
    };
  }

  /** Replaces every scout_host_up series: hosts no longer configured disappear. */
  setHostStatus(statuses: Iterable<[string, boolean]>, known: Set<string>): void {
    this.hostUp.reset();
    for (const [host, up] of statuses) if (known.has(host)) this.hostUp.set({ host }, up ? 1 : 0);
  }

  async render(): Promise<{ contentType: string; body: string }> {
    return { contentType: this.registry.contentType, body: await this.registry.metrics() };
  }
}
