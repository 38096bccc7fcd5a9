/* global process */
/**
 * The stdio baseline of the latency-distribution scenario: the smallest MCP server the official
 * SDK makes over stdio, one tool returning 4 KB of constant text. Plain JavaScript, run by node
 * with the same TypeScript loader as Scout's stdio child in the bench (so neither pays more).
 */
import { McpServer } from "@modelcontextprotocol/sdk/server/mcp.js";
import { StdioServerTransport } from "@modelcontextprotocol/sdk/server/stdio.js";

const TEXT = "log line 0123456789 abcdefghij\n".repeat(132).slice(0, 4096);
const mcp = new McpServer({ name: "minimal-stdio", version: "1.0.0" }, { capabilities: { tools: {} } });
mcp.registerTool("constant", { description: "Returns 4 KB of constant text" }, () => ({
  content: [{ type: "text", text: TEXT }],
}));
await mcp.connect(new StdioServerTransport());
process.stdin.on("end", () => process.exit(0));
