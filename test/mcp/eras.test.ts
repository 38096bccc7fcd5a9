/**
 * Both protocol eras over both transports against real sshd: a 2026-07-28 client (SDK v2, pinned,
 * stateless) and a 2025-11-25 client (SDK v1, initialize + session) each run every mode of the
 * scout tool and read every kind of resource; the modern wire details (server/discover, resultType,
 * ttlMs/cacheScope, -32602 for unknown resources and tools, no ping) are checked on raw HTTP.
 */
import { existsSync } from "node:fs";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { serve, type RunningServer } from "../../src/cli/serve.js";
import { LIST_PAGE_SIZE } from "../../src/mcp/resources.js";
import { silentLogger } from "../../src/observe/log.js";
import { startFleet, type LabFleet } from "../fleet/index.js";
import { connectEra, type EraClient, type EraName, type ToolAnswer, type TransportName } from "./eras.js";
import { labSettings, processesMatching, uniqueSleep, waitUntil } from "./harness.js";
import { makeShims, type Shims } from "./shims.js";

let lab: LabFleet;
let server: RunningServer;
let url: string;
let h0: string;
let h1: string;
let root0: string;
let root1: string;
/** The lab's two hosts plus `deadhost`, whose port refuses connections. */
let config: string;

/** A loopback port nothing listens on (bound, then closed). */
async function closedPort(): Promise<number> {
  const srv = createServer();
  await new Promise<void>((r) => srv.listen(0, "127.0.0.1", r));
  const port = (srv.address() as { port: number }).port;
  await new Promise((r) => srv.close(r));
  return port;
}

/** Fake docker, compose, zfs and journalctl, on host-1's PATH (host-0 has none of them). */
let shims: Shims;
/** Local directory beam may use (SCOUT_BEAM_DIR over HTTP; stdio may use any path). */
let beamDir: string;
/** Aliases that pad the fleet past one resources/list page (they are host-0 under other names). */
const FILLERS = 110;

beforeAll(async () => {
  shims = makeShims();
  beamDir = mkdtempSync(join(tmpdir(), "scout-eras-beam-"));
  lab = await startFleet({
    hosts: 2,
    hostSshdConfig: (_alias, i) => (i === 1 ? [`SetEnv PATH=${shims.richBin}:/usr/bin:/bin`] : []),
  });
  h0 = lab.hosts[0]!.alias;
  h1 = lab.hosts[1]!.alias;
  root0 = lab.hosts[0]!.root;
  root1 = lab.hosts[1]!.root;
  config = await lab.writeSshConfig([
    { alias: h0, port: lab.hosts[0]!.port },
    { alias: h1, port: lab.hosts[1]!.port },
    { alias: "deadhost", port: await closedPort(), extra: ["ConnectTimeout 2"] },
    ...Array.from({ length: FILLERS }, (_, i) => ({
      alias: `filler${String(i).padStart(3, "0")}`,
      port: lab.hosts[0]!.port,
    })),
  ]);
  await lab.writeFile(join(root0, "secret.txt"), "no\n", 0o000);
  await lab.writeFile(join(root0, "blob.bin"), Buffer.from([0, 1, 2, 3, 0, 255]));
  for (let i = 0; i < 30; i++)
    await lab.writeFile(join(root0, `many/f${String(i).padStart(2, "0")}.txt`), `${i}\n`);
  await lab.writeFile(join(root0, "hello.txt"), "hello\nworld\n");
  await lab.writeFile(join(root1, "hello.txt"), "hello\nthere\n");
  await lab.writeFile(join(root0, "proj/src/main.py"), "print(1)\n");
  await lab.writeFile(
    join(root0, "log.txt"),
    Array.from({ length: 50 }, (_, i) => `l${i + 1}`).join("\n") + "\n",
  );
  server = await serve(labSettings(lab, { transport: "http", sshConfigPath: config, beamDir }), {
    log: silentLogger(),
    installSignals: false,
  });
  url = server.http?.url ?? "";
});

afterAll(async () => {
  await server?.shutdown("test done");
  await lab?.stop();
  shims?.remove();
  if (beamDir) rmSync(beamDir, { recursive: true, force: true });
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
    c = await connectEra(era, transport, { url, lab }, { env: { SCOUT_SSH_CONFIG: config } });
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

    // beam between this machine and a host: upload, then download it back.
    const local = join(beamDir, `up-${era}-${transport}.txt`);
    writeFileSync(local, "uploaded\n");
    const up = await c.call({ target: `${h0}:${root0}/up-${era}-${transport}.txt`, beam: local });
    expect(up.structuredContent).toMatchObject({ mode: "beam", direction: "upload", bytes: 9 });
    const down = join(beamDir, `down-${era}-${transport}.txt`);
    const got = await c.call({ target: `${h0}:${root0}/hello.txt`, beam: down });
    expect(got.structuredContent).toMatchObject({ mode: "beam", direction: "download", bytes: 12 });
    expect(readFileSync(down, "utf8")).toBe("hello\nworld\n");

    // A background job: started, then waited for by its handle.
    const job = await c.call({
      target: `${h0}:${root0}`,
      query: `echo job-${era}-${transport}`,
      background: true,
    });
    const handle = (job.structuredContent as { job?: { handle?: string } }).job?.handle ?? "";
    expect(job.structuredContent).toMatchObject({ mode: "job", action: "start" });
    const waited = await c.call({ job: handle, job_action: "wait", wait: 20 });
    expect(waited.structuredContent).toMatchObject({
      mode: "job",
      job: { handle, state: "exited", exitCode: 0 },
    });
    const out = await c.call({ job: handle, job_action: "output" });
    expect(out.text).toContain(`job-${era}-${transport}`);

    const bad = await c.call({ target: "nosuchhost:/etc/hosts" });
    expect(bad.isError).toBe(true);
    expect(bad.text).toMatch(/^Error: /);
    expect(bad.structuredContent).toMatchObject({ mode: "read", error: { code: "unknown-host" } });
  });

  it("listings, trees and find results carry resource_link blocks after the unchanged text", async () => {
    const links = (a: ToolAnswer) =>
      (a.raw.content as Array<{ type: string; uri?: string; name?: string }>).filter(
        (b) => b.type === "resource_link",
      );
    // 30 entries: the text lists them all, the links stop at SCOUT_RESOURCE_LINKS (20).
    const list = await c.call({ target: `${h0}:${root0}/many` });
    expect((list.raw.content as Array<{ type: string }>)[0]!.type).toBe("text");
    expect(list.text.split("\n")[0]).toBe("total 30");
    expect(list.text).toContain("f29.txt");
    const listed = links(list);
    expect(listed).toHaveLength(20);
    expect(listed[0]).toMatchObject({ uri: `scout://${h0}${root0}/many/f00.txt`, name: "f00.txt", size: 2 });
    // A link is a URI the same client reads back.
    expect((await c.read(listed[1]!.uri!)).text).toBe("1\n");

    const tree = await c.call({ target: `${h0}:${root0}/proj`, tree: true });
    expect(links(tree).map((l) => l.uri)).toEqual([
      `scout://${h0}${root0}/proj/src`,
      `scout://${h0}${root0}/proj/src/main.py`,
    ]);
    const find = await c.call({ target: `${h0}:${root0}`, find: "*.py" });
    expect(links(find)).toEqual([
      expect.objectContaining({
        uri: `scout://${h0}${root0}/proj/src/main.py`,
        name: `${root0}/proj/src/main.py`,
      }),
    ]);
    expect(find.text).toBe(`${root0}/proj/src/main.py`);
    // Reads, commands and the rest have none.
    expect(links(await c.call({ target: `${h0}:${root0}/hello.txt` }))).toEqual([]);
  });

  it("resource read errors use the spec's codes and say what to do", async () => {
    const notFound = era === "modern" ? -32602 : -32002;
    const cases: Array<[string, number, RegExp, Record<string, unknown>]> = [
      [`scout://${h0}${root0}/missing.txt`, notFound, /not found: Path not found: .*missing\.txt/, {}],
      [`${h0}://${root0.slice(1)}/missing.txt`, notFound, /Path not found/, {}],
      ["scout://nosuchhost/etc/hosts", notFound, /Unknown host 'nosuchhost'/, {}],
      ["nosuch://etc/hosts", notFound, /Resource nosuch:\/\/etc\/hosts not found: no host 'nosuch'/, {}],
      ["hosts://other", notFound, /the hosts resource is hosts:\/\/list/, {}],
      [`${h0}://docker/bad;name/logs`, -32602, /container/i, { code: "invalid-input" }],
      [`scout://${h0}${root0}/secret.txt`, -32603, /Permission denied/, { code: "permission-denied" }],
      [`scout://${h0}${root0}/blob.bin`, -32603, /binary file \(6 bytes\).*beam/, { code: "binary" }],
      ["scout://deadhost/etc/hosts", -32603, /deadhost/, {}],
    ];
    for (const [uri, code, message, data] of cases) {
      const e = await c.read(uri).then(
        () => undefined,
        (x: unknown) => x as { code?: number; message?: string; data?: Record<string, unknown> },
      );
      expect(e, uri).toBeDefined();
      expect({ uri, code: e!.code }).toEqual({ uri, code });
      expect(e!.message, uri).toMatch(message);
      expect(e!.data, uri).toMatchObject({ uri, ...data });
      // Resource-not-found carries exactly { uri } (how the SDK's clients recognize it).
      if (code === notFound && !("code" in data)) expect(e!.data, uri).toEqual({ uri });
    }
  });

  it("pages resources/list and completes template arguments", async () => {
    const uris: string[] = [];
    let cursor: string | undefined;
    let pages = 0;
    do {
      const page = (await c.listResources(cursor)) as {
        resources: Array<{ uri: string }>;
        nextCursor?: string;
      };
      uris.push(...page.resources.map((r) => r.uri));
      cursor = page.nextCursor;
      pages++;
    } while (cursor !== undefined);
    // hosts://list and five views for each of the 3 + FILLERS hosts: more than one page of 500.
    expect(uris.length).toBe(1 + (3 + FILLERS) * 5);
    // The v2 client walks the pages itself (no cursor: every page, aggregated); v1 hands us each.
    expect(pages).toBe(era === "modern" ? 1 : 2);
    expect(uris.length).toBeGreaterThan(LIST_PAGE_SIZE); // so the server answered two pages
    expect(new Set(uris).size).toBe(uris.length);
    expect(uris).toContain(`filler${String(FILLERS - 1).padStart(3, "0")}://syslog`);

    expect(await c.complete("{host}://{+path}", { name: "host", value: "HOST-" })).toMatchObject({
      values: [h0, h1],
      total: 2,
      hasMore: false,
    });
    const fillers = await c.complete("scout://{host}/{+path}", { name: "host", value: "fill" });
    expect(fillers).toMatchObject({ total: FILLERS, hasMore: true });
    expect(fillers.values).toHaveLength(100);
    const paths = await c.complete(
      "scout://{host}/{+path}",
      { name: "path", value: `${root0.slice(1)}/he` },
      { host: h0 },
    );
    expect(paths.values).toEqual([`${root0.slice(1)}/hello.txt`]);
    const dirs = await c.complete(
      "{host}://{+path}",
      { name: "path", value: `${root0.slice(1)}/pr` },
      { host: h0 },
    );
    expect(dirs.values).toEqual([`${root0.slice(1)}/proj/`]);
  });

  it("cancelling through the client's AbortSignal kills the remote command; the client works on", async () => {
    const cmd = uniqueSleep();
    const ac = new AbortController();
    const call = c.call({ target: `${h0}:${root0}`, query: `${cmd}; echo finished` }, { signal: ac.signal });
    call.catch(() => {}); // observed below
    await waitUntil(() => processesMatching(cmd).length > 0, 10_000, `'${cmd}' to start on the host`);
    ac.abort("user pressed stop");
    await expect(call).rejects.toThrow(/abort|cancel|stop/i);
    // The host's process group is killed (TERM, then KILL), not left to run its 30 s.
    await waitUntil(() => processesMatching(cmd).length === 0, 5_000, `'${cmd}' to be killed on the host`);
    expect((await c.call({ target: `${h0}:${root0}`, query: "echo still-here" })).text.trim()).toBe(
      "still-here",
    );
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
    // The host views, on the host that has the tools (fake ones, fixed output).
    for (const [rest, first] of [
      ["docker", `# Docker Containers on ${h1}`],
      ["docker/web/logs", `# Container Logs: web@${h1}`],
      ["compose", `# Docker Compose Projects on ${h1}`],
      ["compose/shop", "# Compose: shop@" + h1],
      ["compose/shop/logs", `# Compose Logs: shop@${h1}`],
      ["zfs", `# ZFS Overview: ${h1}`],
      ["zfs/tank", `# ZFS Pool: tank@${h1}`],
      ["zfs/tank/datasets", `# ZFS Datasets: tank@${h1}`],
      ["zfs/snapshots", `# ZFS Snapshots: ${h1}`],
      ["syslog", `# System Logs: ${h1}`],
    ] as const) {
      expect((await c.read(`${h1}://${rest}`)).text.split("\n")[0], rest).toBe(first);
    }
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
  /** Small enough that a long command's question cannot fit one message. */
  const MAX_MESSAGE = 200_000;
  beforeAll(async () => {
    confirming = await serve(
      labSettings(lab, {
        transport: "http",
        confirmCommands: true,
        confirmTimeoutMs: 1500,
        maxMessageSize: MAX_MESSAGE,
      }),
      { log: silentLogger(), installSignals: false },
    );
  });
  afterAll(async () => {
    await confirming?.shutdown("test done");
  });
  const target = () => ({ url: confirming.http?.url ?? "", lab });
  // stdio clients start their own Scout with the same settings.
  const env = {
    SCOUT_CONFIRM_COMMANDS: "true",
    SCOUT_CONFIRM_TIMEOUT: "1.5",
    SCOUT_MAX_MESSAGE_SIZE: String(MAX_MESSAGE),
  };

  it.each(COMBOS)(
    "%s over %s: accept runs it, decline does not, a client that can't ask is refused, a question too big for one message is not asked",
    async (era, transport) => {
      const asked: string[] = [];
      let answer: "accept" | "decline" = "accept";
      const c = await connectEra(era, transport, target(), {
        env,
        onElicit: (message) => {
          asked.push(message);
          return { action: answer };
        },
      });
      const mute = await connectEra(era, transport, target(), { env });
      try {
        const marker = `${root0}/confirmed-${era}-${transport}`;
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

        // The question would be one oversized message: never cut (the user must see the whole
        // command), so not asked, and nothing runs.
        answer = "accept";
        const before = asked.length;
        const long = await c.call({
          target: `${h0}:${root0}`,
          query: `true ${"x".repeat(MAX_MESSAGE)}; touch ${marker}-long`,
        });
        expect(long.isError).toBe(true);
        expect(long.text).toMatch(
          /the question is \d+ bytes encoded, more than one MCP message carries \(SCOUT_MAX_MESSAGE_SIZE=200000\).*nothing was run/s,
        );
        expect(long.text.length).toBeLessThan(2000);
        expect(asked.length).toBe(before);
        expect(existsSync(`${marker}-long`)).toBe(false);
      } finally {
        await c.close();
        await mute.close();
      }
    },
  );

  it.each(["http", "stdio"] as const)(
    "legacy over %s: an unanswered question times out after SCOUT_CONFIRM_TIMEOUT and runs nothing",
    async (transport) => {
      const c = await connectEra("legacy", transport, target(), {
        env,
        onElicit: () => new Promise(() => {}),
      });
      try {
        const started = performance.now();
        const r = await c.call({ target: `${h0}:${root0}`, query: `touch ${root0}/never-${transport}` });
        expect(r.isError).toBe(true);
        expect(r.text).toMatch(/confirmation failed|timed out/i);
        expect(performance.now() - started).toBeGreaterThanOrEqual(1400);
        expect(existsSync(`${root0}/never-${transport}`)).toBe(false);
      } finally {
        await c.close();
      }
    },
  );

  it.each(["http", "stdio"] as const)(
    "modern over %s: an answer that comes after SCOUT_CONFIRM_TIMEOUT is refused and runs nothing",
    async (transport) => {
      // The user answers after the requestState expired (1.5 s; whole seconds on the wire).
      const c = await connectEra("modern", transport, target(), {
        env,
        onElicit: () => new Promise((r) => setTimeout(() => r({ action: "accept" }), 3200)),
      });
      try {
        const r = await c.call({ target: `${h0}:${root0}`, query: `touch ${root0}/late-${transport}` });
        expect(r.isError).toBe(true);
        expect(r.text).toMatch(/the answer came after the question expired \(SCOUT_CONFIRM_TIMEOUT=1\.5 s\)/);
        expect(existsSync(`${root0}/late-${transport}`)).toBe(false);
      } finally {
        await c.close();
      }
    },
  );

  /** One raw 2026-07-28 tools/call from a client that can elicit (an MRTR round). */
  async function mrtrCall(args: Record<string, unknown>, retry?: { state: string; action: string }) {
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
          arguments: args,
          ...(retry
            ? {
                inputResponses: { confirm: { action: retry.action, content: {} } },
                requestState: retry.state,
              }
            : {}),
          _meta: { ...META, "io.modelcontextprotocol/clientCapabilities": { elicitation: { form: {} } } },
        },
      }),
    });
    const text = await r.text();
    const line = text.startsWith("{")
      ? text
      : (text
          .split("\n")
          .filter((l) => l.startsWith("data:"))
          .pop() ?? "");
    return JSON.parse(line.replace(/^data:\s*/, "")) as {
      result?: {
        resultType?: string;
        requestState?: string;
        isError?: boolean;
        content?: Array<{ text?: string }>;
      };
      error?: { code: number; message: string };
    };
  }

  it("modern: requestState is checked: forged or altered is -32602, another question's is asked anew, an expired one is refused", async () => {
    const args = (name: string) => ({ target: `${h0}:${root0}`, query: `touch ${root0}/${name}` });
    const first = await mrtrCall(args("mrtr-ok"));
    expect(first.result).toMatchObject({ resultType: "input_required" });
    expect(JSON.stringify(first.result)).toContain(`touch ${root0}/mrtr-ok`);
    const state = first.result!.requestState!;
    expect(state.length).toBeGreaterThan(20);

    const forged = await mrtrCall(args("forged"), { state: "forged", action: "accept" });
    expect(forged.error).toMatchObject({ code: -32602, message: "Invalid or expired requestState" });
    // One character of the signed payload changed: the MAC no longer matches.
    const i = Math.floor(state.indexOf(".") / 2);
    const altered = state.slice(0, i) + (state[i] === "A" ? "B" : "A") + state.slice(i + 1);
    const bad = await mrtrCall(args("mrtr-ok"), { state: altered, action: "accept" });
    expect(bad.error).toMatchObject({ code: -32602 });
    // A genuine state, but for another question: that command is asked about, not run.
    const other = await mrtrCall(args("mrtr-other"), { state, action: "accept" });
    expect(other.result).toMatchObject({ resultType: "input_required" });
    expect(existsSync(`${root0}/forged`) || existsSync(`${root0}/mrtr-other`)).toBe(false);
    expect(existsSync(`${root0}/mrtr-ok`)).toBe(false);

    // The state lives SCOUT_CONFIRM_TIMEOUT (1.5 s here, whole seconds on the wire): a late
    // answer is refused with a reason and a next step, and nothing runs.
    await new Promise((r) => setTimeout(r, 3200));
    const late = await mrtrCall(args("mrtr-ok"), { state, action: "accept" });
    expect(late.result?.isError).toBe(true);
    expect(late.result?.content?.[0]?.text).toMatch(
      /the answer came after the question expired \(SCOUT_CONFIRM_TIMEOUT=1\.5 s\)\. Call again to be asked anew\); nothing was run/,
    );
    expect(existsSync(`${root0}/mrtr-ok`)).toBe(false);
    // In time, the same round trip runs it.
    const again = await mrtrCall(args("mrtr-ok"));
    const ran = await mrtrCall(args("mrtr-ok"), { state: again.result!.requestState!, action: "accept" });
    expect(ran.result).toMatchObject({ resultType: "complete" });
    expect(existsSync(`${root0}/mrtr-ok`)).toBe(true);
  });
});

// ---- a confirmation waiting for its human holds no command slot ---------------------------------

describe("2025-era confirmation waits outside the concurrency limit", () => {
  let tight: RunningServer;
  beforeAll(async () => {
    tight = await serve(
      labSettings(lab, {
        transport: "http",
        confirmCommands: true,
        confirmTimeoutMs: 30_000,
        maxConcurrentRequests: 1,
        maxQueuedRequests: 1,
      }),
      { log: silentLogger(), installSignals: false },
    );
  });
  afterAll(async () => {
    await tight?.shutdown("test done");
  });

  it("other calls run while a user thinks; waiters are bounded; the accepted command runs after", async () => {
    const t = { url: tight.http?.url ?? "", lab };
    let release: (a: { action: "accept" }) => void = () => {};
    const held = new Promise<{ action: "accept" }>((r) => (release = r));
    let asked = 0;
    const waiting = await connectEra("legacy", "http", t, {
      onElicit: () => {
        asked++;
        return held;
      },
    });
    const other = await connectEra("legacy", "http", t, { onElicit: () => ({ action: "accept" }) });
    const reader = await connectEra("modern", "http", t);
    try {
      const pending = waiting.call({ target: `${h0}:${root0}`, query: "echo after-the-answer" });
      await waitUntil(() => asked === 1, 10_000, "the question to reach the client");
      // The only slot (SCOUT_MAX_CONCURRENT_REQUESTS=1) is free while the user thinks.
      const read = await reader.call({ target: `${h0}:${root0}/hello.txt` });
      expect(read.text).toBe("hello\nworld\n");
      // Waiting for users is bounded like the queue (SCOUT_MAX_QUEUED_REQUESTS=1): the next one is busy.
      const busy = await other.call({ target: `${h0}:${root0}`, query: "echo second" });
      expect(busy.isError).toBe(true);
      expect(busy.text).toMatch(/server busy.*1 calls are waiting for their users' confirmation/);
      release({ action: "accept" });
      expect((await pending).text.trim()).toBe("after-the-answer");
      // Once answered, the bound is free again.
      expect((await other.call({ target: `${h0}:${root0}`, query: "echo second" })).text.trim()).toBe(
        "second",
      );
    } finally {
      release({ action: "accept" });
      await Promise.allSettled([waiting.close(), other.close(), reader.close()]);
    }
  });
});
