/** Runs the real `scout-mcp` entry point (src/cli/main.ts through tsx) as a child process. */
import { spawn, type ChildProcessWithoutNullStreams } from "node:child_process";
import { fileURLToPath } from "node:url";

export const REPO = fileURLToPath(new URL("../..", import.meta.url));
export const MAIN = fileURLToPath(new URL("../../src/cli/main.ts", import.meta.url));

export interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** A minimal environment: no SCOUT_* or SSH_AUTH_SOCK of whoever runs the tests leaks in. */
export function cleanEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  return {
    PATH: process.env.PATH ?? "/usr/bin:/bin",
    HOME: process.env.HOME ?? "/root",
    NO_COLOR: "1",
    ...extra,
  };
}

/** cleanEnv plus what points the CLI at a lab fleet (its ssh config and known_hosts). */
export function labEnv(
  lab: { sshConfigPath: string; knownHostsPath: string },
  extra: Record<string, string> = {},
): Record<string, string> {
  return {
    PATH: process.env.PATH ?? "/usr/bin:/bin",
    HOME: process.env.HOME ?? "/root",
    NO_COLOR: "1",
    SCOUT_SSH_CONFIG: lab.sshConfigPath,
    SCOUT_KNOWN_HOSTS: lab.knownHostsPath,
    ...extra,
  };
}

/** Node's arguments that run the CLI with `args`. */
export const cliArgs = (args: string[]): string[] => ["--import", "tsx", MAIN, ...args];

/** Starts the CLI with every stdio stream piped. */
export function spawnCli(args: string[], env: NodeJS.ProcessEnv): ChildProcessWithoutNullStreams {
  return spawn(process.execPath, cliArgs(args), { cwd: REPO, env, stdio: "pipe" });
}

export function runCli(
  args: string[],
  options: { env?: NodeJS.ProcessEnv; cwd?: string; timeoutMs?: number } = {},
): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, cliArgs(args), {
      cwd: options.cwd ?? REPO,
      env: options.env ?? cleanEnv(),
      stdio: ["ignore", "pipe", "pipe"],
    });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d: Buffer) => (stdout += d.toString()));
    child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
    const timer = setTimeout(() => child.kill("SIGKILL"), options.timeoutMs ?? 50_000);
    child.on("error", reject);
    child.on("close", (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

/** The table row of `alias` in doctor's output, split into cells on runs of 2+ spaces. */
export function rowOf(stdout: string, alias: string): string[] {
  const line = stdout.split("\n").find((l) => l.split(/\s{2,}/)[1] === alias);
  if (!line) throw new Error(`No row for ${alias} in:\n${stdout}`);
  return line.split(/\s{2,}/);
}
