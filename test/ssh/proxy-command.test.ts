/**
 * ProxyCommand against real sshds: a host whose HostName does not even resolve, reachable only
 * through a relay process; tokens expanded; the relay dies with the connection; its stderr is in
 * the error; host names that a shell would interpret are refused before anything runs.
 */
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { HostConfig } from "../../src/config/host.js";
import { expandProxyCommand } from "../../src/ssh/proxy-command.js";
import { describeRoute } from "../../src/ssh/dial.js";
import { HostStatusCache } from "../../src/ops/status.js";
import { startHttpScout } from "../mcp/harness.js";
import { startFleet, type LabFleet } from "../fleet/index.js";
import { collect, labHostConfig, makeFleet } from "./helpers.js";

const relay = fileURLToPath(new URL("./fixtures/relay.mjs", import.meta.url));
let lab: LabFleet;

beforeAll(async () => {
  lab = await startFleet({ hosts: 2 });
});

afterAll(async () => {
  await lab?.stop();
});

function relayCommand(log: string, port: number): string {
  return `${process.execPath} ${relay} ${log} ${port} %h %p %r %n 100%%`;
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

async function until(cond: () => boolean, ms = 5000): Promise<boolean> {
  for (let t = 0; t < ms && !cond(); t += 25) await new Promise((r) => setTimeout(r, 25));
  return cond();
}

describe("ProxyCommand", () => {
  it("expands %h %p %r %n %% and refuses unknown tokens", () => {
    const h: HostConfig = { ...labHostConfig(lab, { alias: "web", port: 2200 }), hostname: "10.0.0.5" };
    expect(expandProxyCommand({ ...h, proxyCommand: "nc %h %p # %r@%n 5%%" })).toBe(
      `nc 10.0.0.5 2200 # ${lab.user}@web 5%`,
    );
    expect(() => expandProxyCommand({ ...h, proxyCommand: "nc %h %x" })).toThrow(/unknown token %x/);
  });

  it("refuses host names with shell metacharacters, as ssh does, before running anything", async () => {
    const marker = join(lab.dir, "injected");
    const fleet = makeFleet(lab, [
      {
        alias: "evil",
        port: 22,
        extra: { hostname: `x;touch ${marker}`, proxyCommand: "nc %h %p" },
      },
    ]);
    try {
      await expect(fleet.host("evil").exec("true")).rejects.toThrow(
        /refusing to run its ProxyCommand: the host name/,
      );
      expect(existsSync(marker)).toBe(false);
      // A name only quoted into the command (%n) is checked too; the same text written in the
      // config itself is the user's own and runs.
      expect(() =>
        expandProxyCommand({
          ...labHostConfig(lab, { alias: "a$(id)", port: 22 }),
          proxyCommand: "nc %n 22",
        }),
      ).toThrow(/host alias/);
    } finally {
      await fleet.close();
    }
  });

  it("reaches a host only its ProxyCommand can reach, and the relay dies with the connection", async () => {
    const log = join(lab.dir, "relay.log");
    const target = lab.hosts[0]!;
    const fleet = makeFleet(lab, [
      {
        alias: "behind",
        port: 2222,
        expectedKey: target.hostKeyPublic,
        extra: { hostname: "behind.invalid", proxyCommand: relayCommand(log, target.port) },
      },
    ]);
    let pid = 0;
    try {
      const r = await fleet.host("behind").exec("echo via-proxy").then(collect);
      expect(r.stdout).toBe("via-proxy\n");
      const [pidText, ...args] = readFileSync(log, "utf8").trim().split(" ");
      pid = Number(pidText);
      expect(args).toEqual(["behind.invalid", "2222", lab.user, "behind", "100%"]);
      expect(alive(pid)).toBe(true);
    } finally {
      await fleet.close();
    }
    expect(await until(() => !alive(pid))).toBe(true);
  });

  it("a ProxyCommand on the first jump host, then ProxyJump (ssh -J: the first hop's own route applies)", async () => {
    const log = join(lab.dir, "relay-jump.log");
    const jump: HostConfig = {
      ...labHostConfig(lab, { alias: "jump", port: 2222 }),
      hostname: "jump.invalid",
      proxyCommand: relayCommand(log, lab.hosts[0]!.port),
    };
    const fleet = makeFleet(lab, [{ alias: "inner", port: lab.hosts[1]!.port, proxyJump: [jump] }]);
    try {
      const host = fleet.host("inner");
      expect(describeRoute(host.config)).toMatch(/^ProxyCommand .*relay\.mjs.*, then ProxyJump jump$/);
      const r = await host.exec("echo inner").then(collect);
      expect(r.stdout).toBe("inner\n");
      expect(readFileSync(log, "utf8")).toMatch(/ jump\.invalid 2222 /);
    } finally {
      await fleet.close();
    }
  });

  it("a ProxyCommand that fails says so, with its stderr", async () => {
    const fleet = makeFleet(lab, [
      {
        alias: "broken",
        port: 22,
        extra: { proxyCommand: `sh -c "echo 'no route to the bastion' >&2; exit 3"` },
      },
    ]);
    try {
      await expect(fleet.host("broken").exec("true")).rejects.toThrow(
        /ProxyCommand `sh -c "echo 'no route to the bastion' >&2; exit 3"` exited with status 3: no route to the bastion/,
      );
    } finally {
      await fleet.close();
    }
  });

  it("the status probe goes through the ProxyCommand, not at HostName:Port", async () => {
    const log = join(lab.dir, "relay-probe.log");
    const base = labHostConfig(lab, { alias: "behind", port: 2222 });
    const behind: HostConfig = {
      ...base,
      hostname: "behind.invalid",
      proxyCommand: relayCommand(log, lab.hosts[0]!.port),
    };
    const dead: HostConfig = { ...base, alias: "dead", proxyCommand: "sh -c 'exit 1'" };
    const direct: HostConfig = { ...base, alias: "direct", hostname: "behind.invalid" };
    const status = new HostStatusCache({ ttlMs: 0 });
    const online = await status.status([behind, dead, direct]);
    expect(Object.fromEntries(online)).toEqual({ behind: true, dead: false, direct: false });
    const pid = Number(readFileSync(log, "utf8").split(" ")[0]);
    expect(await until(() => !alive(pid))).toBe(true);
  });

  it("end to end from the ssh config: the hosts list and a read go through the ProxyCommand", async () => {
    const log = join(lab.dir, "relay-e2e.log");
    const target = lab.hosts[1]!;
    const config = join(lab.dir, "ssh_config.proxy");
    await lab.writeFile(
      config,
      [
        "Host behind",
        "  HostName behind.invalid",
        "  HostKeyAlias 127.0.0.1",
        `  Port ${target.port}`,
        `  User ${lab.user}`,
        `  IdentityFile ${lab.clientKeyPath}`,
        "  IdentitiesOnly yes",
        `  ProxyCommand ${relayCommand(log, target.port)}`,
        "",
      ].join("\n"),
    );
    await lab.writeFile(join(target.root, "e2e.txt"), "through the relay\n");
    const scout = await startHttpScout(lab, { sshConfigPath: config });
    try {
      const hosts = await scout.call({ target: "hosts" });
      expect(hosts.text).toMatch(/behind.*online/);
      const r = await scout.call({ target: `behind:${target.root}/e2e.txt` });
      expect(r.isError).toBeFalsy();
      expect(r.text).toBe("through the relay\n");
      expect(readFileSync(log, "utf8")).toMatch(/ behind\.invalid \d+ /);
    } finally {
      await scout.close();
    }
  });
});
