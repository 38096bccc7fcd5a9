/**
 * One McpServer per MCP session: the `scout` tool and the resources, wired to the shared app.
 * Reads like a table of contents; the work lives in scout-tool.ts and resources.ts.
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
import type { ScoutApp } from "../app.js";
import { elicitConfirmation } from "../guard/confirm.js";
import { ResourceCatalog, type ResourceHooks } from "./resources.js";
import { fitToolResult, readOnHint } from "./budget.js";
import { SCOUT_DESCRIPTION, scoutInputSchema, scoutInputShape, type ScoutArgs } from "./schema.js";
import { runScoutTool, type ToolCallContext, type ToolOutcome } from "./scout-tool.js";

export interface CallInfo {
  args: ScoutArgs;
  /** Who is calling (API key hash or remote address; "stdio" for stdio). */
  client: string;
  signal: AbortSignal;
}

export interface ServerHooks extends ResourceHooks {
  /** Wraps every tool call: limits, deadlines, audit and metrics plug in here. */
  aroundTool?(call: CallInfo, run: (signal: AbortSignal) => Promise<ToolOutcome>): Promise<CallToolResult>;
}

export interface SessionOptions {
  transport: "stdio" | "http";
  client: string;
  hooks?: ServerHooks;
  readOnly?: boolean;
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

export function createMcpServer(
  app: ScoutApp,
  options: SessionOptions,
): { mcp: McpServer; catalog: ResourceCatalog } {
  const mcp = new McpServer(
    { name: "scout-mcp", version: app.version, title: "Scout" },
    { capabilities: { tools: {}, resources: { listChanged: true }, logging: {} } },
  );

  const callScout = async (args: ScoutArgs, extra: ToolExtra): Promise<CallToolResult> => {
    const progressToken = extra._meta?.progressToken;
    const run = async (signal: AbortSignal): Promise<ToolOutcome> => {
      const ctx: ToolCallContext = {
        app,
        signal,
        transport: options.transport,
        confirm: (message) => elicitConfirmation(mcp.server, message, signal, extra.requestId),
      };
      if (progressToken !== undefined) {
        ctx.progress = (progress, total, message) => {
          void extra
            .sendNotification({
              method: "notifications/progress",
              params: { progressToken, progress, ...(total !== undefined ? { total } : {}), message },
            })
            .catch(() => {});
        };
      }
      return runScoutTool(args, ctx);
    };
    if (options.hooks?.aroundTool) {
      return options.hooks.aroundTool({ args, client: options.client, signal: extra.signal }, run);
    }
    return (await run(extra.signal)).result;
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
    return fitToolResult(result, app.settings.maxMessageSize, readOnHint(result));
  });

  const catalog = new ResourceCatalog(mcp, app, options.hooks, options.client);
  catalog.install();
  return { mcp, catalog };
}
