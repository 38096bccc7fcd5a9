/**
 * Connection warming against real sshds: SCOUT_WARM_HOSTS connects at start-up within the pool
 * cap, recently used hosts are re-dialed in the background after a drop (backing off while dead),
 * and connections we closed on purpose are not re-dialed. Connections are counted at fault proxies.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { FaultProxy } from "../../src/lab/index.js";
import { startFleet, type LabFleet } from "../fleet/index.js";
import { collect, countingObserver, makeFleet, type TestHost } from "./helpers.js";

let lab: LabFleet;

beforeAll(async () => {
  lab = await startFleet({ hosts: 1 });
});

afterAll(async () => {
  await lab?.stop();
});

async function proxies(n: number): Promise<{ proxies: FaultProxy[]; hosts: TestHost[] }> {
  const ps: FaultProxy[] = [];
  for (let i = 0; i < n; i++) ps.push(await lab.proxy(0));
  return {
    proxies: ps,
    hosts: ps.map((p, i) => ({ alias: `w${i}`, port: p.port, expectedKey: lab.hosts[0]!.hostKeyPublic })),
  };
}

/** Waits for a condition; generous bounds, because a loaded machine must not fail these tests. */
async function until(what: string, cond: () => boolean, ms = 20_000): Promise<void> {
  const end = performance.now() + ms;
  while (!cond()) {
    if (performance.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe("connection warming", () => {
  it("connects the warm hosts at start-up, and their first call finds the connection open", async () => {
    const { proxies: ps, hosts } = await proxies(3);
    const obs = countingObserver();
    const fleet = makeFleet(lab, hosts, {}, obs);
    try {
      expect(fleet.warm(["w0", "w1"])).toEqual({ warm: 2, fit: 2 });
      await until("two warm connections", () => fleet.isConnected("w0") && fleet.isConnected("w1"));
      expect(ps.map((p) => p.accepted)).toEqual([1, 1, 0]);
      const out = await fleet.host("w0").exec("echo warm").then(collect);
      expect(out.stdout).toBe("warm\n");
      expect(obs.counts.hit).toBe(1); // served from the warm connection, no connect on the call
      expect(obs.counts.miss).toBeUndefined();
      expect(ps[0]!.accepted).toBe(1);
    } finally {
      await fleet.close();
      await Promise.all(ps.map((p) => p.close()));
    }
  });

  it("stays within the pool cap, and a client's request still gets a slot", async () => {
    const { proxies: ps, hosts } = await proxies(4);
    const fleet = makeFleet(lab, hosts, { maxPoolSize: 2 });
    try {
      expect(fleet.warm(["w0", "w1", "w2"])).toEqual({ warm: 3, fit: 2 });
      await until("the cap filled with warm connections", () => fleet.stats().open === 2);
      await sleep(300); // no third warm connection comes later
      expect(ps.slice(0, 3).reduce((n, p) => n + p.open, 0)).toBe(2);
      // A request to a cold host evicts an idle warm connection rather than waiting or exceeding.
      const out = await fleet.host("w3").exec("echo cold").then(collect);
      expect(out.stdout).toBe("cold\n");
      expect(fleet.stats().open).toBeLessThanOrEqual(2);
      expect(ps.reduce((n, p) => n + p.maxOpen, 0)).toBeLessThanOrEqual(3);
    } finally {
      await fleet.close();
      await Promise.all(ps.map((p) => p.close()));
    }
  });

  it("a warm host whose connection drops is re-dialed in the background", async () => {
    const { proxies: ps, hosts } = await proxies(1);
    const fleet = makeFleet(lab, hosts);
    try {
      fleet.warm(["w0"]);
      await until("warm", () => fleet.isConnected("w0"));
      ps[0]!.cutAll();
      await until("re-dialed", () => ps[0]!.accepted === 2 && fleet.isConnected("w0"));
      expect(ps[0]!.open).toBe(1);
    } finally {
      await fleet.close();
      await ps[0]!.close();
    }
  });

  it("a recently used host is re-dialed after a drop; an idle-closed one is not", async () => {
    const { proxies: ps, hosts } = await proxies(2);
    // "Recently" is a minute here, so the test does not depend on how fast the machine is; idle
    // connections are reaped after 600 ms.
    const fleet = makeFleet(lab, hosts, { idleTimeoutMs: 600 }, {}, { redialRecentMs: 60_000 });
    try {
      await fleet.host("w0").exec("true").then(collect);
      await fleet.host("w1").exec("true").then(collect);
      ps[0]!.cutAll();
      await until("w0 re-dialed without a request", () => ps[0]!.accepted === 2);
      // w1 is reaped as idle (we closed it): it stays closed. So is w0's re-dialed connection.
      await until("both reaped", () => !fleet.isConnected("w1") && !fleet.isConnected("w0"));
      await sleep(400);
      expect(ps.map((p) => p.accepted)).toEqual([2, 1]);
      expect(ps.map((p) => p.open)).toEqual([0, 0]);
    } finally {
      await fleet.close();
      await Promise.all(ps.map((p) => p.close()));
    }
  });

  it("a dead warm host is retried with back-off, not in a loop", async () => {
    const { proxies: ps, hosts } = await proxies(1);
    const obs = countingObserver();
    ps[0]!.refuse = true;
    const fleet = makeFleet(lab, hosts, {}, obs, { backoffBaseMs: 100, backoffMaxMs: 400 });
    try {
      fleet.warm(["w0"]);
      await sleep(1500);
      // Attempts at ~0, 100, 300, 700, 1100, 1500 ms: a handful, not the hundreds of a loop
      // (fewer when the machine is slow, never more).
      const attempts = obs.counts["connectFailed:connection-refused"] ?? 0;
      expect(attempts).toBeGreaterThanOrEqual(1);
      expect(attempts).toBeLessThanOrEqual(7);
      ps[0]!.refuse = false;
      await until("warm once the host is back", () => fleet.isConnected("w0"));
    } finally {
      await fleet.close();
      await ps[0]!.close();
    }
  });
});
