/**
 * A host whose ssh_config entry can never connect (a ProxyJump loop) stays visible: the hosts list
 * says why it is offline, and using it answers with the loop instead of "Unknown host".
 */
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startFleet, type LabFleet } from "../fleet/index.js";
import { startHttpScout, type ScoutUnderTest } from "./harness.js";

let lab: LabFleet;
let scout: ScoutUnderTest;

beforeAll(async () => {
  lab = await startFleet({ hosts: 1 });
  const config = join(lab.dir, "ssh_config.loop");
  const h = lab.hosts[0]!;
  await lab.writeFile(
    config,
    [
      `Host good loop1 loop2`,
      `  HostName 127.0.0.1`,
      `  Port ${h.port}`,
      `  User ${lab.user}`,
      `  IdentityFile ${lab.clientKeyPath}`,
      `Host loop1`,
      `  ProxyJump loop2`,
      `Host loop2`,
      `  ProxyJump loop1`,
      "",
    ].join("\n"),
  );
  scout = await startHttpScout(lab, { sshConfigPath: config });
});

afterAll(async () => {
  await scout?.close();
  await lab?.stop();
});

describe("hosts with a config error", () => {
  it("are listed offline with the reason, next to healthy hosts", async () => {
    const r = await scout.call({ target: "hosts" });
    expect(r.isError).toBeFalsy();
    expect(r.text).toMatch(/^ {2}\[✓\] good \(online\) -> /m);
    expect(r.text).toMatch(
      /^ {2}\[✗\] loop1 \(offline\) -> \S+ \[config error: ProxyJump loop: loop1 → loop2 → loop1\. Break the loop[^\n]*\]$/m,
    );
    const hosts = (r.structuredContent as { hosts: Array<{ name: string; configError?: string }> }).hosts;
    expect(hosts.find((x) => x.name === "loop2")?.configError).toMatch(
      /ProxyJump loop: loop2 → loop1 → loop2/,
    );
    expect(hosts.find((x) => x.name === "good")?.configError).toBeUndefined();
  });

  it("using one answers with the loop and what to do, and the server keeps serving", async () => {
    const r = await scout.call({ target: "loop1:/" });
    expect(r.isError).toBe(true);
    expect(r.text).toMatch(/^Error: Cannot connect to loop1: ProxyJump loop: loop1 → loop2 → loop1/);
    expect(r.text).not.toMatch(/Unknown host/);
    expect((await scout.call({ target: `good:${lab.hosts[0]!.root}` })).isError).toBeFalsy();
  });
});
