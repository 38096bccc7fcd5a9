/**
 * One McpServer per MCP session: the `scout` tool and the resources, each request handed to the
 * call pipeline with this session's identity and abilities (ask the user, report progress).
 * Reads like a table of contents; the work lives in the modes (scout-tool.ts) and resources.ts.
 */
import { McpServer } from "@modelcontextprotocol/sdk/server/mcp.js";
import type { RequestHandlerExtra } from "@modelcontextprotocol/sdk/shared/protocol.js";
import {
  CallToolRequestSchema,
  type CallToolResult,
  type ServerNotification,
  type ServerRequest,
} from "@modelcontextprotocol/sdk/types.js";
import type { z } from "zod";
import { ScoutError, errorMessage } from "../errors.js";
import type { CallPipeline, CallSession, ToolOutcome } from "./calls.js";
import { fitToolResult, readOnHint } from "./budget.js";
import { elicitConfirmation } from "./elicit.js";
import { errorText } from "./format.js";
import type { ScoutEngine } from "./mode.js";
import { ResourceCatalog } from "./resources.js";
import { installSubscriptions, type SessionWatches, type WatchHub } from "./watches.js";
import { SCOUT_DESCRIPTION, scoutInputSchema, scoutInputShape, type ScoutArgs } from "./schema.js";

export interface SessionOptions {
  transport: "stdio" | "http";
  client: string;
  pipeline: CallPipeline;
  readOnly?: boolean;
  /** Resource subscriptions (watched files); absent: the server does not offer them. */
  watches?: WatchHub;
}

type ToolExtra = RequestHandlerExtra<ServerRequest, ServerNotification>;

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

/** A typed outcome as the tool result a client reads. */
export function toolResult(outcome: ToolOutcome): CallToolResult {
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

export function createMcpServer(
  engine: ScoutEngine,
  options: SessionOptions,
): { mcp: McpServer; catalog: ResourceCatalog; watches?: SessionWatches } {
  const mcp = new McpServer(
    { name: "scout-mcp", version: engine.version, title: "Scout" },
    { capabilities: { tools: {}, resources: { listChanged: true }, logging: {} } },
  );
  const session: CallSession = { transport: options.transport, client: options.client };

  const callScout = async (args: ScoutArgs, extra: ToolExtra): Promise<CallToolResult> => {
    const progressToken = extra._meta?.progressToken;
    const call: CallSession = {
      ...session,
      ask: (question, signal) => elicitConfirmation(mcp.server, question, signal, extra.requestId),
    };
    if (progressToken !== undefined) {
      call.progress = (progress, total, message) => {
        void extra
          .sendNotification({
            method: "notifications/progress",
            params: { progressToken, progress, ...(total !== undefined ? { total } : {}), message },
          })
          .catch(() => {});
      };
    }
    return toolResult(await options.pipeline.tool(args, call, extra.signal));
  };

  mcp.registerTool(
    "scout",
    {
      title: "Scout SSH hosts",
      description: SCOUT_DESCRIPTION,
      inputSchema: scoutInputShape,
      annotations: {
        title: "Scout SSH hosts",
        readOnlyHint: options.readOnly ?? false,
        destructiveHint: !(options.readOnly ?? false),
        idempotentHint: false,
        openWorldHint: true,
      },
    },
    callScout,
  );
  // The SDK answers bad arguments with "MCP error -32602: Input validation error: …" and a JSON dump
  // of zod issues. Validating here instead gives the same `Error: …` answers as everything else, and
  // the advertised schema (tools/list) is unchanged.
  mcp.server.setRequestHandler(CallToolRequestSchema, async (request, extra) => {
    if (request.params.name !== "scout") {
      return toolError(`Unknown tool '${request.params.name}'. This server has one tool: scout`);
    }
    const parsed = scoutInputSchema.safeParse(request.params.arguments ?? {});
    if (!parsed.success) return toolError(describeInvalidArguments(parsed.error));
    // Last step: the encoded answer fits one message that every mainstream client accepts.
    const result = await callScout(parsed.data, extra);
    return fitToolResult(result, engine.settings.maxMessageSize, readOnHint(result));
  });

  const catalog = new ResourceCatalog(mcp, engine, options.pipeline, session);
  catalog.install();
  const hub = options.watches;
  const watches = hub
    ? installSubscriptions({ mcp, catalog, pipeline: options.pipeline, session, engine, hub })
    : undefined;
  return { mcp, catalog, ...(watches ? { watches } : {}) };
}
