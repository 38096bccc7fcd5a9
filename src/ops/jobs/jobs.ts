/**
 * Durable jobs: commands that run detached on the host and are read back from the host alone (see
 * script.ts for the on-host layout). Scout keeps no job state: every answer comes from one exec of
 * a small script (start, status, list, cancel) or from SFTP reads of the spool (output, follow).
 * Scripts run through runCommand, so they get its deadline, caps and process-group kill.
 */
import { randomBytes } from "node:crypto";
import { ScoutError, abortError, isScoutError } from "../../errors.js";
import type { HostAccess } from "../../ssh/types.js";
import { runCommand, sudoFailure } from "../exec.js";
import type { Limits } from "../limits.js";
import { resolveRemotePath } from "../paths.js";
import { readFile, type ReadResult } from "../read.js";
import { isNotFound, sftpStat } from "../sftp-errors.js";
import { JOBS_DIR, JOB_ID_RE, RS, cancelScript, listScript, startScript } from "./script.js";

export type JobState = "starting" | "running" | "exited" | "killed" | "cancelled" | "lost";

export interface JobInfo {
  host: string;
  id: string;
  /** `host/id`: what the user passes back. */
  handle: string;
  command: string;
  cwd: string;
  state: JobState;
  /** Exit status as the shell reported it (128+N for a signal); null while running or when unknown. */
  exitCode: number | null;
  /** The signal that ended it (killed or cancelled), e.g. "TERM". */
  signal?: string;
  startedAt: Date;
  endedAt?: Date;
  /** The runner's pid, which is also the job's process group and session id. */
  pid?: number;
  sudo: boolean;
  /** Bytes in the spool so far, its cap, and bytes the command printed beyond it (once ended). */
  outputBytes: number;
  capBytes: number;
  droppedBytes?: number;
}

export interface JobOptions {
  signal?: AbortSignal;
}

const SIGNALS: Record<number, string> = {
  1: "HUP",
  2: "INT",
  3: "QUIT",
  6: "ABRT",
  9: "KILL",
  13: "PIPE",
  14: "ALRM",
  15: "TERM",
};

/** `20261203-171502-a3f9c0`: sortable by start time (UTC), unique enough per host. */
export function newJobId(now = new Date()): string {
  const iso = now.toISOString(); // 2026-12-03T17:15:02.123Z
  const stamp = `${iso.slice(0, 4)}${iso.slice(5, 7)}${iso.slice(8, 10)}-${iso.slice(11, 13)}${iso.slice(14, 16)}${iso.slice(17, 19)}`;
  return `${stamp}-${randomBytes(3).toString("hex")}`;
}

/** Splits `web1/20261203-171502-a3f9c0`; the id part is validated (it becomes a remote path). */
export function parseJobHandle(handle: string): { host: string; id: string } {
  const slash = handle.lastIndexOf("/");
  const host = slash > 0 ? handle.slice(0, slash).trim() : "";
  const id = slash > 0 ? handle.slice(slash + 1).trim() : "";
  if (!host || !JOB_ID_RE.test(id)) {
    throw new ScoutError(
      "invalid-input",
      `Invalid job handle '${handle.slice(0, 200)}'. Expected 'host/id'`,
      {
        hint: "Use the handle a background start answered with, e.g. 'web1/20261203-171502-a3f9c0', or job='web1' to list that host's jobs",
      },
    );
  }
  return { host, id };
}

export function jobHandle(host: string, id: string): string {
  return `${host}/${id}`;
}

/**
 * Runs a job script, turning a failure to reach the host into an error that says the job itself
 * is unaffected (it lives on the host, not in this connection).
 */
async function script(
  host: HostAccess,
  text: string,
  limits: Limits,
  what: string,
  opts: JobOptions & { stdin?: string; timeoutMs?: number },
): Promise<string> {
  let r;
  try {
    r = await runCommand(host, text, limits, {
      ...(opts.signal ? { signal: opts.signal } : {}),
      ...(opts.stdin !== undefined ? { stdin: opts.stdin } : {}),
      ...(opts.timeoutMs !== undefined ? { timeoutMs: opts.timeoutMs } : {}),
    });
  } catch (e) {
    throw unreachable(host, what, e);
  }
  if (r.timedOut) {
    throw new ScoutError("timeout", `${what} on ${host.config.alias} did not answer in time`, {
      hint: "The host may be overloaded; try again",
    });
  }
  if (r.exitCode !== 0) {
    throw new ScoutError(
      "io",
      `${what} on ${host.config.alias} failed (exit ${r.exitCode ?? r.signal ?? "?"}): ${r.stderr.trim().slice(0, 300) || "no message"}`,
      { hint: "The host needs a POSIX /bin/sh login shell and a writable home directory" },
    );
  }
  return r.stdout;
}

function unreachable(host: HostAccess, what: string, e: unknown): unknown {
  if (!isScoutError(e) || e.code === "aborted" || e.code === "invalid-input") return e;
  return new ScoutError(e.code, `Cannot reach ${host.config.alias} for ${what}: ${e.message}`, {
    hint: "Jobs live on the host and are unaffected; ask again once the host answers (scout('hosts') shows which are online)",
    cause: e,
  });
}

export interface StartJobOptions extends JobOptions {
  command: string;
  cwd: string;
  capBytes: number;
  /** `source` says where the password came from (for the error when sudo rejects it). */
  sudo?: { password: string | undefined; source?: string };
  /** Defaults to a fresh id. */
  id?: string;
  /** Sweep this host's finished jobs older than this (seconds) in the background. */
  retentionS?: number;
}

/** Starts a detached job and answers as soon as its runner has recorded its pid. */
export async function startJob(host: HostAccess, limits: Limits, o: StartJobOptions): Promise<JobInfo> {
  if (o.command.includes("\0")) throw new ScoutError("invalid-input", "Command contains a NUL byte");
  const id = o.id ?? newJobId();
  const withPassword = o.sudo?.password !== undefined;
  const out = await script(
    host,
    startScript({
      id,
      command: o.command,
      cwd: o.cwd,
      capBytes: o.capBytes,
      ...(o.sudo ? { sudo: { withPassword } } : {}),
      ...(o.retentionS ? { retentionS: o.retentionS } : {}),
    }),
    limits,
    "starting a job",
    { ...o, ...(withPassword ? { stdin: `${o.sudo?.password}\n` } : {}) },
  );
  if (out.includes(`${RS}NODIR${RS}`)) {
    throw new ScoutError("not-found", `Working directory not found: ${o.cwd}; the job was not started`, {
      hint: "Check the target path; list its parent directory to see what is there",
    });
  }
  const refused = new RegExp(`${RS}SUDO (\\d+)${RS}\n([\\s\\S]*)$`).exec(out);
  if (refused) throw sudoRefused(host, Number(refused[1]), refused[2] ?? "", o.sudo);
  if (out.includes(`${RS}NOSPOOL${RS}`)) {
    throw new ScoutError(
      "permission-denied",
      `Cannot create the job spool ${JOBS_DIR}/${id} on ${host.config.alias}`,
      {
        hint: "The login user needs a writable home directory (~/.cache/scout-jobs)",
      },
    );
  }
  if (out.includes(`${RS}NOSETSID${RS}`)) {
    throw new ScoutError("refused", `${host.config.alias} has neither setsid nor perl to detach a job`, {
      hint: "Install util-linux (setsid) or perl there, or run the command in the foreground",
    });
  }
  const m = new RegExp(`${RS}JOB (\\d*)${RS}`).exec(out);
  if (!m)
    throw new ScoutError("io", `Starting a job on ${host.config.alias} gave no answer: ${out.slice(0, 200)}`);
  const pid = m[1] ? Number(m[1]) : undefined;
  return {
    host: host.config.alias,
    id,
    handle: jobHandle(host.config.alias, id),
    command: o.command,
    cwd: o.cwd,
    state: pid === undefined ? "starting" : "running",
    exitCode: null,
    startedAt: new Date(),
    ...(pid !== undefined ? { pid } : {}),
    sudo: o.sudo !== undefined,
    outputBytes: 0,
    capBytes: o.capBytes,
  };
}

/** sudo refused before the job was created: the same error a foreground command gets. */
function sudoRefused(
  host: HostAccess,
  status: number,
  messages: string,
  sudo: StartJobOptions["sudo"],
): ScoutError {
  const source =
    sudo?.source ?? (sudo?.password === undefined ? "none (sudo -n)" : "the configured password");
  const known = sudoFailure({ exitCode: status, stderr: messages }, source);
  const why =
    known?.message ?? `sudo failed (exit ${status}): ${messages.trim().slice(0, 300) || "no message"}`;
  return new ScoutError(
    known?.code ?? "permission-denied",
    `${why}; the job was not started on ${host.config.alias}`,
    {
      hint: known?.hint ?? "Run the command without sudo=true, or check the host's sudo setup",
    },
  );
}

const RECORD_LINE = /^([0-9]{8}-[0-9]{6}-[0-9a-f]{6})\/([a-z]+):(.*)$/;

/** Interprets listScript's answer. Pure: unit-tested without a host. */
export function parseJobRecords(host: string, out: string): { jobs: JobInfo[]; removed: number } {
  const files = new Map<string, Map<string, string>>();
  const alive = new Map<string, string>();
  const sizes = new Map<string, number>();
  let removed = 0;
  let section = "";
  for (const line of out.split("\n")) {
    if (line.startsWith(RS)) {
      const [word, id, value] = line.slice(1).split(" ");
      if (word === "ALIVE" && id) alive.set(id, value ?? "0");
      else if (word === "REMOVED") removed++;
      else section = word ?? "";
      continue;
    }
    if (section === "SIZES") {
      const m = /^\s*(\d+)\s+([^/\s]+)\/output$/.exec(line);
      if (m) sizes.set(m[2]!, Number(m[1]));
      continue;
    }
    const m = RECORD_LINE.exec(line);
    if (!m) continue;
    const [, id, file, value] = m as unknown as [string, string, string, string];
    let kv = files.get(id);
    if (!kv) files.set(id, (kv = new Map()));
    if (file === "meta") {
      const eq = value.indexOf("=");
      if (eq > 0) kv.set(value.slice(0, eq), value.slice(eq + 1));
    } else if (!kv.has(file)) {
      kv.set(file, value); // first line only (a path with a newline is shown cut)
    }
  }
  const jobs: JobInfo[] = [];
  for (const [id, kv] of files) {
    const num = (v: string | undefined) => (v !== undefined && /^\d+$/.test(v) ? Number(v) : undefined);
    const startedS = num(kv.get("started")) ?? 0;
    const pid = num(kv.get("pid")?.split(" ")[0]);
    const [cancelAt, cancelSig] = (kv.get("cancel") ?? "").split(" ");
    const status = kv.get("status");
    let state: JobState;
    let exitCode: number | null = null;
    let signal: string | undefined;
    let endedAt: Date | undefined;
    if (status !== undefined) {
      const [rc, ended] = status.split(" ");
      const endedS = num(ended);
      endedAt = endedS !== undefined ? new Date(endedS * 1000) : undefined;
      const code = num(rc) ?? null;
      exitCode = code;
      const bySignal = code !== null && code > 128 ? SIGNALS[code - 128] : undefined;
      if (cancelAt) {
        state = "cancelled";
        signal = rc === "kill" ? "KILL" : (bySignal ?? cancelSig);
      } else if (rc === "kill" || code === null) {
        state = "killed";
        signal = rc === "kill" ? "KILL" : undefined;
      } else if (bySignal) {
        state = "killed";
        signal = bySignal;
      } else {
        state = "exited";
      }
    } else {
      const a = alive.get(id);
      state = a === "1" ? "running" : a === "starting" ? "starting" : "lost";
    }
    const dropped = num(kv.get("dropped")?.trim());
    jobs.push({
      host,
      id,
      handle: jobHandle(host, id),
      command: (kv.get("cmd") ?? "").replace(/\x1f/g, "\n"),
      cwd: kv.get("cwd") ?? "",
      state,
      exitCode,
      ...(signal ? { signal } : {}),
      startedAt: new Date(startedS * 1000),
      ...(endedAt ? { endedAt } : {}),
      ...(pid !== undefined ? { pid } : {}),
      sudo: kv.get("sudo") === "1",
      outputBytes: sizes.get(id) ?? 0,
      capBytes: num(kv.get("cap")) ?? 0,
      ...(dropped !== undefined ? { droppedBytes: dropped } : {}),
    });
  }
  return { jobs, removed };
}

export interface ListJobsOptions extends JobOptions {
  /** Finished jobs older than this are removed while listing; 0 keeps them all. */
  retentionS: number;
}

/** Every job on the host, oldest first; finished ones past the retention are removed on the way. */
export async function listJobs(
  host: HostAccess,
  limits: Limits,
  o: ListJobsOptions,
): Promise<{ jobs: JobInfo[]; removed: number }> {
  const out = await script(host, listScript({ retentionS: o.retentionS }), limits, "listing jobs", o);
  const r = parseJobRecords(host.config.alias, out);
  r.jobs.sort((a, b) => a.id.localeCompare(b.id));
  return r;
}

function noSuchJob(host: HostAccess, id: string): ScoutError {
  return new ScoutError("not-found", `No job ${jobHandle(host.config.alias, id)}`, {
    hint: `It never existed or was cleaned up after SCOUT_JOB_RETENTION; job='${host.config.alias}' lists that host's jobs`,
  });
}

/**
 * One job's state, read from the host. `removeEnded`: a job that has ended is removed in the same
 * exec (its answer was delivered in full; SCOUT_JOB_AFTER's inline answers).
 */
export async function jobStatus(
  host: HostAccess,
  id: string,
  limits: Limits,
  o: JobOptions & { removeEnded?: boolean } = {},
): Promise<JobInfo> {
  const out = await script(
    host,
    listScript({ id, retentionS: 0, fullCommand: true, ...(o.removeEnded ? { removeEnded: true } : {}) }),
    limits,
    `reading job ${jobHandle(host.config.alias, id)}`,
    o,
  );
  if (out.includes(`${RS}NOJOB`)) throw noSuchJob(host, id);
  const job = parseJobRecords(host.config.alias, out).jobs[0];
  if (!job) throw noSuchJob(host, id);
  return job;
}

export interface OutputOptions extends JobOptions {
  tail?: number;
  offset?: number;
  length?: number;
}

/** The job's spooled output: all of it up to the file cap, its last lines, or a byte range. */
export async function readJobOutput(
  host: HostAccess,
  id: string,
  limits: Limits,
  o: OutputOptions = {},
): Promise<ReadResult> {
  const path = `${JOBS_DIR}/${id}/output`;
  try {
    return await readFile(host, path, limits, {
      ...(o.signal ? { signal: o.signal } : {}),
      ...(o.tail !== undefined ? { tail: o.tail } : {}),
      ...(o.offset !== undefined || o.length !== undefined
        ? { offset: o.offset ?? 0, length: o.length ?? limits.maxFileSize }
        : {}),
    });
  } catch (e) {
    if (isScoutError(e, "not-found")) throw noSuchJob(host, id);
    throw unreachable(host, `reading the output of job ${jobHandle(host.config.alias, id)}`, e);
  }
}

/** Output size and whether the job has ended, in one SFTP round trip (two stats in flight). */
async function probe(
  host: HostAccess,
  id: string,
  signal?: AbortSignal,
): Promise<{ size: number; ended: boolean }> {
  return host.withSftp(
    async ({ sftp, home }) => {
      const dir = resolveRemotePath(`${JOBS_DIR}/${id}`, home);
      const [out, status] = await Promise.allSettled([
        sftpStat(sftp, `${dir}/output`),
        sftpStat(sftp, `${dir}/status`),
      ]);
      if (status.status === "rejected" && !isNotFound(status.reason)) throw status.reason;
      if (out.status === "rejected" && !isNotFound(out.reason)) throw out.reason;
      if (out.status === "rejected" && status.status === "rejected") {
        // Neither file: a job still starting, or none at all; the directory tells which.
        await sftpStat(sftp, dir).catch((e: unknown) => {
          throw isNotFound(e) ? noSuchJob(host, id) : e;
        });
      }
      return {
        size: out.status === "fulfilled" ? out.value.size : 0,
        ended: status.status === "fulfilled",
      };
    },
    signal ? { signal } : {},
  );
}

function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(abortError(signal, "Waiting for the job"));
    const t = setTimeout(done, ms);
    function done() {
      signal?.removeEventListener("abort", onAbort);
      resolve();
    }
    function onAbort() {
      clearTimeout(t);
      reject(abortError(signal, "Waiting for the job"));
    }
    signal?.addEventListener("abort", onAbort, { once: true });
  });
}

/** Poll backoff: quick while things change, up to 1 s when they don't. */
const POLL_MIN_MS = 100;
const POLL_MAX_MS = 1000;
/** A wait re-checks liveness (a runner that died without a status) this often. */
const LIVENESS_EVERY_MS = 5000;

export interface FollowOptions extends JobOptions {
  /** Byte offset in the spool to follow from (default: its current end). */
  fromOffset?: number;
  /** How long to follow at most. */
  maxMs: number;
  /** Each new piece of output as it arrives (live output). */
  onChunk?: (text: string) => void;
  /** Remove the job from its host if it ended while followed (all its output was read). */
  removeEnded?: boolean;
}

export interface FollowResult {
  /** The output that arrived while following (cut at the output cap, marked by `truncated`). */
  text: string;
  truncated: boolean;
  fromOffset: number;
  /** Where to follow from next time. */
  nextOffset: number;
  job: JobInfo;
}

/** Streams a job's new output for up to `maxMs`, ending early when the job ends. */
export async function followJob(
  host: HostAccess,
  id: string,
  limits: Limits,
  o: FollowOptions,
): Promise<FollowResult> {
  const what = `following job ${jobHandle(host.config.alias, id)}`;
  const until = performance.now() + o.maxMs;
  let offset = o.fromOffset;
  let start: number | undefined;
  let text = "";
  let truncated = false;
  let ended = false;
  let interval = POLL_MIN_MS;
  for (;;) {
    let p;
    try {
      p = await probe(host, id, o.signal);
    } catch (e) {
      throw unreachable(host, what, e);
    }
    offset ??= p.size;
    start ??= offset;
    if (p.size > offset) {
      const r = await readJobOutput(host, id, limits, {
        offset,
        length: Math.min(p.size - offset, limits.maxFileSize),
        ...(o.signal ? { signal: o.signal } : {}),
      });
      offset += r.bytesRead;
      o.onChunk?.(r.content);
      if (Buffer.byteLength(text) + r.bytesRead <= limits.maxOutputSize) text += r.content;
      else truncated = true;
      interval = POLL_MIN_MS;
      if (offset < p.size) continue; // more already there
    } else {
      interval = Math.min(POLL_MAX_MS, Math.round(interval * 1.5));
    }
    const left = until - performance.now();
    // The runner writes the status after the writer has flushed the spool: ended means all read.
    ended = p.ended;
    if (p.ended || left <= 0) break;
    await sleep(Math.min(interval, left), o.signal);
  }
  const job = await jobStatus(host, id, limits, {
    ...(o.signal ? { signal: o.signal } : {}),
    ...(o.removeEnded && ended && !truncated ? { removeEnded: true } : {}),
  });
  return { text, truncated, fromOffset: start ?? 0, nextOffset: offset ?? 0, job };
}

/** Waits up to `maxMs` for the job to end; answers its state either way. */
export async function waitJob(
  host: HostAccess,
  id: string,
  limits: Limits,
  o: JobOptions & { maxMs: number },
): Promise<JobInfo> {
  const what = `waiting for job ${jobHandle(host.config.alias, id)}`;
  const started = performance.now();
  const until = started + o.maxMs;
  let interval = POLL_MIN_MS;
  let lastLiveness = started;
  for (;;) {
    let ended;
    try {
      ended = (await probe(host, id, o.signal)).ended;
    } catch (e) {
      throw unreachable(host, what, e);
    }
    if (ended) break;
    const now = performance.now();
    if (now - lastLiveness >= LIVENESS_EVERY_MS) {
      lastLiveness = now;
      const j = await jobStatus(host, id, limits, o);
      if (j.state === "lost") return j;
    }
    const left = until - now;
    if (left <= 0) break;
    await sleep(Math.min(interval, left), o.signal);
    interval = Math.min(POLL_MAX_MS, Math.round(interval * 1.5));
  }
  return jobStatus(host, id, limits, o);
}

export type CancelOutcome = "terminated" | "killed" | "already-ended" | "lost";

/** TERM to the job's process group, KILL after `graceS` if it is still there. */
export async function cancelJob(
  host: HostAccess,
  id: string,
  limits: Limits,
  o: JobOptions & { graceS: number },
): Promise<{ outcome: CancelOutcome; job: JobInfo }> {
  const out = await script(
    host,
    cancelScript(id, o.graceS),
    limits,
    `cancelling job ${jobHandle(host.config.alias, id)}`,
    {
      ...o,
      timeoutMs: Math.max(limits.commandTimeoutMs, (o.graceS + 10) * 1000),
    },
  );
  if (out.includes(`${RS}NOJOB`)) throw noSuchJob(host, id);
  const outcome: CancelOutcome = out.includes(`${RS}KILL`)
    ? "killed"
    : out.includes(`${RS}TERM`)
      ? "terminated"
      : out.includes(`${RS}DONE`)
        ? "already-ended"
        : "lost";
  return { outcome, job: await jobStatus(host, id, limits, o) };
}
