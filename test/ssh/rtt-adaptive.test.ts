/**
 * RTT-adaptive behaviour against the real lab fleet, with the delaying proxy giving the RTTs:
 * the pipelining choice per connection, deadlines that follow each host's own RTT, and dead
 * connections found by their RTT-derived deadlines. Behaviour is asserted, never speed: bounds
 * are derived from each connection's own measured deadline, with generous slack.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { readFile } from "../../src/ops/read.js";
import { limitsFrom } from "../../src/ops/limits.js";
import { settingsWith } from "../../src/config/settings.js";
import type { Fleet } from "../../src/ssh/fleet.js";
import { startFleet, type LabFleet } from "../fleet/index.js";
import { countingObserver, makeFleet } from "./helpers.js";

let lab: LabFleet;
let file: string;
const limits = limitsFrom(settingsWith());

beforeAll(async () => {
  lab = await startFleet({ hosts: 1 });
  file = await lab.writeFile("rtt/hello.txt", "hello over a measured link\n".repeat(100));
});

afterAll(async () => {
  await lab?.stop();
});

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function rttOf(fleet: Fleet, alias: string) {
  const rtt = fleet.stats().hosts.find((h) => h.alias === alias)?.rtt;
  if (!rtt) throw new Error(`no RTT reported for ${alias}`);
  return rtt;
}

async function until(what: string, cond: () => boolean, timeoutMs: number): Promise<void> {
  const end = performance.now() + timeoutMs;
  while (!cond()) {
    if (performance.now() > end) throw new Error(`timed out waiting for ${what}`);
    await sleep(20);
  }
}

describe("per-connection pipelining from the measured RTT", () => {
  it("reads alone on a loopback connection go one request at a time; at 60 ms RTT they pipeline", async () => {
    const wan = await lab.proxy(0, { latencyMs: 30 });
    const key = lab.hosts[0]!.hostKeyPublic;
    // 55 ms: above any loopback floor even on a loaded machine (the lowest of several samples),
    // below the 60 ms that no round trip through the proxy can beat.
    const fleet = makeFleet(
      lab,
      [
        { alias: "lan", port: lab.hosts[0]!.port },
        { alias: "wan", port: wan.port, expectedKey: key },
      ],
      { pipelineMinRttMs: 55 },
    );
    try {
      for (const alias of ["lan", "wan"]) {
        const host = fleet.host(alias);
        for (let i = 0; i < 5; i++) {
          const r = await readFile(host, file, limits);
          expect(r.content).toBe("hello over a measured link\n".repeat(100));
        }
      }
      const lan = rttOf(fleet, "lan");
      const wanRtt = rttOf(fleet, "wan");
      expect(lan.samples).toBeGreaterThan(0);
      expect(lan.pipelined, JSON.stringify(lan)).toBe(false);
      expect(wanRtt.pipelined, JSON.stringify(wanRtt)).toBe(true);
      // The proxy adds 30 ms each way: no round trip through it can be shorter.
      expect(wanRtt.minMs).toBeGreaterThanOrEqual(60);
      // Concurrent reads on the LAN session are all answered (they pipeline: the session is busy).
      const many = await Promise.all(
        Array.from({ length: 20 }, () => readFile(fleet.host("lan"), file, limits)),
      );
      for (const r of many) expect(r.bytesRead).toBe(2700);
    } finally {
      await fleet.close();
      await wan.close();
    }
  });

  it("SCOUT_PIPELINE_MIN_RTT=0 pipelines every connection", async () => {
    const fleet = makeFleet(lab, [{ alias: "lan", port: lab.hosts[0]!.port }], { pipelineMinRttMs: 0 });
    try {
      await readFile(fleet.host("lan"), file, limits);
      expect(rttOf(fleet, "lan").pipelined).toBe(true);
    } finally {
      await fleet.close();
    }
  });
});

describe("deadlines that follow each connection's RTT", () => {
  it("a host at 300 ms RTT is not failed by the deadline a LAN host gets", async () => {
    const slow = await lab.proxy(0, { latencyMs: 150 });
    const obs = countingObserver();
    // A LAN-sized lower bound (250 ms) and frequent keepalives: a fixed 250 ms deadline would
    // declare the 300 ms host dead at its first probe.
    const fleet = makeFleet(
      lab,
      [
        { alias: "lan", port: lab.hosts[0]!.port },
        { alias: "far", port: slow.port, expectedKey: lab.hosts[0]!.hostKeyPublic },
      ],
      { rttDeadlineMinMs: 250, rttDeadlineMaxMs: 30_000, keepaliveIntervalMs: 400, connectTimeoutMs: 20_000 },
      obs,
    );
    try {
      await readFile(fleet.host("lan"), file, limits);
      await readFile(fleet.host("far"), file, limits);
      // Several keepalive rounds on both connections.
      await sleep(3000);
      expect(obs.counts["closed:lost"] ?? 0).toBe(0);
      expect(obs.counts.connectStart).toBe(2);
      const far = rttOf(fleet, "far");
      const lan = rttOf(fleet, "lan");
      expect(far.samples).toBeGreaterThanOrEqual(3);
      expect(far.srttMs).toBeGreaterThanOrEqual(300);
      // Its deadline is 4 RTOs of its own RTT: at least 4 × 300 ms, above the LAN bound.
      expect(far.deadlineMs).toBeGreaterThanOrEqual(1200);
      expect(lan.deadlineMs).toBeLessThan(far.deadlineMs);
      const r = await readFile(fleet.host("far"), file, limits);
      expect(r.bytesRead).toBe(2700);
      expect(obs.counts.connectStart).toBe(2); // still the first connection
    } finally {
      await fleet.close();
      await slow.close();
    }
  });

  it("a reconnect to a host measured at 300 ms RTT gets a connect deadline to match", async () => {
    const link = await lab.proxy(0, { latencyMs: 0 });
    const obs = countingObserver();
    // 1.5 s: enough on loopback, too little for a handshake at 300 ms RTT (~10 round trips).
    const fleet = makeFleet(
      lab,
      [{ alias: "far", port: link.port, expectedKey: lab.hosts[0]!.hostKeyPublic }],
      { connectTimeoutMs: 1500, keepaliveIntervalMs: 300, rttDeadlineMinMs: 250, rttDeadlineMaxMs: 30_000 },
      obs,
    );
    try {
      await readFile(fleet.host("far"), file, limits);
      link.latencyMs = 150;
      // Keepalives measure the new RTT.
      await until("an RTT of 300 ms", () => (fleet.stats().hosts[0]?.rtt?.srttMs ?? 0) >= 250, 30_000);
      link.cutAll();
      await until("the cut noticed", () => (obs.counts["closed:lost"] ?? 0) === 1, 30_000);
      const r = await readFile(fleet.host("far"), file, limits);
      expect(r.bytesRead).toBe(2700);
      expect(obs.counts.connectStart).toBe(2);
      expect(Object.keys(obs.counts).filter((k) => k.startsWith("connectFailed"))).toEqual([]);
    } finally {
      await fleet.close();
      await link.close();
    }
  });

  it("a blackholed LAN host is declared dead within a few of its RTT-derived deadlines", async () => {
    const link = await lab.proxy(0, { latencyMs: 0 });
    const obs = countingObserver();
    const keepaliveIntervalMs = 1000;
    const fleet = makeFleet(
      lab,
      [{ alias: "lan", port: link.port, expectedKey: lab.hosts[0]!.hostKeyPublic }],
      { rttDeadlineMinMs: 300, rttDeadlineMaxMs: 30_000, keepaliveIntervalMs, connectTimeoutMs: 2000 },
      obs,
    );
    try {
      await readFile(fleet.host("lan"), file, limits);
      await until("an RTT estimate", () => (fleet.stats().hosts[0]?.rtt?.samples ?? 0) >= 2, 10_000);
      const deadline = rttOf(fleet, "lan").deadlineMs;
      expect(deadline).toBeLessThan(30_000); // derived from the RTT, not the fallback
      // The link goes silent in both directions: nothing is delivered any more.
      link.latencyMs = 1e9;
      const cut = performance.now();
      await until("the connection declared dead", () => (obs.counts["closed:lost"] ?? 0) === 1, 60_000);
      const took = performance.now() - cut;
      // The next probe within one interval, then 3 late replies; deadlines grow at most to 4 RTOs
      // of what was measured. Slack for a loaded machine.
      expect(took).toBeLessThan(keepaliveIntervalMs + 3 * Math.max(deadline, 300) + 10_000);
    } finally {
      await fleet.close();
      await link.close();
    }
  });

  it.each([
    ["one request at a time", 1000],
    ["pipelined", 0],
  ])(
    "a read (%s) stuck on a dead link probes at once, not at the next keepalive",
    async (_, pipelineMinRttMs) => {
      const link = await lab.proxy(0, { latencyMs: 0 });
      const obs = countingObserver();
      // Keepalives every 10 minutes: only the overdue read can trigger the probes.
      const fleet = makeFleet(
        lab,
        [{ alias: "lan", port: link.port, expectedKey: lab.hosts[0]!.hostKeyPublic }],
        {
          rttDeadlineMinMs: 300,
          rttDeadlineMaxMs: 30_000,
          keepaliveIntervalMs: 600_000,
          connectTimeoutMs: 1000,
          pipelineMinRttMs,
        },
        obs,
      );
      try {
        await readFile(fleet.host("lan"), file, limits);
        await until("an RTT estimate", () => (fleet.stats().hosts[0]?.rtt?.samples ?? 0) >= 2, 10_000);
        link.latencyMs = 1e9;
        const cut = performance.now();
        const outcome = await readFile(fleet.host("lan"), file, limits).then(
          () => "read",
          (e: unknown) => (e instanceof Error ? e.message : String(e)),
        );
        const took = performance.now() - cut;
        expect(obs.counts["closed:lost"]).toBe(1);
        // Retried once on a fresh connection, which cannot get through the silent link either.
        expect(outcome).toMatch(/timed out|lost|stopped answering/i);
        expect(took).toBeLessThan(120_000);
      } finally {
        await fleet.close();
        await link.close();
      }
    },
  );
});
