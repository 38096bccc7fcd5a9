/* global process, Buffer */
/**
 * Baseline (a) of bench:mcp: the smallest MCP server the official SDK makes, Streamable HTTP with
 * one session per initialize like Scout's transport, and one tool returning 4 KB of constant text.
 * Whatever Scout spends beyond this is Scout's own overhead. Prints its URL on stdout. Plain
 * JavaScript, run by plain node, as Scout's built dist/ is: neither pays for a TypeScript loader.
 */
import { randomUUID } from "node:crypto";
import { createServer } from "node:http";
import { McpServer } from "@modelcontextprotocol/sdk/server/mcp.js";
import { StreamableHTTPServerTransport } from "@modelcontextprotocol/sdk/server/streamableHttp.js";
import { z } from "zod";

const TEXT = "log line 0123456789 abcdefghij\n".repeat(132).slice(0, 4096);
const json = process.env.BENCH_JSON_RESPONSE === "1";
/** @type {Map<string, StreamableHTTPServerTransport>} */
const sessions = new Map();

/** @param {import("node:http").IncomingMessage} req */
async function body(req) {
  const chunks = [];
  for await (const c of req) chunks.push(c);
  return JSON.parse(Buffer.concat(chunks).toString("utf8"));
}

const server = createServer((req, res) => {
  void (async () => {
    const id = req.headers["mcp-session-id"];
    const existing = typeof id === "string" ? sessions.get(id) : undefined;
    if (existing) {
      await existing.handleRequest(req, res, req.method === "POST" ? await body(req) : undefined);
      return;
    }
    const newId = randomUUID();
    const transport = new StreamableHTTPServerTransport({
      sessionIdGenerator: () => newId,
      enableJsonResponse: json,
      onsessioninitialized: (sid) => void sessions.set(sid, transport),
    });
    const mcp = new McpServer({ name: "min", version: "1.0.0" });
    mcp.registerTool("read", { inputSchema: { target: z.string() } }, () => ({
      content: [{ type: "text", text: TEXT }],
    }));
    await mcp.connect(transport);
    await transport.handleRequest(req, res, await body(req));
  })();
});
server.keepAliveTimeout = 65_000;
server.listen(0, "127.0.0.1", () => {
  process.stdout.write(`http://127.0.0.1:${server.address().port}/mcp\n`);
});
