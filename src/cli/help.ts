/**
 * The command line's vocabulary in one place: subcommands, flags (with the subcommands they apply
 * to) and the help text built from them and from SETTING_SPECS, so `--help` can't fall behind.
 */
import { SETTING_SPECS } from "../config/settings.js";
import { VERSION } from "../version.js";

export type Command = "serve" | "config" | "demo" | "doctor" | "resolve";
export const COMMANDS: readonly Command[] = ["serve", "config", "demo", "doctor", "resolve"];

export interface FlagSpec {
  name: string;
  short?: string;
  type: "boolean" | "string";
  /** Placeholder for a value, shown in help ("N", "ADDR"). */
  value?: string;
  /** Subcommands that accept it; undefined: all. */
  commands?: readonly Command[];
  help: string;
}

export const FLAGS: readonly FlagSpec[] = [
  {
    name: "stdio",
    type: "boolean",
    commands: ["serve", "config"],
    help: "serve MCP over stdin/stdout (same as SCOUT_TRANSPORT=stdio)",
  },
  {
    name: "http",
    type: "boolean",
    commands: ["serve", "config"],
    help: "serve MCP over Streamable HTTP at /mcp (the default)",
  },
  {
    name: "host",
    type: "string",
    value: "ADDR",
    commands: ["serve", "config"],
    help: "HTTP bind address (same as SCOUT_HTTP_HOST; default 127.0.0.1)",
  },
  {
    name: "port",
    type: "string",
    value: "N",
    commands: ["serve", "config", "demo"],
    help: "HTTP port (same as SCOUT_HTTP_PORT; default 8000; demo: a free port, or 8000 with --keep)",
  },
  {
    name: "keep",
    type: "boolean",
    commands: ["demo"],
    help: "demo: keep the fleet and the server running after the tour and print client config (Ctrl-C stops)",
  },
  {
    name: "install",
    type: "boolean",
    commands: ["demo"],
    help: "demo: install OpenSSH's sshd with apt-get if it is missing (needs root)",
  },
  { name: "help", short: "h", type: "boolean", help: "show this help" },
  { name: "version", short: "v", type: "boolean", help: "print the version" },
];

/** Environment variables read outside SETTING_SPECS. */
export const OTHER_ENV: ReadonlyArray<{ env: string; help: string }> = [
  { env: "SSH_AUTH_SOCK", help: "ssh-agent socket (unless a host's IdentityAgent says otherwise)" },
  { env: "SCOUT_SSHD", help: "demo: path of the sshd binary (default: /usr/sbin/sshd and usual places)" },
  { env: "NO_COLOR", help: "demo, doctor: no colors even on a terminal" },
  {
    env: "SCOUT_LAB_INSTALL",
    help: "demo, npm test: 0 = never apt-get install a missing sshd (default: as root with apt-get, install it)",
  },
];

function flagLabel(f: FlagSpec): string {
  const long = `--${f.name}${f.value ? ` ${f.value}` : ""}`;
  return f.short ? `-${f.short}, ${long}` : `    ${long}`;
}

export function helpText(): string {
  const envLines = SETTING_SPECS.map((s) => {
    const names = [s.env, ...(s.aliases ?? [])].join(", ");
    return `  ${names}\n      ${s.description} (default: ${s.defaultText})`;
  });
  return `scout-mcp ${VERSION} — an MCP server to scout your SSH fleet (the hosts of ~/.ssh/config)

Usage:
  scout-mcp [serve] [--stdio | --http] [--host ADDR] [--port N]
                          serve MCP (HTTP at http://127.0.0.1:8000/mcp by default)
  scout-mcp demo [--keep] [--install] [--port N]
                          start 3 throwaway sshd hosts on 127.0.0.1, Scout against them, and
                          walk an MCP client through a short tour; Ctrl-C cleans up
  scout-mcp doctor [HOST…]
                          check each host (all by default) concurrently: DNS, TCP, host key,
                          authentication, SFTP, round-trip time; exit 1 if any fails
  scout-mcp resolve [user@]HOST…
                          print how each host resolves through the ssh config (ssh -G's format:
                          hostname, user, port, identityfile…, proxyjump/proxycommand…) and its
                          warnings; any name resolves; exit 1 where ssh would refuse the config
  scout-mcp config [--stdio | --http] [--host ADDR] [--port N]
                          print the effective configuration and where each value came from
  scout-mcp --help | --version

Options:
${FLAGS.map((f) => `  ${flagLabel(f).padEnd(20)} ${f.help}`).join("\n")}

Environment (serve, doctor, resolve and config read the same settings):
${envLines.join("\n")}
${OTHER_ENV.map((e) => `  ${e.env}\n      ${e.help}`).join("\n")}

Exit status: 0 on success, 1 on failure (doctor: a host failed), 2 on bad usage or configuration.
Docs: README.md (quick start, tool reference, configuration) and docs/clients.md (client setup).
`;
}
