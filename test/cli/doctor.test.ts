/**
 * `scout-mcp doctor` end to end: the real CLI against a lab fleet of real sshds, healthy and with
 * the classic failures (changed and unknown host key, refused port, unresolvable name, wrong key).
 */
import { execFileSync, spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { readFile, writeFile } from "node:fs/promises";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { findFreePort, startFleet, type LabFleet } from "../fleet/index.js";
import { REPO, cleanEnv, rowOf, runCli, type CliResult } from "./run-cli.js";

let lab: LabFleet;
let bad: CliResult;
let badConfig: string;
let badKnownHosts: string;
let refusedPort: number;

// Columns of a doctor row: mark, host, address, DNS, TCP, HOST KEY, AUTH, SFTP, RTT.
const COL = { mark: 0, host: 1, address: 2, dns: 3, tcp: 4, hostKey: 5, auth: 6, sftp: 7, rtt: 8 };

beforeAll(async () => {
  lab = await startFleet({ hosts: 3, prefix: "doc" });
  const [h0, h1, h2] = lab.hosts as [LabFleet["hosts"][0], LabFleet["hosts"][0], LabFleet["hosts"][0]];
  refusedPort = await findFreePort();
  const wrongKey = path.join(lab.dir, "wrong_ed25519");
  execFileSync("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-f", wrongKey]);
  const block = (alias: string, hostname: string, port: number, key = lab.clientKeyPath) =>
    `Host ${alias}\n  HostName ${hostname}\n  Port ${port}\n  User ${lab.user}\n  IdentityFile ${key}\n  IdentitiesOnly yes\n`;
  badConfig = path.join(lab.dir, "ssh_config.doctor");
  await writeFile(
    badConfig,
    [
      block("good", "127.0.0.1", h0.port),
      block("changed", "127.0.0.1", h1.port),
      block("newkey", "127.0.0.1", h2.port),
      block("refused", "127.0.0.1", refusedPort),
      // An empty label: the resolver refuses it locally, so no DNS query leaves the machine.
      block("nodns", "no-such-host..invalid", 22),
      block("wrongkey", "127.0.0.1", h0.port, wrongKey),
      // Reached through `good`: DNS and TCP are checked on the jump host, keys on both hops.
      block("viajump", "127.0.0.1", h0.port) + "  ProxyJump good\n",
      // An entry that can never connect: the config itself is the problem.
      block("loopy", "127.0.0.1", h0.port) + "  ProxyJump loopy\n",
    ].join("\n"),
  );
  badKnownHosts = path.join(lab.dir, "known_hosts.doctor");
  await writeFile(
    badKnownHosts,
    [
      `[127.0.0.1]:${h0.port} ${h0.hostKeyPublic}`,
      // host 1's port with host 0's key: what a reinstalled (or impersonated) host looks like
      `[127.0.0.1]:${h1.port} ${h0.hostKeyPublic}`,
    ].join("\n") + "\n",
  );
  bad = await runCli(["doctor"], {
    env: cleanEnv({
      SCOUT_SSH_CONFIG: badConfig,
      SCOUT_KNOWN_HOSTS: badKnownHosts,
      SCOUT_CONNECT_TIMEOUT: "5",
    }),
  });
});

afterAll(async () => {
  await lab?.stop();
});

describe("scout-mcp doctor", () => {
  it("passes every check on a healthy fleet, names the key that authenticated, and exits 0", async () => {
    const r = await runCli(["doctor"], {
      env: cleanEnv({ SCOUT_SSH_CONFIG: lab.sshConfigPath, SCOUT_KNOWN_HOSTS: lab.knownHostsPath }),
    });
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^\s+HOST\s+ADDRESS\s+DNS\s+TCP\s+HOST KEY\s+AUTH\s+SFTP\s+RTT$/m);
    for (const h of lab.hosts) {
      const row = rowOf(r.stdout, h.alias);
      expect(row[COL.mark]).toBe("✓");
      expect(row[COL.address]).toBe(`${lab.user}@127.0.0.1:${h.port}`);
      expect(row[COL.dns]).toBe("✓ IP");
      expect(row[COL.tcp]).toMatch(/^✓ [\d.]+ ms$/);
      expect(row[COL.hostKey]).toBe("✓ known");
      expect(row[COL.auth]).toMatch(/^✓ key .*client_ed25519$/);
      expect(row[COL.sftp]).toBe("✓");
      expect(row[COL.rtt]).toMatch(/^[\d.]+ ms$/);
    }
    expect(r.stdout).toContain("All 3 hosts OK.");
    expect(r.stdout).not.toContain("✗");
  });

  it("exits non-zero when any host fails, and still passes the healthy one", () => {
    expect(bad.code).toBe(1);
    expect(rowOf(bad.stdout, "good")[COL.mark]).toBe("✓");
    expect(bad.stdout).toContain("6 of 8 hosts failing.");
  });

  it("flags an ssh config entry that can never connect, before any network check", () => {
    expect(bad.stdout).toMatch(/^! ssh config: ProxyJump loop: loopy → loopy\./m);
    expect(rowOf(bad.stdout, "loopy").slice(COL.dns)).toEqual(["✗ config", "–", "–", "–", "–", "–"]);
    expect(bad.stdout).toMatch(/^✗ loopy SSH CONFIG: ProxyJump loop: loopy → loopy\. Break the loop/m);
  });

  it("checks a host behind a ProxyJump through its jump host", () => {
    const row = rowOf(bad.stdout, "viajump");
    expect(row[COL.mark]).toBe("✓");
    expect(row.slice(COL.hostKey)).toEqual([
      "✓ known",
      expect.stringMatching(/^✓ key .*client_ed25519$/),
      "✓",
      expect.stringMatching(/^[\d.]+ ms$/),
    ]);
  });

  it("shows the route, checks a ProxyCommand host through its command, and shows the host's warnings", async () => {
    const relay = path.join(REPO, "test/ssh/fixtures/relay.mjs");
    const h0 = lab.hosts[0]!;
    const config = path.join(lab.dir, "ssh_config.doctor-proxy");
    await writeFile(
      config,
      [
        `Host proxied`,
        `  HostName proxied.invalid`,
        `  HostKeyAlias 127.0.0.1`,
        `  Port ${h0.port}`,
        `  User ${lab.user}`,
        `  IdentityFile ${lab.clientKeyPath}`,
        `  IdentitiesOnly yes`,
        `  ProxyCommand ${process.execPath} ${relay} /dev/null ${h0.port} %h`,
        // Changes the identity and Scout ignores it: the config layer warns, doctor shows it.
        `  PKCS11Provider /usr/lib/nonexistent-pkcs11.so`,
        "",
      ].join("\n"),
    );
    const r = await runCli(["doctor"], {
      env: cleanEnv({
        SCOUT_SSH_CONFIG: config,
        SCOUT_KNOWN_HOSTS: badKnownHosts,
        SCOUT_CONNECT_TIMEOUT: "5",
      }),
    });
    expect(r.stdout).toMatch(/^ {2}proxied: route ProxyCommand .*relay\.mjs \/dev\/null \d+ %h$/m);
    expect(r.stdout).toMatch(/PKCS11Provider/);
    const row = rowOf(r.stdout, "proxied");
    expect(row[COL.mark]).toBe("✓");
    expect(row[COL.dns]).toBe("✓ ProxyCommand");
    expect(row[COL.hostKey]).toBe("✓ known");
    expect(r.code).toBe(0);
  });

  it("flags a changed host key with the ssh-keygen -R fix", () => {
    const row = rowOf(bad.stdout, "changed");
    expect(row.slice(COL.mark, COL.hostKey + 1)).toEqual([
      "✗",
      "changed",
      `${lab.user}@127.0.0.1:${lab.hosts[1]!.port}`,
      "✓ IP",
      expect.stringMatching(/^✓ /),
      "✗ CHANGED",
    ]);
    expect(row.slice(COL.auth)).toEqual(["–", "–", "–"]);
    const advice = bad.stdout.split("\n").find((l) => l.startsWith("✗ changed HOST KEY: "));
    expect(advice).toContain("HOST KEY CHANGED for changed");
    expect(advice).toContain(`ssh-keygen -R '[127.0.0.1]:${lab.hosts[1]!.port}' -f ${badKnownHosts}`);
  });

  it("flags an unknown host key with the ssh-keyscan line to add it", () => {
    expect(rowOf(bad.stdout, "newkey")[COL.hostKey]).toBe("✗ unknown");
    const advice = bad.stdout.split("\n").find((l) => l.startsWith("✗ newkey HOST KEY: "));
    expect(advice).toContain(`ssh-keyscan -p ${lab.hosts[2]!.port} 127.0.0.1 >> ${badKnownHosts}`);
    expect(advice).toContain(`[127.0.0.1]:${lab.hosts[2]!.port} ${lab.hosts[2]!.hostKeyPublic}`);
  });

  it("passes an unknown host key when SCOUT_STRICT_HOST_KEY_CHECKING=accept-new, without writing it", async () => {
    const r = await runCli(["doctor", "newkey"], {
      env: cleanEnv({
        SCOUT_SSH_CONFIG: badConfig,
        SCOUT_KNOWN_HOSTS: badKnownHosts,
        SCOUT_STRICT_HOST_KEY_CHECKING: "accept-new",
      }),
    });
    expect(r.code).toBe(0);
    expect(rowOf(r.stdout, "newkey")[COL.hostKey]).toBe("✓ new (accept-new)");
    expect(await readFile(badKnownHosts, "utf8")).not.toContain(lab.hosts[2]!.hostKeyPublic);
  });

  it("flags a refused port with advice to check sshd and Port", () => {
    const row = rowOf(bad.stdout, "refused");
    expect(row.slice(COL.dns, COL.hostKey + 1)).toEqual(["✓ IP", "✗ refused", "–"]);
    const advice = bad.stdout.split("\n").find((l) => l.startsWith("✗ refused TCP: "));
    expect(advice).toBe(
      `✗ refused TCP: Connection refused by 127.0.0.1:${refusedPort}: is sshd running on that port? Check Port for refused in ${badConfig}`,
    );
  });

  it("flags a host name that does not resolve, pointing at HostName", () => {
    const row = rowOf(bad.stdout, "nodns");
    expect(row.slice(COL.dns)).toEqual(["✗ not found", "–", "–", "–", "–", "–"]);
    expect(bad.stdout).toContain(
      `✗ nodns DNS: Cannot resolve 'no-such-host..invalid': check HostName for nodns in ${badConfig}`,
    );
  });

  it("flags a key the server does not accept, naming the keys tried", () => {
    const row = rowOf(bad.stdout, "wrongkey");
    expect(row[COL.hostKey]).toBe("✓ known");
    expect(row[COL.auth]).toBe("✗ refused");
    const advice = bad.stdout.split("\n").find((l) => l.startsWith("✗ wrongkey AUTH: "));
    expect(advice).toContain(`tried key ${path.join(lab.dir, "wrong_ed25519")}`);
    expect(advice).toContain("authorized_keys");
  });

  it("names ssh-agent when the agent's key is the one that got in", async () => {
    const agentDir = path.join(lab.dir, "agent");
    execFileSync("mkdir", ["-p", agentDir]);
    const sock = path.join(agentDir, "sock");
    const agent = spawn("ssh-agent", ["-D", "-a", sock], { stdio: "ignore" });
    try {
      for (let i = 0; i < 100 && !existsSync(sock); i++) await new Promise((r) => setTimeout(r, 20));
      execFileSync("ssh-add", ["-q", lab.clientKeyPath], { env: { ...cleanEnv(), SSH_AUTH_SOCK: sock } });
      const config = path.join(lab.dir, "ssh_config.agent");
      // The configured key is refused; the agent holds the right one.
      await writeFile(
        config,
        `Host viaagent\n  HostName 127.0.0.1\n  Port ${lab.hosts[0]!.port}\n  User ${lab.user}\n  IdentityFile ${path.join(lab.dir, "wrong_ed25519")}\n`,
      );
      const r = await runCli(["doctor"], {
        // HOME without ~/.ssh: no default keys get in the way.
        env: cleanEnv({
          SCOUT_SSH_CONFIG: config,
          SCOUT_KNOWN_HOSTS: lab.knownHostsPath,
          SSH_AUTH_SOCK: sock,
          HOME: agentDir,
        }),
      });
      expect(r.code).toBe(0);
      expect(rowOf(r.stdout, "viaagent")[COL.auth]).toBe("✓ ssh-agent");
    } finally {
      agent.kill();
    }
  });

  it("prints exactly one line of advice per failure, and no progress indicator when not on a TTY", () => {
    const adviceLines = bad.stdout.split("\n").filter((l) => /^✗ \S+ [A-Z ]+: /.test(l));
    expect(adviceLines.map((l) => l.split(" ").slice(1, 3).join(" "))).toEqual(
      expect.arrayContaining([
        "changed HOST",
        "newkey HOST",
        "refused TCP:",
        "nodns DNS:",
        "wrongkey AUTH:",
        "loopy SSH",
      ]),
    );
    expect(adviceLines).toHaveLength(6);
    expect(bad.stderr).toBe("");
    expect(bad.stdout).not.toMatch(/[\r⠋⠙⠹]/);
  });

  it("checks only the hosts named, and fails on a name that is not in the ssh config", async () => {
    const r = await runCli(["doctor", "good", "nosuch"], {
      env: cleanEnv({ SCOUT_SSH_CONFIG: badConfig, SCOUT_KNOWN_HOSTS: badKnownHosts }),
    });
    expect(r.code).toBe(1);
    expect(r.stdout).toContain(
      `✗ nosuch: not a host of ${badConfig} (available: changed, good, loopy, newkey, nodns, refused, viajump, wrongkey)`,
    );
    expect(rowOf(r.stdout, "good")[COL.mark]).toBe("✓");
    expect(r.stdout).not.toMatch(/^✗\s+refused/m);
    expect(r.stdout).toContain("1 of 2 hosts failing.");
  });

  // `script` (util-linux/bsdutils) is in every Debian; elsewhere this one check is skipped.
  it.skipIf(!existsSync("/usr/bin/script"))("shows a progress indicator on a TTY", async () => {
    // `script` gives the child a pseudo-terminal, as an interactive shell would.
    const cmd = `${process.execPath} --import tsx src/cli/main.ts doctor good refused`;
    const r = await new Promise<CliResult>((resolve) => {
      const child = spawn("script", ["-qfec", cmd, "/dev/null"], {
        cwd: REPO,
        env: cleanEnv({ SCOUT_SSH_CONFIG: badConfig, SCOUT_KNOWN_HOSTS: badKnownHosts, TERM: "xterm" }),
        stdio: ["ignore", "pipe", "pipe"],
      });
      let stdout = "";
      child.stdout.on("data", (d: Buffer) => (stdout += d.toString()));
      child.on("close", (code) => resolve({ code, stdout, stderr: "" }));
    });
    expect(r.code).toBe(1);
    expect(r.stdout).toMatch(/⠋ checking 0\/2 hosts… waiting for (good, refused|refused, good)/);
    expect(r.stdout).toContain("1 of 2 hosts failing.");
  });
});
