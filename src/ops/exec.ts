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
}

const PID_RE = /^\x1eSCOUTPID:(\d+)\x1e\n/;
const EXIT_RE = /\x1eSCOUTEXIT:(\d+)\x1e\n$/;

/** A shell word for a remote path; `~` stays expandable, everything else is quoted. */
function pathWord(p: string): string {
  if (p === "~") return '"$HOME"';
  if (p.startsWith("~/")) return `"$HOME"/${shellQuote(p.slice(2))}`;
  return shellQuote(p);
}

export function buildWrapper(command: string, cwd: string | undefined): string {
  const lines = [`printf '\\036SCOUTPID:%s\\036\\n' "$$" >&2`];
  if (cwd !== undefined) {
    const d = pathWord(cwd);
    lines.push(
      `if [ -d ${d} ]; then cd -- ${d}; elif [ -e ${d} ]; then cd -- "$(dirname -- ${d})"; ` +
        `else printf 'scout: no such directory: %s\\n' ${d} >&2; printf '\\036SCOUTEXIT:126\\036\\n' >&2; exit 126; fi`,
    );
  }
  // The command runs in a subshell of this shell: same process group, and we still get to report
  // its status afterwards.
  lines.push(
    `( eval ${shellQuote(command)} )`,
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
  const script = `kill -TERM -- -${pgid} 2>/dev/null; sleep 0.3; kill -KILL -- -${pgid} 2>/dev/null; true`;
  try {
    const ch = await host.exec(script, { signal: AbortSignal.timeout(10_000) });
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
  const channel = await host.exec(buildWrapper(command, opts.cwd), {
    ...(opts.signal ? { signal: opts.signal } : {}),
  });
  return new Promise<CommandResult>((resolve, reject) => {
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

    channel.on("data", (d: Buffer) => {
      out.push(d);
      if (out.overflow) kill("overflow");
    });
    channel.stderr.on("data", (d: Buffer) => {
      if (!headerDone) {
        header = Buffer.concat([header, d]);
        const m = PID_RE.exec(header.toString("latin1"));
        if (m?.[1]) {
          headerDone = true;
          onPid(Number(m[1]));
          const rest = header.subarray(m[0].length);
          header = Buffer.alloc(0);
          if (rest.length) err.push(rest);
        } else if (header.length > 64) {
          headerDone = true;
          onPid(undefined); // no marker: a non-POSIX login shell; treat everything as stderr
          err.push(header);
        }
        return;
      }
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
      const m = EXIT_RE.exec(stderr);
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

    if (opts.stdin !== undefined) channel.end(opts.stdin);
    else channel.end();
  });
}
