/**
 * IdentitiesOnly with ssh-agent, against a real sshd and a real ssh-agent: as in OpenSSH, the
 * agent may sign only with the configured keys (an encrypted IdentityFile whose key lives in the
 * agent still works), and the agent's other keys are never offered.
 */
import { execFileSync, spawn, type ChildProcess } from "node:child_process";
import { copyFileSync, existsSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { RestrictedAgent, resolveIdentities } from "../../src/config/identities.js";
import { startFleet, type LabFleet } from "../fleet/index.js";
import { startHttpScout, type ScoutUnderTest } from "../mcp/harness.js";

let lab: LabFleet;
let agent: ChildProcess;
let sock: string;
let scout: ScoutUnderTest;
const savedSock = process.env.SSH_AUTH_SOCK;

/** An encrypted copy of a key (with its .pub): usable only through the agent. */
function encryptedCopy(src: string, dest: string): string {
  copyFileSync(src, dest);
  copyFileSync(`${src}.pub`, `${dest}.pub`);
  execFileSync("ssh-keygen", ["-q", "-p", "-P", "", "-N", "not-known-to-scout", "-f", dest]);
  return dest;
}

beforeAll(async () => {
  lab = await startFleet({ hosts: 1 });
  await lab.writeFile(join(lab.hosts[0]!.root, "hello.txt"), "hello\n");
  sock = join(lab.dir, "agent.sock");
  agent = spawn("ssh-agent", ["-D", "-a", sock], { stdio: "ignore" });
  for (let i = 0; i < 250 && !existsSync(sock); i++) await new Promise((r) => setTimeout(r, 20));
  const other = join(lab.dir, "other_ed25519");
  execFileSync("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-f", other]);
  const env = { PATH: process.env.PATH ?? "/usr/bin:/bin", SSH_AUTH_SOCK: sock };
  // The agent holds the key sshd accepts and one it doesn't.
  execFileSync("ssh-add", ["-q", lab.clientKeyPath, other], { env });
  const viaAgent = encryptedCopy(lab.clientKeyPath, join(lab.dir, "enc_good"));
  const notAuthorized = encryptedCopy(other, join(lab.dir, "enc_other"));
  const port = lab.hosts[0]!.port;
  const config = join(lab.dir, "ssh_config.ids");
  await lab.writeFile(
    config,
    [
      `Host good`,
      `  IdentityFile ${viaAgent}`,
      `Host other`,
      `  IdentityFile ${notAuthorized}`,
      `Host *`,
      `  HostName 127.0.0.1`,
      `  Port ${port}`,
      `  User ${lab.user}`,
      `  IdentitiesOnly yes`,
      "",
    ].join("\n"),
  );
  process.env.SSH_AUTH_SOCK = sock;
  scout = await startHttpScout(lab, { sshConfigPath: config });
});

afterAll(async () => {
  await scout?.close();
  agent?.kill();
  if (savedSock === undefined) delete process.env.SSH_AUTH_SOCK;
  else process.env.SSH_AUTH_SOCK = savedSock;
  await lab?.stop();
});

describe("IdentitiesOnly with ssh-agent", () => {
  it("the agent lists only the configured key", async () => {
    const ids = await resolveIdentities(
      {
        alias: "x",
        hostname: "127.0.0.1",
        port: 22,
        user: "u",
        identityFiles: [join(lab.dir, "enc_good")],
        identitiesOnly: true,
        proxyJump: [],
      },
      { agentSocket: sock },
    );
    expect(ids.keys).toEqual([]); // encrypted: only the agent can sign with it
    expect(ids.agent).toBeInstanceOf(RestrictedAgent);
    const listed = await new Promise<unknown[]>((resolve, reject) =>
      (ids.agent as RestrictedAgent).getIdentities((err, keys) => (err ? reject(err) : resolve(keys ?? []))),
    );
    expect(listed).toHaveLength(1);
    // Without IdentitiesOnly the whole agent is offered, as OpenSSH does.
    const open = await resolveIdentities(
      {
        alias: "x",
        hostname: "127.0.0.1",
        port: 22,
        user: "u",
        identityFiles: [],
        identitiesOnly: false,
        proxyJump: [],
      },
      { agentSocket: sock },
    );
    expect(open.agent).toBe(sock);
  });

  it("an encrypted IdentityFile whose key is in the agent gets in", async () => {
    const r = await scout.call({ target: `good:${lab.hosts[0]!.root}/hello.txt` });
    expect(r.isError).toBeFalsy();
    expect(r.text).toBe("hello\n");
  });

  it("the agent's other keys are never offered: a host configured with a key sshd refuses fails", async () => {
    // The agent holds the key this sshd accepts, but IdentitiesOnly limits it to the configured one.
    const r = await scout.call({ target: `other:${lab.hosts[0]!.root}/hello.txt` });
    expect(r.isError).toBe(true);
    expect(r.text).toMatch(/^Error: Authentication failed for .* \(other\); tried ssh-agent/);
  });
});
