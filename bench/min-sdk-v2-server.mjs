/* global process */
/**
 * Baseline (c) of bench:mcp: the smallest 2026-07-28 server SDK v2 makes — createMcpHandler (one
 * fresh McpServer per request, stateless) mounted on node:http with toNodeHandler, one tool
 * returning 4 KB of constant text. Scout's modern era runs on the same SDK path. Prints its URL.
 */
import { createServer } from "node:http";
import { createMcpHandler, McpServer } from "@modelcontextprotocol/server";
import { toNodeHandler } from "@modelcontextprotocol/node";
import { z } from "zod";

const TEXT = "log line 0123456789 abcdefghij\n".repeat(132).slice(0, 4096);
const handler = createMcpHandler(
  () => {
    const mcp = new McpServer({ name: "min-v2", version: "1.0.0" });
    mcp.registerTool("read", { inputSchema: z.object({ target: z.string() }) }, () => ({
      content: [{ type: "text", text: TEXT }],
    }));
    return mcp;
  },
  { legacy: "reject" },
);
const node = toNodeHandler(handler);
const server = createServer((req, res) => void node(req, res));
server.keepAliveTimeout = 65_000;
server.listen(0, "127.0.0.1", () => {
  process.stdout.write(`http://127.0.0.1:${server.address().port}/mcp\n`);
});
