import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { isScoutError } from "../../src/errors.js";
import type { SFTPWrapper, Stats } from "ssh2";
import { findFreePort } from "../../src/lab/index.js";
import { startFleet, type LabFleet } from "../fleet/index.js";
import { HostRegistry } from "../../src/config/registry.js";
import { settingsWith } from "../../src/config/settings.js";
import { Fleet } from "../../src/ssh/fleet.js";
import { createConnectionDeps } from "../../src/ssh/trust.js";
import { collect, countingObserver, makeFleet, type TestHost } from "./helpers.js";

function stat(sftp: SFTPWrapper, path: string): Promise<Stats> {
  return new Promise((resolve, reject) => sftp.stat(path, (err, s) => (err ? reject(err) : resolve(s))));
}

function readFile(sftp: SFTPWrapper, path: string): Promise<string> {
  return new Promise((resolve, reject) =>
    sftp.readFile(path, (err, data) => (err ? reject(err) : resolve(data.toString()))),
  );
}

let lab: LabFleet;
let file: string;

beforeAll(async () => {
  lab = await startFleet({ hosts: 3 });
  file = await lab.writeFile("hello.txt", "hello from the fleet\n");
});

afterAll(async () => {
  await lab?.stop();
});

function hostsOf(n = lab.hosts.length): TestHost[] {
  return lab.hosts.slice(0, n).map((h) => ({ alias: h.alias, port: h.port }));
}

describe("single-flight connect", () => {
  it("500 concurrent cold reads share one connection", async () => {
    const proxy = await lab.proxy(0);
    const obs = countingObserver();
    const fleet = makeFleet(
      lab,
      [{ alias: "p", port: proxy.port, expectedKey: lab.hosts[0]!.hostKeyPublic }],
      {},
      obs,
    );
    try {
      const host = fleet.host("p");
      const results = await Promise.all(
        Array.from({ length: 500 }, () => host.withSftp(({ sftp }) => readFile(sftp, file))),
      );
      expect(results.every((r) => r === "hello from the fleet\n")).toBe(true);
      expect(proxy.accepted).toBe(1);
      expect(obs.counts.connectStart).toBe(1);
      expect(fleet.stats().open).toBe(1);
    } finally {
      await fleet.close();
      await proxy.close();
    }
  });

  it("concurrent requests to a refusing host make one attempt and all get the reason", async () => {
    const proxy = await lab.proxy(0);
    proxy.refuse = true;
    const obs = countingObserver();
    const fleet = makeFleet(lab, [{ alias: "dead", port: proxy.port }], {}, obs, { failureThreshold: 100 });
    try {
      const host = fleet.host("dead");
      const results = await Promise.allSettled(
        Array.from({ length: 50 }, () => host.withSftp(async () => "never")),
      );
      expect(results.every((r) => r.status === "rejected")).toBe(true);
      expect(obs.counts.connectStart).toBe(1);
      const reason = (results[0] as PromiseRejectedResult).reason;
      expect(isScoutError(reason)).toBe(true);
      expect(String(reason.message)).toMatch(/dead/);
    } finally {
      await fleet.close();
      await proxy.close();
    }
  });

  it("10 cold hosts behind 15 ms proxies connect in parallel, not one after another", async () => {
    const proxies = await Promise.all(Array.from({ length: 10 }, () => lab.proxy(0, { latencyMs: 15 })));
    const obs = countingObserver();
    const hosts = proxies.map((p, i) => ({
      alias: `slow-${i}`,
      port: p.port,
      expectedKey: lab.hosts[0]!.hostKeyPublic,
    }));
    const fleet = makeFleet(lab, hosts, {}, obs);
    try {
      await Promise.all(hosts.map((h) => fleet.host(h.alias).withSftp(({ sftp }) => stat(sftp, file))));
      const starts = obs.events.filter((e) => e.type === "connectStart").map((e) => e.at);
      const ends = obs.events.filter((e) => e.type === "connected").map((e) => e.at);
      expect(starts).toHaveLength(10);
      // Every connect started before the first one finished: they overlapped completely.
      expect(Math.max(...starts)).toBeLessThan(Math.min(...ends));
    } finally {
      await fleet.close();
      await Promise.all(proxies.map((p) => p.close()));
    }
  });
});

describe("global cap and eviction", () => {
  it("60 aliases with a pool of 10 never exceed 10 open connections", async () => {
    const proxy = await lab.proxy(0);
    const obs = countingObserver();
    const hosts = Array.from({ length: 60 }, (_, i) => ({
      alias: `alias-${i}`,
      port: proxy.port,
      expectedKey: lab.hosts[0]!.hostKeyPublic,
    }));
    const fleet = makeFleet(lab, hosts, { maxPoolSize: 10 }, obs);
    try {
      const signal = AbortSignal.timeout(30_000);
      const results = await Promise.all(
        hosts.map((h) => fleet.host(h.alias).withSftp(({ sftp }) => readFile(sftp, file), { signal })),
      );
      expect(results).toHaveLength(60);
      expect(proxy.maxOpen).toBeLessThanOrEqual(10);
      expect(fleet.stats().open).toBeLessThanOrEqual(10);
      expect(obs.counts.evicted ?? 0).toBeGreaterThanOrEqual(50);
    } finally {
      await fleet.close();
      await proxy.close();
    }
  });

  it("evicts the least recently used idle connection at the cap", async () => {
    const obs = countingObserver();
    const fleet = makeFleet(lab, hostsOf(3), { maxPoolSize: 2 }, obs);
    try {
      const [a, b, c] = lab.hosts.map((h) => fleet.host(h.alias));
      await a!.withSftp(({ sftp }) => stat(sftp, file));
      await b!.withSftp(({ sftp }) => stat(sftp, file));
      await a!.withSftp(({ sftp }) => stat(sftp, file)); // b is now the least recently used
      await c!.withSftp(({ sftp }) => stat(sftp, file));
      expect(fleet.isConnected(lab.hosts[0]!.alias)).toBe(true);
      expect(fleet.isConnected(lab.hosts[1]!.alias)).toBe(false);
      expect(fleet.isConnected(lab.hosts[2]!.alias)).toBe(true);
      expect(obs.counts.evicted).toBe(1);
    } finally {
      await fleet.close();
    }
  });

  it("an alias the ssh config moves elsewhere: its idle connection is retired, new work goes to the new target", async () => {
    const proxy = await lab.proxy(0);
    const obs = countingObserver();
    const moving: TestHost = { alias: "moving", port: proxy.port, expectedKey: lab.hosts[0]!.hostKeyPublic };
    const fleet = makeFleet(lab, [moving], {}, obs);
    try {
      const before = await fleet.host("moving").exec("echo $SSH_CONNECTION").then(collect);
      expect(proxy.open).toBe(1);
      // The ssh config now points the alias at host 1 (the lookup returns the new config).
      moving.port = lab.hosts[1]!.port;
      moving.expectedKey = lab.hosts[1]!.hostKeyPublic;
      const after = await fleet.host("moving").exec("echo $SSH_CONNECTION").then(collect);
      expect(after.stdout.trim().split(" ")[3]).toBe(String(lab.hosts[1]!.port));
      expect(before.stdout).not.toBe(after.stdout);
      expect(obs.counts["closed:retired"]).toBe(1);
      for (let i = 0; i < 100 && proxy.open > 0; i++) await new Promise((r) => setTimeout(r, 20));
      expect(proxy.open).toBe(0);
      expect(fleet.stats().open).toBe(1);
    } finally {
      await fleet.close();
      await proxy.close();
    }
  });

  it("waits for a busy connection instead of exceeding the cap", async () => {
    const fleet = makeFleet(lab, hostsOf(2), { maxPoolSize: 1 });
    try {
      const a = fleet.host(lab.hosts[0]!.alias);
      const b = fleet.host(lab.hosts[1]!.alias);
      const started = performance.now();
      const long = a.exec("sleep 0.6; echo done").then(collect);
      await new Promise((r) => setTimeout(r, 150));
      const read = b.withSftp(({ sftp }) => readFile(sftp, file), { signal: AbortSignal.timeout(10_000) });
      expect(fleet.stats().open).toBe(1);
      const [longResult, readResult] = await Promise.all([long, read]);
      expect(longResult.stdout).toBe("done\n");
      expect(readResult).toBe("hello from the fleet\n");
      expect(performance.now() - started).toBeGreaterThanOrEqual(600);
      expect(fleet.stats().open).toBe(1);
    } finally {
      await fleet.close();
    }
  });

  it("a waiting request gives up at its own deadline", async () => {
    const fleet = makeFleet(lab, hostsOf(2), { maxPoolSize: 1 });
    try {
      const long = fleet.host(lab.hosts[0]!.alias).exec("sleep 1.5").then(collect);
      await new Promise((r) => setTimeout(r, 100));
      const err = await fleet
        .host(lab.hosts[1]!.alias)
        .withSftp(async () => "x", { signal: AbortSignal.timeout(300) })
        .catch((e: unknown) => e);
      expect(err).toBeInstanceOf(Error);
      await long;
    } finally {
      await fleet.close();
    }
  });
});

describe("channels", () => {
  it("40 concurrent commands on one host (MaxSessions 10) all succeed", async () => {
    const proxy = await lab.proxy(0);
    const fleet = makeFleet(lab, [
      { alias: "busy", port: proxy.port, expectedKey: lab.hosts[0]!.hostKeyPublic },
    ]);
    try {
      const host = fleet.host("busy");
      const results = await Promise.all(
        Array.from({ length: 40 }, (_, i) => host.exec(`sleep 0.2; echo ${i}`).then(collect)),
      );
      // Every command ran on its own channel and returned its own output (exit codes are the exec
      // operation's business: sshd occasionally omits exit-status under load, see ops/exec.ts).
      results.forEach((r, i) => expect(r.stdout).toBe(`${i}\n`));
      expect(proxy.maxOpen).toBeLessThanOrEqual(4);
      expect(proxy.maxOpen).toBeGreaterThan(1);
    } finally {
      await fleet.close();
      await proxy.close();
    }
  });

  it("pipelines SFTP requests from many callers on one session", async () => {
    const fleet = makeFleet(lab, hostsOf(1));
    try {
      const host = fleet.host(lab.hosts[0]!.alias);
      await host.withSftp(({ sftp }) => stat(sftp, file));
      const results = await Promise.all(
        Array.from({ length: 200 }, () => host.withSftp(({ sftp }) => readFile(sftp, file))),
      );
      expect(new Set(results)).toEqual(new Set(["hello from the fleet\n"]));
      expect(fleet.stats().open).toBe(1);
    } finally {
      await fleet.close();
    }
  });

  it("resolves the remote home once per connection", async () => {
    const fleet = makeFleet(lab, hostsOf(1));
    try {
      const home = await fleet.host(lab.hosts[0]!.alias).withSftp(async (ctx) => ctx.home);
      expect(home).toBe(lab.home);
    } finally {
      await fleet.close();
    }
  });
});

describe("failures", () => {
  it("a cut connection is replaced transparently for reads", async () => {
    const proxy = await lab.proxy(0);
    const fleet = makeFleet(lab, [
      { alias: "cut", port: proxy.port, expectedKey: lab.hosts[0]!.hostKeyPublic },
    ]);
    try {
      const host = fleet.host("cut");
      expect(await host.withSftp(({ sftp }) => readFile(sftp, file))).toBe("hello from the fleet\n");
      proxy.cutAll();
      expect(await host.withSftp(({ sftp }) => readFile(sftp, file))).toBe("hello from the fleet\n");
      // Cut again while reads are in flight: each is retried once on a new connection.
      const inFlight = Array.from({ length: 20 }, () => host.withSftp(({ sftp }) => readFile(sftp, file)));
      proxy.cutAll();
      const results = await Promise.all(inFlight);
      expect(results.every((r) => r === "hello from the fleet\n")).toBe(true);
      expect(proxy.accepted).toBeGreaterThanOrEqual(2);
    } finally {
      await fleet.close();
      await proxy.close();
    }
  });

  it("a blackholed host fails within the connect timeout while other hosts stay fast", async () => {
    const proxy = await lab.proxy(0);
    proxy.blackhole = true;
    const fleet = makeFleet(
      lab,
      [
        { alias: "hole", port: proxy.port },
        { alias: lab.hosts[1]!.alias, port: lab.hosts[1]!.port },
      ],
      { connectTimeoutMs: 1000 },
    );
    try {
      const started = performance.now();
      const hole = fleet
        .host("hole")
        .withSftp(async () => "never")
        .catch((e: unknown) => e);
      const fast = fleet.host(lab.hosts[1]!.alias).withSftp(({ sftp }) => readFile(sftp, file));
      expect(await fast).toBe("hello from the fleet\n");
      const fastMs = performance.now() - started;
      const err = await hole;
      const holeMs = performance.now() - started;
      expect(isScoutError(err, "connect-timeout")).toBe(true);
      expect(holeMs).toBeGreaterThanOrEqual(950);
      expect(holeMs).toBeLessThan(5000);
      expect(fastMs).toBeLessThan(holeMs);
    } finally {
      await fleet.close();
      await proxy.close();
    }
  });

  it("a wrong host key is refused and nothing runs", async () => {
    const canary = join(lab.hosts[0]!.root, "canary-hostkey");
    const fleet = makeFleet(lab, [
      // Expect host 1's key on host 0's port: a changed key.
      { alias: "imposter", port: lab.hosts[0]!.port, expectedKey: lab.hosts[1]!.hostKeyPublic },
    ]);
    try {
      const err = await fleet
        .host("imposter")
        .exec(`touch ${canary}`)
        .catch((e: unknown) => e);
      expect(isScoutError(err, "host-key-changed")).toBe(true);
      expect(existsSync(canary)).toBe(false);
    } finally {
      await fleet.close();
    }
  });

  it("marks a host down after repeated connect failures and says when it retries", async () => {
    const proxy = await lab.proxy(0);
    proxy.refuse = true;
    const fleet = makeFleet(
      lab,
      [{ alias: "flaky", port: proxy.port, expectedKey: lab.hosts[0]!.hostKeyPublic }],
      {},
      {},
      {
        failureThreshold: 2,
        backoffBaseMs: 800,
      },
    );
    try {
      const host = fleet.host("flaky");
      for (let i = 0; i < 2; i++) {
        const e = await host.withSftp(async () => 1).catch((x: unknown) => x);
        expect(isScoutError(e, "connection-refused")).toBe(true);
      }
      const accepted = proxy.accepted;
      const down = await host.withSftp(async () => 1).catch((x: unknown) => x);
      expect(isScoutError(down, "host-down")).toBe(true);
      expect(String((down as Error).message)).toMatch(/Next attempt in \d+ s/);
      expect(proxy.accepted).toBe(accepted); // no connect attempted while down
      proxy.refuse = false;
      await new Promise((r) => setTimeout(r, 900));
      expect(await host.withSftp(({ sftp }) => readFile(sftp, file))).toBe("hello from the fleet\n");
    } finally {
      await fleet.close();
      await proxy.close();
    }
  });

  it("a silent peer (its sshd session frozen) is detected by keepalives and replaced", async () => {
    const target = lab.hosts[0]!;
    const fleet = makeFleet(lab, hostsOf(1), { keepaliveIntervalMs: 200 });
    const descendants = (pid: number): number[] => {
      const out = spawnSync("ps", ["-o", "pid=", "--ppid", String(pid)], { encoding: "utf8" }).stdout;
      const kids = out.split("\n").filter(Boolean).map(Number);
      return kids.flatMap((k) => [k, ...descendants(k)]);
    };
    let frozen: number[] = [];
    try {
      const host = fleet.host(target.alias);
      expect(await host.withSftp(({ sftp }) => readFile(sftp, file))).toBe("hello from the fleet\n");
      // SIGSTOP the session's processes: the TCP connection stays up but nothing answers, as
      // with a host that froze or a network path that silently drops packets.
      frozen = descendants(target.pid!);
      expect(frozen.length).toBeGreaterThan(0);
      for (const pid of frozen) process.kill(pid, "SIGSTOP");
      const started = performance.now();
      // The read hangs on the frozen peer until 3 keepalives (200 ms apart) go unanswered, then
      // runs again on a new connection.
      expect(await host.withSftp(({ sftp }) => readFile(sftp, file))).toBe("hello from the fleet\n");
      const ms = performance.now() - started;
      expect(ms).toBeGreaterThanOrEqual(400);
      expect(ms).toBeLessThan(15_000);
    } finally {
      for (const pid of frozen) {
        try {
          process.kill(pid, "SIGKILL");
        } catch {
          /* already gone */
        }
      }
      await fleet.close();
    }
  });

  it("reconnects after sshd restarts", async () => {
    const fleet = makeFleet(lab, hostsOf(3));
    const target = lab.hosts[2]!;
    try {
      const host = fleet.host(target.alias);
      expect(await host.withSftp(({ sftp }) => readFile(sftp, file))).toBe("hello from the fleet\n");
      await target.restart();
      expect(await host.withSftp(({ sftp }) => readFile(sftp, file))).toBe("hello from the fleet\n");
    } finally {
      await fleet.close();
    }
  });
});

describe("lifecycle", () => {
  it("closes idle connections after the idle timeout", async () => {
    const obs = countingObserver();
    const fleet = makeFleet(lab, hostsOf(1), { idleTimeoutMs: 300 }, obs);
    try {
      await fleet.host(lab.hosts[0]!.alias).withSftp(({ sftp }) => stat(sftp, file));
      expect(fleet.stats().open).toBe(1);
      await new Promise((r) => setTimeout(r, 900));
      expect(fleet.stats().open).toBe(0);
      expect(obs.counts["closed:idle"]).toBe(1);
    } finally {
      await fleet.close();
    }
  });

  it("forgets pools unused for the idle timeout and empty pools of hosts gone from the config", async () => {
    const waitFor = async (cond: () => boolean) => {
      for (let i = 0; i < 100 && !cond(); i++) await new Promise((r) => setTimeout(r, 50));
      return cond();
    };
    const hosts = hostsOf(3);
    const fleet = makeFleet(lab, hosts, { idleTimeoutMs: 300 });
    try {
      const access = hosts.map((h) => fleet.host(h.alias));
      await Promise.all(access.map((a) => a.withSftp(({ sftp }) => stat(sftp, file))));
      expect(fleet.poolCount).toBe(3);
      // Reaped, then forgotten: the map follows the hosts in use.
      expect(await waitFor(() => fleet.stats().open === 0 && fleet.poolCount === 0)).toBe(true);
      // A HostAccess made before still works: it finds (creates) the alias's current pool.
      expect((await access[0]!.withSftp(({ sftp }) => readFile(sftp, file))).trim()).toBe(
        "hello from the fleet",
      );
      expect(fleet.poolCount).toBe(1);
    } finally {
      await fleet.close();
    }
    // A host that left the config: its empty pool goes at the next sweep, even if used just now.
    const refused = { alias: "refusing", port: await findFreePort() };
    const hosts2 = [...hostsOf(1), refused];
    const fleet2 = makeFleet(lab, hosts2, { idleTimeoutMs: 4000 });
    try {
      const gone = fleet2.host("refusing");
      await expect(gone.withSftp(async () => {})).rejects.toThrow();
      expect(fleet2.poolCount).toBe(1);
      hosts2.pop();
      expect(await waitFor(() => fleet2.poolCount === 0)).toBe(true);
      // Using it again now says what is wrong.
      await expect(gone.withSftp(async () => {})).rejects.toThrow(/Unknown host 'refusing'/);
    } finally {
      await fleet2.close();
    }
  });

  it("reaches a host through a ProxyJump chain", async () => {
    const jump = lab.hosts[0]!;
    const target = lab.hosts[1]!;
    const fleet = makeFleet(lab, [
      {
        alias: "behind",
        port: target.port,
        proxyJump: [
          {
            alias: jump.alias,
            hostname: "127.0.0.1",
            port: jump.port,
            user: lab.user,
            identityFiles: [lab.clientKeyPath],
            identitiesOnly: true,
            proxyJump: [],
          },
        ],
      },
    ]);
    try {
      const out = await fleet.host("behind").exec("echo via-jump").then(collect);
      expect(out.stdout).toBe("via-jump\n");
    } finally {
      await fleet.close();
    }
  });

  it("a host whose ProxyJump loops is listed, and using it fails with the loop named", async () => {
    const proxy = await lab.proxy(0);
    const configPath = await lab.writeSshConfig([
      { alias: "loop1", port: proxy.port, extra: ["ProxyJump loop2"] },
      { alias: "loop2", port: proxy.port, extra: ["ProxyJump loop1"] },
      { alias: "fine", port: proxy.port },
    ]);
    const settings = settingsWith({ sshConfigPath: configPath, knownHostsPath: lab.knownHostsPath });
    const warnings: string[] = [];
    const registry = await HostRegistry.open(settings, { log: (_level, msg) => warnings.push(msg) });
    const fleet = new Fleet({
      settings,
      lookupHost: (alias) => registry.require(alias),
      connectionDeps: await createConnectionDeps(settings, () => {}),
    });
    try {
      expect(registry.list().map((h) => h.alias)).toEqual(["fine", "loop1", "loop2"]);
      expect(warnings.join("\n")).toMatch(/ProxyJump loop: loop1 → loop2 → loop1/);
      const host = fleet.host("loop1");
      const viaSftp = await host.withSftp(async () => "never").catch((e: unknown) => e);
      const viaExec = await host.exec("touch /tmp/never").catch((e: unknown) => e);
      for (const err of [viaSftp, viaExec]) {
        expect(isScoutError(err, "config")).toBe(true);
        expect((err as Error).message).toMatch(
          /^Cannot connect to loop1: ProxyJump loop: loop1 → loop2 → loop1\. Break the loop/,
        );
      }
      expect(proxy.accepted).toBe(0); // refused before any network traffic
      // The healthy host next to it works.
      expect(await fleet.host("fine").withSftp(({ sftp }) => readFile(sftp, file))).toBe(
        "hello from the fleet\n",
      );
    } finally {
      await fleet.close();
      registry.close();
      await proxy.close();
    }
  });

  it("close() fails queued work and refuses new work", async () => {
    const fleet = makeFleet(lab, hostsOf(1));
    await fleet.host(lab.hosts[0]!.alias).withSftp(({ sftp }) => stat(sftp, file));
    await fleet.close();
    expect(fleet.stats().open).toBe(0);
    expect(() => fleet.host(lab.hosts[0]!.alias)).toThrow(/shutting down/);
  });
});
