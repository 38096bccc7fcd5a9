/**
 * A host whose ssh_config entry can never connect (a ProxyJump loop) stays visible: the hosts list
 * says why it is offline, and using it answers with the loop instead of "Unknown host".
 */
import { join } from "node:path";
import { readFile } from "node:fs/promises";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startFleet, type LabFleet } from "../fleet/index.js";
import { startHttpScout, type ScoutUnderTest } from "./harness.js";

/** Polls an async check every 100 ms until it holds; fails with `what` after `timeoutMs`. */
async function eventually(check: () => Promise<boolean>, timeoutMs: number, what: string): Promise<void> {
  const started = performance.now();
  while (!(await check())) {
    if (performance.now() - started > timeoutMs)
      throw new Error(`Timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

let lab: LabFleet;
let scout: ScoutUnderTest;
let config: string;

beforeAll(async () => {
  lab = await startFleet({ hosts: 1 });
  config = join(lab.dir, "ssh_config.loop");
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

describe("an ssh config edit that does not parse", () => {
  it("is not applied: the hosts answer, hosts://list and /health say so, and the last good hosts keep serving", async () => {
    const good = await readFile(config, "utf8");
    // A half-edited file: an unbalanced quote, which ssh refuses for the whole file.
    await lab.writeFile(config, good.replace("Host loop1\n", 'Host loop1\n  User "half\n'));
    let text = "";
    await eventually(
      async () => {
        text = (await scout.call({ target: "hosts" })).text;
        return text.startsWith("Warning: ssh config change not applied");
      },
      20_000,
      "the refused edit to show in the hosts answer",
    );
    expect(text).toMatch(
      /^Warning: ssh config change not applied \([^)]*\): \S*ssh_config\.loop:\d+: [^\n]*last good config \(3 hosts\)/,
    );
    expect(text).toMatch(/^ {2}\[✓\] good \(online\) -> /m);
    const r = await scout.call({ target: "hosts" });
    expect((r.structuredContent as { configProblem?: string }).configProblem).toMatch(/not applied/);
    const resource = await scout.client.readResource({ uri: "hosts://list" });
    expect((resource.contents[0] as { text: string }).text).toMatch(
      /^Warning: ssh config change not applied/,
    );
    const health = (await (await fetch(new URL("/health?verbose=1", scout.url))).json()) as {
      configProblem?: string;
    };
    expect(health.configProblem).toMatch(/not applied/);
    expect((await scout.call({ target: `good:${lab.hosts[0]!.root}` })).isError).toBeFalsy();

    // Fixed: the warning goes away.
    await lab.writeFile(config, good);
    await eventually(
      async () => !(await scout.call({ target: "hosts" })).text.startsWith("Warning:"),
      20_000,
      "the warning to clear once the file parses again",
    );
    const healed = (await (await fetch(new URL("/health?verbose=1", scout.url))).json()) as {
      configProblem?: string;
    };
    expect(healed.configProblem).toBeUndefined();
  });
});
