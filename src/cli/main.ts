#!/usr/bin/env node
/** Entry point of the `scout-mcp` bin. */
process.stderr.write("scout-mcp: no transport yet\n");
