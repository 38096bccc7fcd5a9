/**
 * One McpServer per MCP session: the `scout` tool and the resources, wired to the shared app.
 * Reads like a table of contents; the work lives in scout-tool.ts and resources.ts.
 */
import { McpServer } from "@modelcontextprotocol/sdk/server/mcp.js";
import type { CallToolResult } from "@modelcontextprotocol/sdk/types.js";
import type { ScoutApp } from "../app.js";
import { elicitConfirmation } from "../guard/confirm.js";
import { ResourceCatalog, type ResourceHooks } from "./resources.js";
import { SCOUT_DESCRIPTION, scoutInputShape, type ScoutArgs } from "./schema.js";
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

export function createMcpServer(
  app: ScoutApp,
  options: SessionOptions,
): { mcp: McpServer; catalog: ResourceCatalog } {
  const mcp = new McpServer(
    { name: "scout-mcp", version: app.version, title: "Scout" },
    { capabilities: { tools: {}, resources: { listChanged: true }, logging: {} } },
  );

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
    async (args, extra) => {
      const progressToken = extra._meta?.progressToken;
      const run = async (signal: AbortSignal): Promise<ToolOutcome> => {
        const ctx: ToolCallContext = {
          app,
          signal,
          transport: options.transport,
          confirm: (message) => elicitConfirmation(mcp.server, message, signal),
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
        return runScoutTool(args as ScoutArgs, ctx);
      };
      if (options.hooks?.aroundTool) {
        return options.hooks.aroundTool(
          { args: args as ScoutArgs, client: options.client, signal: extra.signal },
          run,
        );
      }
      return (await run(extra.signal)).result;
    },
  );

  const catalog = new ResourceCatalog(mcp, app, options.hooks, options.client);
  catalog.install();
  return { mcp, catalog };
}
