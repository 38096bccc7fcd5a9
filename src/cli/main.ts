#!/usr/bin/env node
/** Entry point of the `scout-mcp` bin: argument parsing and subcommand dispatch. */
import { parseArgs } from "node:util";
import { SETTING_SPECS, SettingsError, loadSettingsWithSources } from "../config/settings.js";
import { VERSION } from "../version.js";
import { serve } from "./serve.js";

const HELP = `scout-mcp ${VERSION} — an MCP server to scout your SSH fleet (~/.ssh/config)

Usage:
  scout-mcp [serve] [--stdio | --http] [--host ADDR] [--port N]
  scout-mcp config        print the effective configuration and where each value came from
  scout-mcp --help | --version

Options:
  --stdio            serve MCP over stdin/stdout (same as SCOUT_TRANSPORT=stdio)
  --http             serve MCP over Streamable HTTP at /mcp (default)
  --host ADDR        HTTP bind address (SCOUT_HTTP_HOST, default 127.0.0.1)
  --port N           HTTP port (SCOUT_HTTP_PORT, default 8000)
  -h, --help         show this help
  -v, --version      show the version

Environment:
${SETTING_SPECS.map((s) => `  ${s.env.padEnd(36)} ${s.description} (default: ${s.defaultText})`).join("\n")}
`;

async function main(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      stdio: { type: "boolean" },
      http: { type: "boolean" },
      host: { type: "string" },
      port: { type: "string" },
      help: { type: "boolean", short: "h" },
      version: { type: "boolean", short: "v" },
    },
  });
  if (values.help) {
    process.stdout.write(HELP);
    return 0;
  }
  if (values.version) {
    process.stdout.write(`${VERSION}\n`);
    return 0;
  }
  const command = positionals[0] ?? "serve";
  const env = { ...process.env };
  if (values.stdio && values.http) throw new SettingsError("Use either --stdio or --http, not both");
  if (values.stdio) env.SCOUT_TRANSPORT = "stdio";
  if (values.http) env.SCOUT_TRANSPORT = "http";
  if (values.host !== undefined) env.SCOUT_HTTP_HOST = values.host;
  if (values.port !== undefined) env.SCOUT_HTTP_PORT = values.port;
  const { settings, sources } = loadSettingsWithSources(env);

  switch (command) {
    case "serve": {
      const running = await serve(settings);
      await running.done;
      return 0;
    }
    case "config": {
      for (const spec of SETTING_SPECS) {
        const src = sources[spec.key];
        const from = src === "default" ? "default" : `from ${src.env}`;
        process.stdout.write(`${spec.env.padEnd(36)} ${JSON.stringify(settings[spec.key])}  (${from})\n`);
      }
      return 0;
    }
    default:
      process.stderr.write(`scout-mcp: unknown command '${command}'. See scout-mcp --help\n`);
      return 2;
  }
}

main(process.argv.slice(2)).then(
  (code) => {
    if (code !== 0) process.exit(code);
  },
  (e: unknown) => {
    const msg = e instanceof Error ? e.message : String(e);
    process.stderr.write(`scout-mcp: ${msg}\n`);
    process.exit(
      e instanceof SettingsError || (e as { code?: string }).code?.startsWith("ERR_PARSE_ARGS") ? 2 : 1,
    );
  },
);
