/**
 * ProxyCommand as ssh runs it: `%h %p %r %n %%` expanded, then `/bin/sh -c "exec COMMAND"`, its
 * stdin/stdout carrying the SSH stream. The command text is the user's own config; what could
 * inject into it are the expanded values, so they are checked the way OpenSSH's misc.c
 * valid_hostname()/valid_ruser() check names before a ProxyCommand sees them (no shell
 * metacharacters, no whitespace, no leading '-'). The process runs in its own process group,
 * killed with the connection; the last few KiB of its stderr are kept for the error message.
 */
import { spawn, type ChildProcessByStdio } from "node:child_process";
import { EventEmitter } from "node:events";
import { Duplex, type Readable, type Writable } from "node:stream";
import type { HostConfig } from "../config/host.js";
import { ScoutError } from "../errors.js";

const STDERR_KEEP = 4096;

/** OpenSSH misc.c valid_hostname(). */
export function validHostname(s: string): boolean {
  return !s.startsWith("-") && !/['`"$\\;&<>|(){},\s\x00-\x1f\x7f]/.test(s);
}

/** OpenSSH misc.c valid_ruser(). */
export function validRemoteUser(s: string): boolean {
  if (s.startsWith("-") || s.endsWith("\\")) return false;
  if (/['`";&<>|(){}\x00-\x1f\x7f]/.test(s)) return false;
  return !/\s-/.test(s);
}

/** Expands `%h %p %r %n %%` in a ProxyCommand; unknown tokens are an error, as in ssh. */
export function expandProxyCommand(host: HostConfig): string {
  const command = host.proxyCommand ?? "";
  const bad = (what: string, value: string): ScoutError =>
    new ScoutError(
      "config",
      `Host ${host.alias}: refusing to run its ProxyCommand: the ${what} ${JSON.stringify(value)} contains characters a shell would interpret`,
      { hint: "ssh refuses such names too; fix HostName/User in your ssh config or the name you asked for" },
    );
  return command.replace(/%(.?)/g, (_m, t: string) => {
    switch (t) {
      case "%":
        return "%";
      case "h":
        if (!validHostname(host.hostname)) throw bad("host name", host.hostname);
        return host.hostname;
      case "n":
        if (!validHostname(host.alias)) throw bad("host alias", host.alias);
        return host.alias;
      case "p":
        return String(host.port);
      case "r":
        if (!validRemoteUser(host.user)) throw bad("user name", host.user);
        return host.user;
      default:
        throw new ScoutError(
          "config",
          `Host ${host.alias}: ProxyCommand ${JSON.stringify(command)} uses the unknown token %${t}`,
          { hint: "ProxyCommand accepts %h, %p, %r, %n and %%" },
        );
    }
  });
}

export class ProxyProcess extends EventEmitter<{ exit: [] }> {
  readonly stream: Duplex;
  readonly command: string;
  private stderr = "";
  private exited: string | undefined;
  private killed = false;
  private closed = false;
  private readonly child: ChildProcessByStdio<Writable, Readable, Readable>;

  constructor(host: HostConfig) {
    super();
    this.command = expandProxyCommand(host);
    // As ssh: exec'd by the shell, so the shell does not stay around between us and the command.
    this.child = spawn("/bin/sh", ["-c", `exec ${this.command}`], {
      stdio: ["pipe", "pipe", "pipe"],
      detached: true, // its own process group: killing it takes its children too
    });
    this.child.stderr.setEncoding("utf8");
    this.child.stderr.on("data", (s: string) => {
      this.stderr = (this.stderr + s).slice(-STDERR_KEEP);
    });
    this.child.once("error", (e) => {
      this.exited = `could not be started: ${e.message}`;
      this.stream.destroy(e);
    });
    this.child.once("exit", (code, signal) => {
      this.exited = signal ? `was killed by ${signal}` : `exited with status ${code}`;
    });
    // "close": exited and its stdio drained, so the stderr we keep is complete.
    this.child.once("close", () => {
      this.closed = true;
      this.emit("exit");
    });
    // Ignore EPIPE on a command that exited: the handshake error (or the exit) says why.
    this.child.stdin.on("error", () => {});
    this.stream = Duplex.from({ readable: this.child.stdout, writable: this.child.stdin });
    this.stream.on("close", () => this.kill());
  }

  /** The command's stderr (last 4 KiB, trimmed), for error messages. */
  stderrText(): string {
    return this.stderr.trim();
  }

  /** "ProxyCommand `…` exited with status 1: <stderr>", or undefined while it runs. */
  exitText(): string | undefined {
    if (this.exited === undefined) return undefined;
    const err = this.stderrText();
    return `ProxyCommand \`${this.command}\` ${this.exited}${err ? `: ${err}` : ""}`;
  }

  /**
   * Resolves when the command has exited, or after `ms`: a transport error (EPIPE) often arrives
   * before the exit that explains it.
   */
  exitedWithin(ms: number): Promise<void> {
    if (this.closed) return Promise.resolve();
    return new Promise((resolve) => {
      const timer = setTimeout(resolve, ms);
      timer.unref();
      this.once("exit", () => {
        clearTimeout(timer);
        resolve();
      });
    });
  }

  /** Kills the process group (TERM, then KILL if it is still there a second later). Idempotent. */
  kill(): void {
    // The group is signalled even when its leader has exited: its children may still hold the pipe.
    if (this.killed || this.child.pid === undefined) return;
    this.killed = true;
    const pid = this.child.pid;
    const signal = (sig: NodeJS.Signals): void => {
      try {
        process.kill(-pid, sig);
      } catch {
        /* already gone */
      }
    };
    signal("SIGTERM");
    setTimeout(() => signal("SIGKILL"), 1000).unref();
  }
}

export function spawnProxyCommand(host: HostConfig): ProxyProcess {
  return new ProxyProcess(host);
}
