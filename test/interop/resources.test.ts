/**
 * Resources as clients other than the TypeScript SDK use them: a scheme lowercased on the way
 * (`Web1://` arrives as `web1://`), paged lists for a 1,000-host fleet, completions for `{host}`
 * and `{+path}`, and one list_changed per ssh config change.
 */
import { join } from "node:path";
import { ResourceListChangedNotificationSchema } from "@modelcontextprotocol/sdk/types.js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startFleet, type LabFleet } from "../fleet/index.js";
import { startHttpScout, startStdioScout, waitUntil, type ScoutUnderTest } from "../mcp/harness.js";

let lab: LabFleet;
let port: number;
let root: string;

beforeAll(async () => {
  lab = await startFleet({ hosts: 1 });
  port = lab.hosts[0]!.port;
  root = lab.hosts[0]!.root;
  await lab.writeFile(join(root, "hello.txt"), "hello\n");
  await lab.writeFile(join(root, "sub", "alpha.txt"), "a\n");
  await lab.writeFile(join(root, "sub", "alps.log"), "b\n");
  await lab.writeFile(join(root, "sub", "beta.txt"), "c\n");
});

afterAll(async () => {
  await lab?.stop();
});

describe("a host alias with capital letters", () => {
  let scout: ScoutUnderTest;
  beforeAll(async () => {
    const cfg = await lab.writeSshConfig([{ alias: "Web1", port }]);
    scout = await startHttpScout(lab, { sshConfigPath: cfg });
  });
  afterAll(async () => {
    await scout?.close();
  });

  it("is readable as Web1://, web1:// (a lowercased scheme) and scout://web1/", async () => {
    for (const uri of [
      `Web1://${root.slice(1)}/hello.txt`,
      `web1://${root.slice(1)}/hello.txt`,
      `scout://web1${root}/hello.txt`,
    ]) {
      const r = await scout.client.readResource({ uri });
      expect((r.contents[0] as { text: string }).text).toBe("hello\n");
      expect(r.contents[0]!.uri).toBe(uri);
    }
    const list = (await scout.client.listResources()).resources.map((r) => r.uri);
    expect(list).toContain("Web1://docker");
  });

  it("an unknown scheme is resource-not-found (-32002 in this 2025-era session) naming the way out", async () => {
    const e = await scout.client
      .readResource({ uri: "web9://etc/hosts" })
      .catch((x: unknown) => x as Error & { code?: number });
    expect(e).toBeInstanceOf(Error);
    expect(e.code).toBe(-32002);
    expect(e.message).toMatch(/Resource web9:\/\/etc\/hosts not found: no host 'web9'/);
  });

  it("completes {host} case-insensitively and {+path} from the remote directory", async () => {
    const hosts = await scout.client.complete({
      ref: { type: "ref/resource", uri: "{host}://{+path}" },
      argument: { name: "host", value: "we" },
    });
    expect(hosts.completion).toMatchObject({ values: ["Web1"], total: 1, hasMore: false });
    const paths = await scout.client.complete({
      ref: { type: "ref/resource", uri: "{host}://{+path}" },
      argument: { name: "path", value: `${root.slice(1)}/sub/al` },
      context: { arguments: { host: "web1" } },
    });
    expect(paths.completion.values).toEqual([
      `${root.slice(1)}/sub/alpha.txt`,
      `${root.slice(1)}/sub/alps.log`,
    ]);
    const dirs = await scout.client.complete({
      ref: { type: "ref/resource", uri: "scout://{host}/{+path}" },
      argument: { name: "path", value: `${root.slice(1)}/s` },
      context: { arguments: { host: "Web1" } },
    });
    expect(dirs.completion.values).toEqual([`${root.slice(1)}/sub/`]);
    // No host yet, or an argument without suggestions: an empty answer, not an error.
    const none = await scout.client.complete({
      ref: { type: "ref/resource", uri: "{host}://docker/{container}/logs" },
      argument: { name: "container", value: "w" },
    });
    expect(none.completion.values).toEqual([]);
  });
});

describe("a 1,000-host fleet", () => {
  let scout: ScoutUnderTest;
  beforeAll(async () => {
    const entries = Array.from({ length: 1000 }, (_, i) => ({
      alias: `node${String(i).padStart(4, "0")}`,
      port,
    }));
    const cfg = await lab.writeSshConfig(entries);
    scout = await startHttpScout(lab, { sshConfigPath: cfg });
  });
  afterAll(async () => {
    await scout?.close();
  });

  it("pages resources/list with an opaque cursor and lists 7 templates, not 6,000", async () => {
    const uris: string[] = [];
    let cursor: string | undefined;
    let pages = 0;
    do {
      const page = await scout.client.listResources(cursor ? { cursor } : {});
      expect(page.resources.length).toBeLessThanOrEqual(500);
      uris.push(...page.resources.map((r) => r.uri));
      cursor = page.nextCursor;
      pages++;
    } while (cursor);
    expect(uris.length).toBe(1 + 1000 * 5);
    expect(new Set(uris).size).toBe(uris.length);
    expect(pages).toBe(11);
    expect(uris[0]).toBe("hosts://list");
    expect(uris).toContain("node0999://zfs/snapshots");
    const templates = await scout.client.listResourceTemplates();
    expect(templates.resourceTemplates).toHaveLength(7);
    expect(templates.nextCursor).toBeUndefined();
    const bad = await scout.client
      .listResources({ cursor: "not-a-cursor" })
      .catch((x: unknown) => x as Error & { code?: number });
    expect(bad).toBeInstanceOf(Error);
    expect(bad.code).toBe(-32602);
  });

  it("caps host completions at 100 with the total", async () => {
    const r = await scout.client.complete({
      ref: { type: "ref/resource", uri: "scout://{host}/{+path}" },
      argument: { name: "host", value: "node0" },
    });
    expect(r.completion.values).toHaveLength(100);
    expect(r.completion).toMatchObject({ total: 1000, hasMore: true });
    expect(r.completion.values[0]).toBe("node0000");
  });
});

describe("list_changed", () => {
  it("one ssh config change sends one list_changed per session (HTTP and stdio)", async () => {
    const name = "interop_watched_config";
    const cfg = await lab.writeSshConfig([{ alias: "alpha", port }], name);
    const http = await startHttpScout(lab, { sshConfigPath: cfg });
    const stdio = await startStdioScout(lab, { SCOUT_SSH_CONFIG: cfg });
    try {
      const seen = { http: 0, stdio: 0 };
      http.client.setNotificationHandler(ResourceListChangedNotificationSchema, () => void seen.http++);
      stdio.client.setNotificationHandler(ResourceListChangedNotificationSchema, () => void seen.stdio++);
      await lab.writeSshConfig(
        [
          { alias: "alpha", port },
          { alias: "beta", port },
        ],
        name,
      );
      await waitUntil(() => seen.http > 0 && seen.stdio > 0, 10_000, "list_changed on both transports");
      await new Promise((r) => setTimeout(r, 1500)); // any more would have arrived by now
      expect(seen).toEqual({ http: 1, stdio: 1 });
      expect((await http.client.listResources()).resources.map((r) => r.uri)).toContain("beta://docker");
    } finally {
      await Promise.allSettled([http.close(), stdio.close()]);
    }
  });
});
