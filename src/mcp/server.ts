/**
 * One McpServer (SDK v2) per MCP session (2025-era) or per request (2026-07-28, stateless): the
 * `scout` tool and the resources, each request handed to the call pipeline with this session's
 * identity and abilities (ask the user, report progress). Reads like a table of contents; the work
 * lives in the modes (scout-tool.ts) and resources.ts.
 */
import {
  CLIENT_CAPABILITIES_META_KEY,
  McpServer,
  ProtocolError,
  ProtocolErrorCode,
  type CallToolResult,
  type InputRequiredResult,
  type ServerContext,
  type Tool,
  type Transport,
} from "@modelcontextprotocol/server";
import { z } from "zod";
import { ScoutError, errorMessage } from "../errors.js";
import { fitToolResult, readOnHint } from "./budget.js";
import type { CallPipeline, CallSession, ToolOutcome } from "./calls.js";
import {
  askThroughMrtr,
  checkQuestionFits,
  confirmStateCodec,
  elicitConfirmation,
  mrtrAnswer,
  verifyConfirmState,
} from "./elicit.js";
import { errorText } from "./format.js";
import type { ModeResult, ScoutEngine } from "./mode.js";
import { ResourceCatalog } from "./resources.js";
import { installSubscriptions, type SessionWatches, type WatchHub } from "./watches.js";
import { SCOUT_DESCRIPTION, scoutInputSchema } from "./schema.js";
import { modeOf, scoutOutputSchema } from "./scout-tool.js";
import {
  fleetTaskId,
  installTaskMethods,
  legacyCreateTaskResult,
  modernCreateTaskResult,
  declaresTasks,
  TASKS_EXTENSION,
  type TaskHub,
} from "./tasks.js";

/** "legacy": a 2025-era session (initialize); "modern": one stateless 2026-07-28 request. */
export type Era = "legacy" | "modern";

export interface SessionOptions {
  transport: "stdio" | "http";
  client: string;
  pipeline: CallPipeline;
  readOnly?: boolean;
  /** Watched files (resources/subscribe, or listen's resourceSubscriptions); absent: not offered. */
  watches?: WatchHub;
  era?: Era;
  /** MCP tasks (both eras); absent: the server does not offer them. */
  tasks?: TaskHub;
}

/** Whether a tools/call is, or may become, a task: see callScout. */
type TaskRequest = "asked" | "offered" | "none";

/** The task id of a broadcast started as jobs, if any job started and the id is not too long. */
function fleetTaskOf(r: ModeResult): string | undefined {
  const f = r.fleetJobs;
  return f && f.started.length > 0 ? fleetTaskId(f.started, f.failed) : undefined;
}

/** 2025-11-25: `params.task` ({ ttl? }) asks for a task (the SDK's own guard accepts any params). */
function asksForTask(params: unknown): boolean {
  const task = (params as { task?: unknown } | null)?.task;
  return task !== null && typeof task === "object" && !Array.isArray(task);
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** How long clients may cache the lists (2026-07-28 `ttlMs`): they change with the ssh config. */
const LIST_TTL_MS = 60_000;

function toolError(text: string): CallToolResult {
  return { content: [{ type: "text", text: `Error: ${text}` }], isError: true };
}

/** "Invalid arguments: depth: must be ≤ 10 (got 50); target: expected a string (got number)". */
export function describeInvalidArguments(error: z.ZodError): string {
  const parts = error.issues.slice(0, 5).map((issue) => {
    const where = issue.path.length > 0 ? issue.path.join(".") : "arguments";
    return `${where}: ${issue.message}`;
  });
  const more = error.issues.length > 5 ? ` (and ${error.issues.length - 5} more)` : "";
  return `Invalid arguments: ${parts.join("; ")}${more}. See the scout tool's input schema for each parameter's type`;
}

/** 2026-07-28: the client capabilities this request declared (they ride in the envelope). */
function requestCapabilities(ctx: ServerContext): Record<string, unknown> | undefined {
  const envelope = ctx.mcpReq.envelope as Record<string, unknown> | undefined;
  return envelope?.[CLIENT_CAPABILITIES_META_KEY] as Record<string, unknown> | undefined;
}

function clientCanElicit(ctx: ServerContext): boolean {
  return requestCapabilities(ctx)?.elicitation !== undefined;
}

/** resource_link content blocks exist from protocol 2025-06-18 on (older clients reject them). */
const FIRST_LINK_VERSION = "2025-06-18";

/**
 * A typed outcome as the tool result a client reads: the text first (the layout prompts know),
 * then the answer's resource links when `links` (the client's protocol has them).
 */
export function toolResult(
  outcome: Exclude<ToolOutcome, { kind: "input_required" }>,
  links = true,
): CallToolResult {
  if (outcome.kind === "done") {
    const r = outcome.result;
    const extra = links && r.links ? r.links : [];
    return { content: [{ type: "text", text: r.text }, ...extra], structuredContent: r.structured };
  }
  if (outcome.kind === "refused" && (outcome.reason === "rate" || outcome.reason === "busy")) {
    return { content: [{ type: "text", text: `Error: ${outcome.error.userText}` }], isError: true };
  }
  const e = outcome.error;
  const code = e instanceof ScoutError ? e.code : "error";
  return {
    content: [{ type: "text", text: errorText(e) }],
    structuredContent: { mode: outcome.mode, error: { code, message: errorMessage(e) } },
    isError: true,
  };
}

/** JSON Schema without `$schema` or closed objects: clients validate with draft-07 validators too. */
function openSchema(schema: unknown): Record<string, unknown> {
  const strip = (v: unknown): unknown => {
    if (Array.isArray(v)) return v.map(strip);
    if (v === null || typeof v !== "object") return v;
    const out: Record<string, unknown> = {};
    for (const [k, x] of Object.entries(v)) {
      if (k === "$schema" || (k === "additionalProperties" && x === false)) continue;
      out[k] = strip(x);
    }
    return out;
  };
  return strip(schema) as Record<string, unknown>;
}

let toolDefinitions: { readOnly: Tool; readWrite: Tool } | undefined;

/** The `scout` tool as tools/list shows it (built once: it never changes while Scout runs). */
function scoutTool(readOnly: boolean): Tool {
  toolDefinitions ??= (() => {
    const base = {
      name: "scout",
      title: "Scout SSH hosts",
      description: SCOUT_DESCRIPTION,
      inputSchema: openSchema(z.toJSONSchema(scoutInputSchema, { io: "input" })) as Tool["inputSchema"],
      outputSchema: openSchema(scoutOutputSchema()) as Tool["outputSchema"],
    };
    const annotations = (ro: boolean) => ({
      title: "Scout SSH hosts",
      readOnlyHint: ro,
      destructiveHint: !ro,
      idempotentHint: false,
      openWorldHint: true,
    });
    return {
      readOnly: { ...base, annotations: annotations(true) },
      readWrite: { ...base, annotations: annotations(false) },
    };
  })();
  return readOnly ? toolDefinitions.readOnly : toolDefinitions.readWrite;
}

/**
 * 2025 revisions: "resource not found" is -32002 (2025-11-25, server/resources "Error Handling").
 * The SDK's 2025 codec sends -32602 for it on every revision (the 2026-07-28 code), so a legacy
 * session rewrites, on its way out, the one error shaped like it: -32602 whose data is exactly
 * `{ uri }` (what resourceError makes for a URI that names nothing; other -32602 carry more).
 */
function legacyNotFoundCode(mcp: McpServer): void {
  const connect = mcp.connect.bind(mcp);
  mcp.connect = (transport: Transport) => {
    const send = transport.send.bind(transport);
    transport.send = (message, sendOptions) => {
      const error = (message as { error?: { code?: number; data?: unknown } }).error;
      const data = error?.data as Record<string, unknown> | undefined;
      if (
        error?.code === ProtocolErrorCode.InvalidParams &&
        data !== undefined &&
        typeof data.uri === "string" &&
        Object.keys(data).length === 1
      ) {
        error.code = ProtocolErrorCode.ResourceNotFound;
      }
      return send(message, sendOptions);
    };
    return connect(transport);
  };
}

export function createMcpServer(
  engine: ScoutEngine,
  options: SessionOptions,
): { mcp: McpServer; catalog: ResourceCatalog; watches?: SessionWatches } {
  const era = options.era ?? "legacy";
  const stateCodec = confirmStateCodec(engine.settings.requestStateKey, engine.settings.confirmTimeoutMs);
  const mcp = new McpServer(
    { name: "scout-mcp", version: engine.version, title: "Scout" },
    {
      capabilities: {
        // The one tool never changes while Scout runs (the SDK would otherwise claim listChanged).
        tools: { listChanged: false },
        resources: { listChanged: true },
        completions: {},
        // Logging (logging/setLevel) is gone from 2026-07-28; 2025 sessions keep it.
        ...(era === "legacy" ? { logging: {} } : {}),
        // Tasks: 2025-11-25's experimental capability, or 2026-07-28's extension (never both).
        ...(options.tasks
          ? era === "legacy"
            ? { tasks: { cancel: {}, requests: { tools: { call: {} } } } }
            : { extensions: { [TASKS_EXTENSION]: {} } }
          : {}),
      },
      // A retried call's requestState must be one we signed (and not expired): else -32602.
      requestState: {
        verify: verifyConfirmState(stateCodec),
      },
      cacheHints: {
        "tools/list": { ttlMs: LIST_TTL_MS, cacheScope: "public" },
        "resources/list": { ttlMs: LIST_TTL_MS, cacheScope: "private" },
        "resources/templates/list": { ttlMs: LIST_TTL_MS, cacheScope: "private" },
        // A file read is live data: never served from a cache.
        "resources/read": { ttlMs: 0, cacheScope: "private" },
      },
    },
  );
  if (era === "legacy") legacyNotFoundCode(mcp);
  const session: CallSession = { transport: options.transport, client: options.client };

  /** The call's session: how to ask the user and report progress, in this request's era. */
  const callSession = (ctx: ServerContext): CallSession => {
    const progressToken = ctx.mcpReq._meta?.progressToken;
    const modern = ctx.mcpReq.envelope !== undefined;
    const call: CallSession = { ...session };
    // 2025-era: ask through elicitation on the call's own stream. 2026-07-28: no server-to-client
    // requests; the question is an input_required answer (MRTR), if the client can elicit at all.
    // Either way the question goes through the message budget first (it is never cut).
    const max = engine.settings.maxMessageSize;
    if (!modern) {
      call.ask = (question, signal) => {
        checkQuestionFits(question, max);
        return elicitConfirmation(
          mcp.server,
          question,
          signal,
          ctx.mcpReq.id,
          engine.settings.confirmTimeoutMs,
        );
      };
    } else if (clientCanElicit(ctx)) {
      call.ask = (question) => {
        checkQuestionFits(question, max);
        return Promise.resolve(mrtrAnswer(ctx, question, engine.settings.confirmTimeoutMs));
      };
    }
    if (progressToken !== undefined) {
      call.progress = (progress, total, message) => {
        void ctx.mcpReq
          .notify({
            method: "notifications/progress",
            params: { progressToken, progress, ...(total !== undefined ? { total } : {}), message },
          })
          .catch(() => {});
      };
    }
    return call;
  };
  /** A finished call as the result a client reads: fitted into one message. */
  const finish = (outcome: Exclude<ToolOutcome, { kind: "input_required" }>): CallToolResult => {
    const version = era === "modern" ? undefined : mcp.server.getNegotiatedProtocolVersion();
    const links = era === "modern" || (version !== undefined && version >= FIRST_LINK_VERSION);
    const result = toolResult(outcome, links);
    return fitToolResult(result, engine.settings.maxMessageSize, readOnHint(result));
  };
  const answer = async (
    outcome: ToolOutcome,
    ctx: ServerContext,
  ): Promise<CallToolResult | InputRequiredResult> =>
    outcome.kind === "input_required" ? askThroughMrtr(stateCodec, outcome.question, ctx) : finish(outcome);

  const callScout = async (
    args: z.infer<typeof scoutInputSchema>,
    ctx: ServerContext,
    task: TaskRequest,
  ): Promise<CallToolResult | InputRequiredResult> => {
    const call = callSession(ctx);
    const hub = options.tasks;
    if (hub && task === "asked") return legacyTaskCall(hub, args, call, ctx);
    if (hub && task === "offered") return offerTask(hub, args, call, ctx);
    return answer(await options.pipeline.tool(args, call, ctx.mcpReq.signal), ctx);
  };

  /**
   * 2025-11-25, the client asked for a task: a command starts as a durable job (authorized as
   * one) and its task is the job; any other call runs in this process once authorized. A call
   * refused before it ran is a task that has already ended with that answer.
   */
  const legacyTaskCall = async (
    hub: TaskHub,
    args: z.infer<typeof scoutInputSchema>,
    session: CallSession,
    ctx: ServerContext,
  ): Promise<CallToolResult> => {
    const { progress: _progress, ...call } = session; // no progress on a task's own stream
    const mode = modeOf(args);
    const asJobs = mode === "command" || (mode === "broadcast" && args.query !== undefined);
    const started = asJobs
      ? await options.pipeline.tool({ ...args, background: true }, call, ctx.mcpReq.signal)
      : undefined;
    if (started?.kind === "done" && started.result.jobInfo) {
      return legacyCreateTaskResult(hub.jobTask(started.result.jobInfo, call));
    }
    const fleet = started?.kind === "done" ? fleetTaskOf(started.result) : undefined;
    if (fleet) return legacyCreateTaskResult(hub.fleetTask(fleet, call));
    const run = hub.startLocal(
      (signal, onAuthorized) =>
        started ? Promise.resolve(started) : options.pipeline.tool(args, { ...call, onAuthorized }, signal),
      finish,
      ctx.mcpReq.signal,
    );
    await Promise.race([run.authorized, run.outcome]);
    run.detach();
    hub.created(run.id, call);
    return legacyCreateTaskResult(run.view("legacy"));
  };

  /**
   * A broadcast command for a task-capable client, with SCOUT_JOB_AFTER: one job per host; if all
   * end within it, the broadcast's answer inline (their jobs stay, listed), else the task.
   */
  const offerFleetTask = async (
    hub: TaskHub,
    args: z.infer<typeof scoutInputSchema>,
    call: CallSession,
    ctx: ServerContext,
    afterMs: number,
  ): Promise<CallToolResult | InputRequiredResult> => {
    const until = performance.now() + afterMs;
    const started = await options.pipeline.tool({ ...args, background: true }, call, ctx.mcpReq.signal);
    const taskId = started.kind === "done" ? fleetTaskOf(started.result) : undefined;
    if (!taskId) return answer(started, ctx);
    for (;;) {
      const v = await hub.get(taskId, "modern", call, ctx.mcpReq.signal);
      if (v.status === "completed" && v.result) return v.result;
      if (v.status !== "working" || performance.now() + 500 > until) break;
      await sleep(Math.min(500, until - performance.now()));
    }
    return modernCreateTaskResult(hub.fleetTask(taskId, call));
  };

  /**
   * 2026-07-28, the client declared the tasks extension: Scout decides. A command that outlives
   * SCOUT_JOB_AFTER goes on as its job, answered as that job's task; any other call (but job
   * calls) that outlives it, as an in-process task. Quicker calls answer inline as always.
   */
  const offerTask = async (
    hub: TaskHub,
    args: z.infer<typeof scoutInputSchema>,
    call: CallSession,
    ctx: ServerContext,
  ): Promise<CallToolResult | InputRequiredResult> => {
    const afterMs = engine.settings.jobAfterMs;
    const mode = modeOf(args);
    if (mode === "broadcast" && args.query !== undefined && args.background === undefined && afterMs > 0) {
      return offerFleetTask(hub, args, call, ctx, afterMs);
    }
    if (mode === "command" || mode === "job" || afterMs <= 0) {
      const outcome = await options.pipeline.tool(args, call, ctx.mcpReq.signal);
      const j =
        outcome.kind === "done" && outcome.result.mode === "command" ? outcome.result.jobInfo : undefined;
      if (j && (j.state === "running" || j.state === "starting")) {
        return modernCreateTaskResult(hub.jobTask(j, call));
      }
      return answer(outcome, ctx);
    }
    let handedOff = false;
    const gated: CallSession = {
      ...call,
      // Progress belongs to the request's stream: none once the call became a task.
      ...(call.progress ? { progress: (d, t, m) => (handedOff ? undefined : call.progress?.(d, t, m)) } : {}),
    };
    const run = hub.startLocal(
      (signal, onAuthorized) => options.pipeline.tool(args, { ...gated, onAuthorized }, signal),
      finish,
      ctx.mcpReq.signal,
    );
    const ended = (o: ToolOutcome | Error) => ({ o });
    const first = await Promise.race([run.authorized.then(() => undefined), run.outcome.then(ended)]);
    const last =
      first ?? (await Promise.race([sleep(afterMs).then(() => undefined), run.outcome.then(ended)]));
    if (last) {
      run.drop();
      if (last.o instanceof Error) throw last.o;
      return answer(last.o, ctx);
    }
    handedOff = true;
    run.detach();
    hub.created(run.id, call);
    return modernCreateTaskResult(run.view("modern"));
  };

  mcp.server.setRequestHandler("tools/list", () => {
    const tool = scoutTool(options.readOnly ?? false);
    // 2025-11-25 tasks: a client may ask for any scout call as a task.
    return {
      tools: [options.tasks && era === "legacy" ? { ...tool, execution: { taskSupport: "optional" } } : tool],
    };
  });
  // Validating here rather than in the SDK gives the same `Error: …` answers as everything else.
  mcp.server.setRequestHandler("tools/call", async (request, ctx) => {
    if (request.params.name !== "scout") {
      // A protocol error, not a tool result: the client asked for something that does not exist.
      throw new ProtocolError(
        ProtocolErrorCode.InvalidParams,
        `Unknown tool '${request.params.name}'. This server has one tool: scout`,
      );
    }
    const parsed = scoutInputSchema.safeParse(request.params.arguments ?? {});
    if (!parsed.success) return toolError(describeInvalidArguments(parsed.error));
    // Tasks: a 2025 client asks per call (`task`); a 2026-07-28 client that declared the
    // extension on this request may get one (a 2026 client's `task` field means nothing).
    const task: TaskRequest =
      era === "legacy"
        ? asksForTask(request.params)
          ? "asked"
          : "none"
        : declaresTasks(requestCapabilities(ctx))
          ? "offered"
          : "none";
    return callScout(parsed.data, ctx, task);
  });
  if (options.tasks)
    installTaskMethods(mcp, options.tasks, { era, session, capabilities: requestCapabilities });

  const catalog = new ResourceCatalog(mcp, engine, options.pipeline, session);
  catalog.install();
  const hub = options.watches;
  // 2025: resources/subscribe. 2026-07-28: the capability alone, so that the SDK's listen router
  // honors resourceSubscriptions (src/mcp/listen.ts starts those watches).
  if (hub && era === "modern") mcp.server.registerCapabilities({ resources: { subscribe: true } });
  const watches =
    hub && era === "legacy"
      ? installSubscriptions({ mcp, catalog, pipeline: options.pipeline, session, engine, hub })
      : undefined;
  return { mcp, catalog, ...(watches ? { watches } : {}) };
}
