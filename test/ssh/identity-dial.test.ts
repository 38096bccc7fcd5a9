/**
 * Which identity Scout logs in with, checked on the server side: every authorized key carries a
 * `command="echo MARKER"` (and every certificate a force-command), so what a command prints says
 * which key or certificate sshd accepted. Real sshds, real ssh-keygen, a real ssh-agent.
 */
import { execFileSync, spawn, type ChildProcess } from "node:child_process";
import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { HostConfig } from "../../src/config/host.js";
import { settingsWith } from "../../src/config/settings.js";
import { ScoutError } from "../../src/errors.js";
import { Fleet } from "../../src/ssh/fleet.js";
import { createConnectionDeps } from "../../src/ssh/trust.js";
import { startFleet, type LabFleet } from "../fleet/index.js";
import { collect } from "./helpers.js";

const keys = mkdtempSync(join(tmpdir(), "scout-idkeys-"));
chmodSync(keys, 0o755); // the lab's sshd user reads authorized_keys and the CA key here
let lab: LabFleet;
let agent: ChildProcess | undefined;
const agentSock = join(keys, "agent.sock");

function keygen(name: string, type = "ed25519"): string {
  const p = join(keys, name);
  execFileSync("ssh-keygen", ["-q", "-t", type, "-N", "", "-C", name, "-f", p]);
  return p;
}
const pub = (p: string) => readFileSync(`${p}.pub`, "utf8").trim();
const marked = (p: string, marker: string) => `command="echo ${marker}" ${pub(p)}`;

const configured = keygen("configured");
const dflt = keygen("id_ed25519");
const unauthorized = keygen("unauthorized");
const ca = keygen("user_ca");
const certified = keygen("certified");
const certifiedRsa = keygen("certified_rsa", "rsa");
const elsewhere = keygen("cert_elsewhere");
const viaAgent = keygen("via_agent");

function certify(key: string, marker: string, principal: string): void {
  execFileSync("ssh-keygen", [
    ...["-q", "-s", ca, "-I", marker, "-n", principal, "-V", "-5m:+1h"],
    ...["-O", "clear", "-O", `force-command=echo ${marker}`],
    `${key}.pub`,
  ]);
}

beforeAll(async () => {
  writeFileSync(
    join(keys, "ak0"),
    [marked(dflt, "default-key"), marked(configured, "configured-key"), marked(viaAgent, "agent-key")].join(
      "\n",
    ) + "\n",
  );
  writeFileSync(join(keys, "ak-none"), "");
  writeFileSync(join(keys, "user_ca.pub.trusted"), pub(ca) + "\n");
  lab = await startFleet({
    hosts: 2,
    hostSshdConfig: (_alias, i) =>
      i === 0
        ? [`AuthorizedKeysFile ${join(keys, "ak0")}`]
        : [
            `AuthorizedKeysFile ${join(keys, "ak-none")}`,
            `TrustedUserCAKeys ${join(keys, "user_ca.pub.trusted")}`,
          ],
  });
  certify(certified, "cert-ed25519", lab.user);
  certify(certifiedRsa, "cert-rsa", lab.user);
  certify(elsewhere, "cert-file", lab.user);
  const moved = join(keys, "moved-cert.pub");
  writeFileSync(moved, readFileSync(`${elsewhere}-cert.pub`));
  rmSync(`${elsewhere}-cert.pub`);
  agent = spawn("ssh-agent", ["-D", "-a", agentSock], { stdio: "ignore" });
  for (let i = 0; i < 250 && !existsSync(agentSock); i++) await new Promise((r) => setTimeout(r, 20));
  execFileSync("ssh-add", ["-q", viaAgent], {
    env: { PATH: process.env.PATH ?? "/usr/bin:/bin", SSH_AUTH_SOCK: agentSock },
  });
});

afterAll(async () => {
  agent?.kill();
  await lab?.stop();
  rmSync(keys, { recursive: true, force: true });
});

function hostOn(i: number, alias: string, over: Partial<HostConfig>): HostConfig {
  return {
    alias,
    hostname: "127.0.0.1",
    port: lab.hosts[i]!.port,
    user: lab.user,
    identityFiles: [],
    identitiesOnly: false,
    identityAgent: "none", // no agent unless a test asks for one
    proxyJump: [],
    userKnownHostsFiles: [lab.knownHostsPath],
    globalKnownHostsFiles: [],
    ...over,
  };
}

/** Logs in through Scout's real trust wiring (known_hosts, identities, certificates); returns the marker. */
async function loginMarker(host: HostConfig): Promise<string> {
  const deps = await createConnectionDeps(
    { knownHostsPath: lab.knownHostsPath, strictHostKeyChecking: "true" },
    () => {},
  );
  const fleet = new Fleet({
    settings: settingsWith(),
    lookupHost: (alias) => {
      if (alias !== host.alias) throw new ScoutError("unknown-host", alias);
      return host;
    },
    connectionDeps: deps,
  });
  try {
    return (await fleet.host(host.alias).exec("echo not-forced").then(collect)).stdout.trim();
  } finally {
    await fleet.close();
  }
}

describe("identity selection, checked server side", () => {
  it("logs in with the configured key, not a default key that is also authorized", async () => {
    expect(await loginMarker(hostOn(0, "cfg", { identityFiles: [configured] }))).toBe("configured-key");
  });

  it("a configured key sshd refuses fails: the default key is not tried behind its back", async () => {
    await expect(loginMarker(hostOn(0, "bad", { identityFiles: [unauthorized] }))).rejects.toThrow(
      new RegExp(`Authentication failed .*tried key ${unauthorized}$`),
    );
  });

  it("the defaults are used when the config layer resolved them (no IdentityFile applies)", async () => {
    expect(await loginMarker(hostOn(0, "dflt", { identityFiles: [dflt], defaultIdentities: true }))).toBe(
      "default-key",
    );
  });

  it("IdentityAgent points at an agent Scout was not told about through SSH_AUTH_SOCK", async () => {
    const saved = process.env.SSH_AUTH_SOCK;
    process.env.SSH_AUTH_SOCK = join(keys, "no-such-agent.sock");
    try {
      expect(await loginMarker(hostOn(0, "agent", { identityAgent: agentSock }))).toBe("agent-key");
    } finally {
      if (saved === undefined) delete process.env.SSH_AUTH_SOCK;
      else process.env.SSH_AUTH_SOCK = saved;
    }
  });
});

describe("user certificates (TrustedUserCAKeys, no authorized key)", () => {
  it("an ed25519 key's -cert.pub gets in", async () => {
    expect(await loginMarker(hostOn(1, "c1", { identityFiles: [certified] }))).toBe("cert-ed25519");
  });

  it("an RSA certificate gets in (rsa-sha2-256-cert-v01)", async () => {
    expect(await loginMarker(hostOn(1, "c2", { identityFiles: [certifiedRsa] }))).toBe("cert-rsa");
  });

  it("CertificateFile names a certificate kept elsewhere", async () => {
    expect(
      await loginMarker(
        hostOn(1, "c3", { identityFiles: [elsewhere], certificateFiles: [join(keys, "moved-cert.pub")] }),
      ),
    ).toBe("cert-file");
  });

  it("without the certificate the same key is refused", async () => {
    await expect(loginMarker(hostOn(1, "c4", { identityFiles: [elsewhere] }))).rejects.toThrow(
      /Authentication failed/,
    );
  });
});

describe("per-host known_hosts and StrictHostKeyChecking", () => {
  it("UserKnownHostsFile per host; accept-new appends to that file", async () => {
    const own = join(keys, "own_known_hosts");
    writeFileSync(own, "");
    const h = hostOn(0, "kh", { identityFiles: [configured], userKnownHostsFiles: [own] });
    await expect(loginMarker(h)).rejects.toThrow(/Unknown host key/);
    expect(await loginMarker({ ...h, strictHostKeyChecking: "accept-new" })).toBe("configured-key");
    expect(readFileSync(own, "utf8")).toContain(lab.hosts[0]!.hostKeyPublic.split(" ")[1]);
    expect(await loginMarker(h)).toBe("configured-key");
  });

  it("ask is refused with a message that says Scout cannot ask", async () => {
    const empty = join(keys, "empty_known_hosts");
    writeFileSync(empty, "");
    const h = hostOn(0, "ask", {
      identityFiles: [configured],
      userKnownHostsFiles: [empty],
      strictHostKeyChecking: "ask",
    });
    await expect(loginMarker(h)).rejects.toThrow(/StrictHostKeyChecking ask, and Scout has nobody to ask/);
  });

  it("a host with no certificate, trusted only through @cert-authority, is refused with the reason", async () => {
    const caOnly = join(keys, "ca_known_hosts");
    writeFileSync(caOnly, `@cert-authority [127.0.0.1]:${lab.hosts[0]!.port} ${pub(ca)}\n`);
    const h = hostOn(0, "hostcert", { identityFiles: [configured], userKnownHostsFiles: [caOnly] });
    await expect(loginMarker(h)).rejects.toThrow(
      new RegExp(`@cert-authority at ${caOnly}:1.*presented a plain key, not a certificate`),
    );
  });

  it("the global file is consulted too", async () => {
    const empty = join(keys, "empty2");
    writeFileSync(empty, "");
    const h = hostOn(0, "global", {
      identityFiles: [configured],
      userKnownHostsFiles: [empty],
      globalKnownHostsFiles: [lab.knownHostsPath],
    });
    expect(await loginMarker(h)).toBe("configured-key");
  });
});

describe("host certificates (@cert-authority)", () => {
  let certLab: LabFleet;
  const hostCa = keygen("host_ca");
  beforeAll(async () => {
    certLab = await startFleet({
      hosts: 1,
      hostCertificateCa: hostCa,
      hostSshdConfig: () => [`AuthorizedKeysFile ${join(keys, "ak0")}`],
    });
  });
  afterAll(async () => {
    await certLab?.stop();
  });

  const certHost = (knownHosts: string, over: Partial<HostConfig> = {}): HostConfig => ({
    ...hostOn(0, "certhost", { identityFiles: [configured] }),
    port: certLab.hosts[0]!.port,
    user: certLab.user,
    userKnownHostsFiles: [knownHosts],
    ...over,
  });

  it("a host whose key is known only through its CA gets in (the plain key is in no known_hosts)", async () => {
    const kh = join(keys, "kh_ca_ok");
    writeFileSync(kh, `@cert-authority 127.0.0.1,[127.0.0.1]:* ${pub(hostCa)}\n`);
    expect(await loginMarker(certHost(kh))).toBe("configured-key");
  });

  it("a certificate for other principals is refused (HostKeyAlias names another host)", async () => {
    const kh = join(keys, "kh_ca_alias");
    writeFileSync(kh, `@cert-authority * ${pub(hostCa)}\n`);
    await expect(loginMarker(certHost(kh, { hostKeyAlias: "db.example" }))).rejects.toThrow(
      /Host certificate of certhost .* refused: it is for 127\.0\.0\.1, host-0, not db\.example/,
    );
  });

  it("a certificate signed by another CA is not trusted, and a @revoked CA refuses", async () => {
    const other = join(keys, "kh_other_ca");
    writeFileSync(other, `@cert-authority * ${pub(ca)}\n`);
    await expect(loginMarker(certHost(other))).rejects.toThrow(/Unknown host key/);
    const revoked = join(keys, "kh_revoked_ca");
    writeFileSync(revoked, `@cert-authority * ${pub(hostCa)}\n@revoked * ${pub(hostCa)}\n`);
    await expect(loginMarker(certHost(revoked))).rejects.toThrow(/its CA key is @revoked/);
  });
});
