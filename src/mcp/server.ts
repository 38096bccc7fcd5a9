/**
 * One McpServer (SDK v2) per MCP session (2025-era) or per request (2026-07-28, stateless): the
 * `scout` tool and the resources, each request handed to the call pipeline with this session's
 * identity and abilities (ask the user, report progress). Reads like a table of contents; the work
 * lives in the modes (scout-tool.ts) and resources.ts.
 */
import {
  CLIENT_CAPABILITIES_META_KEY,
  isInputRequiredResult,
  McpServer,
  ProtocolError,
  ProtocolErrorCode,
  type CallToolResult,
  type ServerContext,
  type Tool,
} from "@modelcontextprotocol/server";
import { z } from "zod";
import { ScoutError, errorMessage } from "../errors.js";
import { fitToolResult, readOnHint } from "./budget.js";
import type { CallPipeline, CallSession, ToolOutcome } from "./calls.js";
import { askThroughMrtr, confirmStateCodec, elicitConfirmation, mrtrAnswer } from "./elicit.js";
import { errorText } from "./format.js";
import type { ScoutEngine } from "./mode.js";
import { ResourceCatalog } from "./resources.js";
import { installSubscriptions, type SessionWatches, type WatchHub } from "./watches.js";
import { SCOUT_DESCRIPTION, scoutInputSchema } from "./schema.js";
import { scoutOutputSchema } from "./scout-tool.js";

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
}

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

/** 2026-07-28: whether this request's client declared elicitation (it rides in the envelope). */
function clientCanElicit(ctx: ServerContext): boolean {
  const envelope = ctx.mcpReq.envelope as Record<string, unknown> | undefined;
  const caps = envelope?.[CLIENT_CAPABILITIES_META_KEY] as { elicitation?: unknown } | undefined;
  return caps?.elicitation !== undefined;
}

/** A typed outcome as the tool result a client reads. */
export function toolResult(outcome: Exclude<ToolOutcome, { kind: "input_required" }>): CallToolResult {
  if (outcome.kind === "done") {
    const r = outcome.result;
    return { content: [{ type: "text", text: r.text }], structuredContent: r.structured };
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

export function createMcpServer(
  engine: ScoutEngine,
  options: SessionOptions,
): { mcp: McpServer; catalog: ResourceCatalog; watches?: SessionWatches } {
  const era = options.era ?? "legacy";
  const mcp = new McpServer(
    { name: "scout-mcp", version: engine.version, title: "Scout" },
    {
      capabilities: {
        // The one tool never changes while Scout runs (the SDK would otherwise claim listChanged).
        tools: { listChanged: false },
        resources: { listChanged: true },
        // Logging (logging/setLevel) is gone from 2026-07-28; 2025 sessions keep it.
        ...(era === "legacy" ? { logging: {} } : {}),
      },
      // A retried call's requestState must be one we signed (and not expired): else -32602.
      requestState: {
        verify: confirmStateCodec(engine.settings.requestStateKey, engine.settings.confirmTimeoutMs).verify,
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
  const session: CallSession = { transport: options.transport, client: options.client };
  const stateCodec = confirmStateCodec(engine.settings.requestStateKey, engine.settings.confirmTimeoutMs);

  const callScout = async (args: z.infer<typeof scoutInputSchema>, ctx: ServerContext) => {
    const progressToken = ctx.mcpReq._meta?.progressToken;
    const modern = ctx.mcpReq.envelope !== undefined;
    const call: CallSession = { ...session };
    // 2025-era: ask through elicitation on the call's own stream. 2026-07-28: no server-to-client
    // requests; the question is an input_required answer (MRTR), if the client can elicit at all.
    if (!modern) {
      call.ask = (question, signal) =>
        elicitConfirmation(mcp.server, question, signal, ctx.mcpReq.id, engine.settings.confirmTimeoutMs);
    } else if (clientCanElicit(ctx)) {
      call.ask = (question) => Promise.resolve(mrtrAnswer(ctx, question));
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
    const outcome = await options.pipeline.tool(args, call, ctx.mcpReq.signal);
    if (outcome.kind === "input_required") return askThroughMrtr(stateCodec, outcome.question);
    return toolResult(outcome);
  };

  mcp.server.setRequestHandler("tools/list", () => ({ tools: [scoutTool(options.readOnly ?? false)] }));
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
    // Last step: the encoded answer fits one message that every mainstream client accepts.
    const result = await callScout(parsed.data, ctx);
    if (isInputRequiredResult(result)) return result; // a question: nothing to fit
    return fitToolResult(result, engine.settings.maxMessageSize, readOnHint(result));
  });

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
