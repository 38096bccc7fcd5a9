/**
 * MCP tasks against real sshd, in both eras: the 2025-11-25 experimental tasks through the SDK v1
 * client's `experimental.tasks` (legacy sessions), and the 2026-07-28 `io.modelcontextprotocol/tasks`
 * extension through the SDK v2 client pinned to 2026-07-28 (custom requests: its typed maps
 * exclude tasks). A command's task is its durable job: cancel kills its process group on the host,
 * and a second Scout process answers for it after the first one stopped. Clients without tasks
 * are unaffected.
 */
import {
  Client as ModernClient,
  StreamableHTTPClientTransport as ModernHttp,
} from "@modelcontextprotocol/client";
import { StdioClientTransport as ModernStdio } from "@modelcontextprotocol/client/stdio";
import { Client as LegacyClient } from "@modelcontextprotocol/sdk/client/index.js";
import { StdioClientTransport as LegacyStdio } from "@modelcontextprotocol/sdk/client/stdio.js";
import { StreamableHTTPClientTransport as LegacyHttp } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import { CallToolResultSchema } from "@modelcontextprotocol/sdk/types.js";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { z } from "zod";
import { serve, type RunningServer } from "../../src/cli/serve.js";
import type { Settings } from "../../src/config/settings.js";
import { silentLogger } from "../../src/observe/log.js";
import { cliArgs, labEnv } from "../cli/run-cli.js";
import { startFleet, type LabFleet } from "../fleet/index.js";
import { labSettings, processesMatching, uniqueSleep, waitUntil } from "./harness.js";

let lab: LabFleet;
let h0: string;
let h1: string;
let root0: string;
let root1: string;
const SPOOL = "/home/scoutlab/.cache/scout-jobs";
const TASKS = "io.modelcontextprotocol/tasks";
const jobsCreated: string[] = [];
const servers: RunningServer[] = [];

beforeAll(async () => {
  lab = await startFleet({ hosts: 2 });
  h0 = lab.hosts[0]!.alias;
  h1 = lab.hosts[1]!.alias;
  root0 = lab.hosts[0]!.root;
  root1 = lab.hosts[1]!.root;
  await lab.writeFile(join(root0, "hello.txt"), "hello\nworld\n");
});

afterAll(async () => {
  for (const s of servers) await s.shutdown("test done").catch(() => {});
  await lab?.stop();
  for (const id of jobsCreated) rmSync(join(SPOOL, id), { recursive: true, force: true });
});

async function httpScout(overrides: Partial<Settings> = {}): Promise<RunningServer> {
  const s = await serve(labSettings(lab, { transport: "http", ...overrides }), {
    log: silentLogger(),
    installSignals: false,
  });
  servers.push(s);
  return s;
}

const jobIdOf = (taskId: string) => taskId.slice(taskId.lastIndexOf("/") + 1);
/** Every job id a task names (a broadcast's task names one per host). */
const jobIdsOf = (taskId: string) =>
  taskId
    .replace(/^(job|fleet):/, "")
    .split(/[,;]/)
    .filter((h) => h.includes("/"))
    .map(jobIdOf);
const textOf = (r: unknown) =>
  (((r as { content?: unknown }).content ?? []) as Array<{ type: string; text?: string }>)
    .map((c) => c.text ?? "")
    .join("");

/** The audit log's records so far (a line still being written is skipped). */
function auditRecords(path: string): Array<Record<string, unknown>> {
  if (!existsSync(path)) return [];
  return readFileSync(path, "utf8")
    .split("\n")
    .flatMap((l) => {
      try {
        return [JSON.parse(l) as Record<string, unknown>];
      } catch {
        return [];
      }
    });
}

// ---- 2025-11-25: SDK v1 client, experimental tasks ----------------------------------------

async function legacyClient(transport: "http" | "stdio", url?: string, env: Record<string, string> = {}) {
  const client = new LegacyClient({ name: "tasks-legacy", version: "1" }, { capabilities: { tasks: {} } });
  await client.connect(
    transport === "http"
      ? new LegacyHttp(new URL(url ?? ""))
      : new LegacyStdio({
          command: process.execPath,
          args: cliArgs(["--stdio"]),
          env: labEnv(lab, { SCOUT_STATUS_CACHE_TTL: "0", SCOUT_LOG_LEVEL: "warn", ...env }),
          stderr: "pipe",
        }),
  );
  return client;
}

type Message = { type: string; task?: { taskId: string; status: string }; result?: unknown; error?: unknown };

async function collect(stream: AsyncIterable<unknown>): Promise<Message[]> {
  const out: Message[] = [];
  for await (const m of stream) out.push(m as Message);
  return out;
}

describe("2025-11-25 tasks (SDK v1 client)", () => {
  let url: string;
  let auditLog: string;
  beforeAll(async () => {
    auditLog = join(mkdtempSync(join(tmpdir(), "scout-tasks-")), "audit.jsonl");
    url = (await httpScout({ auditLog })).http?.url ?? "";
  });

  it("advertises tasks for tools/call and the scout tool as optionally a task", async () => {
    const client = await legacyClient("http", url);
    try {
      const caps = client.getServerCapabilities() as Record<string, unknown>;
      expect(caps.tasks).toEqual({ cancel: {}, requests: { tools: { call: {} } } });
      expect(caps.extensions).toBeUndefined();
      const tools = await client.listTools();
      expect(tools.tools[0]!.execution).toEqual({ taskSupport: "optional" });
    } finally {
      await client.close();
    }
  });

  it("runs a command as a task backed by its job, over HTTP: created, polled, result as the foreground answer", async () => {
    const client = await legacyClient("http", url);
    try {
      const messages = await collect(
        client.experimental.tasks.callToolStream(
          {
            name: "scout",
            arguments: { target: `${h0}:${root0}`, query: "echo one; sleep 1; echo two >&2; exit 3" },
          },
          undefined,
          { task: { ttl: 60_000 } },
        ),
      );
      const created = messages.find((m) => m.type === "taskCreated")!;
      expect(created.task!.taskId).toMatch(new RegExp(`^job:${h0}/\\d{8}-\\d{6}-[0-9a-f]{6}$`));
      jobsCreated.push(jobIdOf(created.task!.taskId));
      expect(created.task!.status).toBe("working");
      const final = messages.at(-1)!;
      expect(final.type).toBe("result");
      const result = final.result as {
        content: unknown;
        structuredContent: Record<string, unknown>;
        _meta: unknown;
      };
      // What the foreground command answers (stdout and stderr interleaved, as a job spools them).
      expect(textOf(result)).toBe("one\ntwo\n[exit code: 3]");
      expect(result.structuredContent).toMatchObject({
        mode: "command",
        host: h0,
        exitCode: 3,
        timedOut: false,
      });
      expect(result._meta).toEqual({
        "io.modelcontextprotocol/related-task": { taskId: created.task!.taskId },
      });
      // The same task read again: tasks/get and tasks/result are stateless reads of the host.
      const again = await client.experimental.tasks.getTask(created.task!.taskId);
      expect(again.status).toBe("completed");
      expect(again.ttl).toBe(7 * 86400 * 1000);
    } finally {
      await client.close();
    }
    // The audit log names the task and the job behind each operation.
    await waitUntil(
      () => auditRecords(auditLog).some((r) => r.taskOp === "result" && r.jobAction === "result"),
      10_000,
      "the audit records",
    );
    const records = auditRecords(auditLog);
    const ops = records.filter((r) => r.task !== undefined).map((r) => `${r.taskOp}:${r.jobAction ?? "-"}`);
    expect(ops).toContain("create:-");
    expect(ops).toContain("get:status");
    expect(ops).toContain("result:wait");
    expect(ops).toContain("result:result");
  });

  it("cancel through the task kills the job's process group on the host", async () => {
    const client = await legacyClient("http", url);
    const cmd = uniqueSleep(60);
    try {
      const stream = client.experimental.tasks.callToolStream(
        { name: "scout", arguments: { target: `${h0}:${root0}`, query: `${cmd}; echo never` } },
        undefined,
        { task: {} },
      );
      const first = (await stream[Symbol.asyncIterator]().next()).value as Message;
      expect(first.type).toBe("taskCreated");
      const taskId = first.task!.taskId;
      jobsCreated.push(jobIdOf(taskId));
      await waitUntil(() => processesMatching(cmd).length > 0, 10_000, `'${cmd}' to run on the host`);
      expect((await client.experimental.tasks.getTask(taskId)).status).toBe("working");
      const cancelled = await client.experimental.tasks.cancelTask(taskId);
      expect(cancelled.status).toBe("cancelled");
      // Cancelled before the answer: the whole process group is gone on the host.
      expect(processesMatching(cmd)).toEqual([]);
      expect((await client.experimental.tasks.getTask(taskId)).status).toBe("cancelled");
      // A terminal task cannot be cancelled again (-32602).
      await expect(client.experimental.tasks.cancelTask(taskId)).rejects.toThrow(/already cancelled/);
    } finally {
      await client.close();
    }
  });

  it("a task outlives its Scout: a second Scout process (stdio) reads its status and result", async () => {
    const first = await httpScout();
    const client = await legacyClient("http", first.http?.url);
    const tag = uniqueSleep(0).replace("sleep ", "");
    let taskId: string;
    try {
      const stream = client.experimental.tasks.callToolStream(
        {
          name: "scout",
          arguments: {
            target: `${h0}:${root0}`,
            query: `while [ ! -f go-${tag} ]; do sleep 0.2; done; echo done ${tag}`,
          },
        },
        undefined,
        { task: {} },
      );
      const created = (await stream[Symbol.asyncIterator]().next()).value as Message;
      taskId = created.task!.taskId;
      jobsCreated.push(jobIdOf(taskId));
    } finally {
      await client.close();
    }
    await first.shutdown("restart");
    const second = await legacyClient("stdio");
    try {
      expect((await second.experimental.tasks.getTask(taskId)).status).toBe("working");
      await lab.writeFile(join(root0, `go-${tag}`), "");
      const result = await second.experimental.tasks.getTaskResult(taskId, CallToolResultSchema);
      expect(textOf(result)).toBe(`done ${tag}`);
      expect((await second.experimental.tasks.getTask(taskId)).status).toBe("completed");
    } finally {
      await second.close();
    }
  });

  it("a broadcast command as a task is one job per host: result as the broadcast's answer; cancel stops every host", async () => {
    const client = await legacyClient("http", url);
    const cmd = uniqueSleep(60);
    try {
      const targets = [`${h0}:${root0}`, `${h1}:${root1}`];
      const messages = await collect(
        client.experimental.tasks.callToolStream(
          { name: "scout", arguments: { targets, query: "echo on $(basename $PWD); sleep 1" } },
          undefined,
          { task: {} },
        ),
      );
      const taskId = messages.find((m) => m.type === "taskCreated")!.task!.taskId;
      jobsCreated.push(...jobIdsOf(taskId));
      expect(taskId).toMatch(
        new RegExp(`^fleet:${h0}/\\d{8}-\\d{6}-[0-9a-f]{6},${h1}/\\d{8}-\\d{6}-[0-9a-f]{6}$`),
      );
      const result = messages.at(-1)!.result as { structuredContent: Record<string, unknown> };
      const text = textOf(result);
      expect(text).toContain(`═══ ${h0}:${root0}`);
      expect(text).toContain(`on ${root0.split("/").pop()}`);
      expect(text).toContain(`on ${root1.split("/").pop()}`);
      expect(text).toContain("─── 2/2 hosts succeeded ───");
      expect(result.structuredContent).toMatchObject({ mode: "broadcast", succeeded: 2, total: 2 });

      // Long on both hosts: a cancel of the task ends both process groups.
      const stream = client.experimental.tasks.callToolStream(
        { name: "scout", arguments: { targets, query: cmd } },
        undefined,
        { task: {} },
      );
      const created = (await stream[Symbol.asyncIterator]().next()).value as Message;
      const id2 = created.task!.taskId;
      jobsCreated.push(...jobIdsOf(id2));
      expect(id2).toMatch(new RegExp(`^fleet:${h0}/\\S+,${h1}/\\S+$`));
      await waitUntil(() => processesMatching(cmd).length >= 2, 30_000, `'${cmd}' on both hosts`).catch(
        async (e: unknown) => {
          const t = await client.experimental.tasks.getTask(id2);
          throw new Error(
            `${String(e)}; running: ${processesMatching(cmd).length}; task: ${JSON.stringify(t)}`,
          );
        },
      );
      expect((await client.experimental.tasks.getTask(id2)).statusMessage).toMatch(
        /^0\/2 jobs ended; 2 running/,
      );
      expect((await client.experimental.tasks.cancelTask(id2)).status).toBe("cancelled");
      expect(processesMatching(cmd)).toEqual([]);
      // Without tasks, background=true with targets answers each host's job handle.
      const plain = await client.callTool({
        name: "scout",
        arguments: { targets, query: "true", background: true },
      });
      expect(textOf(plain)).toMatch(
        new RegExp(`Started job ${h0}/\\S+ \\(pid \\d+\\)(.|\n)*Started job ${h1}/`),
      );
      const jobs = (plain.structuredContent as { results: Array<{ job: string }> }).results.map((r) => r.job);
      jobsCreated.push(...jobs.map(jobIdOf));
    } finally {
      await client.close();
    }
  });

  it("the guard applies: read-only mode refuses a command task (a failed task) and a task's cancel", async () => {
    const ro = await httpScout({ readOnly: true });
    const client = await legacyClient("http", ro.http?.url);
    const writer = await legacyClient("http", url);
    const cmd = uniqueSleep(30);
    try {
      const messages = await collect(
        client.experimental.tasks.callToolStream(
          { name: "scout", arguments: { target: `${h0}:${root0}`, query: "echo no" } },
          undefined,
          { task: {} },
        ),
      );
      const created = messages.find((m) => m.type === "taskCreated")!;
      expect(created.task!.taskId).toMatch(/^local:/);
      const t = await client.experimental.tasks.getTask(created.task!.taskId);
      expect(t.status).toBe("failed");
      expect(t.statusMessage).toMatch(/^Error: Read-only mode: commands are disabled/);
      // A job task started elsewhere cannot be cancelled through a read-only Scout.
      const stream = writer.experimental.tasks.callToolStream(
        { name: "scout", arguments: { target: `${h0}:${root0}`, query: cmd } },
        undefined,
        { task: {} },
      );
      const job = (await stream[Symbol.asyncIterator]().next()).value as Message;
      jobsCreated.push(jobIdOf(job.task!.taskId));
      await expect(client.experimental.tasks.cancelTask(job.task!.taskId)).rejects.toThrow(
        /Read-only mode: job cancels are disabled/,
      );
      expect((await client.experimental.tasks.getTask(job.task!.taskId)).status).toBe("working");
      expect((await writer.experimental.tasks.cancelTask(job.task!.taskId)).status).toBe("cancelled");
    } finally {
      await client.close();
      await writer.close();
    }
  });

  it("a read as a task runs in-process; an unknown task id is -32602; no task: answers as before", async () => {
    const client = await legacyClient("stdio");
    try {
      const messages = await collect(
        client.experimental.tasks.callToolStream(
          { name: "scout", arguments: { target: `${h0}:${join(root0, "hello.txt")}` } },
          undefined,
          { task: {} },
        ),
      );
      const created = messages.find((m) => m.type === "taskCreated")!;
      expect(created.task!.taskId).toMatch(/^local:[0-9a-f]{12}\.[0-9a-f]{32}$/);
      expect(textOf(messages.at(-1)!.result as object)).toBe("hello\nworld\n");
      await expect(client.experimental.tasks.getTask("job:nosuch/20260101-000000-000000")).rejects.toThrow(
        /Failed to retrieve task/,
      );
      // A local task of another (stopped) process: lost, said so.
      const lost = await client.experimental.tasks.getTask(`local:${"0".repeat(12)}.${"0".repeat(32)}`);
      expect(lost.status).toBe("failed");
      expect(lost.statusMessage).toMatch(/^Task lost: it ran inside a Scout process/);
      // Without `task`, the call answers directly, as before tasks existed.
      const plain = await client.callTool({
        name: "scout",
        arguments: { target: `${h0}:${root0}`, query: "echo plain" },
      });
      expect(textOf(plain)).toBe("plain");
      expect((plain as Record<string, unknown>).task).toBeUndefined();
    } finally {
      await client.close();
    }
  });
});

// ---- 2026-07-28: SDK v2 client, io.modelcontextprotocol/tasks ---------------------------------

const Loose = z.looseObject({});
type Loose = Record<string, unknown>;

/**
 * The SDK v2 client's typed tools/call refuses `resultType: "task"` (it does not implement the
 * extension yet), so the raw answers are read off the transport: every JSON-RPC response is
 * recorded before the client decodes it.
 */
function recording<T extends object>(inner: T, seen: Loose[]): T {
  return new Proxy(inner, {
    set(target, prop, value) {
      if (prop === "onmessage" && typeof value === "function") {
        const handler = value as (m: unknown, extra?: unknown) => void;
        (target as Loose).onmessage = (m: unknown, extra?: unknown) => {
          const msg = m as Loose;
          if ("result" in msg || "error" in msg) seen.push(msg);
          handler(m, extra);
        };
        return true;
      }
      (target as Loose)[prop as string] = value;
      return true;
    },
  });
}

async function modernClient(
  transport: "http" | "stdio",
  o: { url?: string; env?: Record<string, string>; tasks?: boolean } = {},
) {
  const client = new ModernClient(
    { name: "tasks-modern", version: "1" },
    {
      versionNegotiation: { mode: { pin: "2026-07-28" } },
      capabilities: o.tasks === false ? {} : { extensions: { [TASKS]: {} } },
    },
  );
  const seen: Loose[] = [];
  const inner =
    transport === "http"
      ? new ModernHttp(new URL(o.url ?? ""))
      : new ModernStdio({
          command: process.execPath,
          args: cliArgs(["--stdio"]),
          env: labEnv(lab, { SCOUT_STATUS_CACHE_TTL: "0", SCOUT_LOG_LEVEL: "warn", ...o.env }),
          stderr: "pipe",
        });
  await client.connect(recording(inner, seen));
  const request = (method: string, params: Loose) =>
    client.request({ method, params } as never, Loose) as Promise<Loose>;
  /** One request's raw result (the wire shape, `resultType` included), or its error thrown. */
  const raw = async (method: string, params: Loose): Promise<Loose> => {
    const before = seen.length;
    await request(method, params).catch(() => undefined);
    const m = seen.slice(before).at(-1);
    if (!m) throw new Error(`no answer to ${method}`);
    if (m.error) throw new Error((m.error as { message: string }).message);
    return m.result as Loose;
  };
  return {
    client,
    request,
    raw,
    call: (args: Loose) => raw("tools/call", { name: "scout", arguments: args }),
    async poll(taskId: string): Promise<Loose> {
      for (;;) {
        const t = await raw("tasks/get", { taskId });
        if (t.status !== "working") return t;
        await new Promise((r) => setTimeout(r, 200));
      }
    },
  };
}

/**
 * SCOUT_JOB_AFTER for these tests: quick commands get this much room to answer inline; slow ones
 * wait for a go file the test creates only once it holds the task, so neither depends on speed.
 */
const AFTER_MS = 4000;
/** A command that runs until the test creates `go-<tag>` in its directory, then prints `out`. */
const untilGo = (tag: string, out: string) => `while [ ! -f go-${tag} ]; do sleep 0.2; done; echo ${out}`;
const tagOf = () => uniqueSleep(0).replace("sleep 0.", "t");

describe("2026-07-28 tasks extension (SDK v2 client)", () => {
  let url: string;
  let auditLog: string;
  beforeAll(async () => {
    auditLog = join(mkdtempSync(join(tmpdir(), "scout-tasks-")), "audit.jsonl");
    url = (await httpScout({ jobAfterMs: AFTER_MS, auditLog })).http?.url ?? "";
  });

  it("server/discover advertises the extension; a short command answers inline, a long one is a task over HTTP", async () => {
    const c = await modernClient("http", { url });
    try {
      const caps = c.client.getServerCapabilities() as Record<string, unknown>;
      expect(caps.extensions).toEqual({ [TASKS]: {} });
      expect(caps.tasks).toBeUndefined();
      const quick = await c.call({ target: `${h0}:${root0}`, query: "echo quick" });
      expect(quick.resultType).toBe("complete");
      expect(textOf(quick)).toBe("quick");
      expect(quick.structuredContent).toMatchObject({ mode: "command", exitCode: 0 });
      // It ran as a job (the audit names it), answered inline, and its spool is gone from the host.
      // (the audit log is appended asynchronously: wait for the record)
      let ranAs: Record<string, unknown> | undefined;
      await waitUntil(
        () => (ranAs = auditRecords(auditLog).find((r) => r.command === "echo quick")) !== undefined,
        10_000,
        "the audit record",
      );
      expect(ranAs).toMatchObject({ mode: "command", jobAction: "result", exitCode: 0, outcome: "ok" });
      expect(existsSync(join(SPOOL, jobIdOf(ranAs!.job as string)))).toBe(false);
      const tag = tagOf();
      const created = await c.call({ target: `${h0}:${root0}`, query: untilGo(tag, "slow") });
      expect(created).toMatchObject({ resultType: "task", status: "working", pollIntervalMs: 2000 });
      const taskId = created.taskId as string;
      await lab.writeFile(join(root0, `go-${tag}`), "");
      expect(taskId).toMatch(new RegExp(`^job:${h0}/`));
      jobsCreated.push(jobIdOf(taskId));
      const done = await c.poll(taskId);
      expect(done).toMatchObject({ resultType: "complete", status: "completed", taskId });
      const result = done.result as Loose;
      expect(textOf(result)).toBe("slow");
      expect(result.structuredContent).toMatchObject({ mode: "command", host: h0, exitCode: 0 });
      // tasks/update is an ack (Scout never waits for input); tasks/result is 2025-only.
      expect(await c.raw("tasks/update", { taskId, inputResponses: {} })).toMatchObject({
        resultType: "complete",
      });
      // (raw: the SDK client refuses to send a 2025-only method to a 2026-07-28 server)
      const r = await fetch(url, {
        method: "POST",
        headers: {
          "content-type": "application/json",
          accept: "application/json, text/event-stream",
          "mcp-protocol-version": "2026-07-28",
          "mcp-method": "tasks/result",
        },
        body: JSON.stringify({
          jsonrpc: "2.0",
          id: 1,
          method: "tasks/result",
          params: {
            taskId,
            _meta: {
              "io.modelcontextprotocol/protocolVersion": "2026-07-28",
              "io.modelcontextprotocol/clientCapabilities": { extensions: { [TASKS]: {} } },
              "io.modelcontextprotocol/clientInfo": { name: "raw", version: "1" },
            },
          },
        }),
      });
      expect(await r.text()).toContain('"code":-32601');
    } finally {
      await c.client.close();
    }
  });

  it("cancel over stdio kills the process group on the host; the cancelled task says so", async () => {
    const cmd = uniqueSleep(60);
    const c = await modernClient("stdio", { env: { SCOUT_JOB_AFTER: "0.5" } });
    try {
      const created = await c.call({ target: `${h0}:${root0}`, query: `${cmd}; echo never` });
      expect(created.resultType).toBe("task");
      const taskId = created.taskId as string;
      jobsCreated.push(jobIdOf(taskId));
      await waitUntil(() => processesMatching(cmd).length > 0, 10_000, `'${cmd}' on the host`);
      expect(await c.raw("tasks/cancel", { taskId })).toMatchObject({ resultType: "complete" });
      expect(processesMatching(cmd)).toEqual([]);
      expect(await c.raw("tasks/get", { taskId })).toMatchObject({ status: "cancelled" });
    } finally {
      await c.client.close();
    }
  });

  it("a broadcast that outlives SCOUT_JOB_AFTER is a task (one job per host); a quick one answers inline", async () => {
    const c = await modernClient("http", { url });
    try {
      const targets = [`${h0}:${root0}`, `${h1}:${root1}`];
      const quick = await c.call({ targets, query: "echo fast" });
      expect(quick.resultType).toBe("complete");
      expect(textOf(quick)).toContain("─── 2/2 hosts succeeded ───");
      const jobs = (quick.structuredContent as { results: Array<{ job: string }> }).results;
      jobsCreated.push(...jobs.map((j) => jobIdOf(j.job)));
      const tag = tagOf();
      const created = await c.call({ targets, query: untilGo(tag, "slow") });
      expect(created).toMatchObject({ resultType: "task", status: "working" });
      const taskId = created.taskId as string;
      await lab.writeFile(join(root0, `go-${tag}`), "");
      await lab.writeFile(join(root1, `go-${tag}`), "");
      jobsCreated.push(...jobIdsOf(taskId));
      const done = await c.poll(taskId);
      expect(done.status).toBe("completed");
      expect(textOf(done.result)).toMatch(/slow(.|\n)*slow(.|\n)*─── 2\/2 hosts succeeded ───/);
    } finally {
      await c.client.close();
    }
  });

  it("a client without the extension gets the job handle (and can read the job); tasks/get from it is -32021", async () => {
    const c = await modernClient("http", { url, tasks: false });
    try {
      const quick = await c.call({ target: `${h0}:${root0}`, query: "echo inline" });
      expect(textOf(quick)).toBe("inline");
      const tag = tagOf();
      const r = await c.call({ target: `${h0}:${root0}`, query: untilGo(tag, "later") });
      expect(r.resultType).toBe("complete");
      expect(textOf(r)).toMatch(
        new RegExp(`^Still running after 4s: it continues as job (${h0}/\\S+) \\(pid \\d+\\)`),
      );
      const handle = (r.structuredContent as { job: { handle: string } }).job.handle;
      jobsCreated.push(jobIdOf(handle));
      await lab.writeFile(join(root0, `go-${tag}`), "");
      await c.call({ job: handle, job_action: "wait", wait: 30 });
      expect(textOf(await c.call({ job: handle, job_action: "result" }))).toBe("later");
      await expect(c.raw("tasks/get", { taskId: `job:${handle}` })).rejects.toThrow(
        /Missing required client capability/,
      );
      // background=false keeps the command in the foreground despite SCOUT_JOB_AFTER.
      const fg = await c.call({ target: `${h0}:${root0}`, query: "sleep 4.5; echo fg", background: false });
      expect(textOf(fg)).toBe("fg");
    } finally {
      await c.client.close();
    }
  });
});
