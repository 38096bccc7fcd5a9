/**
 * stdio transport: one MCP connection over stdin/stdout. The SDK's serveStdio decides the era from
 * the opening message (a 2025 `initialize` or a 2026-07-28 request with its `_meta` envelope) and
 * pins one server from the factory for the connection. Nothing but protocol may reach stdout, so
 * logs go to stderr (see observe/log.ts).
 */
import type { McpServer } from "@modelcontextprotocol/server";
import { serveStdio } from "@modelcontextprotocol/server/stdio";

export interface StdioHandle {
  /** Resolves when the client closes stdin. */
  closed: Promise<void>;
  close(): Promise<void>;
}

export async function startStdioTransport(
  factory: (era: "legacy" | "modern") => McpServer,
  onError?: (e: Error) => void,
): Promise<StdioHandle> {
  let resolveClosed: () => void = () => {};
  const closed = new Promise<void>((resolve) => (resolveClosed = resolve));
  process.stdin.once("end", () => resolveClosed());
  process.stdin.once("close", () => resolveClosed());
  const handle = serveStdio((ctx) => factory(ctx.era), { ...(onError ? { onerror: onError } : {}) });
  return {
    closed,
    close: async () => {
      await handle.close();
      resolveClosed();
    },
  };
}
