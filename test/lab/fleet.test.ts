import { spawn } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import { Client, type ConnectConfig, type SFTPWrapper } from "ssh2";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startFleet, type LabFleet } from "../fleet/index.js";

function connect(config: ConnectConfig): Promise<Client> {
  return new Promise((resolve, reject) => {
    const client = new Client();
    client.once("ready", () => resolve(client));
    client.on("error", reject); // on, not once: a timeout can be followed by "connection lost"
    client.connect(config);
  });
}

function exec(client: Client, command: string): Promise<{ code: number | null; stdout: string }> {
  return new Promise((resolve, reject) => {
    client.exec(command, (err, channel) => {
      if (err) return reject(err);
      let stdout = "";
      let code: number | null = null;
      channel.on("data", (d: Buffer) => (stdout += d.toString()));
      channel.stderr.on("data", () => {});
      channel.on("exit", (c: number | null) => (code = c));
      channel.on("close", () => resolve({ code, stdout }));
    });
  });
}

function sftp(client: Client): Promise<SFTPWrapper> {
  return new Promise((resolve, reject) => client.sftp((err, s) => (err ? reject(err) : resolve(s))));
}

const keyBlob = (line: string) => Buffer.from(line.trim().split(/\s+/)[1] ?? "", "base64");

/** Gone, or a zombie waiting for init to reap it: either way it no longer runs. */
function isGone(pid: number): boolean {
  try {
    return readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1]?.startsWith("Z") ?? true;
  } catch {
    return true;
  }
}

/** Runs the real OpenSSH client with a throwaway HOME so root's ~/.ssh plays no part. */
async function opensshClient(args: string[]): Promise<{ code: number | null; stderr: string }> {
  const home = await mkdtemp(path.join(os.tmpdir(), "scout-lab-home-"));
  try {
    return await new Promise((resolve, reject) => {
      const child = spawn("ssh", args, {
        env: { ...process.env, HOME: home },
        stdio: ["ignore", "ignore", "pipe"],
      });
      let stderr = "";
      child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
      child.on("error", reject);
      child.on("close", (code) => resolve({ code, stderr }));
    });
  } finally {
    await rm(home, { recursive: true, force: true });
  }
}

let lab: LabFleet;

beforeAll(async () => {
  lab = await startFleet({ hosts: 2 });
});

afterAll(async () => {
  await lab?.stop();
});

describe("startFleet", () => {
  it("starts distinct hosts, each presenting its own host key", async () => {
    expect(lab.hosts.map((h) => h.alias)).toEqual(["host-0", "host-1"]);
    const [a, b] = lab.hosts;
    expect(a!.port).not.toBe(b!.port);
    expect(a!.hostKeyPublic).toMatch(/^ssh-ed25519 AAAA[\w+/=]+$/);
    expect(a!.hostKeyPublic).not.toBe(b!.hostKeyPublic);
    expect(a!.hostname).toBe("127.0.0.1");
    expect(a!.running).toBe(true);
    for (const [i, host] of lab.hosts.entries()) {
      let presented: Buffer | undefined;
      const client = await connect({
        ...lab.connectConfig(i),
        hostVerifier: (key: Buffer) => {
          presented = key;
          return key.equals(keyBlob(host.hostKeyPublic));
        },
      });
      try {
        expect(presented?.equals(keyBlob(host.hostKeyPublic))).toBe(true);
        const { stdout, code } = await exec(client, "id -un; echo $SHELL; ps -o comm= -p $$; echo $HOME");
        expect(code).toBe(0);
        expect(stdout.trim().split("\n")).toEqual([lab.user, "/bin/sh", "sh", lab.home]);
        if (process.getuid?.() === 0) expect(lab.user).toBe("scoutlab");
      } finally {
        client.end();
      }
    }
  });

  it("connectConfig's own hostVerifier rejects another host's key", async () => {
    const wrong = { ...lab.connectConfig(0), port: lab.hosts[1]!.port };
    await expect(connect(wrong)).rejects.toThrow(/verification failed/i);
  });

  it("gives each host a root the user can list (SFTP) and write", async () => {
    const host = lab.hosts[1]!;
    await lab.writeFile(path.join(host.root, "seen.txt"), "x");
    const client = await connect(lab.connectConfig(1));
    try {
      const s = await sftp(client);
      const names = await new Promise<string[]>((resolve, reject) =>
        s.readdir(host.root, (err, list) => (err ? reject(err) : resolve(list.map((e) => e.filename)))),
      );
      expect(names).toContain("seen.txt");
      const made = await exec(client, `touch ${host.root}/made-by-user && echo ok`);
      expect(made.stdout.trim()).toBe("ok");
    } finally {
      client.end();
    }
  });

  it("writes ssh_config and known_hosts that the real OpenSSH client accepts", async () => {
    const config = readFileSync(lab.sshConfigPath, "utf8");
    for (const h of lab.hosts) {
      const block = config
        .slice(config.indexOf(`Host ${h.alias}\n`))
        .split("\n\n")[0]!
        .trim();
      expect(block.split("\n").map((l) => l.trim())).toEqual([
        `Host ${h.alias}`,
        "HostName 127.0.0.1",
        `Port ${h.port}`,
        `User ${lab.user}`,
        `IdentityFile ${lab.clientKeyPath}`,
        "IdentitiesOnly yes",
      ]);
    }
    const known = readFileSync(lab.knownHostsPath, "utf8").trim().split("\n");
    expect(known).toEqual(lab.hosts.map((h) => `[127.0.0.1]:${h.port} ${h.hostKeyPublic}`));

    const r = await opensshClient([
      "-F",
      lab.sshConfigPath,
      "-o",
      `UserKnownHostsFile=${lab.knownHostsPath}`,
      "-o",
      "GlobalKnownHostsFile=/dev/null",
      "-o",
      "StrictHostKeyChecking=yes",
      "-o",
      "BatchMode=yes",
      "host-0",
      "true",
    ]);
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
  });

  it("enforces MaxSessions 10 (the OpenSSH default) per connection", async () => {
    const client = await connect(lab.connectConfig(0));
    try {
      const results = await Promise.allSettled(Array.from({ length: 11 }, () => exec(client, "sleep 1")));
      const failed = results.filter((r) => r.status === "rejected");
      expect(failed.length).toBeGreaterThanOrEqual(1);
      expect(String((failed[0] as PromiseRejectedResult).reason)).toMatch(/open failure|open failed/i);
      expect(results.filter((r) => r.status === "fulfilled").length).toBeLessThanOrEqual(10);
    } finally {
      client.end();
    }
  });

  it("stop() takes a host down (sessions included) and start() brings it back on the same port", async () => {
    const host = lab.hosts[1]!;
    const port = host.port;
    const live = await connect(lab.connectConfig(1));
    const liveClosed = new Promise<void>((resolve) => live.once("close", () => resolve()));
    live.on("error", () => {});

    await host.stop();
    expect(host.running).toBe(false);
    expect(host.pid).toBeUndefined();
    await liveClosed; // a host going down takes its sessions with it
    await expect(connect({ ...lab.connectConfig(1), readyTimeout: 2000 })).rejects.toMatchObject({
      code: "ECONNREFUSED",
    });
    await host.stop(); // idempotent

    await host.start();
    expect(host.port).toBe(port);
    const again = await connect(lab.connectConfig(1)); // same host key, or the verifier would refuse
    try {
      expect((await exec(again, "id -un")).stdout.trim()).toBe(lab.user);
    } finally {
      again.end();
    }

    await host.restart();
    const third = await connect(lab.connectConfig(1));
    third.end();
  });

  it("start() waits while something else holds the host's port", async () => {
    const host = lab.hosts[1]!;
    await host.stop();
    const blocker = net.createServer((s) => s.destroy());
    await new Promise<void>((resolve) => blocker.listen(host.port, "127.0.0.1", resolve));
    const started = performance.now();
    const starting = host.start();
    try {
      await new Promise((r) => setTimeout(r, 300));
      expect(host.running).toBe(false); // it must not mistake the blocker for its sshd
    } finally {
      await new Promise((r) => blocker.close(r));
      await starting;
    }
    expect(performance.now() - started).toBeGreaterThanOrEqual(290);
    const client = await connect(lab.connectConfig(1));
    client.end();
  });

  it("writes fixtures and runs commands as the fleet user", async () => {
    const rel = await lab.writeFile("fixtures/deep/data.bin", Buffer.from([0, 1, 2]), 0o600);
    expect(rel).toBe(path.join(lab.hosts[0]!.root, "fixtures/deep/data.bin"));
    const r = await lab.runAsUser(
      "id -un; pwd; stat -c '%U %a' fixtures fixtures/deep fixtures/deep/data.bin; " +
        "mkfifo fifo && ln -s fixtures/deep/data.bin link && stat -c '%U %F' fifo link",
    );
    expect(r.code).toBe(0);
    expect(r.stdout.trim().split("\n")).toEqual([
      lab.user,
      lab.hosts[0]!.root,
      `${lab.user} 755`,
      `${lab.user} 755`,
      `${lab.user} 600`,
      `${lab.user} fifo`,
      `${lab.user} symbolic link`,
    ]);
    const failing = await lab.runAsUser("echo oops >&2; exit 3");
    expect(failing).toEqual({ code: 3, stdout: "", stderr: "oops\n" });
  });

  it("proxy() adds known_hosts lines and writeSshConfig() points aliases at proxies", async () => {
    const proxy = await lab.proxy(1, { latencyMs: 5 });
    expect(proxy.latencyMs).toBe(5);
    const known = readFileSync(lab.knownHostsPath, "utf8");
    expect(known).toContain(`[127.0.0.1]:${proxy.port} ${lab.hosts[1]!.hostKeyPublic}\n`);
    const configPath = await lab.writeSshConfig([
      { alias: "via-proxy", port: proxy.port, extra: ["ConnectTimeout 5"] },
    ]);
    expect(path.dirname(configPath)).toBe(lab.dir);
    expect(readFileSync(configPath, "utf8")).toContain(
      `Host via-proxy\n  HostName 127.0.0.1\n  Port ${proxy.port}\n  User ${lab.user}\n`,
    );
    const r = await opensshClient([
      "-F",
      configPath,
      "-o",
      `UserKnownHostsFile=${lab.knownHostsPath}`,
      "-o",
      "GlobalKnownHostsFile=/dev/null",
      "-o",
      "StrictHostKeyChecking=yes",
      "-o",
      "BatchMode=yes",
      "via-proxy",
      "true",
    ]);
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    expect(proxy.accepted).toBe(1);
  });
});

describe("fleet options and stop()", () => {
  it("honours prefix/maxSessions, and stop() kills every sshd and session and removes the dir", async () => {
    const fleet = await startFleet({ hosts: 2, prefix: "box", maxSessions: 2 });
    let stopped = false;
    try {
      expect(fleet.hosts.map((h) => h.alias)).toEqual(["box-0", "box-1"]);
      expect(readFileSync(fleet.sshConfigPath, "utf8")).toContain("Host box-1\n");
      const client = await connect(fleet.connectConfig(0));
      const clientClosed = new Promise<void>((resolve) => client.once("close", () => resolve()));
      client.on("error", () => {});
      const results = await Promise.allSettled(Array.from({ length: 3 }, () => exec(client, "true")));
      expect(results.filter((r) => r.status === "rejected").length).toBeGreaterThanOrEqual(1);

      // A long-running session: its shell must die with the fleet.
      const sessionPid = await new Promise<number>((resolve, reject) =>
        client.exec("echo $$; exec sleep 30", (err, ch) => {
          if (err) return reject(err);
          ch.on("data", (d: Buffer) => resolve(Number(d.toString().trim())));
          ch.stderr.on("data", () => {});
        }),
      );
      const proxy = await fleet.proxy(1);
      const pids = fleet.hosts.map((h) => h.pid!);
      expect(pids.every((p) => p > 0 && !isGone(p))).toBe(true);
      expect(isGone(sessionPid)).toBe(false);

      await Promise.all([fleet.stop(), fleet.stop()]);
      stopped = true;
      await fleet.stop();
      expect(existsSync(fleet.dir)).toBe(false);
      expect(pids.every(isGone)).toBe(true);
      expect(isGone(sessionPid)).toBe(true);
      await clientClosed;
      // The proxy was closed too: its port no longer accepts.
      await expect(connect({ host: "127.0.0.1", port: proxy.port, username: "x" })).rejects.toMatchObject({
        code: "ECONNREFUSED",
      });
      await expect(fleet.proxy(0)).rejects.toThrow(/stopped/);
    } finally {
      if (!stopped) await fleet.stop();
    }
  });

  it("puts extraSshdConfig first so it overrides the defaults, Match blocks last", async () => {
    const fleet = await startFleet({
      extraSshdConfig: ["MaxSessions 1", "Match Address 10.0.0.0/8", "  MaxSessions 5"],
    });
    try {
      const client = await connect(fleet.connectConfig(0));
      try {
        const results = await Promise.allSettled([exec(client, "sleep 0.3"), exec(client, "sleep 0.3")]);
        expect(results.map((r) => r.status).sort()).toEqual(["fulfilled", "rejected"]);
      } finally {
        client.end();
      }
    } finally {
      await fleet.stop();
    }
  });

  it("fails with sshd's own error when sshd cannot start", async () => {
    await expect(startFleet({ extraSshdConfig: ["NoSuchOption yes"] })).rejects.toThrow(
      /did not start.*Bad configuration option/s,
    );
  });

  it("starts 3 hosts quickly", async () => {
    const started = performance.now();
    const fleet = await startFleet({ hosts: 3 });
    const ms = performance.now() - started;
    await fleet.stop();
    expect(ms).toBeLessThan(3000); // typically ~150 ms; generous for a loaded CI box
  });
});
