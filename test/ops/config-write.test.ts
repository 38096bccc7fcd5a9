/**
 * No tool call may write a file Scout reads as configuration (issue 11 item 4), tested as an agent
 * would try it: `beam` downloads over stdio, through the MCP client, to the ssh config's Include
 * glob, a certificate beside an identity, known_hosts by way of a directory target, the audit log,
 * and the same through a symlinked directory and `..`. An ordinary download still works.
 */
import { existsSync, mkdirSync, readdirSync, readFileSync, symlinkSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startFleet, type LabFleet } from "../fleet/index.js";
import { startStdioScout, type ScoutUnderTest } from "../mcp/harness.js";

let lab: LabFleet;
let scout: ScoutUnderTest;
let remoteDir: string;
let local: string;

beforeAll(async () => {
  lab = await startFleet({ hosts: 1 });
  const h = lab.hosts[0]!;
  remoteDir = h.root;
  await lab.writeFile(join(remoteDir, "evil.conf"), "Host *\n  ProxyCommand touch /tmp/pwned\n");
  await lab.writeFile(join(remoteDir, "known_hosts"), "* ssh-ed25519 AAAA\n");
  await lab.writeFile(join(remoteDir, "plain.txt"), "just data\n");
  await lab.writeFile(join(remoteDir, "audit.log"), "forged\n");
  local = join(lab.dir, "local");
  mkdirSync(join(local, "conf.d"), { recursive: true });
  symlinkSync(join(local, "conf.d"), join(local, "link"));
  const config = join(local, "ssh_config");
  await lab.writeFile(
    config,
    [
      `Include ${join(local, "conf.d")}/*.conf`,
      `Host ${h.alias}`,
      `  HostName 127.0.0.1`,
      `  Port ${h.port}`,
      `  User ${lab.user}`,
      `  IdentityFile ${lab.clientKeyPath}`,
      `  IdentitiesOnly yes`,
      "",
    ].join("\n"),
  );
  scout = await startStdioScout({ sshConfigPath: config, knownHostsPath: lab.knownHostsPath } as LabFleet, {
    SCOUT_AUDIT_LOG: join(local, "audit.log"),
  });
});

afterAll(async () => {
  await scout?.close();
  await lab?.stop();
});

const alias = () => lab.hosts[0]!.alias;

describe("beam never writes Scout's configuration", () => {
  it.each([
    [
      "a new file an Include glob would read",
      () => join(local, "conf.d", "evil.conf"),
      /part of the ssh configuration/,
    ],
    [
      "the same through a symlinked directory",
      () => join(local, "link", "evil.conf"),
      /part of the ssh configuration/,
    ],
    [
      "the same through ..",
      () => join(local, "link", "..", "conf.d", "x.conf"),
      /part of the ssh configuration/,
    ],
    ["an identity's -cert.pub", () => `${lab.clientKeyPath}-cert.pub`, /a certificate of/],
  ])("refuses %s", async (_what, target, role) => {
    const path = target();
    const r = await scout.call({ target: `${alias()}:${remoteDir}/evil.conf`, beam: path });
    expect(r.isError).toBe(true);
    expect(r.text).toMatch(/^Error: Refusing to write /);
    expect(r.text).toMatch(role);
    expect(existsSync(path)).toBe(false);
  });

  it("refuses known_hosts reached through a directory target, and leaves no temp file", async () => {
    const dir = join(lab.knownHostsPath, "..");
    const before = readFileSync(lab.knownHostsPath, "utf8");
    const r = await scout.call({ target: `${alias()}:${remoteDir}/known_hosts`, beam: dir });
    expect(r.isError).toBe(true);
    expect(r.text).toMatch(/a known_hosts file/);
    expect(readFileSync(lab.knownHostsPath, "utf8")).toBe(before);
    expect(readdirSync(dir).filter((f) => f.includes("scout-tmp"))).toEqual([]);
  });

  it("refuses the audit log (it exists, so only a directory target could overwrite it)", async () => {
    const r = await scout.call({ target: `${alias()}:${remoteDir}/audit.log`, beam: local });
    expect(r.isError).toBe(true);
    expect(r.text).toMatch(/it is Scout's audit log/);
    expect(readFileSync(join(local, "audit.log"), "utf8")).not.toContain("forged");
  });

  it("an ordinary download still works, and the server is still up", async () => {
    const path = join(local, "plain.txt");
    const r = await scout.call({ target: `${alias()}:${remoteDir}/plain.txt`, beam: path });
    expect(r.isError).toBeFalsy();
    expect(readFileSync(path, "utf8")).toBe("just data\n");
  });
});
