/**
 * Every resource URI kind end to end through the SDK Client: host-0 has (fake) docker, compose,
 * zfs and journalctl on its PATH, host-1 has none of them (a bare PATH). Names in URIs are
 * validated before any shell, and the resource list follows ssh config changes with list_changed.
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import type { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { ResourceListChangedNotificationSchema } from "@modelcontextprotocol/sdk/types.js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startFleet, type LabFleet } from "../fleet/index.js";
import { startHttpScout, startStdioScout, waitUntil, type ScoutUnderTest } from "./harness.js";
import { makeShims, type Shims } from "./shims.js";

let lab: LabFleet;
let shims: Shims;
let scout: ScoutUnderTest;
let rich: string;
let bare: string;

beforeAll(async () => {
  shims = makeShims();
  lab = await startFleet({
    hosts: 2,
    hostSshdConfig: (_alias, i) =>
      i === 0 ? [`SetEnv PATH=${shims.richBin}:/usr/bin:/bin`] : [`SetEnv PATH=${shims.bareBin}`],
  });
  rich = lab.hosts[0]!.alias;
  bare = lab.hosts[1]!.alias;
  scout = await startHttpScout(lab);
});

afterAll(async () => {
  await scout?.close();
  await lab?.stop();
  shims?.remove();
});

async function read(uri: string, client: Client = scout.client): Promise<string> {
  const r = await client.readResource({ uri });
  expect(r.contents).toHaveLength(1);
  expect(r.contents[0]!.uri).toBe(uri);
  return (r.contents[0] as { text: string }).text;
}

async function readError(uri: string): Promise<string> {
  const e = await scout.client.readResource({ uri }).then(
    () => undefined,
    (x: unknown) => x as Error,
  );
  expect(e, `${uri} should fail`).toBeInstanceOf(Error);
  return e!.message;
}

const calls = () => readFileSync(shims.callsLog, "utf8");

describe("resources on a host that has docker, compose, zfs and journalctl", () => {
  it(`{host}://docker lists containers`, async () => {
    const t = await read(`${rich}://docker`);
    expect(t).toBe(
      [
        `# Docker Containers on ${rich}`,
        "=".repeat(50),
        "",
        "● web",
        "    Status: Up 3 hours",
        "    Image:  nginx:1.25",
        `    Logs:   ${rich}://docker/web/logs`,
        "",
        "○ worker",
        "    Status: Exited (0) 2 days ago",
        "    Image:  python:3.12-slim",
        `    Logs:   ${rich}://docker/worker/logs`,
        "",
      ].join("\n"),
    );
  });

  it(`{host}://docker/{container}/logs returns the container's last lines`, async () => {
    const t = await read(`${rich}://docker/web/logs`);
    expect(t.split("\n")[0]).toBe(`# Container Logs: web@${rich}`);
    expect(t).toContain('"GET / HTTP/1.1" 200 615');
    expect(calls()).toContain("docker logs --tail 100 --timestamps web");
    expect(await readError(`${rich}://docker/ghost/logs`)).toContain(
      `Container 'ghost' not found on ${rich}. Use ${rich}://docker to see available containers.`,
    );
  });

  it(`{host}://compose lists projects; /{project} is its file; /{project}/logs its logs`, async () => {
    const list = await read(`${rich}://compose`);
    expect(list).toContain(`# Docker Compose Projects on ${rich}`);
    expect(list).toContain("● shop");
    expect(list).toContain(`    Config: ${shims.composeFile}`);
    expect(list).toContain(`    Logs:   ${rich}://compose/shop/logs`);

    const file = await read(`${rich}://compose/shop`);
    expect(file).toBe(`# Compose: shop@${rich}\n# File: ${shims.composeFile}\n\n${shims.composeYaml}`);

    const logs = await read(`${rich}://compose/shop/logs`);
    expect(logs).toBe(
      `# Compose Logs: shop@${rich}\n\nshop-web-1  | 2026-01-05T10:00:00Z listening on :8080\nshop-db-1   | 2026-01-05T10:00:00Z ready for connections\n`,
    );
    expect(await readError(`${rich}://compose/nope`)).toContain(
      `Compose project 'nope' not found on ${rich}`,
    );
    expect(await readError(`${rich}://compose/nope/logs`)).toContain(
      `Compose project 'nope' not found on ${rich}`,
    );
  });

  it(`{host}://zfs, /zfs/{pool}, /zfs/{pool}/datasets, /zfs/snapshots`, async () => {
    const overview = await read(`${rich}://zfs`);
    expect(overview).toContain(`# ZFS Overview: ${rich}`);
    expect(overview).toContain("● tank\n    Size: 928G  Used: 412G  Free: 516G  Cap: 44%  Health: ONLINE");
    expect(overview).toContain("○ backup");
    expect(overview).toContain(`  ${rich}://zfs/tank`);

    const pool = await read(`${rich}://zfs/tank`);
    expect(pool.split("\n")[0]).toBe(`# ZFS Pool: tank@${rich}`);
    expect(pool).toContain("errors: No known data errors");
    expect(await readError(`${rich}://zfs/nopool`)).toContain(`Pool 'nopool' not found on ${rich}`);

    const ds = await read(`${rich}://zfs/tank/datasets`);
    expect(ds.split("\n")[0]).toBe(`# ZFS Datasets: tank@${rich}`);
    expect(ds).toMatch(/^tank\/home\s+300G\s+516G\s+300G {2}\/home$/m);
    expect(await readError(`${rich}://zfs/nopool/datasets`)).toContain(`Pool 'nopool' not found on ${rich}`);

    const snaps = await read(`${rich}://zfs/snapshots`);
    expect(snaps).toContain(`# ZFS Snapshots: ${rich}`);
    expect(snaps).toContain("tank/home@daily-2026-01-05  800K  Mon Jan  5  0:00 2026");
  });

  it(`{host}://syslog reads journalctl`, async () => {
    const t = await read(`${rich}://syslog`);
    expect(t).toBe(
      [
        `# System Logs: ${rich}`,
        "=".repeat(50),
        "Source: journalctl (last 100 lines)",
        "",
        "Jan 05 10:00:00 lab systemd[1]: Started Daily apt upgrade.",
        "Jan 05 10:00:01 lab sshd[42]: Accepted publickey for scoutlab",
        "",
      ].join("\n"),
    );
    expect(calls()).toContain("journalctl --no-pager -n 100");
  });

  it("the resource list names the fixed per-host resources and templates", async () => {
    const { resources } = await scout.client.listResources();
    const uris = resources.map((r) => r.uri);
    for (const kind of ["docker", "compose", "zfs", "zfs/snapshots", "syslog"]) {
      expect(uris).toContain(`${rich}://${kind}`);
      expect(uris).toContain(`${bare}://${kind}`);
    }
    expect(uris).toContain("hosts://list");
    const { resourceTemplates } = await scout.client.listResourceTemplates();
    const templates = resourceTemplates.map((t) => t.uriTemplate);
    // One template per kind for all hosts ({host} is completed), not one per host.
    expect(templates.sort()).toEqual(
      [
        "scout://{host}/{+path}",
        "{host}://docker/{container}/logs",
        "{host}://compose/{project}",
        "{host}://compose/{project}/logs",
        "{host}://zfs/{pool}",
        "{host}://zfs/{pool}/datasets",
        "{host}://{+path}",
      ].sort(),
    );
  });
});

describe("a host without them says 'not available on host'", () => {
  it.each([
    ["docker", "Docker"],
    ["docker/web/logs", "Docker"],
    ["compose", "Docker"],
    ["compose/shop", "Docker"],
    ["compose/shop/logs", "Docker"],
    ["zfs", "ZFS"],
    ["zfs/tank", "ZFS"],
    ["zfs/tank/datasets", "ZFS"],
    ["zfs/snapshots", "ZFS"],
    ["syslog", "System logs (journalctl or /var/log/syslog)"],
  ])(`{host}://%s`, async (kind, what) => {
    expect(await readError(`${bare}://${kind}`)).toContain(`${what} is not available on host ${bare}`);
  });
});

describe("names in resource URIs are validated before any shell", () => {
  it.each([
    ["docker/-rf/logs", "container", "-rf"],
    ["docker/a$(id)/logs", "container", "a$(id)"],
    ["docker/.hidden/logs", "container", ".hidden"],
    ["compose/a;id", "compose project", "a;id"],
    ["compose/`id`/logs", "compose project", "`id`"], // the URL encodes it as %60id%60; decoded first
    ["docker/a%2Fb/logs", "container", "a/b"],
    ["zfs/tank&id", "pool", "tank&id"],
    ["zfs/-o/datasets", "pool", "-o"],
  ])(`%s`, async (rest, what, name) => {
    const before = calls();
    const msg = await readError(`${rich}://${rest}`);
    expect(msg).toContain(`Invalid ${what} name '${name}'`);
    expect(msg).toContain("use letters, digits, '.', '_' and '-'");
    // No tool ran: nothing reached a shell on the host.
    expect(calls()).toBe(before);
  });

  it("percent-encoded paths are decoded (a file name with a space)", async () => {
    const root = lab.hosts[0]!.root;
    await lab.writeFile(join(root, "my file.txt"), "spaced\n");
    expect(await read(`scout://${rich}${root}/my%20file.txt`)).toBe("spaced\n");
    expect(await read(`${rich}://${root.slice(1)}/my%20file.txt`)).toBe("spaced\n");
  });

  it("a valid name with dots, dashes and underscores passes", async () => {
    expect(await readError(`${rich}://docker/my_app-1.2/logs`)).toContain("Container 'my_app-1.2' not found");
    expect(calls()).toContain("docker logs --tail 100 --timestamps my_app-1.2");
  });
});

describe("the resource list follows ssh config changes", () => {
  it("clients over both transports get list_changed; hosts and resources follow", async () => {
    const config = "watched_ssh_config";
    const [p0, p1] = [lab.hosts[0]!.port, lab.hosts[1]!.port];
    const configPath = await lab.writeSshConfig([{ alias: "alpha", port: p0 }], config);
    const http = await startHttpScout(lab, { sshConfigPath: configPath });
    const stdio = await startStdioScout(lab, { SCOUT_SSH_CONFIG: configPath });
    try {
      let httpChanged = 0;
      let stdioChanged = 0;
      http.client.setNotificationHandler(ResourceListChangedNotificationSchema, () => {
        httpChanged++;
      });
      stdio.client.setNotificationHandler(ResourceListChangedNotificationSchema, () => {
        stdioChanged++;
      });
      const uris = async (c: Client) => (await c.listResources()).resources.map((r) => r.uri);
      expect(await uris(http.client)).toContain("alpha://docker");
      expect(await uris(http.client)).not.toContain("beta://docker");

      // A host appears.
      await lab.writeSshConfig(
        [
          { alias: "alpha", port: p0 },
          { alias: "beta", port: p1 },
        ],
        config,
      );
      await waitUntil(() => httpChanged > 0 && stdioChanged > 0, 10_000, "list_changed on both transports");
      for (const c of [http.client, stdio.client]) {
        expect(await uris(c)).toContain("beta://docker");
        const hostsDone = await c.complete({
          ref: { type: "ref/resource", uri: "{host}://{+path}" },
          argument: { name: "host", value: "b" },
        });
        expect(hostsDone.completion.values).toEqual(["beta"]);
      }
      const hosts = await http.call({ target: "hosts" });
      expect(hosts.text).toContain("] beta (online) -> ");
      const home = await stdio.call({ target: "beta:~", query: "echo ok" });
      expect(home.text.trim()).toBe("ok");
      const listing = await read(`beta://${lab.hosts[1]!.root.slice(1)}`, http.client);
      expect(listing).toMatch(/^# Directory: beta:/);
      expect(await read("hosts://list", http.client)).toContain("[✓] beta (online)");

      // A host goes away.
      const [h0, s0] = [httpChanged, stdioChanged];
      await lab.writeSshConfig([{ alias: "beta", port: p1 }], config);
      await waitUntil(() => httpChanged > h0 && stdioChanged > s0, 10_000, "a second list_changed");
      for (const c of [http.client, stdio.client]) {
        const now = await uris(c);
        expect(now).not.toContain("alpha://docker");
        expect(now).toContain("beta://docker");
      }
      const gone = await http.call({ target: "alpha:/etc/hosts" });
      expect(gone.isError).toBe(true);
      expect(gone.text).toBe("Error: Unknown host 'alpha'. Available: beta");
      const e = await http.client.readResource({ uri: "alpha://docker" }).catch((x: unknown) => x as Error);
      expect(e).toBeInstanceOf(Error);
    } finally {
      await Promise.allSettled([http.close(), stdio.close()]);
    }
  });
});
