/**
 * Shared setup for the operations tests: a lab fleet, a real Fleet (pool and connections) wired to
 * it, and the HostAccess of each lab host, exactly as the MCP layer gets them.
 */
import { execFileSync } from "node:child_process";
import { settingsWith } from "../../src/config/settings.js";
import { limitsFrom, type Limits } from "../../src/ops/limits.js";
import type { Fleet } from "../../src/ssh/fleet.js";
import type { HostAccess } from "../../src/ssh/types.js";
import { startFleet, type LabFleet } from "../fleet/index.js";
import { makeFleet } from "../ssh/helpers.js";

export interface OpsLab {
  lab: LabFleet;
  fleet: Fleet;
  /** HostAccess of lab host i. */
  host(i?: number): HostAccess;
  /** The default limits (1 MiB file and output caps, 30 s command timeout), with overrides. */
  limits(overrides?: Partial<Limits>): Limits;
  stop(): Promise<void>;
}

export async function startOpsLab(hosts = 1): Promise<OpsLab> {
  const lab = await startFleet({ hosts });
  const fleet = makeFleet(
    lab,
    lab.hosts.map((h) => ({ alias: h.alias, port: h.port })),
  );
  const defaults = limitsFrom(settingsWith());
  return {
    lab,
    fleet,
    host: (i = 0) => fleet.host(lab.hosts[i]!.alias),
    limits: (overrides = {}) => ({ ...defaults, ...overrides }),
    stop: async () => {
      await fleet.close();
      await lab.stop();
    },
  };
}

/**
 * The fleet user's live processes whose command line is exactly `args` (so that a shell whose
 * script mentions it does not count), as { pid, pgid }.
 */
export function userProcesses(user: string, args: string): Array<{ pid: number; pgid: number }> {
  let out: string;
  try {
    out = execFileSync("ps", ["-u", user, "-o", "pid=,pgid=,stat=,args="], { encoding: "utf8" });
  } catch {
    return []; // ps exits 1 when the user has no processes at all
  }
  const found: Array<{ pid: number; pgid: number }> = [];
  for (const line of out.split("\n")) {
    const m = /^\s*(\d+)\s+(\d+)\s+(\S+)\s+(.*)$/.exec(line);
    // Zombies (state Z) are dead already, only not reaped yet by their parent.
    if (m && m[4] === args && !m[3]!.startsWith("Z")) found.push({ pid: Number(m[1]), pgid: Number(m[2]) });
  }
  return found;
}

/** Polls `check` until it returns true or `ms` pass; returns the last result. */
export async function eventually(check: () => boolean, ms = 5000, every = 50): Promise<boolean> {
  const until = performance.now() + ms;
  for (;;) {
    if (check()) return true;
    if (performance.now() > until) return false;
    await new Promise((r) => setTimeout(r, every));
  }
}

/** Samples this process's memory while `fn` runs; returns fn's result and the peak growth. */
export async function withMemoryPeak<T>(
  fn: () => Promise<T>,
): Promise<{ result: T; rssGrowth: number; heapGrowth: number; externalGrowth: number }> {
  globalThis.gc?.();
  const base = process.memoryUsage();
  let peak = { rss: base.rss, heap: base.heapUsed, external: base.external + base.arrayBuffers };
  let samples = 0;
  const sample = () => {
    // Collect garbage every 50 ms: V8 lets up to ~64 MiB of dead Buffers wait for external-memory
    // pressure, which would show as growth that nothing retains.
    if (++samples % 10 === 0) globalThis.gc?.();
    const m = process.memoryUsage();
    peak = {
      rss: Math.max(peak.rss, m.rss),
      heap: Math.max(peak.heap, m.heapUsed),
      external: Math.max(peak.external, m.external + m.arrayBuffers),
    };
  };
  const timer = setInterval(sample, 5);
  try {
    const result = await fn();
    sample();
    return {
      result,
      rssGrowth: peak.rss - base.rss,
      heapGrowth: peak.heap - base.heapUsed,
      externalGrowth: peak.external - (base.external + base.arrayBuffers),
    };
  } finally {
    clearInterval(timer);
  }
}
