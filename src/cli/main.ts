#!/usr/bin/env node
/** Entry point of the `scout-mcp` bin: argument parsing and subcommand dispatch. */
import { parseArgs } from "node:util";
import { SettingsError, loadSettingsWithSources, type Settings } from "../config/settings.js";
import { VERSION } from "../version.js";
import { COMMANDS, FLAGS, helpText, type Command } from "./help.js";

/** Bad usage: exit status 2, like a bad setting. */
class UsageError extends Error {}

function parsePort(raw: string): number {
  const n = Number(raw);
  if (!/^\d+$/.test(raw) || n > 65535) throw new UsageError(`--port ${raw} is not a port (0-65535)`);
  return n;
}

/** Runs `fn` with an AbortSignal that fires on the first Ctrl-C / SIGTERM. */
async function withInterrupt<T>(fn: (signal: AbortSignal) => Promise<T>): Promise<T> {
  const ac = new AbortController();
  const onSignal = () => ac.abort();
  process.once("SIGINT", onSignal);
  process.once("SIGTERM", onSignal);
  try {
    return await fn(ac.signal);
  } finally {
    process.off("SIGINT", onSignal);
    process.off("SIGTERM", onSignal);
  }
}

async function main(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: Object.fromEntries(
      FLAGS.map((f) => [f.name, { type: f.type, ...(f.short ? { short: f.short } : {}) }]),
    ),
  });
  if (values.help) {
    process.stdout.write(helpText());
    return 0;
  }
  if (values.version) {
    process.stdout.write(`${VERSION}\n`);
    return 0;
  }
  const command = (positionals[0] ?? "serve") as Command;
  if (!COMMANDS.includes(command)) {
    throw new UsageError(
      `Unknown command '${positionals[0]}'. Commands: ${COMMANDS.join(", ")} (see scout-mcp --help)`,
    );
  }
  for (const f of FLAGS) {
    if (values[f.name] !== undefined && f.commands && !f.commands.includes(command)) {
      throw new UsageError(
        `--${f.name} does not apply to '${command}' (it is for: ${f.commands.join(", ")})`,
      );
    }
  }
  const extra = positionals.slice(1);
  if (command !== "doctor" && command !== "resolve" && extra.length > 0) {
    throw new UsageError(`Unexpected argument '${extra[0]}' for '${command}' (see scout-mcp --help)`);
  }
  const str = (name: string) => values[name] as string | undefined;

  if (command === "demo") {
    const { runDemo } = await import("./demo.js");
    const port = str("port");
    return withInterrupt((signal) =>
      runDemo({
        keep: values.keep === true,
        install: values.install === true,
        ...(port !== undefined ? { port: parsePort(port) } : {}),
        out: process.stdout,
        err: process.stderr,
        signal,
      }),
    );
  }

  // serve, config and doctor read the same settings; flags win over the environment.
  const env = { ...process.env };
  const flagSources: Partial<Record<keyof Settings, string>> = {};
  if (values.stdio && values.http) throw new UsageError("Use either --stdio or --http, not both");
  if (values.stdio || values.http) {
    env.SCOUT_TRANSPORT = values.stdio ? "stdio" : "http";
    flagSources.transport = values.stdio ? "--stdio" : "--http";
  }
  if (str("host") !== undefined) {
    env.SCOUT_HTTP_HOST = str("host");
    flagSources.httpHost = "--host";
  }
  if (str("port") !== undefined) {
    env.SCOUT_HTTP_PORT = String(parsePort(str("port")!));
    flagSources.httpPort = "--port";
  }
  const loaded = loadSettingsWithSources(env);

  switch (command) {
    case "serve": {
      const { serve } = await import("./serve.js");
      const running = await serve(loaded.settings, { announce: true });
      await running.done;
      return 0;
    }
    case "config": {
      const { showConfig } = await import("./show-config.js");
      await showConfig(loaded, flagSources, process.stdout);
      return 0;
    }
    case "resolve": {
      const { runResolve } = await import("./resolve.js");
      return runResolve(loaded.settings, extra, { out: process.stdout, err: process.stderr });
    }
    case "doctor": {
      const { runDoctor } = await import("./doctor.js");
      return runDoctor(loaded.settings, extra, { out: process.stdout, progress: process.stderr });
    }
  }
}

main(process.argv.slice(2)).then(
  (code) => {
    // Exit once stdout has drained (a pipe may still hold the end of a long report); nothing
    // that a finished command left behind (an unref'd timer, a closing socket) may delay it.
    process.stdout.write("", () => process.exit(code));
  },
  (e: unknown) => {
    const msg = e instanceof Error ? e.message : String(e);
    process.stderr.write(`Error: ${msg}\n`);
    const usage =
      e instanceof UsageError ||
      e instanceof SettingsError ||
      (e as { code?: string }).code?.startsWith("ERR_PARSE_ARGS");
    process.exit(usage ? 2 : 1);
  },
);
