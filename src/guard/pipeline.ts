/**
 * The call pipeline, built once at start-up: every tool call and every resource read goes through
 * the same steps in the same order — admit (shutdown, rate limit, concurrency queue) → authorize
 * (read-only, hosts, path and command policy, human confirmation, sudo passwords) → run (under the
 * end-to-end deadline) → account (metrics, log line, audit record). The outcome is typed: the
 * accounting step knows a policy refusal from a failure without reading any text.
 */
import { setMaxListeners } from "node:events";
import type { Settings } from "../config/settings.js";
import { ScoutError, abortError, errorMessage } from "../errors.js";
import {
  InputRequired,
  type AuditFields,
  type CallPipeline,
  type CallSession,
  type Refusal,
  type ResourceRead,
  type TaskAudit,
  type ToolOutcome,
} from "../mcp/calls.js";
import type { Grant, Plan, ScoutEngine, ScoutMode, SudoPassword } from "../mcp/mode.js";
import type { ScoutArgs } from "../mcp/schema.js";
import { auditFieldsOf, modeOf, planCall } from "../mcp/scout-tool.js";
import type { Logger } from "../observe/log.js";
import type { ScoutMetrics } from "../observe/metrics.js";
import { deadlineSignal, raceSignal } from "../ssh/abort.js";
import type { AuditLog, AuditRecord } from "./audit.js";
import { ConcurrencyLimiter } from "./concurrency.js";
import { confirmOrRefuse } from "./confirm.js";
import type { Policy } from "./policy.js";
import { RateLimiter } from "./rate-limit.js";
import { sudoPasswordFor } from "./sudo.js";

export interface PipelineOptions {
  engine: ScoutEngine;
  settings: Pick<
    Settings,
    | "maxConcurrentRequests"
    | "maxQueuedRequests"
    | "rateLimitPerMinute"
    | "requestTimeoutMs"
    | "slowThresholdMs"
    | "readOnly"
    | "confirmCommands"
    | "sudoPasswordFile"
  >;
  policy: Policy;
  log: Logger;
  metrics?: ScoutMetrics;
  audit?: AuditLog;
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms).unref());

/** A refusal raised by the authorize step (typed, so accounting never parses messages). */
class Refused {
  constructor(
    readonly reason: Refusal,
    readonly error: ScoutError,
  ) {}
}

function asRefusal(reason: Refusal, e: unknown): unknown {
  return e instanceof ScoutError && e.code === "refused" ? new Refused(reason, e) : e;
}

const policyCommand = (plan: Plan): string =>
  plan.sudo ? `sudo ${plan.command ?? ""}` : (plan.command ?? "");

export class Pipeline implements CallPipeline {
  readonly limiter: ConcurrencyLimiter;
  private readonly rate: RateLimiter;
  /** Shutdown: cancels every call in flight and refuses new ones. */
  private readonly stop = new AbortController();
  private readonly inFlight = new Set<Promise<unknown>>();
  /** Calls waiting for their user's answer to a confirmation question (2025-era elicitation). */
  private confirming = 0;

  constructor(private readonly options: PipelineOptions) {
    const s = options.settings;
    this.limiter = new ConcurrencyLimiter(s.maxConcurrentRequests, s.maxQueuedRequests);
    this.rate = new RateLimiter(s.rateLimitPerMinute);
    // One listener per call on the shared stop signal (removed when the call ends).
    setMaxListeners(0, this.stop.signal);
  }

  /** Cancels every call in flight (and any that still arrives) and waits up to `ms` for them. */
  async cancelAll(ms: number): Promise<void> {
    this.stop.abort(new ScoutError("aborted", "Scout is shutting down", { hint: "Retry the call later" }));
    await Promise.race([Promise.allSettled([...this.inFlight]), sleep(ms)]);
  }

  tool(args: ScoutArgs, session: CallSession, signal: AbortSignal): Promise<ToolOutcome> {
    return this.tracked(signal, (s) => this.runTool(args, session, s));
  }

  resource<T>(
    read: ResourceRead,
    session: CallSession,
    signal: AbortSignal,
    fn: (signal: AbortSignal) => Promise<T>,
  ): Promise<T> {
    return this.tracked(signal, (s) => this.runResource(read, session, s, fn));
  }

  taskEvent(session: CallSession, e: TaskAudit): void {
    this.options.log.info({ client: session.client, ...e }, "task operation");
    this.record({
      client: session.client,
      mode: "task",
      task: e.task,
      taskOp: e.taskOp,
      bytes: 0,
      durationMs: 0,
      outcome: e.outcome,
      ...(e.error !== undefined ? { error: e.error.slice(0, 500) } : {}),
    });
  }

  // ---- admit -----------------------------------------------------------------------------------

  /** The call's signal, also aborted by a shutdown; the call is waited for by cancelAll. */
  private tracked<T>(signal: AbortSignal, run: (s: AbortSignal) => Promise<T>): Promise<T> {
    // A plain controller rather than AbortSignal.any, whose result only weakly references its sources.
    const c = new AbortController();
    const onStop = () => c.abort(this.stop.signal.reason);
    const onCall = () => c.abort(signal.reason);
    if (this.stop.signal.aborted) onStop();
    else if (signal.aborted) onCall();
    this.stop.signal.addEventListener("abort", onStop, { once: true });
    signal.addEventListener("abort", onCall, { once: true });
    const p = run(c.signal);
    this.inFlight.add(p);
    const done = () => {
      this.inFlight.delete(p);
      this.stop.signal.removeEventListener("abort", onStop);
      signal.removeEventListener("abort", onCall);
    };
    p.then(done, done);
    return p;
  }

  /** Rate limit and queue; resolves with a release function or throws a Refused. */
  private async admit(client: string, signal: AbortSignal): Promise<() => void> {
    this.takeRate(client);
    return this.slot(signal);
  }

  private takeRate(client: string): void {
    const wait = this.rate.take(client);
    if (wait > 0) {
      throw new Refused("rate", new ScoutError("refused", `rate limit exceeded, retry in ${wait} s`));
    }
  }

  /** A concurrency slot (queued, bounded); throws a Refused("busy") when the queue is full. */
  private async slot(signal: AbortSignal): Promise<() => void> {
    const m = this.options.metrics;
    m?.queued.set(this.limiter.waiting + 1);
    try {
      return await this.limiter.acquire(signal);
    } catch (e) {
      throw asRefusal("busy", e);
    } finally {
      m?.queued.set(this.limiter.waiting);
    }
  }

  // ---- authorize -------------------------------------------------------------------------------

  private async authorize(plan: Plan, session: CallSession, signal: AbortSignal): Promise<Grant> {
    const { engine, policy, settings } = this.options;
    const readOnly =
      plan.changes !== undefined && settings.readOnly
        ? new ScoutError("refused", `Read-only mode: ${plan.changes} are disabled`, {
            hint: "Reads, listings, find and diff still work; unset SCOUT_READ_ONLY to allow changes",
          })
        : undefined;
    // A broadcast command is refused per target (each says why); anything else as a whole.
    const readOnlyPerTarget = plan.perTarget === true && !plan.sudo;
    if (readOnly && !readOnlyPerTarget) throw new Refused("read-only", readOnly);
    const refusals = new Map<number, ScoutError>();
    const sudo = new Map<string, SudoPassword>();
    for (const [i, t] of plan.targets.entries()) {
      try {
        if (t.error) throw t.error;
        engine.fleet.host(t.host); // unknown host → an error listing the available ones
        try {
          policy.checkPath(t.host, t.path);
          if (plan.command !== undefined) policy.checkCommand(t.host, policyCommand(plan));
        } catch (e) {
          throw asRefusal("policy", e);
        }
        if (readOnly) throw new Refused("read-only", readOnly);
      } catch (e) {
        if (!plan.perTarget) throw e;
        refusals.set(i, e instanceof Refused ? e.error : toScoutError(e));
      }
    }
    const anyAllowed = plan.targets.length === 0 || refusals.size < plan.targets.length;
    if (plan.confirm !== undefined && settings.confirmCommands && anyAllowed) {
      // Waiting for a human holds no command slot (this runs before the call takes one), but
      // waiters are bounded like the queue: past SCOUT_MAX_QUEUED_REQUESTS the call is busy.
      if (this.confirming >= settings.maxQueuedRequests) {
        throw new Refused(
          "busy",
          new ScoutError("refused", "server busy", {
            hint: `${this.confirming} calls are waiting for their users' confirmation; retry shortly`,
          }),
        );
      }
      this.confirming++;
      try {
        await confirmOrRefuse(session, plan.confirm, signal);
      } catch (e) {
        throw asRefusal("confirm", e);
      } finally {
        this.confirming--;
      }
    }
    if (plan.sudo) {
      for (const [i, t] of plan.targets.entries()) {
        if (refusals.has(i) || sudo.has(t.host)) continue;
        try {
          sudo.set(t.host, await sudoPasswordFor(t.host, policy, settings.sudoPasswordFile));
        } catch (e) {
          if (!plan.perTarget) throw e;
          refusals.set(i, toScoutError(e));
        }
      }
    }
    return { refusal: (i) => refusals.get(i), sudo: (host) => sudo.get(host) };
  }

  // ---- run and account: tool calls ----------------------------------------------------------

  private async runTool(args: ScoutArgs, session: CallSession, signal: AbortSignal): Promise<ToolOutcome> {
    const mode = modeOf(args);
    const started = performance.now();
    const { settings, engine } = this.options;
    try {
      this.takeRate(session.client);
    } catch (e) {
      if (!(e instanceof Refused)) throw e;
      return this.rejected(mode, session.client, e);
    }
    // Plan and authorize before taking a slot: a call that waits for its user's confirmation
    // (up to SCOUT_CONFIRM_TIMEOUT) must not hold one of SCOUT_MAX_CONCURRENT_REQUESTS meanwhile.
    let call: ReturnType<typeof planCall>;
    let grant: Grant;
    try {
      call = planCall(args, {
        settings: engine.settings,
        transport: session.transport,
        aliases: () => engine.registry.list().map((h) => h.alias),
      });
      grant = await this.authorize(call.plan, session, signal);
    } catch (e) {
      if (e instanceof Refused && e.reason === "busy") return this.rejected(mode, session.client, e);
      const early = this.failedOutcome(mode, args, e, signal);
      if (early.kind === "input_required") {
        this.options.log.info({ client: session.client, mode }, "tool call awaits the user's confirmation");
      } else {
        this.accountTool(early, session, performance.now() - started);
      }
      return early;
    }
    let release: () => void;
    try {
      release = await this.slot(signal);
    } catch (e) {
      if (e instanceof Refused) return this.rejected(mode, session.client, e);
      const cancelled = this.failedOutcome(mode, args, e, signal); // cancelled while queued
      this.accountTool(cancelled, session, performance.now() - started);
      return cancelled;
    }
    const m = this.options.metrics;
    m?.inFlight.inc();
    const timeoutS = settings.requestTimeoutMs / 1000;
    // The deadline covers running, not waiting for a human: it starts after authorization (a
    // confirmation waits up to SCOUT_CONFIRM_TIMEOUT on its own, or is a later MRTR round).
    let deadline: { signal: AbortSignal; dispose: () => void } | undefined;
    let outcome: ToolOutcome;
    try {
      outcome = await (async (): Promise<ToolOutcome> => {
        session.onAuthorized?.();
        deadline = deadlineSignal(
          settings.requestTimeoutMs,
          `request timed out after ${timeoutS} s (SCOUT_REQUEST_TIMEOUT); everything it started was stopped`,
          signal,
        );
        const d = deadline.signal;
        const work = call.run({
          engine,
          signal: d,
          transport: session.transport,
          grant,
          ...(session.progress ? { progress: session.progress } : {}),
        });
        return raceSignal(work, d, "the call").then(
          (result): ToolOutcome => ({ kind: "done", result }),
          (e: unknown) => this.failedOutcome(mode, args, e, d),
        );
      })();
    } finally {
      deadline?.dispose();
      release();
      m?.inFlight.dec();
    }
    const timedOut = deadline !== undefined && deadline.signal.aborted && !signal.aborted;
    if (timedOut) m?.rejected.inc({ reason: "timeout" });
    this.accountTool(outcome, session, performance.now() - started);
    return outcome;
  }

  private failedOutcome(mode: ScoutMode, args: ScoutArgs, e: unknown, signal: AbortSignal): ToolOutcome {
    if (e instanceof InputRequired) return { kind: "input_required", mode, question: e.question };
    const audit = auditFieldsOf(args);
    if (e instanceof Refused) return { kind: "refused", reason: e.reason, mode, error: e.error, audit };
    const error = e instanceof ScoutError ? e : signal.aborted ? abortError(signal, "the call") : e;
    return { kind: "failed", mode, error: error as ScoutError | Error, audit };
  }

  private rejected(mode: ScoutMode, client: string, r: Refused): ToolOutcome {
    const reason = r.reason === "rate" ? "rate" : "busy";
    this.options.metrics?.rejected.inc({ reason });
    this.options.metrics?.requests.inc({ mode, outcome: "rejected" });
    this.options.log.warn({ client, mode, reason }, `call rejected: ${r.error.message}`);
    this.record({ client, mode, outcome: "rejected", bytes: 0, durationMs: 0, error: r.error.userText });
    return { kind: "refused", reason: r.reason, mode, error: r.error, audit: {} };
  }

  private accountTool(outcome: ToolOutcome, session: CallSession, durationMs: number): void {
    const client = session.client;
    const m = this.options.metrics;
    if (outcome.kind === "input_required") return;
    const ok = outcome.kind === "done";
    const mode = ok ? outcome.result.mode : outcome.mode;
    const fields: AuditFields = ok ? outcome.result : outcome.audit;
    const bytes = Buffer.byteLength(ok ? outcome.result.text : `Error: ${errorMessage(outcome.error)}`);
    if (outcome.kind === "refused" && (outcome.reason === "policy" || outcome.reason === "read-only")) {
      m?.rejected.inc({ reason: "policy" });
    }
    m?.requestDuration.observe({ mode }, durationMs / 1000);
    m?.requests.inc({ mode, outcome: ok ? "ok" : "error" });
    m?.outputBytes.observe({ mode }, bytes);
    const line = {
      client,
      mode,
      host: fields.host,
      path: fields.path,
      durationMs: Math.round(durationMs * 10) / 10,
      bytes,
      outcome: ok ? "ok" : "error",
    };
    if (durationMs > this.options.settings.slowThresholdMs) this.options.log.warn(line, "slow tool call");
    else this.options.log.info(line, "tool call");
    this.record({
      client,
      mode,
      ...(fields.host ? { host: fields.host } : {}),
      ...(fields.path ? { path: fields.path } : {}),
      ...(fields.command !== undefined ? { command: fields.command } : {}),
      ...(fields.sudo ? { sudo: true } : {}),
      ...(fields.exitCode !== undefined ? { exitCode: fields.exitCode } : {}),
      ...(fields.job !== undefined ? { job: fields.job } : {}),
      ...(fields.jobAction !== undefined ? { jobAction: fields.jobAction } : {}),
      ...(session.task ? { task: session.task.id, taskOp: session.task.op } : {}),
      bytes,
      durationMs: Math.round(durationMs),
      outcome: ok ? "ok" : "error",
      ...(ok ? {} : { error: errorMessage(outcome.error).slice(0, 500) }),
    });
  }

  // ---- resource reads ------------------------------------------------------------------------

  private async runResource<T>(
    read: ResourceRead,
    session: CallSession,
    signal: AbortSignal,
    fn: (signal: AbortSignal) => Promise<T>,
  ): Promise<T> {
    const client = session.client;
    const m = this.options.metrics;
    let release: () => void;
    try {
      release = await this.admit(client, signal);
    } catch (e) {
      if (!(e instanceof Refused)) throw e;
      m?.rejected.inc({ reason: e.reason === "rate" ? "rate" : "busy" });
      m?.requests.inc({ mode: "resource", outcome: "rejected" });
      this.options.log.warn(
        { client, mode: "resource", uri: read.uri, reason: e.reason },
        `call rejected: ${e.error.message}`,
      );
      throw e.error;
    }
    const started = performance.now();
    const deadline = deadlineSignal(
      this.options.settings.requestTimeoutMs,
      "resource read timed out",
      signal,
    );
    m?.inFlight.inc();
    let ok = false;
    let bytes = 0;
    try {
      const work = (async () => {
        if (read.target) {
          const t = read.target();
          this.options.policy.checkPath(t.host, t.path);
        }
        return fn(deadline.signal);
      })();
      const r = await raceSignal(work, deadline.signal, "the resource read");
      ok = true;
      bytes = resourceBytes(r);
      m?.outputBytes.observe({ mode: "resource" }, bytes);
      return r;
    } finally {
      deadline.dispose();
      release();
      m?.inFlight.dec();
      const durationMs = performance.now() - started;
      m?.requestDuration.observe({ mode: "resource" }, durationMs / 1000);
      m?.requests.inc({ mode: "resource", outcome: ok ? "ok" : "error" });
      if (deadline.signal.aborted && !signal.aborted) m?.rejected.inc({ reason: "timeout" });
      const line = {
        uri: read.uri,
        durationMs: Math.round(durationMs * 10) / 10,
        bytes,
        outcome: ok ? "ok" : "error",
      };
      if (durationMs > this.options.settings.slowThresholdMs)
        this.options.log.warn(line, "slow resource read");
      else this.options.log.info(line, "resource read");
      this.record({
        client,
        mode: "resource",
        ...(read.host ? { host: read.host } : {}),
        path: read.uri,
        bytes,
        durationMs: Math.round(durationMs),
        outcome: ok ? "ok" : "error",
      });
    }
  }

  private record(r: Omit<AuditRecord, "time">): void {
    this.options.audit?.write({ time: new Date().toISOString(), ...r });
  }
}

function toScoutError(e: unknown): ScoutError {
  return e instanceof ScoutError ? e : new ScoutError("io", errorMessage(e), { cause: e });
}

/** Bytes a resource read returns: its text contents, and its blobs decoded (base64 is 4/3 larger). */
function resourceBytes(result: unknown): number {
  const contents = (result as { contents?: unknown } | null)?.contents;
  if (!Array.isArray(contents)) return 0;
  let total = 0;
  for (const c of contents as Array<{ text?: unknown; blob?: unknown }>) {
    if (typeof c.text === "string") total += Buffer.byteLength(c.text);
    else if (typeof c.blob === "string") total += Math.floor((c.blob.length * 3) / 4);
  }
  return total;
}
