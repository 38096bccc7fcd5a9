/**
 * `scout(target="hosts")`: concurrent TCP probes with a 2 s timeout, cached for
 * SCOUT_STATUS_CACHE_TTL, and no probe for a host with a live pooled connection. Probes are
 * counted at a FaultProxy in front of a lab host; dead hosts are ports where connects hang.
 */
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startFleet, type FaultProxy, type LabFleet, type SshConfigEntry } from "../fleet/index.js";
import { startHttpScout, startUnansweredPort, type ScoutUnderTest } from "./harness.js";

let lab: LabFleet;
let proxy: FaultProxy;
let dead: { port: number; close(): void };
let fleetConfig: string;
const started: ScoutUnderTest[] = [];

beforeAll(async () => {
  lab = await startFleet({ hosts: 2 });
  [proxy, dead] = await Promise.all([lab.proxy(0), startUnansweredPort()]);
  const entries: SshConfigEntry[] = [];
  for (let i = 0; i < 40; i++) entries.push({ alias: `live-${i}`, port: lab.hosts[i % 2]!.port });
  for (let i = 0; i < 10; i++) entries.push({ alias: `dead-${i}`, port: dead.port });
  entries.push({ alias: "counted", port: proxy.port });
  fleetConfig = await lab.writeSshConfig(entries, "fleet51");
  await lab.writeFile(join(lab.hosts[0]!.root, "f.txt"), "x\n");
});

afterAll(async () => {
  await Promise.allSettled(started.map((s) => s.close()));
  dead?.close();
  await lab?.stop();
});

async function scoutWith(ttlMs: number, sshConfigPath = fleetConfig): Promise<ScoutUnderTest> {
  const s = await startHttpScout(lab, { sshConfigPath, statusCacheTtlMs: ttlMs });
  started.push(s);
  return s;
}

async function timedHosts(s: ScoutUnderTest) {
  const t = performance.now();
  const r = await s.call({ target: "hosts" });
  const ms = performance.now() - t;
  const hosts = (r.structuredContent as { hosts: Array<{ name: string; online: boolean }> }).hosts;
  return { r, ms, online: new Map(hosts.map((h) => [h.name, h.online])) };
}

describe("target='hosts' status", () => {
  it("50 hosts with 10 dead answer in about one probe timeout, not the sum", async () => {
    const s = await scoutWith(0);
    const { r, ms, online } = await timedHosts(s);
    expect(r.isError).toBeFalsy();
    expect(online.size).toBe(51);
    for (let i = 0; i < 40; i++) expect(online.get(`live-${i}`), `live-${i}`).toBe(true);
    for (let i = 0; i < 10; i++) expect(online.get(`dead-${i}`), `dead-${i}`).toBe(false);
    expect(r.text).toContain(`  [✗] dead-3 (offline) -> ${lab.user}@127.0.0.1:${dead.port}`);
    expect(r.text).toContain(`  [✓] live-7 (online) -> ${lab.user}@127.0.0.1:${lab.hosts[1]!.port}`);
    // The dead ones really waited for the 2 s probe timeout…
    expect(ms).toBeGreaterThan(1900);
    // …concurrently: serialized it would be 10 × 2 s. Generous for a loaded 2-core machine.
    expect(ms).toBeLessThan(7000);
  });

  it("caches results for SCOUT_STATUS_CACHE_TTL: the second call probes nothing", async () => {
    const s = await scoutWith(30_000);
    proxy.resetCounters();
    const first = await timedHosts(s);
    expect(first.online.get("counted")).toBe(true);
    expect(proxy.accepted).toBe(1); // one probe through the proxy
    const second = await timedHosts(s);
    expect(proxy.accepted).toBe(1); // cached
    expect(second.online).toEqual(first.online);
    // The dead hosts are cached as offline too: no second 2 s wait.
    expect(second.ms).toBeLessThan(1500);
  });

  it("TTL 0 disables the cache: every call probes", async () => {
    const cfg = await lab.writeSshConfig([{ alias: "counted", port: proxy.port }], "only-counted");
    const s = await scoutWith(0, cfg);
    proxy.resetCounters();
    await timedHosts(s);
    await timedHosts(s);
    expect(proxy.accepted).toBe(2);
  });

  it("a host with a live pooled connection is online without a probe", async () => {
    const cfg = await lab.writeSshConfig(
      [
        { alias: "counted", port: proxy.port },
        { alias: "counted-idle", port: proxy.port },
      ],
      "pooled",
    );
    const s = await scoutWith(0, cfg);
    const read = await s.call({ target: `counted:${lab.hosts[0]!.root}/f.txt` });
    expect(read.text).toBe("x\n");
    proxy.resetCounters();
    proxy.refuse = true; // new connections (and so probes) fail; the pooled one lives on
    try {
      const { online } = await timedHosts(s);
      expect(online.get("counted")).toBe(true);
      expect(online.get("counted-idle")).toBe(false); // same address, no connection: probed, refused
      expect(proxy.accepted).toBe(0);
    } finally {
      proxy.refuse = false;
      await proxy.ready();
    }
  });
});
