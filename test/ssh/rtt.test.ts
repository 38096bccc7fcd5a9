/** Unit tests of the pure parts of RTT adaptation: the RFC 6298 estimator and the probe logic. */
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { Liveness } from "../../src/ssh/liveness.js";
import { RttEstimator, connectDeadline, rttDeadline } from "../../src/ssh/rtt.js";

describe("RttEstimator (RFC 6298)", () => {
  it("starts from the first sample: SRTT = R, RTTVAR = R/2", () => {
    const e = new RttEstimator();
    expect(e.srttMs).toBeUndefined();
    expect(e.rtoMs).toBeUndefined();
    e.sample(100);
    expect(e.snapshot()).toMatchObject({ srttMs: 100, rttvarMs: 50, rtoMs: 300, minMs: 100, samples: 1 });
  });

  it("smooths later samples with alpha 1/8 and beta 1/4, RTTVAR from the old SRTT", () => {
    const e = new RttEstimator();
    e.sample(100);
    e.sample(200);
    // RTTVAR = 3/4·50 + 1/4·|100−200| = 62.5; SRTT = 7/8·100 + 1/8·200 = 112.5
    expect(e.snapshot().rttvarMs).toBeCloseTo(62.5);
    expect(e.srttMs).toBeCloseTo(112.5);
    expect(e.rtoMs).toBeCloseTo(112.5 + 250);
    expect(e.snapshot().minMs).toBe(100);
  });

  it("keeps RTO at least SRTT + 1 ms (clock granularity) on a steady link", () => {
    const e = new RttEstimator();
    for (let i = 0; i < 200; i++) e.sample(0.2);
    expect(e.srttMs).toBeCloseTo(0.2);
    expect(e.rtoMs).toBeCloseTo(1.2);
  });

  it("ignores samples that are not durations", () => {
    const e = new RttEstimator();
    e.sample(Number.NaN);
    e.sample(-1);
    e.sample(Number.POSITIVE_INFINITY);
    expect(e.samples).toBe(0);
  });
});

describe("rttDeadline", () => {
  const bounds = { minMs: 1000, maxMs: 30_000 };
  it("is `rounds` RTOs within the bounds, or the fallback before any sample", () => {
    expect(rttDeadline(1.2, 4, bounds, 30_000)).toBe(1000); // LAN: the lower bound
    expect(rttDeadline(600, 4, bounds, 30_000)).toBe(2400); // 300 ms WAN: its own RTT decides
    expect(rttDeadline(20_000, 4, bounds, 30_000)).toBe(30_000); // capped
    expect(rttDeadline(undefined, 4, bounds, 30_000)).toBe(30_000);
    expect(rttDeadline(undefined, 4, bounds, 10)).toBe(1000);
  });
});

describe("connectDeadline", () => {
  it("stretches the configured deadline to 20 RTOs of a known RTT, never shortens it", () => {
    expect(connectDeadline(10_000, undefined, 30_000)).toBe(10_000); // first contact
    expect(connectDeadline(2000, 1.2, 30_000)).toBe(2000); // LAN: configured
    expect(connectDeadline(2000, 600, 30_000)).toBe(12_000); // 300 ms WAN
    expect(connectDeadline(2000, 5000, 30_000)).toBe(30_000); // capped
  });
});

describe("Liveness", () => {
  beforeEach(() => {
    vi.useFakeTimers();
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  function harness(answer: boolean) {
    const pending: Array<() => void> = [];
    let sent = 0;
    const dead: string[] = [];
    const rtt = new RttEstimator();
    const l = new Liveness({
      ping: (onReply) => {
        sent++;
        if (answer) pending.push(onReply);
      },
      rtt,
      intervalMs: 5000,
      bounds: { minMs: 200, maxMs: 2000 },
      countMax: 3,
      onDead: (why) => dead.push(why),
    });
    return { l, pending, dead, rtt, sent: () => sent };
  }

  it("declares a silent peer dead after countMax late probes, re-probing at each deadline", () => {
    const h = harness(false);
    h.l.start();
    expect(h.sent()).toBe(1);
    // No RTT yet: the first probe gets the upper bound.
    vi.advanceTimersByTime(1999);
    expect(h.sent()).toBe(1);
    vi.advanceTimersByTime(1);
    expect(h.sent()).toBe(2);
    vi.advanceTimersByTime(2000);
    expect(h.sent()).toBe(3);
    expect(h.dead).toEqual([]);
    vi.advanceTimersByTime(2000);
    expect(h.dead).toHaveLength(1);
    expect(h.dead[0]).toMatch(/no keepalive reply within 2\.0 s, 3 times in a row/);
    vi.advanceTimersByTime(60_000);
    expect(h.sent()).toBe(3); // stopped
  });

  it("keeps an answering peer alive, probing on the interval, with deadlines from its RTT", () => {
    const h = harness(true);
    h.l.start();
    h.pending.shift()?.();
    expect(h.rtt.samples).toBe(1);
    for (let i = 0; i < 10; i++) {
      vi.advanceTimersByTime(5000);
      expect(h.sent()).toBe(2 + i);
      h.pending.shift()?.();
    }
    expect(h.dead).toEqual([]);
    // Replies took ~0 ms: the deadline is the lower bound.
    expect(h.l.deadlineMs()).toBe(200);
  });

  it("probeNow tightens the deadline of a probe sent before the RTT was known", () => {
    const h = harness(false);
    h.l.start(); // no RTT: deadline 2000 ms
    h.rtt.sample(1); // e.g. an SFTP reply measured meanwhile
    h.l.probeNow();
    expect(h.sent()).toBe(1);
    vi.advanceTimersByTime(200); // now the lower bound applies
    expect(h.sent()).toBe(2);
  });

  it("probeNow probes at once unless a probe is out", () => {
    const h = harness(true);
    h.l.start();
    h.l.probeNow();
    expect(h.sent()).toBe(1);
    h.pending.shift()?.();
    h.l.probeNow();
    expect(h.sent()).toBe(2);
  });
});
