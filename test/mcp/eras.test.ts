/**
 * Both protocol eras over both transports against real sshd: a 2026-07-28 client (SDK v2, pinned,
 * stateless) and a 2025-11-25 client (SDK v1, initialize + session) each run every mode of the
 * scout tool and read every kind of resource; the modern wire details (server/discover, resultType,
 * ttlMs/cacheScope, -32602 for unknown resources and tools, no ping) are checked on raw HTTP.
 */
import { existsSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { serve, type RunningServer } from "../../src/cli/serve.js";
import { silentLogger } from "../../src/observe/log.js";
import { startFleet, type LabFleet } from "../fleet/index.js";
import { connectEra, type EraClient, type EraName, type TransportName } from "./eras.js";
import { labSettings } from "./harness.js";

let lab: LabFleet;
let server: RunningServer;
let url: string;
let h0: string;
let h1: string;
let root0: string;
let root1: string;

beforeAll(async () => {
  lab = await startFleet({ hosts: 2 });
  h0 = lab.hosts[0]!.alias;
  h1 = lab.hosts[1]!.alias;
  root0 = lab.hosts[0]!.root;
  root1 = lab.hosts[1]!.root;
  await lab.writeFile(join(root0, "hello.txt"), "hello\nworld\n");
  await lab.writeFile(join(root1, "hello.txt"), "hello\nthere\n");
  await lab.writeFile(join(root0, "proj/src/main.py"), "print(1)\n");
  await lab.writeFile(
    join(root0, "log.txt"),
    Array.from({ length: 50 }, (_, i) => `l${i + 1}`).join("\n") + "\n",
  );
  server = await serve(labSettings(lab, { transport: "http" }), {
    log: silentLogger(),
    installSignals: false,
  });
  url = server.http?.url ?? "";
});

afterAll(async () => {
  await server?.shutdown("test done");
  await lab?.stop();
});

const COMBOS: Array<[EraName, TransportName]> = [
  ["modern", "http"],
  ["legacy", "http"],
  ["modern", "stdio"],
  ["legacy", "stdio"],
];

describe.each(COMBOS)("%s client over %s", (era, transport) => {
  let c: EraClient;
  beforeAll(async () => {
    c = await connectEra(era, transport, { url, lab });
  });
  afterAll(async () => {
    await c?.close();
  });

  it("lands on its era", () => {
    expect(c.negotiated()).toBe(era);
  });

  it("runs every mode of the scout tool", async () => {
    const hosts = await c.call({ target: "hosts" });
    expect(hosts.text.split("\n")[0]).toBe("Available hosts:");
    expect(hosts.structuredContent).toMatchObject({ mode: "hosts" });

    const read = await c.call({ target: `${h0}:${root0}/hello.txt` });
    expect(read.text).toBe("hello\nworld\n");
    expect(read.structuredContent).toMatchObject({ mode: "read", host: h0, kind: "file", size: 12 });

    const tail = await c.call({ target: `${h0}:${root0}/log.txt`, tail: 2 });
    expect(tail.text).toContain("l49\nl50");

    const list = await c.call({ target: `${h0}:${root0}` });
    expect(list.text).toContain("hello.txt");
    expect(list.structuredContent).toMatchObject({ mode: "list", kind: "directory" });

    const tree = await c.call({ target: `${h0}:${root0}/proj`, tree: true });
    expect(tree.text).toContain("main.py");
    expect(tree.structuredContent).toMatchObject({ mode: "tree" });

    const find = await c.call({ target: `${h0}:${root0}`, find: "*.py" });
    expect(find.structuredContent).toMatchObject({ mode: "find", matches: [`${root0}/proj/src/main.py`] });

    const cmd = await c.call({ target: `${h0}:${root0}`, query: "cat hello.txt | wc -l" });
    expect(cmd.text).toMatch(/^2\b/);
    expect(cmd.structuredContent).toMatchObject({ mode: "command", exitCode: 0 });

    const diff = await c.call({ target: `${h0}:${root0}/hello.txt`, diff: `${h1}:${root1}/hello.txt` });
    expect(diff.text).toContain("-world");
    expect(diff.structuredContent).toMatchObject({ mode: "diff", identical: false });

    const same = await c.call({ target: `${h0}:${root0}/hello.txt`, diff_content: "hello\nworld\n" });
    expect(same.structuredContent).toMatchObject({ mode: "diff", identical: true });

    const bc = await c.call({ targets: [`${h0}:${root0}/hello.txt`, `${h1}:${root1}/hello.txt`] });
    expect(bc.structuredContent).toMatchObject({ mode: "broadcast", succeeded: 2, total: 2 });

    const copy = `${root1}/copied-${era}-${transport}.txt`;
    const beam = await c.call({ beam_source: `${h0}:${root0}/hello.txt`, beam_target: `${h1}:${copy}` });
    expect(beam.structuredContent).toMatchObject({ mode: "beam", direction: "remote", bytes: 12 });

    const bad = await c.call({ target: "nosuchhost:/etc/hosts" });
    expect(bad.isError).toBe(true);
    expect(bad.text).toMatch(/^Error: /);
    expect(bad.structuredContent).toMatchObject({ mode: "read", error: { code: "unknown-host" } });
  });

  it("advertises the tool with an output schema every answer above matched", async () => {
    const { tools } = (await c.listTools()) as { tools: Array<Record<string, unknown>> };
    expect(tools.map((t) => t.name)).toEqual(["scout"]);
    expect(tools[0]!.outputSchema).toMatchObject({ type: "object", required: ["mode"] });
  });

  it("an unknown tool is a -32602 protocol error", async () => {
    const e = await c.callTool("cat", {}).then(
      () => undefined,
      (err: unknown) => err as { code?: number },
    );
    expect(e?.code).toBe(-32602);
  });

  it("reads every kind of resource", async () => {
    const { resources } = (await c.listResources()) as { resources: Array<{ uri: string }> };
    expect(resources.map((r) => r.uri)).toContain("hosts://list");
    const { resourceTemplates } = (await c.listTemplates()) as {
      resourceTemplates: Array<{ uriTemplate: string }>;
    };
    expect(resourceTemplates.map((t) => t.uriTemplate)).toContain("scout://{host}/{+path}");

    expect((await c.read("hosts://list")).text).toContain(h0);
    expect((await c.read(`scout://${h0}${root0}/hello.txt`)).text).toBe("hello\nworld\n");
    expect((await c.read(`${h0}://${root0.slice(1)}/hello.txt`)).text).toBe("hello\nworld\n");
    expect((await c.read(`${h0}://${root0.slice(1)}`)).text).toContain("hello.txt");
    // A host view whose tool is missing there answers an error, not a crash.
    const docker = await c.read(`${h0}://docker`).then(
      (r) => r.text,
      (e: unknown) => String((e as Error).message),
    );
    expect(docker).toMatch(/not available on host/);
  });
});

// ---- the 2026-07-28 wire, byte for byte ------------------------------------------------------

const META = {
  "io.modelcontextprotocol/protocolVersion": "2026-07-28",
  "io.modelcontextprotocol/clientCapabilities": {},
  "io.modelcontextprotocol/clientInfo": { name: "raw", version: "1" },
};

async function post(method: string, params: Record<string, unknown> = {}, name?: string) {
  const r = await fetch(url, {
    method: "POST",
    headers: {
      "content-type": "application/json",
      accept: "application/json, text/event-stream",
      "mcp-protocol-version": "2026-07-28",
      "mcp-method": method,
      ...(name ? { "mcp-name": name } : {}),
    },
    body: JSON.stringify({ jsonrpc: "2.0", id: 1, method, params: { ...params, _meta: META } }),
  });
  const text = await r.text();
  const json = text.startsWith("{")
    ? (JSON.parse(text) as Record<string, unknown>)
    : (JSON.parse(
        text
          .split("\n")
          .filter((l) => l.startsWith("data:"))
          .map((l) => l.slice(5))
          .pop() ?? "{}",
      ) as Record<string, unknown>);
  return { status: r.status, session: r.headers.get("mcp-session-id"), json };
}

describe("2026-07-28 over raw HTTP", () => {
  it("answers server/discover statelessly", async () => {
    const r = await post("server/discover");
    expect(r.status).toBe(200);
    expect(r.session).toBeNull();
    const result = r.json.result as Record<string, unknown>;
    expect(result.supportedVersions).toContain("2026-07-28");
    expect(result).toMatchObject({ resultType: "complete" });
    expect(JSON.stringify(result)).toContain('"name":"scout-mcp"');
  });

  it("lists carry resultType, ttlMs and cacheScope; tool results resultType", async () => {
    for (const [method, name] of [
      ["tools/list", undefined],
      ["resources/list", undefined],
      ["resources/templates/list", undefined],
    ] as const) {
      const result = (await post(method, {}, name)).json.result as Record<string, unknown>;
      expect(result, method).toMatchObject({ resultType: "complete", ttlMs: 60_000 });
      expect(["public", "private"]).toContain(result.cacheScope);
    }
    const call = await post("tools/call", { name: "scout", arguments: { target: "hosts" } }, "scout");
    expect(call.json.result).toMatchObject({ resultType: "complete", structuredContent: { mode: "hosts" } });
  });

  it("an unknown resource is -32602; ping and logging/setLevel are gone", async () => {
    const missing = await post("resources/read", { uri: "nosuch://x" }, "nosuch://x");
    expect((missing.json.error as { code: number }).code).toBe(-32602);
    for (const method of ["ping", "logging/setLevel"]) {
      const r = await post(method, method === "logging/setLevel" ? { level: "info" } : {});
      expect(r.json.error, method).toBeDefined();
    }
  });
});

// ---- confirmations (SCOUT_CONFIRM_COMMANDS) in both eras ------------------------------------

describe("confirmation: MRTR for 2026-07-28, elicitation for 2025", () => {
  let confirming: RunningServer;
  beforeAll(async () => {
    confirming = await serve(
      labSettings(lab, { transport: "http", confirmCommands: true, confirmTimeoutMs: 1500 }),
      {
        log: silentLogger(),
        installSignals: false,
      },
    );
  });
  afterAll(async () => {
    await confirming?.shutdown("test done");
  });

  it.each(["modern", "legacy"] as const)(
    "%s: accept runs it, decline does not, a client that can't ask is refused",
    async (era) => {
      const target = { url: confirming.http?.url ?? "", lab };
      const asked: string[] = [];
      let answer: "accept" | "decline" = "accept";
      const c = await connectEra(era, "http", target, {
        onElicit: (message) => {
          asked.push(message);
          return { action: answer };
        },
      });
      const mute = await connectEra(era, "http", target);
      try {
        const marker = `${root0}/confirmed-${era}`;
        const yes = await c.call({ target: `${h0}:${root0}`, query: `touch ${marker} && echo done` });
        expect(yes.text).toContain("done");
        expect(asked[0]).toContain(`touch ${marker}`);
        expect(existsSync(marker)).toBe(true);

        answer = "decline";
        const no = await c.call({ target: `${h0}:${root0}`, query: `touch ${marker}-no` });
        expect(no.isError).toBe(true);
        expect(no.text).toMatch(/declined the confirmation; nothing was run/);
        expect(existsSync(`${marker}-no`)).toBe(false);

        const cant = await mute.call({ target: `${h0}:${root0}`, query: `touch ${marker}-mute` });
        expect(cant.text).toMatch(/cannot ask its user/);
        expect(existsSync(`${marker}-mute`)).toBe(false);
      } finally {
        await c.close();
        await mute.close();
      }
    },
  );

  it("legacy: an unanswered question times out after SCOUT_CONFIRM_TIMEOUT and runs nothing", async () => {
    const c = await connectEra(
      "legacy",
      "http",
      { url: confirming.http?.url ?? "", lab },
      {
        onElicit: () => new Promise(() => {}),
      },
    );
    try {
      const started = performance.now();
      const r = await c.call({ target: `${h0}:${root0}`, query: `touch ${root0}/never` });
      expect(r.isError).toBe(true);
      expect(r.text).toMatch(/confirmation failed|timed out/i);
      expect(performance.now() - started).toBeGreaterThanOrEqual(1400);
      expect(existsSync(`${root0}/never`)).toBe(false);
    } finally {
      await c.close();
    }
  });

  it("modern: a retry with forged requestState is -32602, and runs nothing", async () => {
    const r = await fetch(confirming.http?.url ?? "", {
      method: "POST",
      headers: {
        "content-type": "application/json",
        accept: "application/json, text/event-stream",
        "mcp-protocol-version": "2026-07-28",
        "mcp-method": "tools/call",
        "mcp-name": "scout",
      },
      body: JSON.stringify({
        jsonrpc: "2.0",
        id: 1,
        method: "tools/call",
        params: {
          name: "scout",
          arguments: { target: `${h0}:${root0}`, query: `touch ${root0}/forged` },
          inputResponses: { confirm: { action: "accept", content: {} } },
          requestState: "forged",
          _meta: { ...META, "io.modelcontextprotocol/clientCapabilities": { elicitation: { form: {} } } },
        },
      }),
    });
    expect(await r.text()).toContain("-32602");
    expect(existsSync(`${root0}/forged`)).toBe(false);
  });
});
