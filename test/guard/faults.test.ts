/**
 * When hosts misbehave, through the MCP tool: refused, DNS failure, blackhole, wrong client key,
 * changed host key, cut connection, restarted sshd, slow link, and connect backoff. Each failure
 * is named in the answer, never stalls other hosts, and the server is checked healthy after each
 * (/health and a good call).
 */
import { execFileSync } from "node:child_process";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { FaultProxy } from "../../src/lab/fault-proxy.js";
import { startFleet, type LabFleet } from "../fleet/index.js";
import {
  assertHealthy,
  connectClient,
  establishedTo,
  startServer,
  waitFor,
  type TestClient,
  type TestServer,
} from "./helpers.js";

let lab: LabFleet;
let srv: TestServer;
let c: TestClient;
let good: string;
const proxies: Record<string, FaultProxy> = {};

function block(alias: string, port: number, opts: { hostname?: string; key?: string } = {}): string {
  return [
    `Host ${alias}`,
    `  HostName ${opts.hostname ?? "127.0.0.1"}`,
    `  Port ${port}`,
    `  User ${lab.user}`,
    `  IdentityFile ${opts.key ?? lab.clientKeyPath}`,
    "  IdentitiesOnly yes",
  ].join("\n");
}

beforeAll(async () => {
  lab = await startFleet({ hosts: 2 });
  await lab.writeFile(join(lab.hosts[0]!.root, "hello.txt"), "hello\n");
  await lab.writeFile(join(lab.hosts[1]!.root, "hello.txt"), "hello 1\n");
  for (const name of ["refused", "blackhole", "cut", "slow", "backoff", "rekeyed"]) {
    proxies[name] = await lab.proxy(name === "cut" || name === "slow" ? 0 : 1);
  }
  proxies.slow!.latencyMs = 40; // 80 ms round trips: the handshake still fits the 1.5 s connect timeout
  const strangerKey = join(lab.dir, "stranger_ed25519");
  execFileSync("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-f", strangerKey]);
  const config = join(lab.dir, "faults_ssh_config");
  const h0 = lab.hosts[0]!;
  const h1 = lab.hosts[1]!;
  writeFileSync(
    config,
    [
      block("good", h0.port),
      block("restarting", h1.port),
      block("dns", 22, { hostname: "no-such-host.invalid" }),
      block("badauth", h0.port, { key: strangerKey }),
      ...Object.entries(proxies).map(([alias, p]) => block(alias, p.port)),
    ].join("\n\n") + "\n",
  );
  // The proxy "rekeyed" forwards to host-1, but our known_hosts says it should present host-0's key.
  const known = join(lab.dir, "faults_known_hosts");
  const rekeyed = `[127.0.0.1]:${proxies.rekeyed!.port} `;
  writeFileSync(
    known,
    readFileSync(lab.knownHostsPath, "utf8")
      .split("\n")
      .map((l) => (l.startsWith(rekeyed) ? rekeyed + h0.hostKeyPublic : l))
      .join("\n"),
  );
  srv = await startServer(lab, { sshConfigPath: config, knownHostsPath: known, connectTimeoutMs: 1500 });
  c = await connectClient(srv.url);
  good = `good:${h0.root}/hello.txt`;
});

afterAll(async () => {
  await c?.close();
  await srv?.close();
  await lab?.stop();
});

async function healthy(): Promise<void> {
  expect(await assertHealthy(srv.base, c, good)).toEqual({ health: 200, good: true });
}

describe("a dead or wrong host fails fast with its cause named", () => {
  it("connection refused", async () => {
    proxies.refused!.refuse = true;
    const r = await c.call({ target: "refused:/tmp" });
    expect(r.text).toMatch(
      /^Error: Connection refused by refused \(127\.0\.0\.1:\d+\)\. Is sshd running on that port\?/,
    );
    await healthy();
  });

  it("DNS failure", async () => {
    const r = await c.call({ target: "dns:/tmp" });
    expect(r.text).toMatch(/^Error: Cannot resolve host name no-such-host\.invalid for dns\. Check HostName/);
    await healthy();
  });

  it("blackholed host: connect timeout, and it never stalls calls to other hosts", async () => {
    proxies.blackhole!.blackhole = true;
    let goodDoneAt = 0;
    const started = performance.now();
    const dead = c.call({ target: "blackhole:/tmp" }).then((r) => ({ r, at: performance.now() - started }));
    const fine = c.call({ target: good }).then((r) => {
      goodDoneAt = performance.now() - started;
      return r;
    });
    const [d, f] = await Promise.all([dead, fine]);
    expect(f.text).toBe("hello\n");
    expect(d.r.text).toMatch(/^Error: Connection to blackhole \(127\.0\.0\.1:\d+\) timed out after 1\.5 s/);
    expect(goodDoneAt).toBeLessThan(d.at); // the good host answered while the dead one was still dialing
    // In a broadcast, the healthy host's section is complete.
    const b = await c.call({ targets: ["blackhole:/tmp", `${good}`] });
    expect(b.text).toContain("hello");
    expect(b.text).toContain("─── 1/2 hosts succeeded ───");
    // The timed-out connects left no socket behind (the peer accepted TCP and never spoke SSH).
    await waitFor(
      () => establishedTo(proxies.blackhole!.port) === 0,
      3000,
      "no socket left to the blackhole",
    );
    await healthy();
  });

  it("authentication failure", async () => {
    const r = await c.call({ target: "badauth:/tmp" });
    expect(r.text).toMatch(
      new RegExp(
        `^Error: Authentication failed for ${lab.user}@127\\.0\\.0\\.1:\\d+ \\(badauth\\); tried key .*stranger_ed25519`,
      ),
    );
    await healthy();
  });

  it("host key mismatch", async () => {
    const r = await c.call({ target: "rekeyed:/tmp" });
    expect(r.text).toMatch(
      /^Error: HOST KEY CHANGED for .*127\.0\.0\.1.*\d+.*: it now presents ssh-ed25519 SHA256:/,
    );
    expect(r.text).toContain("ssh-keygen -R");
    await healthy();
  });
});

describe("recovery", () => {
  it("a cut connection is reconnected on the next call", async () => {
    expect((await c.call({ target: `cut:${lab.hosts[0]!.root}/hello.txt` })).text).toBe("hello\n");
    const before = proxies.cut!.accepted;
    proxies.cut!.cutAll("reset");
    const r = await c.call({ target: `cut:${lab.hosts[0]!.root}/hello.txt` });
    expect(r.text).toBe("hello\n");
    expect(proxies.cut!.accepted).toBeGreaterThan(before); // a new connection, made transparently
    expect((await c.call({ target: `cut:${lab.hosts[0]!.root}`, query: "echo again" })).text).toBe("again");
    await healthy();
  });

  it("a restarted sshd is reconnected on the next call", async () => {
    const path = `restarting:${lab.hosts[1]!.root}/hello.txt`;
    expect((await c.call({ target: path })).text).toBe("hello 1\n");
    await lab.hosts[1]!.restart();
    expect((await c.call({ target: path })).text).toBe("hello 1\n");
    expect((await c.call({ target: `restarting:/tmp`, query: "echo back" })).text).toBe("back");
    await healthy();
  });

  it("a slow link still answers", async () => {
    const r = await c.call({ target: `slow:${lab.hosts[0]!.root}/hello.txt` });
    expect(r.text).toBe("hello\n");
    await healthy();
  });

  it("after repeated connect failures the host is marked down and the error says when it is retried; then it recovers", async () => {
    const p = proxies.backoff!;
    p.refuse = true;
    const texts: string[] = [];
    for (let i = 0; i < 3; i++) texts.push((await c.call({ target: "backoff:/tmp" })).text);
    for (const t of texts) expect(t).toMatch(/^Error: Connection refused by backoff/);
    p.resetCounters();
    const down = await c.call({ target: "backoff:/tmp" });
    expect(down.text).toMatch(
      /^Error: backoff is marked down after 3 failed connection attempts\. Last error: Connection refused by backoff .*\. Next attempt in \d+ s\. Fix the cause above, or wait for the retry/,
    );
    await healthy();
    p.refuse = false;
    await p.ready();
    // Backoff is exponential and capped; wait out the announced retry time (1 s base here).
    const seconds = Number(/Next attempt in (\d+) s/.exec(down.text)?.[1] ?? "1");
    await new Promise((r) => setTimeout(r, seconds * 1000 + 200));
    const back = await c.call({ target: `backoff:${lab.hosts[1]!.root}/hello.txt` });
    expect(back.text).toBe("hello 1\n");
    await healthy();
  });
});
