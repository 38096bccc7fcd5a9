/**
 * The `scout` tool's job calls: `background=true` starts a query as a durable job (src/ops/jobs),
 * `job="host/id"` reads one (status, output, wait, cancel), `job="host"` or a glob lists them.
 * Parameters are checked before any SSH traffic; answers are text for the model plus
 * structuredContent, like every other mode.
 */
import { compileHostPattern, isHostPattern } from "../config/host-patterns.js";
import type { Settings } from "../config/settings.js";
import { ScoutError, errorMessage } from "../errors.js";
import {
  cancelJob,
  followJob,
  jobStatus,
  listJobs,
  parseJobHandle,
  readJobOutput,
  startJob,
  waitJob,
  type JobInfo,
} from "../ops/jobs/jobs.js";
import type { Limits } from "../ops/limits.js";
import type { HostAccess } from "../ssh/types.js";
import { formatCommandResult } from "./format.js";
import { LiveOutput } from "./live-output.js";

export type JobAction = "status" | "output" | "wait" | "cancel" | "result" | "list";

/** What a job call needs from the engine (a narrow view, so either tool structure can supply it). */
export interface JobDeps {
  host(alias: string): HostAccess;
  /** Every configured alias (for `job="web*"`). */
  aliases(): string[];
  limits: Limits;
  settings: Pick<
    Settings,
    | "jobRetentionS"
    | "jobSpoolCap"
    | "jobCancelGraceMs"
    | "requestTimeoutMs"
    | "readOnly"
    | "hostGroups"
    | "jobAfterMs"
  >;
  signal: AbortSignal;
  /** Progress reporter when the client sent a progress token (live output of a followed job). */
  progress?: (done: number, total: number | undefined, message: string) => void;
}

export interface JobAnswer {
  action: JobAction | "start";
  /** The one job this answer is about, as just read (tasks map its state). */
  info?: JobInfo;
  /** A listing's jobs per host (or why a host did not answer). */
  list?: Array<{ host: string; jobs?: JobInfo[]; error?: ScoutError | Error }>;
  text: string;
  structured: Record<string, unknown>;
  host?: string;
  path?: string;
  command?: string;
  job?: string;
  exitCode?: number | null;
}

/** The job request in a call's arguments, validated (no SSH yet). */
export interface OneJobRequest {
  action: Exclude<JobAction, "list">;
  host: string;
  id: string;
  handle: string;
  waitS?: number;
  tail?: number;
  offset?: number;
  length?: number;
}

export type JobRequest = { action: "list"; pattern: string } | OneJobRequest;

export interface JobArgs {
  job?: string | undefined;
  job_action?: Exclude<JobAction, "list"> | undefined;
  wait?: number | undefined;
  tail?: number | undefined;
  offset?: number | undefined;
  length?: number | undefined;
}

/** A handle has a slash; anything else is a host alias or glob whose jobs are listed. */
export function parseJobRequest(args: JobArgs): JobRequest {
  const raw = (args.job ?? "").trim();
  if (raw === "")
    throw new ScoutError("invalid-input", "job cannot be empty: give 'host/id', a host, or '*'");
  if (!raw.includes("/")) {
    if (args.job_action !== undefined && args.job_action !== "status") {
      throw new ScoutError("invalid-input", `job_action='${args.job_action}' needs one job: job='host/id'`, {
        hint: `job='${raw}' alone lists that host's jobs, each with its handle`,
      });
    }
    return { action: "list", pattern: raw };
  }
  const { host, id } = parseJobHandle(raw);
  const action = args.job_action ?? "status";
  if (args.wait !== undefined && action !== "wait" && action !== "output") {
    throw new ScoutError(
      "invalid-input",
      `wait applies to job_action 'wait' or 'output' (follow), not '${action}'`,
    );
  }
  if (args.wait !== undefined && action === "result") {
    throw new ScoutError(
      "invalid-input",
      "job_action='result' answers at once; wait first with job_action='wait', wait=N",
    );
  }
  if (
    action !== "output" &&
    (args.tail !== undefined || args.offset !== undefined || args.length !== undefined)
  ) {
    throw new ScoutError("invalid-input", "tail, offset and length apply to job_action='output'");
  }
  if (args.wait !== undefined && args.tail !== undefined) {
    throw new ScoutError(
      "invalid-input",
      "Follow (wait) reads from offset onwards; it cannot be combined with tail",
    );
  }
  return {
    action,
    host,
    id,
    handle: `${host}/${id}`,
    ...(args.wait !== undefined ? { waitS: args.wait } : {}),
    ...(args.tail !== undefined ? { tail: args.tail } : {}),
    ...(args.offset !== undefined ? { offset: args.offset } : {}),
    ...(args.length !== undefined ? { length: args.length } : {}),
  };
}

/** How long a wait or follow may last: what was asked, within the call's own deadline. */
function boundedWaitMs(deps: JobDeps, waitS: number): number {
  const room = deps.settings.requestTimeoutMs - 5000;
  return Math.max(0, Math.min(waitS * 1000, room));
}

export function formatDuration(ms: number): string {
  const s = Math.max(0, Math.round(ms / 1000));
  if (s < 60) return `${s}s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m}m ${s % 60}s`;
  const h = Math.floor(m / 60);
  if (h < 48) return `${h}h ${m % 60}m`;
  return `${Math.floor(h / 24)}d ${h % 24}h`;
}

/** "running", "exited 0", "killed by signal TERM", "cancelled (KILL)", "lost". */
export function stateText(j: JobInfo): string {
  switch (j.state) {
    case "exited":
      return `exited ${j.exitCode}`;
    case "killed":
      return j.signal ? `killed by signal ${j.signal}` : "killed";
    case "cancelled":
      return `cancelled (${j.signal ?? "TERM"})`;
    default:
      return j.state;
  }
}

function elapsed(j: JobInfo): string {
  const end = j.endedAt?.getTime() ?? Date.now();
  return formatDuration(end - j.startedAt.getTime());
}

export function jobStructured(j: JobInfo): Record<string, unknown> {
  return {
    handle: j.handle,
    host: j.host,
    id: j.id,
    state: j.state,
    exitCode: j.exitCode,
    ...(j.signal ? { signal: j.signal } : {}),
    command: j.command,
    cwd: j.cwd,
    startedAt: j.startedAt.toISOString(),
    ...(j.endedAt ? { endedAt: j.endedAt.toISOString() } : {}),
    ...(j.pid !== undefined ? { pid: j.pid } : {}),
    ...(j.sudo ? { sudo: true } : {}),
    outputBytes: j.outputBytes,
    capBytes: j.capBytes,
    ...(j.droppedBytes !== undefined ? { droppedBytes: j.droppedBytes } : {}),
  };
}

const LOST_NOTE =
  "its runner is gone without recording how the command ended (the host rebooted, or the process group was killed from outside)";

export function formatJobStatus(j: JobInfo): string {
  const lines = [
    `Job ${j.handle}: ${stateText(j)}${j.state === "running" || j.state === "starting" ? ` for ${elapsed(j)}` : ` after ${elapsed(j)}`}${j.pid !== undefined && j.state === "running" ? ` (pid ${j.pid})` : ""}`,
    `  command: ${j.command}${j.sudo ? "  [sudo]" : ""}`,
    `  cwd: ${j.cwd}`,
    `  started: ${j.startedAt.toISOString()}${j.endedAt ? `, ended: ${j.endedAt.toISOString()}` : ""}`,
    `  output: ${j.outputBytes} bytes${j.droppedBytes ? ` (cap ${j.capBytes} reached, ${j.droppedBytes} more bytes not kept)` : ""}`,
  ];
  if (j.state === "lost") lines.push(`  lost: ${LOST_NOTE}`);
  return lines.join("\n");
}

function statusLine(j: JobInfo): string {
  return `[job ${j.handle}: ${stateText(j)}; ${j.outputBytes} bytes of output${j.droppedBytes ? `, ${j.droppedBytes} more not kept (cap ${j.capBytes})` : ""}]`;
}

export interface StartRequest {
  host: string;
  path: string;
  command: string;
  sudo?: { password: string | undefined } | undefined;
  /** A broadcast's jobs share one id (one per host): its task names them all. */
  id?: string;
}

/** `background=true`: the guard has already authorized it exactly as a foreground command. */
export async function startJobCall(deps: JobDeps, r: StartRequest): Promise<JobAnswer> {
  const host = deps.host(r.host);
  const j = await startJob(host, deps.limits, {
    command: r.command,
    cwd: r.path,
    capBytes: deps.settings.jobSpoolCap,
    // Finished jobs past the retention are swept on the host, after the answer.
    retentionS: deps.settings.jobRetentionS,
    signal: deps.signal,
    ...(r.sudo ? { sudo: r.sudo } : {}),
    ...(r.id ? { id: r.id } : {}),
  });
  const text = [
    `Started job ${j.handle}${j.pid !== undefined ? ` (pid ${j.pid})` : ""} in ${r.path}${r.sudo ? " as root (sudo)" : ""}:`,
    `  ${r.command}`,
    `Status: scout(job="${j.handle}"); output: job_action="output" (wait=N follows it); wait: job_action="wait", wait=N; cancel: job_action="cancel".`,
  ].join("\n");
  return startedAnswer(r, j, text);
}

/** The answer for a job that is running on its host: started now, or outliving SCOUT_JOB_AFTER. */
function startedAnswer(r: StartRequest, j: JobInfo, text: string): JobAnswer {
  return {
    action: "start",
    text,
    structured: { mode: "job", action: "start", job: jobStructured(j) },
    host: r.host,
    path: r.path,
    command: r.command,
    job: j.handle,
    info: j,
  };
}

/** Any job call but start. Cancel changes the host: refused in read-only mode. */
export async function runJobRequest(deps: JobDeps, req: JobRequest): Promise<JobAnswer> {
  if (req.action === "list") return listCall(deps, req.pattern);
  const host = deps.host(req.host); // unknown host → error listing the available ones
  const o = { signal: deps.signal };
  const base = { host: req.host, job: req.handle };
  switch (req.action) {
    case "status": {
      const j = await jobStatus(host, req.id, deps.limits, o);
      return answer("status", formatJobStatus(j), j, base);
    }
    case "wait": {
      const j = await waitJob(host, req.id, deps.limits, {
        ...o,
        maxMs: boundedWaitMs(deps, req.waitS ?? 30),
      });
      const still = j.state === "running" || j.state === "starting";
      const text =
        (still
          ? `Still running after waiting ${formatDuration(boundedWaitMs(deps, req.waitS ?? 30))}.\n`
          : "") + formatJobStatus(j);
      return answer("wait", text, j, base);
    }
    case "cancel": {
      if (deps.settings.readOnly) {
        throw new ScoutError("refused", "Read-only mode: job cancels are disabled", {
          hint: "Status, output and wait still work; unset SCOUT_READ_ONLY to allow changes",
        });
      }
      const { outcome, job } = await cancelJob(host, req.id, deps.limits, {
        ...o,
        graceS: deps.settings.jobCancelGraceMs / 1000,
      });
      const what = {
        terminated: "Cancelled: its process group ended on TERM.",
        killed: `Cancelled: its process group ignored TERM for ${deps.settings.jobCancelGraceMs / 1000} s and was KILLed.`,
        "already-ended": "Nothing to cancel: the job had already ended.",
        lost: "Nothing to cancel: the job's runner is gone (lost).",
      }[outcome];
      return answer("cancel", `${what}\n${formatJobStatus(job)}`, job, base, { outcome });
    }
    case "output":
      return req.waitS !== undefined ? followCall(deps, host, req, base) : outputCall(deps, host, req, base);
    case "result":
      return resultCall(deps, host, req, base);
  }
}

function answer(
  action: JobAction,
  text: string,
  j: JobInfo,
  base: { host: string; job: string },
  extra: Record<string, unknown> = {},
): JobAnswer {
  return {
    action,
    text,
    structured: { mode: "job", action, job: jobStructured(j), ...extra },
    ...base,
    command: j.command,
    exitCode: j.exitCode,
    info: j,
  };
}

async function outputCall(
  deps: JobDeps,
  host: HostAccess,
  req: OneJobRequest,
  base: { host: string; job: string },
): Promise<JobAnswer> {
  const [out, j] = await Promise.all([
    readJobOutput(host, req.id, deps.limits, {
      signal: deps.signal,
      ...(req.tail !== undefined ? { tail: req.tail } : {}),
      ...(req.offset !== undefined ? { offset: req.offset } : {}),
      ...(req.length !== undefined ? { length: req.length } : {}),
    }),
    jobStatus(host, req.id, deps.limits, { signal: deps.signal }),
  ]);
  const start = out.range?.offset ?? (req.tail !== undefined ? out.size - out.bytesRead : 0);
  const next = start + out.bytesRead;
  const body = out.binary
    ? `[binary output, ${out.size} bytes: read it with beam]`
    : out.content || "(no output yet)";
  const cut = out.truncated
    ? `\n[truncated at ${deps.limits.maxFileSize} bytes; continue with offset=${next}]`
    : "";
  const text = `${body}${body.endsWith("\n") ? "" : "\n"}${statusLine(j)}${cut}`;
  return answer("output", text, j, base, {
    output: {
      offset: start,
      bytes: out.bytesRead,
      nextOffset: next,
      truncated: out.truncated,
      binary: out.binary,
    },
  });
}

async function followCall(
  deps: JobDeps,
  host: HostAccess,
  req: OneJobRequest,
  base: { host: string; job: string },
): Promise<JobAnswer> {
  const report = deps.progress;
  const live = report ? new LiveOutput({ send: (n, message) => report(n, undefined, message) }) : undefined;
  let f;
  try {
    f = await followJob(host, req.id, deps.limits, {
      maxMs: boundedWaitMs(deps, req.waitS ?? 30),
      fromOffset: req.offset ?? 0,
      signal: deps.signal,
      ...(live ? { onChunk: (t: string) => live.push(t) } : {}),
    });
  } finally {
    live?.close();
  }
  const j = f.job;
  const still = j.state === "running" || j.state === "starting";
  const body = f.text || "(no new output)";
  const text =
    `${body}${body.endsWith("\n") ? "" : "\n"}${statusLine(j)}` +
    (f.truncated ? `\n[truncated at ${deps.limits.maxOutputSize} bytes]` : "") +
    (still ? `\n[still running; continue with offset=${f.nextOffset}]` : "");
  return answer("output", text, j, base, {
    output: { offset: f.fromOffset, nextOffset: f.nextOffset, truncated: f.truncated, followed: true },
  });
}

async function listCall(deps: JobDeps, pattern: string): Promise<JobAnswer> {
  const all = deps.aliases();
  // The same host patterns as targets: globs, comma lists, `!` exclusions, @groups.
  const isGlob = isHostPattern(pattern);
  const hosts = isGlob ? all.filter(compileHostPattern(pattern, deps.settings.hostGroups)) : [pattern];
  if (hosts.length === 0) {
    throw new ScoutError("invalid-input", `No host matches '${pattern}'`, {
      hint: `Available: ${[...all].sort().join(", ") || "(none)"}`,
    });
  }
  if (!isGlob) deps.host(pattern); // unknown host → the usual error listing the available ones
  const retentionS = deps.settings.readOnly ? 0 : deps.settings.jobRetentionS;
  const per = await Promise.all(
    hosts.map(async (alias) => {
      try {
        const r = await listJobs(deps.host(alias), deps.limits, { retentionS, signal: deps.signal });
        return { alias, ...r };
      } catch (e) {
        return { alias, error: errorMessage(e), cause: e instanceof Error ? e : new Error(String(e)) };
      }
    }),
  );
  const blocks = per.map((p) => {
    if ("error" in p) return `Jobs on ${p.alias}: Error: ${p.error}`;
    if (p.jobs.length === 0) return `Jobs on ${p.alias}: none`;
    const rows = p.jobs.map(
      (j) => `  ${j.handle}  ${stateText(j)}  ${elapsed(j)}  ${j.command.split("\n")[0]}`,
    );
    return [`Jobs on ${p.alias} (${p.jobs.length}):`, ...rows].join("\n");
  });
  return {
    action: "list",
    text: blocks.join("\n"),
    structured: {
      mode: "job",
      action: "list",
      hosts: per.map((p) =>
        "error" in p
          ? { host: p.alias, error: p.error }
          : { host: p.alias, jobs: p.jobs.map(jobStructured), removed: p.removed },
      ),
    },
    ...(hosts.length === 1 ? { host: hosts[0]! } : {}),
    list: per.map((p) =>
      "error" in p ? { host: p.alias, error: p.cause } : { host: p.alias, jobs: p.jobs },
    ),
  };
}

// ---- a job's answer as the foreground command's ------------------------------------------------

const ended = (j: JobInfo) => j.state !== "running" && j.state !== "starting";

/** What a finished job's command would have answered in the foreground. */
export interface CommandLike {
  text: string;
  structured: Record<string, unknown>;
  exitCode: number | null;
  /** The output is cut (maxOutputSize): the rest stays readable through the job. */
  truncated: boolean;
}

/**
 * Formats an ended job like the foreground command: its output (stdout and stderr interleaved, as
 * the spool keeps them) and the same exit markers. A lost job is an error: nobody knows how it ended.
 */
export function jobAsCommand(
  j: JobInfo,
  output: { text: string; truncated: boolean },
  where: { host: string; path: string },
  limits: Limits,
): CommandLike {
  if (j.state === "lost") {
    throw new ScoutError("io", `Job ${j.handle} was lost: ${LOST_NOTE}`, {
      hint: `Its output so far: scout(job="${j.handle}", job_action="output")`,
    });
  }
  // The shell reports a signal as 128+N; the foreground answer says "killed by signal" instead.
  const bySignal = j.state === "killed" || j.state === "cancelled";
  const exitCode = bySignal && j.signal ? null : j.exitCode;
  const signal = bySignal ? (j.signal ?? "KILL") : null;
  const durationMs = (j.endedAt?.getTime() ?? Date.now()) - j.startedAt.getTime();
  let text = formatCommandResult({
    stdout: output.text,
    stderr: "",
    exitCode,
    signal,
    timedOut: false,
    stdoutTruncated: output.truncated,
    stderrTruncated: false,
    timeoutMs: limits.commandTimeoutMs,
    maxOutputSize: limits.maxOutputSize,
  });
  if (j.state === "cancelled") text += `\n[cancelled (${j.signal ?? "TERM"})]`;
  if (output.truncated) {
    text += `\n[the whole output stays in job ${j.handle}: scout(job="${j.handle}", job_action="output", offset=${limits.maxOutputSize})]`;
  }
  return {
    text,
    exitCode,
    truncated: output.truncated,
    structured: {
      mode: "command",
      host: where.host,
      path: where.path,
      ...(j.sudo ? { sudo: true } : {}),
      exitCode,
      signal,
      timedOut: false,
      stdoutTruncated: output.truncated,
      stderrTruncated: false,
      durationMs: Math.max(0, Math.round(durationMs)),
    },
  };
}

/** `job_action="result"`: an ended job answered as its command would have been; else its status. */
async function resultCall(
  deps: JobDeps,
  host: HostAccess,
  req: OneJobRequest,
  base: { host: string; job: string },
): Promise<JobAnswer> {
  const j = await jobStatus(host, req.id, deps.limits, { signal: deps.signal });
  if (!ended(j)) {
    const a = answer("status", `Still running.\n${formatJobStatus(j)}`, j, base);
    return { ...a, action: "result" };
  }
  const out = await readJobOutput(host, req.id, deps.limits, {
    signal: deps.signal,
    offset: 0,
    length: deps.limits.maxOutputSize,
  });
  const r = jobAsCommand(
    j,
    { text: out.content, truncated: out.size > out.bytesRead },
    { host: j.host, path: j.cwd },
    deps.limits,
  );
  return {
    action: "result",
    text: r.text,
    structured: r.structured,
    ...base,
    command: j.command,
    exitCode: r.exitCode,
    info: j,
  };
}

export interface CommandAsJob extends StartRequest {
  /** How long to wait for it before answering with its handle. */
  afterMs: number;
}

/**
 * SCOUT_JOB_AFTER: the command starts as a durable job; if it ends within `afterMs` the answer is
 * the foreground command's (and the job is removed from the host), else the job's handle (which a
 * task-capable client gets as a task). Live output flows while it is waited for.
 */
export async function commandAsJob(deps: JobDeps, r: CommandAsJob): Promise<JobAnswer> {
  const started = await startJobCall(deps, r);
  const handle = started.job!;
  const { host: alias, id } = parseJobHandle(handle);
  const host = deps.host(alias);
  const report = deps.progress;
  const live = report ? new LiveOutput({ send: (n, message) => report(n, undefined, message) }) : undefined;
  let f;
  try {
    f = await followJob(host, id, deps.limits, {
      fromOffset: 0,
      maxMs: boundedWaitMs(deps, r.afterMs / 1000),
      signal: deps.signal,
      removeEnded: true,
      ...(live ? { onChunk: (t: string) => live.push(t) } : {}),
    });
  } finally {
    live?.close();
  }
  const j = f.job;
  if (!ended(j)) {
    const waited = formatDuration(r.afterMs);
    const text = [
      `Still running after ${waited}: it continues as job ${j.handle}${j.pid !== undefined ? ` (pid ${j.pid})` : ""} on ${alias} in ${r.path}${r.sudo ? " as root (sudo)" : ""}.`,
      `Output so far: ${f.nextOffset} bytes. Follow: scout(job="${j.handle}", job_action="output", offset=${f.nextOffset}, wait=30); its answer when done: job_action="result"; cancel: job_action="cancel".`,
    ].join("\n");
    return startedAnswer(r, j, text);
  }
  const c = jobAsCommand(
    j,
    { text: f.text, truncated: f.truncated },
    { host: r.host, path: r.path },
    deps.limits,
  );
  return {
    action: "result",
    text: c.text,
    structured: c.structured,
    host: r.host,
    path: r.path,
    command: r.command,
    exitCode: c.exitCode,
    // The audit names the job it ran as (removed from the host unless the answer was cut).
    job: j.handle,
    info: j,
  };
}
