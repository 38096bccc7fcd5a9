/**
 * Commands over an exec channel. A small wrapper around the user's command reports the process
 * group id (sshd makes the session's shell a process group leader) and the exit status on stderr,
 * so that on timeout, output overflow or cancellation the whole group is killed from a second
 * channel, and the exit status survives even when sshd omits exit-status under load. stdout and
 * stderr are capped at the output cap each; memory stays bounded whatever the command prints.
 */
import { ScoutError, abortError } from "../errors.js";
import type { HostAccess } from "../ssh/types.js";
import type { Limits } from "./limits.js";
import { shellQuote } from "./paths.js";

export interface CommandResult {
  stdout: string;
  stderr: string;
  exitCode: number | null;
  signal: string | null;
  timedOut: boolean;
  stdoutTruncated: boolean;
  stderrTruncated: boolean;
  killed: boolean;
  durationMs: number;
}

export interface CommandOptions {
  /** Working directory; a file means its directory; `~` and `~/x` are the remote home. */
  cwd?: string;
  signal?: AbortSignal;
  timeoutMs?: number;
  stdin?: string | Buffer;
  /**
   * Run the command as root through sudo. With a password: `sudo -S` reads it from the channel's
   * stdin (never a command line); without: `sudo -n` (NOPASSWD rules only).
   */
  sudo?: { password: string | undefined; source: string };
  /** Sees stdout and stderr as they arrive (live output); never the wrapper's own markers. */
  onOutput?: (chunk: Buffer, stream: "stdout" | "stderr") => void;
}

const PID_RE = /^\x1eSCOUTPID:(\d+)\x1e\n/;
const EXIT_RE = /\x1eSCOUTEXIT:(\d+)\x1e\n$/;
/** The wrapper's word that the working directory does not exist (so the command never ran). */
const NO_DIR_MARK = "\x1eSCOUTNODIR\x1e\n";

/** A shell word for a remote path; `~` stays expandable, everything else is quoted. */
export function pathWord(p: string): string {
  if (p === "~") return '"$HOME"';
  if (p.startsWith("~/")) return `"$HOME"/${shellQuote(p.slice(2))}`;
  return shellQuote(p);
}

/**
 * The sudo form of a command. `-k` makes sudo read the password every time, so it is consumed
 * from stdin before the command starts; the command's own stdin is /dev/null, so even under a
 * NOPASSWD rule (sudo not reading) nothing the command does can read the password.
 */
export function sudoCommand(command: string, withPassword: boolean): string {
  const inner = shellQuote(`exec </dev/null\n${command}`);
  return withPassword ? `sudo -S -k -p '' -- /bin/sh -c ${inner}` : `sudo -n -- /bin/sh -c ${inner}`;
}

const SUDO_PASSWORD_REJECTED =
  /^sudo: (\d+ incorrect password attempts?|no password was provided|a password is required)/m;
const SUDO_NOT_ALLOWED = /^(sudo: .*|.*) (is not in the sudoers file|is not allowed to (run|execute) )/m;
const SUDO_MISSING = /sudo: (command )?not found/;

/**
 * A clear error when sudo itself (not the command) refused to run; `source` says where the
 * password came from. Also used by a job's start, which checks sudo before it detaches.
 */
export function sudoFailure(
  r: Pick<CommandResult, "exitCode" | "stderr">,
  source: string,
): ScoutError | undefined {
  if (r.exitCode === 127 && SUDO_MISSING.test(r.stderr)) {
    return new ScoutError("refused", "sudo is not installed on the host", {
      hint: "Install sudo there, or run the command without sudo=true",
    });
  }
  if (r.exitCode !== 1) return undefined;
  if (SUDO_PASSWORD_REJECTED.test(r.stderr)) {
    return new ScoutError(
      "permission-denied",
      source.startsWith("none")
        ? "sudo needs a password on this host and none is configured"
        : `sudo rejected the password from ${source}`,
      {
        hint: source.startsWith("none")
          ? "Set SCOUT_SUDO_PASSWORD_FILE or a sudo entry for this host in SCOUT_POLICY_FILE"
          : "Ask the operator to check that password file",
      },
    );
  }
  if (SUDO_NOT_ALLOWED.test(r.stderr)) {
    return new ScoutError("permission-denied", "sudo does not allow this user to run that command", {
      hint: "The host's sudoers rules decide; ask its administrator",
    });
  }
  return undefined;
}

export function buildWrapper(
  command: string,
  cwd: string | undefined,
  sudo?: { withPassword: boolean },
): string {
  const lines = [`printf '\\036SCOUTPID:%s\\036\\n' "$$" >&2`];
  if (cwd !== undefined) {
    const d = pathWord(cwd);
    lines.push(
      `if [ -d ${d} ]; then cd -- ${d}; elif [ -e ${d} ]; then cd -- "$(dirname -- ${d})"; ` +
        `else printf '\\036SCOUTNODIR\\036\\n' >&2; exit 126; fi`,
    );
  }
  // The command runs in a subshell of this shell: same process group, and we still get to report
  // its status afterwards.
  lines.push(
    sudo ? `( ${sudoCommand(command, sudo.withPassword)} )` : `( eval ${shellQuote(command)} )`,
    "__scout_status=$?",
    `printf '\\036SCOUTEXIT:%s\\036\\n' "$__scout_status" >&2`,
    "exit $__scout_status",
  );
  return lines.join("\n");
}

/** Cuts a buffer to `max` bytes at a UTF-8 boundary and decodes it (invalid bytes replaced). */
function decodeCapped(chunks: Buffer[], max: number): string {
  const buf = Buffer.concat(chunks);
  let end = Math.min(buf.length, max);
  if (end < buf.length) {
    while (end > 0 && ((buf[end] as number) & 0xc0) === 0x80) end--;
  }
  return buf.subarray(0, end).toString("utf8");
}

class CappedSink {
  chunks: Buffer[] = [];
  bytes = 0;
  overflow = false;
  constructor(private readonly max: number) {}
  push(d: Buffer): void {
    if (this.bytes >= this.max) {
      this.overflow = true;
      return;
    }
    // Keep one byte beyond the cap so that we know whether there was more.
    const room = this.max + 1 - this.bytes;
    const part = d.length > room ? d.subarray(0, room) : d;
    this.chunks.push(part);
    this.bytes += part.length;
    if (this.bytes > this.max) this.overflow = true;
  }
}

/** Kills a remote process group from a fresh channel: TERM, then KILL a moment later. */
export async function killProcessGroup(host: HostAccess, pgid: number): Promise<void> {
  // dash (Debian's /bin/sh) rejects `kill -TERM -- -PGID` ("Illegal number: -"); `kill -TERM -PGID`
  // works in dash, bash, zsh and busybox, and the `--` form is the fallback for any other shell.
  const k = (sig: string) => `{ kill -${sig} -${pgid} || kill -${sig} -- -${pgid}; } 2>/dev/null`;
  const script = `${k("TERM")}; sleep 0.3; ${k("KILL")}; true`;
  try {
    const { channel: ch } = await host.exec(script, { signal: AbortSignal.timeout(10_000) });
    await new Promise<void>((resolve) => {
      ch.on("data", () => {});
      ch.stderr.on("data", () => {});
      ch.once("close", () => resolve());
      ch.end();
    });
  } catch {
    /* best effort: the channel close below still ends the session */
  }
}

export async function runCommand(
  host: HostAccess,
  command: string,
  limits: Limits,
  opts: CommandOptions = {},
): Promise<CommandResult> {
  if (command.includes("\0")) throw new ScoutError("invalid-input", "Command contains a NUL byte");
  const started = performance.now();
  const timeoutMs = opts.timeoutMs ?? limits.commandTimeoutMs;
  const sudo = opts.sudo;
  if (sudo?.password !== undefined && opts.stdin !== undefined) {
    throw new ScoutError("invalid-input", "A sudo command cannot also take stdin");
  }
  const wrapper = buildWrapper(
    command,
    opts.cwd,
    sudo ? { withPassword: sudo.password !== undefined } : undefined,
  );
  const exec = await host.exec(wrapper, { ...(opts.signal ? { signal: opts.signal } : {}) });
  exec.expectProcessGroup();
  const channel = exec.channel;
  const stdin = sudo?.password !== undefined ? `${sudo.password}\n` : opts.stdin;
  const result = await new Promise<CommandResult>((resolve, reject) => {
    const out = new CappedSink(limits.maxOutputSize);
    const err = new CappedSink(limits.maxOutputSize);
    let header = Buffer.alloc(0);
    let headerDone = false;
    let pid: number | undefined;
    let pidWaiters: Array<(pid: number | undefined) => void> = [];
    let exitCode: number | null = null;
    let exitSignal: string | null = null;
    let gotExit = false;
    let timedOut = false;
    let killed = false;
    let settled = false;

    const onPid = (p: number | undefined) => {
      pid = p;
      // Lets a shutdown kill the command's process group (see SshConnection.killCommands).
      if (p !== undefined) exec.setProcessGroup(p);
      for (const w of pidWaiters) w(p);
      pidWaiters = [];
    };
    const waitPid = (): Promise<number | undefined> =>
      pid !== undefined
        ? Promise.resolve(pid)
        : new Promise((r) => {
            pidWaiters.push(r);
            setTimeout(() => r(undefined), 2000).unref();
          });

    const kill = (why: "timeout" | "overflow" | "abort") => {
      if (killed) return;
      killed = true;
      if (why === "timeout") timedOut = true;
      void waitPid().then(async (p) => {
        if (p !== undefined) await killProcessGroup(host, p);
        channel.close();
      });
    };

    const timer = setTimeout(() => kill("timeout"), timeoutMs);
    timer.unref();
    const onAbort = () => {
      kill("abort");
      finish(abortError(opts.signal, "The command"));
    };
    opts.signal?.addEventListener("abort", onAbort, { once: true });
    // Aborted while the channel was opening: the command is already running remotely.
    if (opts.signal?.aborted) queueMicrotask(onAbort);

    channel.on("data", (d: Buffer) => {
      opts.onOutput?.(d, "stdout");
      out.push(d);
      if (out.overflow) kill("overflow");
    });
    // The exit marker ends stderr; a chunk is shown live only up to where a marker could start.
    const onStderr = (d: Buffer) => {
      if (!opts.onOutput) return;
      const cut = d.indexOf(0x1e);
      if (cut === 0) return;
      opts.onOutput(cut > 0 ? d.subarray(0, cut) : d, "stderr");
    };
    channel.stderr.on("data", (d: Buffer) => {
      if (!headerDone) {
        header = Buffer.concat([header, d]);
        const m = PID_RE.exec(header.toString("latin1"));
        if (m?.[1]) {
          headerDone = true;
          onPid(Number(m[1]));
          const rest = header.subarray(m[0].length);
          header = Buffer.alloc(0);
          if (rest.length) {
            onStderr(rest);
            err.push(rest);
          }
        } else if (header.length > 64) {
          headerDone = true;
          onPid(undefined); // no marker: a non-POSIX login shell; treat everything as stderr
          err.push(header);
        }
        return;
      }
      onStderr(d);
      err.push(d);
      if (err.overflow) kill("overflow");
    });
    channel.on("exit", (code: number | null, signalName?: string) => {
      gotExit = true;
      exitCode = code;
      exitSignal = signalName ?? null;
    });

    const finish = (e?: unknown) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      opts.signal?.removeEventListener("abort", onAbort);
      if (e) {
        reject(e);
        return;
      }
      let stderr = decodeCapped(err.chunks, limits.maxOutputSize);
      if (stderr.endsWith(NO_DIR_MARK) && opts.cwd !== undefined) {
        reject(
          new ScoutError("not-found", `Working directory not found: ${opts.cwd}; the command was not run`, {
            hint: "Check the target path; list its parent directory to see what is there",
          }),
        );
        return;
      }
      const m = EXIT_RE.exec(stderr);
      const lost = exec.lostReason;
      if (lost?.code === "aborted" && !m) {
        // Scout shut down under the command (and killed its process group first).
        reject(
          new ScoutError("aborted", `${lost.message}: the command was stopped before it finished`, {
            hint: "Run it again once Scout is back",
            cause: lost,
          }),
        );
        return;
      }
      if (lost && !killed && !gotExit && !m) {
        // Never retried: the command may have run, in part or in full.
        reject(
          new ScoutError(
            "connection-lost",
            `${lost.message} while the command was running: it may or may not have completed, and it was not retried`,
            { hint: "Check the command's effects on the host before running it again", cause: lost },
          ),
        );
        return;
      }
      if (m?.[1]) {
        stderr = stderr.slice(0, m.index);
        if (!gotExit || exitCode === null) {
          exitCode = exitSignal ? null : Number(m[1]);
        }
      }
      resolve({
        stdout: decodeCapped(out.chunks, limits.maxOutputSize),
        stderr,
        exitCode: timedOut ? null : exitCode,
        signal: exitSignal,
        timedOut,
        stdoutTruncated: out.overflow,
        stderrTruncated: err.overflow,
        killed,
        durationMs: performance.now() - started,
      });
    };
    channel.once("close", () => finish());
    channel.on("error", (e: Error) =>
      finish(new ScoutError("channel-failed", `Command channel failed: ${e.message}`, { cause: e })),
    );

    if (stdin !== undefined) channel.end(stdin);
    else channel.end();
  });
  if (sudo) {
    const failure = sudoFailure(result, sudo.source);
    if (failure) throw failure;
  }
  return result;
}
