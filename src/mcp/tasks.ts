/**
 * MCP tasks in both protocol eras, backed by the same durable jobs as `background=true`.
 *
 * - 2026-07-28, extension `io.modelcontextprotocol/tasks` (SEP-2663): the server decides. With
 *   SCOUT_JOB_AFTER set, a command that outlives it comes back as a task (`resultType: "task"`)
 *   to a client that declared the extension on that request; `tasks/get` (the result inlined once
 *   terminal), `tasks/update` (an ack: Scout never asks for input mid-task), `tasks/cancel` (an ack).
 * - 2025-11-25 experimental tasks: the client asks (`params.task` on tools/call); `tasks/get`,
 *   `tasks/result` (waits for the end), `tasks/cancel`. No `tasks/list` (see below).
 *
 * A command's task IS its job: the task id `job:<host>/<job id>` names it, so any Scout process,
 * before or after a restart, answers for it from the host alone. Other calls (transfers, reads,
 * broadcasts) run in this process as `local:` tasks, which a restart loses (reported as failed).
 * Every operation on a job goes through the call pipeline as the equivalent job call (host
 * policy, read-only mode, rate limits, audit); in-process operations are audited as `task` records.
 */
import { randomBytes } from "node:crypto";
import {
  type McpServer,
  MissingRequiredClientCapabilityError,
  ProtocolError,
  ProtocolErrorCode,
  RELATED_TASK_META_KEY,
  type CallToolResult,
  type ServerContext,
} from "@modelcontextprotocol/server";
import { z } from "zod";
import type { Settings } from "../config/settings.js";
import { ScoutError, errorMessage } from "../errors.js";
import { parseJobHandle, type JobInfo } from "../ops/jobs/jobs.js";
import type { CallPipeline, CallSession, ToolOutcome } from "./calls.js";
import { formatBroadcast, type BroadcastBlock } from "./format.js";
import { formatDuration, stateText } from "./jobs.js";
import type { ScoutArgs } from "./schema.js";

export const TASKS_EXTENSION = "io.modelcontextprotocol/tasks";

export type TaskStatus = "working" | "input_required" | "completed" | "failed" | "cancelled";

/** A task as Scout sees it, before either era's wire shape. */
export interface TaskView {
  taskId: string;
  status: TaskStatus;
  statusMessage?: string;
  createdAt: Date;
  lastUpdatedAt: Date;
  ttlMs: number | null;
  pollIntervalMs: number;
  /** completed (and, 2025-era, failed tool calls): what the call would have answered. */
  result?: CallToolResult;
  /** failed: the JSON-RPC error the call ended with. */
  error?: { code: number; message: string };
}

/** Polling a job costs one exec on its host; a local task one map lookup. */
const JOB_POLL_MS = 2000;
const LOCAL_POLL_MS = 1000;
/** In-process tasks are kept this long after they end, and at most this many at once. */
const LOCAL_KEEP_MS = 3600_000;
const LOCAL_MAX = 1000;

type TaskRef =
  | { kind: "job"; host: string; id: string; handle: string }
  | {
      kind: "fleet";
      taskId: string;
      started: Array<{ host: string; id: string; handle: string }>;
      failed: string[];
    }
  | { kind: "local"; id: string };

/**
 * A broadcast's task id lists its jobs: `fleet:<h1>/<id1>,<h2>/<id2>[;!<h3>,…]` (`!`: not started).
 * Longer than this, the id would not fit an HTTP header (`Mcp-Name` carries it), and the task
 * runs in-process instead (its jobs still live on the hosts).
 */
const FLEET_ID_MAX = 8000;

export function fleetTaskId(started: string[], failed: string[]): string | undefined {
  const taskId = `fleet:${started.join(",")}${failed.length ? `;!${failed.join(",")}` : ""}`;
  return taskId.length <= FLEET_ID_MAX ? taskId : undefined;
}

/** `job:web1/20261203-171502-a3f9c0` or `local:<process>.<random>`; anything else is unknown. */
export function parseTaskId(taskId: string): TaskRef | undefined {
  if (taskId.startsWith("job:")) {
    try {
      const { host, id } = parseJobHandle(taskId.slice(4));
      return { kind: "job", host, id, handle: `${host}/${id}` };
    } catch {
      return undefined;
    }
  }
  const fleet = /^fleet:([^;]+)(?:;!(.+))?$/.exec(taskId);
  if (fleet) {
    try {
      const started = fleet[1]!.split(",").map((h) => {
        const { host, id } = parseJobHandle(h);
        return { host, id, handle: `${host}/${id}` };
      });
      const failed = fleet[2] ? fleet[2].split(",").filter((h) => h !== "") : [];
      return { kind: "fleet", taskId, started, failed };
    } catch {
      return undefined;
    }
  }
  if (/^local:[0-9a-f]{12}\.[0-9a-f]{32}$/.test(taskId)) return { kind: "local", id: taskId };
  return undefined;
}

export const jobTaskId = (handle: string): string => `job:${handle}`;

function notFound(taskId: string, why = "Task not found"): ProtocolError {
  return new ProtocolError(
    ProtocolErrorCode.InvalidParams,
    `Failed to retrieve task ${taskId.slice(0, 200)}: ${why}`,
  );
}

const isTerminal = (s: TaskStatus) => s === "completed" || s === "failed" || s === "cancelled";

/** Errors that say the host did not answer: the job is unaffected, the task is still working. */
const TRANSIENT = new Set([
  "dns",
  "connection-refused",
  "connect-timeout",
  "connection-lost",
  "host-down",
  "pool-timeout",
  "timeout",
  "channel-failed",
]);

interface LocalTask {
  id: string;
  createdAt: Date;
  updatedAt: Date;
  status: Exclude<TaskStatus, "input_required">;
  statusMessage?: string;
  result?: CallToolResult;
  error?: { code: number; message: string };
  abort: AbortController;
  ended: Promise<void>;
}

export interface TaskHubOptions {
  pipeline: CallPipeline;
  settings: Pick<Settings, "jobRetentionS" | "requestTimeoutMs" | "maxOutputSize">;
}

/** The era a task operation answers in: the wire shapes differ (see the module comment). */
export type TaskEra = "legacy" | "modern";

/** A call running in this process that may become (or already is) a task. */
export interface LocalRun {
  id: string;
  authorized: Promise<void>;
  outcome: Promise<ToolOutcome | Error>;
  detach(): void;
  view(era: TaskEra): TaskView;
  drop(): void;
}

/**
 * One per Scout process: creates tasks and answers for them. Job tasks need nothing from it but
 * the pipeline (their state is on the host); local tasks live in its bounded map.
 */
export class TaskHub {
  private readonly instance = randomBytes(6).toString("hex");
  private readonly local = new Map<string, LocalTask>();

  constructor(private readonly o: TaskHubOptions) {}

  /** Tasks in this process that are still running (for /health). */
  get activeLocal(): number {
    let n = 0;
    for (const t of this.local.values()) if (t.status === "working") n++;
    return n;
  }

  private get jobTtlMs(): number | null {
    return this.o.settings.jobRetentionS > 0 ? this.o.settings.jobRetentionS * 1000 : null;
  }

  // ---- creation ------------------------------------------------------------------------------

  /** The task view of a job that was just started (its pid recorded: `tasks/get` resolves). */
  jobTask(j: JobInfo, session: CallSession): TaskView {
    const taskId = jobTaskId(j.handle);
    this.o.pipeline.taskEvent(session, { task: taskId, taskOp: "create", outcome: "ok" });
    return this.fromJob(taskId, j);
  }

  /** Records that a task was handed to a client (the audit's `create`). */
  created(taskId: string, session: CallSession): void {
    this.o.pipeline.taskEvent(session, { task: taskId, taskOp: "create", outcome: "ok" });
  }

  /**
   * Runs a call in this process as a (possible) task: `authorized` resolves once the call passed
   * the guard (only then may a task be handed out), `outcome` when it ends (an Error: a defect).
   * The call runs under the task's own signal: the request's signal cancels it until `detach()`,
   * which hands it off. `drop()` forgets a run that was answered inline instead.
   */
  startLocal(
    run: (signal: AbortSignal, onAuthorized: () => void) => Promise<ToolOutcome>,
    finish: (o: Exclude<ToolOutcome, { kind: "input_required" }>) => CallToolResult,
    requestSignal: AbortSignal,
  ): LocalRun {
    this.prune();
    const id = `local:${this.instance}.${randomBytes(16).toString("hex")}`;
    const abort = new AbortController();
    const onRequestAbort = () => abort.abort(requestSignal.reason);
    if (requestSignal.aborted) onRequestAbort();
    else requestSignal.addEventListener("abort", onRequestAbort, { once: true });
    let authorizedResolve: () => void = () => {};
    const authorized = new Promise<void>((r) => (authorizedResolve = r));
    let endedResolve: () => void = () => {};
    const now = new Date();
    const t: LocalTask = {
      id,
      createdAt: now,
      updatedAt: now,
      status: "working",
      abort,
      ended: new Promise<void>((r) => (endedResolve = r)),
    };
    this.local.set(id, t);
    const outcome = run(abort.signal, authorizedResolve).then(
      (out): ToolOutcome => {
        if (t.status === "working") {
          if (out.kind === "input_required") {
            // Only before the handoff (authorization asks first): the caller answers it inline.
            t.status = "failed";
            t.error = { code: ProtocolErrorCode.InternalError, message: "The call needs an answer first" };
          } else {
            t.result = finish(out);
            t.status = "completed";
            if (t.result.isError) t.statusMessage = textOf(t.result).slice(0, 500);
          }
          t.updatedAt = new Date();
        }
        endedResolve();
        return out;
      },
      (e: unknown): Error => {
        if (t.status === "working") {
          t.status = "failed";
          t.error = { code: ProtocolErrorCode.InternalError, message: errorMessage(e) };
          t.statusMessage = errorMessage(e).slice(0, 500);
          t.updatedAt = new Date();
        }
        endedResolve();
        return e instanceof Error ? e : new Error(String(e));
      },
    );
    return {
      id,
      authorized,
      outcome,
      detach: () => requestSignal.removeEventListener("abort", onRequestAbort),
      view: (era) => this.fromLocal(t, era),
      drop: () => {
        requestSignal.removeEventListener("abort", onRequestAbort);
        this.local.delete(id);
      },
    };
  }

  // ---- operations ----------------------------------------------------------------------------

  /** `tasks/get`: the task's state, and (terminal) its result or error. */
  async get(taskId: string, era: TaskEra, session: CallSession, signal: AbortSignal): Promise<TaskView> {
    const ref = parseTaskId(taskId);
    if (!ref) throw notFound(taskId, "not a task id this server issued");
    if (ref.kind === "local") return this.localOp(ref.id, "get", session, (t) => this.fromLocal(t, era));
    const s = { ...session, task: { id: taskId, op: "get" } };
    if (ref.kind === "fleet") return this.withEraRules(await this.fleetView(ref, s, signal), era);
    return this.jobView(ref, era, s, signal);
  }

  /**
   * `tasks/result` (2025-11-25): waits for the end (within the request deadline), then the
   * call's own answer, or the JSON-RPC error it failed with.
   */
  async result(taskId: string, session: CallSession, signal: AbortSignal): Promise<CallToolResult> {
    const ref = parseTaskId(taskId);
    if (!ref) throw notFound(taskId, "not a task id this server issued");
    const waitMs = Math.max(1000, this.o.settings.requestTimeoutMs - 10_000);
    let view: TaskView;
    if (ref.kind === "local") {
      const t = this.local.get(ref.id);
      if (t) await Promise.race([t.ended, sleep(waitMs, signal)]);
      view = await this.get(taskId, "legacy", { ...session }, signal);
    } else if (ref.kind === "fleet") {
      const s = { ...session, task: { id: taskId, op: "result" } };
      const until = performance.now() + waitMs;
      for (;;) {
        view = this.withEraRules(await this.fleetView(ref, s, signal), "legacy");
        if (isTerminal(view.status) || performance.now() > until || signal.aborted) break;
        await sleep(JOB_POLL_MS, signal);
      }
    } else {
      const s = { ...session, task: { id: taskId, op: "result" } };
      await this.o.pipeline.tool(
        { job: ref.handle, job_action: "wait", wait: Math.max(1, Math.floor(waitMs / 1000)) } as ScoutArgs,
        s,
        signal,
      );
      view = await this.jobView(ref, "legacy", s, signal);
    }
    if (!isTerminal(view.status)) {
      throw new ProtocolError(
        ProtocolErrorCode.InternalError,
        `Task ${taskId} is still ${view.status} after waiting ${formatDuration(waitMs)}; call tasks/result again (or poll tasks/get)`,
      );
    }
    if (view.status === "cancelled") {
      throw new ProtocolError(ProtocolErrorCode.InvalidRequest, `Task ${taskId} was cancelled`);
    }
    if (view.error) throw new ProtocolError(view.error.code, view.error.message);
    const result = view.result ?? { content: [{ type: "text", text: "(no result)" }] };
    return { ...result, _meta: { ...result._meta, [RELATED_TASK_META_KEY]: { taskId } } };
  }

  /**
   * `tasks/cancel`: a job's process group gets TERM, then KILL after the grace (the job call's
   * cancel, refused in read-only mode); a local task's call is aborted. Answers the state after.
   */
  async cancel(taskId: string, era: TaskEra, session: CallSession, signal: AbortSignal): Promise<TaskView> {
    const ref = parseTaskId(taskId);
    if (!ref) throw notFound(taskId, "not a task id this server issued");
    if (ref.kind === "local") {
      return this.localOp(ref.id, "cancel", session, (t) => {
        if (t.status !== "working" && era === "modern") return this.fromLocal(t, era); // an ack
        if (t.status !== "working") {
          throw new ProtocolError(
            ProtocolErrorCode.InvalidParams,
            `Cannot cancel task ${taskId}: it is already ${t.status}`,
          );
        }
        t.status = "cancelled";
        t.statusMessage = "Cancelled by the client";
        t.updatedAt = new Date();
        t.abort.abort(new ScoutError("aborted", "The task was cancelled"));
        return this.fromLocal(t, era);
      });
    }
    const s = { ...session, task: { id: taskId, op: "cancel" } };
    if (ref.kind === "fleet") return this.fleetCancel(ref, era, s, signal);
    const outcome = await this.o.pipeline.tool(
      { job: ref.handle, job_action: "cancel" } as ScoutArgs,
      s,
      signal,
    );
    const j = this.jobOf(taskId, outcome);
    // The job call's outcome: "terminated"/"killed" (this cancel ended it), "already-ended", "lost".
    const how = outcome.kind === "done" ? outcome.result.structured.outcome : undefined;
    if (era === "legacy" && how !== "terminated" && how !== "killed") {
      throw new ProtocolError(
        ProtocolErrorCode.InvalidParams,
        `Cannot cancel task ${taskId}: its job is already ${stateText(j)}`,
      );
    }
    return this.fromJob(taskId, j);
  }

  /** `tasks/update` (2026-07-28): Scout never waits for input mid-task, so nothing is pending. */
  update(taskId: string, session: CallSession): void {
    const ref = parseTaskId(taskId);
    if (!ref || (ref.kind === "local" && !this.local.has(ref.id) && ref.id.includes(this.instance))) {
      throw notFound(taskId);
    }
    this.o.pipeline.taskEvent(session, { task: taskId, taskOp: "update", outcome: "ok" });
  }

  // ---- job tasks -----------------------------------------------------------------------------

  private async jobView(
    ref: Extract<TaskRef, { kind: "job" }>,
    era: TaskEra,
    session: CallSession,
    signal: AbortSignal,
  ): Promise<TaskView> {
    const taskId = jobTaskId(ref.handle);
    const status = await this.o.pipeline.tool(
      { job: ref.handle, job_action: "status" } as ScoutArgs,
      session,
      signal,
    );
    let j: JobInfo;
    try {
      j = this.jobOf(taskId, status);
    } catch (e) {
      if (e instanceof Unreachable) return this.unreachableView(taskId, e.message);
      throw e;
    }
    const view = this.fromJob(taskId, j);
    if (view.status !== "completed" || j.state === "lost") return this.withEraRules(view, era);
    // Ended: its command's answer, read from the host (the same pipeline, as job_action=result).
    const r = await this.o.pipeline.tool(
      { job: ref.handle, job_action: "result" } as ScoutArgs,
      session,
      signal,
    );
    if (r.kind === "done") {
      view.result = {
        content: [{ type: "text", text: r.result.text }],
        structuredContent: r.result.structured,
      };
    } else if (r.kind === "failed" && r.error instanceof ScoutError && TRANSIENT.has(r.error.code)) {
      return this.unreachableView(taskId, errorMessage(r.error));
    } else if (r.kind !== "input_required") {
      view.result = { content: [{ type: "text", text: `Error: ${errorMessage(r.error)}` }], isError: true };
    }
    return this.withEraRules(view, era);
  }

  /** The job a job call answered about; protocol errors for what is no task (or not allowed). */
  private jobOf(taskId: string, outcome: ToolOutcome): JobInfo {
    if (outcome.kind === "done") {
      if (outcome.result.jobInfo) return outcome.result.jobInfo;
      throw new ProtocolError(ProtocolErrorCode.InternalError, `No job state for task ${taskId}`);
    }
    if (outcome.kind === "input_required") {
      throw new ProtocolError(ProtocolErrorCode.InternalError, `Task ${taskId}: unexpected question`);
    }
    const e = outcome.error;
    if (e instanceof ScoutError) {
      if (e.code === "not-found" || e.code === "unknown-host" || e.code === "invalid-input") {
        throw notFound(taskId, e.message);
      }
      if (
        TRANSIENT.has(e.code) ||
        (outcome.kind === "refused" && (outcome.reason === "rate" || outcome.reason === "busy"))
      ) {
        throw new Unreachable(e.message);
      }
      throw new ProtocolError(
        outcome.kind === "refused" ? ProtocolErrorCode.InvalidRequest : ProtocolErrorCode.InternalError,
        `Error: ${e.userText}`,
      );
    }
    throw new ProtocolError(ProtocolErrorCode.InternalError, errorMessage(e));
  }

  private fromJob(taskId: string, j: JobInfo): TaskView {
    const running = j.state === "running" || j.state === "starting";
    const base = {
      taskId,
      createdAt: j.startedAt,
      lastUpdatedAt: j.endedAt ?? j.startedAt,
      ttlMs: this.jobTtlMs,
      pollIntervalMs: JOB_POLL_MS,
    };
    if (running) {
      return {
        ...base,
        status: "working",
        statusMessage: `Job ${j.handle}: ${stateText(j)} for ${formatDuration(Date.now() - j.startedAt.getTime())}, ${j.outputBytes} bytes of output`,
      };
    }
    if (j.state === "cancelled")
      return { ...base, status: "cancelled", statusMessage: `Job ${j.handle}: ${stateText(j)}` };
    if (j.state === "lost") {
      const message = `Job ${j.handle} was lost: its runner is gone without recording how the command ended (the host rebooted, or its process group was killed from outside)`;
      return {
        ...base,
        lastUpdatedAt: new Date(),
        status: "completed",
        statusMessage: message,
        result: { content: [{ type: "text", text: `Error: ${message}` }], isError: true },
      };
    }
    return { ...base, status: "completed", statusMessage: `Job ${j.handle}: ${stateText(j)}` };
  }

  /** The host did not answer: the job lives on, so does the task (keep polling). */
  private unreachableView(taskId: string, message: string): TaskView {
    const now = new Date();
    return {
      taskId,
      status: "working",
      statusMessage: `${message}. The job lives on its host; poll again`,
      createdAt: now,
      lastUpdatedAt: now,
      ttlMs: this.jobTtlMs,
      pollIntervalMs: JOB_POLL_MS * 5,
    };
  }

  /** 2025-11-25 calls a tool call that answered isError a failed task; 2026-07-28 completed. */
  private withEraRules(view: TaskView, era: TaskEra): TaskView {
    if (era === "legacy" && view.status === "completed" && view.result?.isError) {
      return { ...view, status: "failed", statusMessage: textOf(view.result).slice(0, 500) };
    }
    return view;
  }

  // ---- broadcast (fleet) tasks: one job per host -----------------------------------------------

  /** The view of a broadcast just started as jobs (`fleetJobs` of its answer). */
  fleetTask(taskId: string, session: CallSession): TaskView {
    this.created(taskId, session);
    const now = new Date();
    return {
      taskId,
      status: "working",
      statusMessage: "Jobs started",
      createdAt: now,
      lastUpdatedAt: now,
      ttlMs: this.jobTtlMs,
      pollIntervalMs: JOB_POLL_MS,
    };
  }

  /**
   * A broadcast's state: one job listing over its hosts (one pipeline call), then, once every job
   * ended, each job's answer (one call per host) assembled as the broadcast's answer.
   */
  private async fleetView(
    ref: Extract<TaskRef, { kind: "fleet" }>,
    session: CallSession,
    signal: AbortSignal,
  ): Promise<TaskView> {
    const listing = await this.o.pipeline.tool(
      { job: [...new Set(ref.started.map((j) => j.host))].join(",") } as ScoutArgs,
      session,
      signal,
    );
    if (listing.kind !== "done" || !listing.result.jobList) {
      if (listing.kind === "done" || listing.kind === "input_required") {
        throw new ProtocolError(ProtocolErrorCode.InternalError, `No job listing for task ${ref.taskId}`);
      }
      const e = listing.error;
      if (e instanceof ScoutError && (e.code === "invalid-input" || e.code === "unknown-host")) {
        throw notFound(ref.taskId, e.message);
      }
      throw new ProtocolError(ProtocolErrorCode.InternalError, `Error: ${errorMessage(e)}`);
    }
    const per = new Map(listing.result.jobList.map((h) => [h.host, h]));
    const jobs: JobInfo[] = [];
    const silent: string[] = [];
    let missing = 0;
    for (const { host, id } of ref.started) {
      const h = per.get(host);
      const j = h?.jobs?.find((x) => x.id === id);
      if (j) jobs.push(j);
      else if (h?.error) silent.push(host);
      else missing++;
    }
    if (jobs.length === 0 && silent.length === 0) {
      throw notFound(ref.taskId, "its jobs are gone (cleaned up after SCOUT_JOB_RETENTION?)");
    }
    const running = jobs.filter((j) => j.state === "running" || j.state === "starting");
    const createdAt = new Date(Math.min(Date.now(), ...jobs.map((j) => j.startedAt.getTime())));
    const lastUpdatedAt = new Date(
      Math.max(createdAt.getTime(), ...jobs.map((j) => j.endedAt?.getTime() ?? 0)),
    );
    const base = {
      taskId: ref.taskId,
      createdAt,
      lastUpdatedAt,
      ttlMs: this.jobTtlMs,
      pollIntervalMs: JOB_POLL_MS,
    };
    if (running.length > 0 || silent.length > 0) {
      const parts = [`${jobs.length - running.length}/${ref.started.length} jobs ended`];
      if (running.length) parts.push(`${running.length} running`);
      if (silent.length) {
        parts.push(`not answering: ${silent.slice(0, 5).join(", ")}${silent.length > 5 ? ", …" : ""}`);
      }
      return { ...base, status: "working", statusMessage: parts.join("; ") };
    }
    if (missing === 0 && jobs.every((j) => j.state === "cancelled")) {
      return { ...base, status: "cancelled", statusMessage: `All ${jobs.length} jobs cancelled` };
    }
    // Every job ended: the broadcast's answer, one section per target, from each job's result.
    const blocks = await Promise.all(
      ref.started.map(
        async ({ host, handle }): Promise<BroadcastBlock & { exitCode?: number | null; job?: string }> => {
          const j = jobs.find((x) => x.handle === handle);
          if (!j) return { host, path: "", ok: false, error: true, output: `No job ${handle} (cleaned up?)` };
          const r = await this.o.pipeline.tool(
            { job: j.handle, job_action: "result" } as ScoutArgs,
            session,
            signal,
          );
          if (r.kind === "done") {
            const exitCode = r.result.exitCode ?? null;
            return { host, path: j.cwd, ok: exitCode === 0, output: r.result.text, exitCode, job: handle };
          }
          const why = r.kind === "input_required" ? "unexpected question" : errorMessage(r.error);
          return { host, path: j.cwd, ok: false, error: true, output: why, job: handle };
        },
      ),
    );
    for (const host of ref.failed) {
      blocks.push({
        host,
        path: "",
        ok: false,
        error: true,
        output: "not started: refused or unreachable when the task was created",
      });
    }
    const text = formatBroadcast(blocks, { maxTotalBytes: this.o.settings.maxOutputSize });
    const succeeded = blocks.filter((b) => b.ok).length;
    return {
      ...base,
      status: "completed",
      statusMessage: `${succeeded}/${blocks.length} hosts succeeded`,
      result: {
        content: [{ type: "text", text }],
        structuredContent: {
          mode: "broadcast",
          succeeded,
          total: blocks.length,
          results: blocks.map((b) => ({
            target: `${b.host}:${b.path}`,
            ok: b.ok,
            ...(b.exitCode !== undefined ? { exitCode: b.exitCode } : {}),
            ...(b.job !== undefined ? { job: b.job } : {}),
          })),
        },
      },
    };
  }

  /** Cancels every job of a broadcast (one job call each); answers the state after. */
  private async fleetCancel(
    ref: Extract<TaskRef, { kind: "fleet" }>,
    era: TaskEra,
    session: CallSession,
    signal: AbortSignal,
  ): Promise<TaskView> {
    const outcomes = await Promise.all(
      ref.started.map(({ handle }) =>
        this.o.pipeline.tool({ job: handle, job_action: "cancel" } as ScoutArgs, session, signal),
      ),
    );
    for (const o of outcomes) {
      if (o.kind === "refused")
        throw new ProtocolError(ProtocolErrorCode.InvalidRequest, `Error: ${o.error.userText}`);
    }
    const stopped = outcomes.filter((o) => {
      const how = o.kind === "done" ? o.result.structured.outcome : undefined;
      return how === "terminated" || how === "killed";
    }).length;
    if (era === "legacy" && stopped === 0) {
      throw new ProtocolError(
        ProtocolErrorCode.InvalidParams,
        `Cannot cancel task ${ref.taskId}: its jobs had already ended`,
      );
    }
    const view = await this.fleetView(ref, session, signal);
    if (era === "legacy" && view.status !== "cancelled") {
      // Some jobs had ended before, the rest are cancelled: 2025-11-25 makes the task cancelled.
      const { result: _result, ...rest } = view;
      return { ...rest, status: "cancelled", statusMessage: `${stopped} running jobs cancelled` };
    }
    return view;
  }

  // ---- local tasks ---------------------------------------------------------------------------

  private localOp(id: string, op: string, session: CallSession, fn: (t: LocalTask) => TaskView): TaskView {
    const t = this.local.get(id);
    if (!t) {
      if (id.includes(`:${this.instance}.`)) {
        this.o.pipeline.taskEvent(session, {
          task: id,
          taskOp: op,
          outcome: "error",
          error: "Task not found",
        });
        throw notFound(id, "Task not found (ended more than an hour ago)");
      }
      // Another process ran it: in-process tasks do not outlive their Scout process.
      const message =
        "Task lost: it ran inside a Scout process that has since stopped (or another Scout process is answering); transfers, reads and broadcasts run as in-process tasks and do not survive a restart. Run it again";
      this.o.pipeline.taskEvent(session, { task: id, taskOp: op, outcome: "error", error: message });
      const now = new Date();
      return {
        taskId: id,
        status: "failed",
        statusMessage: message,
        createdAt: now,
        lastUpdatedAt: now,
        ttlMs: 0,
        pollIntervalMs: LOCAL_POLL_MS,
        error: { code: ProtocolErrorCode.InternalError, message },
      };
    }
    try {
      const v = fn(t);
      this.o.pipeline.taskEvent(session, { task: id, taskOp: op, outcome: "ok" });
      return v;
    } catch (e) {
      this.o.pipeline.taskEvent(session, { task: id, taskOp: op, outcome: "error", error: errorMessage(e) });
      throw e;
    }
  }

  private fromLocal(t: LocalTask, era: TaskEra): TaskView {
    return this.withEraRules(
      {
        taskId: t.id,
        status: t.status,
        ...(t.statusMessage !== undefined ? { statusMessage: t.statusMessage } : {}),
        createdAt: t.createdAt,
        lastUpdatedAt: t.updatedAt,
        ttlMs: LOCAL_KEEP_MS,
        pollIntervalMs: LOCAL_POLL_MS,
        ...(t.result ? { result: t.result } : {}),
        ...(t.error ? { error: t.error } : {}),
      },
      era,
    );
  }

  /** Ended local tasks past their keep time go; past the cap, the oldest ended ones. */
  private prune(): void {
    const now = Date.now();
    for (const [id, t] of this.local) {
      if (t.status !== "working" && now - t.updatedAt.getTime() > LOCAL_KEEP_MS) this.local.delete(id);
    }
    if (this.local.size < LOCAL_MAX) return;
    for (const [id, t] of this.local) {
      if (this.local.size < LOCAL_MAX) break;
      if (t.status !== "working") this.local.delete(id);
    }
    if (this.local.size >= LOCAL_MAX) {
      throw new ScoutError("refused", `${LOCAL_MAX} in-process tasks are running; wait for some to end`);
    }
  }
}

class Unreachable extends Error {}

function textOf(r: CallToolResult): string {
  return r.content.map((c) => (c.type === "text" ? c.text : "")).join("");
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const t = setTimeout(done, ms);
    function done() {
      signal.removeEventListener("abort", done);
      clearTimeout(t);
      resolve();
    }
    signal.addEventListener("abort", done, { once: true });
  });
}

// ---- wire shapes -------------------------------------------------------------------------------

/** 2025-11-25 `Task` (tasks/get, tasks/cancel, inside CreateTaskResult). */
export function legacyTask(v: TaskView): Record<string, unknown> {
  return {
    taskId: v.taskId,
    status: v.status,
    ...(v.statusMessage !== undefined ? { statusMessage: v.statusMessage } : {}),
    createdAt: v.createdAt.toISOString(),
    lastUpdatedAt: v.lastUpdatedAt.toISOString(),
    ttl: v.ttlMs,
    pollInterval: v.pollIntervalMs,
  };
}

/**
 * 2025-11-25 CreateTaskResult. `content` rides along because the SDK's tools/call result check
 * refuses a `task` without it; it also tells a client that ignores tasks what happened.
 */
export function legacyCreateTaskResult(v: TaskView): CallToolResult {
  return {
    content: [{ type: "text", text: `Started task ${v.taskId}: poll tasks/get, then tasks/result.` }],
    task: legacyTask(v),
  } as CallToolResult;
}

/** 2026-07-28 Task fields (CreateTaskResult, tasks/get). */
function modernTask(v: TaskView): Record<string, unknown> {
  return {
    taskId: v.taskId,
    status: v.status,
    ...(v.statusMessage !== undefined ? { statusMessage: v.statusMessage } : {}),
    createdAt: v.createdAt.toISOString(),
    lastUpdatedAt: v.lastUpdatedAt.toISOString(),
    ttlMs: v.ttlMs,
    pollIntervalMs: v.pollIntervalMs,
  };
}

/** 2026-07-28 CreateTaskResult: `resultType: "task"` in lieu of the CallToolResult. */
export function modernCreateTaskResult(v: TaskView): CallToolResult {
  return { resultType: "task", ...modernTask(v) } as unknown as CallToolResult;
}

/** 2026-07-28 GetTaskResult: the detailed task, its result or error inlined when terminal. */
export function modernGetTaskResult(v: TaskView): Record<string, unknown> {
  return {
    resultType: "complete",
    ...modernTask(v),
    ...(v.status === "completed" && v.result ? { result: v.result } : {}),
    ...(v.status === "failed" && v.error ? { error: v.error } : {}),
  };
}

/** 2026-07-28: whether the request's client declared the tasks extension (else -32021 for tasks/*). */
export function declaresTasks(capabilities: unknown): boolean {
  const ext = (capabilities as { extensions?: Record<string, unknown> } | undefined)?.extensions;
  return ext !== undefined && ext !== null && typeof ext === "object" && TASKS_EXTENSION in ext;
}

export function missingTasksCapability(): MissingRequiredClientCapabilityError {
  return new MissingRequiredClientCapabilityError(
    { requiredCapabilities: { extensions: { [TASKS_EXTENSION]: {} } } },
    `Missing required client capability: declare the ${TASKS_EXTENSION} extension in this request's clientCapabilities`,
  );
}

const TaskIdParams = z.looseObject({ taskId: z.string() });
const UpdateParams = z.looseObject({
  taskId: z.string(),
  inputResponses: z.record(z.string(), z.unknown()).optional(),
});
const AnyResult = z.looseObject({});

/**
 * The task methods on one server: `tasks/get` and `tasks/cancel` in both eras, `tasks/result` for
 * 2025-11-25 sessions, `tasks/update` for 2026-07-28 requests (which must declare the extension:
 * else -32021). `tasks/list` is not offered: Scout cannot tell one client's tasks from another's
 * (jobs belong to the host, `job='*'` lists them), and the 2025 spec says not to list then.
 */
export function installTaskMethods(
  mcp: McpServer,
  hub: TaskHub,
  o: {
    era: TaskEra;
    session: CallSession;
    /** The client capabilities a 2026-07-28 request declared. */
    capabilities: (ctx: ServerContext) => unknown;
  },
): void {
  const { era, session } = o;
  const check = (ctx: ServerContext) => {
    if (era === "modern" && !declaresTasks(o.capabilities(ctx))) throw missingTasksCapability();
  };
  const server = mcp.server;
  server.setRequestHandler("tasks/get", { params: TaskIdParams, result: AnyResult }, async (p, ctx) => {
    check(ctx);
    const v = await hub.get(p.taskId, era, session, ctx.mcpReq.signal);
    return era === "legacy" ? legacyTask(v) : modernGetTaskResult(v);
  });
  server.setRequestHandler("tasks/cancel", { params: TaskIdParams, result: AnyResult }, async (p, ctx) => {
    check(ctx);
    const v = await hub.cancel(p.taskId, era, session, ctx.mcpReq.signal);
    return era === "legacy" ? legacyTask(v) : { resultType: "complete" };
  });
  if (era === "legacy") {
    server.setRequestHandler("tasks/result", { params: TaskIdParams, result: AnyResult }, (p, ctx) =>
      hub.result(p.taskId, session, ctx.mcpReq.signal),
    );
  } else {
    server.setRequestHandler("tasks/update", { params: UpdateParams, result: AnyResult }, (p, ctx) => {
      check(ctx);
      hub.update(p.taskId, session);
      return { resultType: "complete" };
    });
  }
}
