/**
 * stdio transport: one MCP session over stdin/stdout. Nothing but protocol may reach stdout, so
 * logs go to stderr (see observe/log.ts).
 */
import type { McpServer } from "@modelcontextprotocol/sdk/server/mcp.js";
import { StdioServerTransport } from "@modelcontextprotocol/sdk/server/stdio.js";

export interface StdioHandle {
  /** Resolves when the client closes stdin. */
  closed: Promise<void>;
  close(): Promise<void>;
}

export async function startStdioTransport(mcp: McpServer): Promise<StdioHandle> {
  const transport = new StdioServerTransport();
  let resolveClosed: () => void = () => {};
  const closed = new Promise<void>((resolve) => (resolveClosed = resolve));
  transport.onclose = () => resolveClosed();
  process.stdin.once("end", () => resolveClosed());
  await mcp.connect(transport);
  return {
    closed,
    close: async () => {
      await mcp.close();
      resolveClosed();
    },
  };
}
